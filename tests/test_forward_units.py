"""The forwarder's pure parts and its SQL: the retry policy, the bodies each receiver gets
(OTLP checked against the official protobuf schema), and the outbox on a real SQLite file."""

from __future__ import annotations

import gzip
import json
import sqlite3
import time
import uuid
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from skilltrack import config
from skilltrack.daemon.forward.everyskill import signature, track_body
from skilltrack.daemon.forward.otlp import OtlpLogSink, logs_request, partial_rejections
from skilltrack.daemon.forward.retry import RetryPolicy, Verdict, parse_retry_after
from skilltrack.daemon.forward.sinks import Answer, HttpBatchSink, batch_id, usage_document
from skilltrack.daemon.store.database import ROWS_PER_INSERT
from skilltrack.daemon.store.outbox import (
    DeadLetter,
    ForwardStore,
    OutboxEvent,
    OutboxUsage,
    SinkSpec,
    UseTokens,
)
from skilltrack.daemon.store.records import EventRow, Record, TrainingExample
from skilltrack.daemon.store.tokens import Owner, RequestRow, ThreadState, TokenStore

# -- the retry policy ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, Verdict.DELIVERED), (202, Verdict.DELIVERED), (204, Verdict.DELIVERED),
        (408, Verdict.RETRY), (429, Verdict.RETRY), (502, Verdict.RETRY),
        (503, Verdict.RETRY), (504, Verdict.RETRY),
        (413, Verdict.SPLIT),
        (301, Verdict.DEAD), (400, Verdict.DEAD), (401, Verdict.DEAD), (403, Verdict.DEAD),
        (404, Verdict.DEAD), (409, Verdict.DEAD), (422, Verdict.DEAD), (500, Verdict.DEAD),
        (501, Verdict.DEAD), (505, Verdict.DEAD),
    ],
)  # fmt: skip
def test_only_transient_answers_are_retried(status: int, verdict: Verdict) -> None:
    assert RetryPolicy().verdict(status) is verdict


def test_401_pauses_only_a_sink_that_asks_for_it() -> None:
    assert RetryPolicy(pauses_on_401=True).verdict(401) is Verdict.PAUSE
    assert RetryPolicy(pauses_on_401=True).verdict(403) is Verdict.DEAD


def test_retry_after_seconds_dates_and_garbage() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after(" 7 ", now) == 7.0
    assert parse_retry_after(formatdate(now + 90, usegmt=True), now) == 90.0
    assert parse_retry_after(formatdate(now - 90, usegmt=True), now) == 0.0  # past: no wait
    for garbage in ["soon", "-5", "1.5", "", "Tue, 99 Foo 2024", None]:
        assert parse_retry_after(garbage, now) is None


# -- bodies ------------------------------------------------------------------------------


def outbox_event(**fields: Any) -> OutboxEvent:
    base: dict[str, Any] = {f: None for f in OutboxEvent._fields}
    base.update(
        ref=1, event_id=str(uuid.uuid4()), hook_event="PostToolUse", client_ts=1_700_000_000.25,
        received_at=1_700_000_000.5, truncated=0, queued_at=1_700_000_000.5, tool_name="Bash",
        artifact_type="tool", artifact_name="Bash", success=1, duration_ms=31,
        session_id="s-1", tenant_id="acme", user_id="ann",
    )  # fmt: skip
    base.update(fields)
    return OutboxEvent(**base)


def test_otlp_bodies_are_valid_export_logs_requests() -> None:
    events = [
        outbox_event(),
        outbox_event(success=0, artifact_type="skill", artifact_name="pdf", skill_version="abc"),
        outbox_event(user_id="bob", duration_ms=None, agent_type="Explore", agent_id="a1"),
        outbox_event(input_snippet="in", output_snippet="out", duration_ms=2**40),
    ]
    request = json_format.Parse(logs_request(events), ExportLogsServiceRequest())
    assert [len(r.scope_logs[0].log_records) for r in request.resource_logs] == [3, 1]
    first = request.resource_logs[0]
    resource = {a.key: a.value.string_value for a in first.resource.attributes}
    assert resource.pop("service.version")
    assert resource == {
        "service.name": "skilltrack", "skilltrack.tenant_id": "acme", "enduser.id": "ann"
    }  # fmt: skip
    records = first.scope_logs[0].log_records
    assert records[0].time_unix_nano == 1_700_000_000_250_000_000
    assert records[0].observed_time_unix_nano == 1_700_000_000_500_000_000
    attrs = {a.key: a.value for a in records[1].attributes}
    assert attrs["skilltrack.artifact.type"].string_value == "skill"
    assert attrs["skilltrack.success"].bool_value is False
    assert records[1].severity_text == "ERROR"
    big = {a.key: a.value for a in records[2].attributes}
    assert big["skilltrack.duration_ms"].int_value == 2**40
    # 64-bit integers are strings in OTLP's JSON encoding.
    raw = json.loads(logs_request(events))
    record = raw["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    assert isinstance(record["timeUnixNano"], str)
    duration = [a for a in record["attributes"] if a["key"] == "skilltrack.duration_ms"]
    assert duration == [{"key": "skilltrack.duration_ms", "value": {"intValue": "31"}}]


def test_otlp_partial_success_is_read_and_final() -> None:
    assert partial_rejections(b'{"partialSuccess": {"rejectedLogRecords": "3"}}') == 3
    assert partial_rejections(b"{}") == 0
    assert partial_rejections(b"") == 0
    assert partial_rejections(b"not json") == 0


async def test_a_partial_success_counts_rejections_and_delivers_the_batch() -> None:
    sink = OtlpLogSink("otel", config.OtlpSink(type="otlp", endpoint="http://x"), None)
    events = [outbox_event(ref=i) for i in range(3)]

    async def post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
        assert url == "http://x/v1/logs"
        return Answer(200, "HTTP 200", body=b'{"partialSuccess":{"rejectedLogRecords":"2"}}')

    delivery = await sink.deliver(post, events)
    assert (delivery.delivered, delivery.rejected, delivery.retry) == ([0, 1, 2], 2, False)


async def test_http_batches_keep_to_the_count_and_byte_limits() -> None:
    settings = config.HttpSink(type="http", url="http://x/in", batch_events=3, batch_bytes=16384)
    sink = HttpBatchSink("c", settings, "k")
    bodies: list[dict[str, Any]] = []

    async def post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
        doc = json.loads(gzip.decompress(body))
        assert headers["X-Skilltrack-Batch-Id"] == doc["batch_id"]
        if len(doc["events"]) > 1:  # a single event goes whatever its size
            assert sum(len(json.dumps(e)) for e in doc["events"]) <= 16384
        bodies.append(doc)
        return Answer(200, "HTTP 200")

    small = [outbox_event(ref=i) for i in range(5)]
    assert (await sink.deliver(post, small)).delivered == [0, 1, 2]
    large = [outbox_event(ref=i, input_snippet="x" * 6000) for i in range(5)]
    assert (await sink.deliver(post, large)).delivered == [0, 1]
    alone = [outbox_event(ref=9, input_snippet="x" * 40000)]
    assert (await sink.deliver(post, alone)).delivered == [9]  # one is always tried
    assert [len(b["events"]) for b in bodies] == [3, 2, 1]


def test_a_batch_id_is_the_same_for_the_same_events() -> None:
    events = [outbox_event() for _ in range(3)]
    assert batch_id(events) == batch_id(list(events))
    assert batch_id(events) != batch_id(events[:2])


def test_everyskill_body_and_signature() -> None:
    event = outbox_event(
        artifact_type="skill", artifact_name="pdf", skill_id="sk1", tool_name="Skill",
        input_snippet="i" * 1500, output_snippet="o",
    )  # fmt: skip
    body = track_body(event)
    doc = json.loads(body)
    assert doc == {
        "skill_id": "sk1", "tool_name": "Skill", "ts": "2023-11-14T22:13:20.250Z",
        "hook_event": "PostToolUse", "tool_input_snippet": "i" * 1000,
        "tool_output_snippet": "o", "latency_ms": 31,
    }  # fmt: skip
    # The receiver's check: hex HMAC-SHA256 of the exact body, keyed by the API key.
    import hashlib
    import hmac

    assert signature(body, "k") == hmac.new(b"k", body, hashlib.sha256).hexdigest()
    typed = json.loads(track_body(outbox_event(tool_name=None, skill_id=None, artifact_name="x")))
    assert (typed["skill_id"], typed["tool_name"]) == ("x", "Skill")
    assert "tool_input_snippet" not in typed  # no snippet without consent
    assert "input_tokens" not in typed  # its tokens unknown: left out, not 0


def test_an_everyskill_body_carries_its_uses_tokens_when_known() -> None:
    event = outbox_event(artifact_type="skill", artifact_name="pdf", tool_name="Skill",
                         tokens=UseTokens("claude-sonnet-4-5", 3, 9120, 388))  # fmt: skip
    doc = json.loads(track_body(event))
    assert (doc["model_name"], doc["input_tokens"], doc["output_tokens"]) == (
        "claude-sonnet-4-5", 9120, 388,
    )  # fmt: skip


def usage_row(**fields: Any) -> OutboxUsage:
    base: dict[str, Any] = dict(
        ref=7, session_id="s-1", request_id="req_1", thread="", prompt_id="p1",
        at=1_700_000_001.5, project="shop", model="claude-opus-4-5", input_tokens=3,
        output_tokens=120, cache_5m_tokens=2000, cache_1h_tokens=500, cache_read_tokens=9000,
        cost_usd=0.0123, use_event="e-1", use_type="skill", use_name="pdf", run_event=None,
        run_name=None, queued_at=1_700_000_002.0, tenant_id="acme", user_id="ann",
    )  # fmt: skip
    base.update(fields)
    return OutboxUsage(**base)


def test_otlp_usage_records_carry_the_genai_attributes() -> None:
    rows = [usage_row(), usage_row(ref=8, request_id="req_2", thread="a1", run_event="e-2",
                                   run_name="Explore", use_event=None, use_type=None,
                                   use_name=None, cost_usd=None)]  # fmt: skip
    request = json_format.Parse(logs_request(rows), ExportLogsServiceRequest())
    first, second = request.resource_logs[0].scope_logs[0].log_records
    assert first.event_name == "skilltrack.usage"
    attrs = {a.key: a.value for a in first.attributes}
    assert attrs["gen_ai.request.model"].string_value == "claude-opus-4-5"
    # Input counts cached input too, as the GenAI conventions ask; the parts beside it.
    assert attrs["gen_ai.usage.input_tokens"].int_value == 3 + 2500 + 9000
    assert attrs["gen_ai.usage.output_tokens"].int_value == 120
    assert attrs["gen_ai.usage.cache_creation.input_tokens"].int_value == 2500
    assert attrs["gen_ai.usage.cache_read.input_tokens"].int_value == 9000
    assert attrs["skilltrack.use.event_id"].string_value == "e-1"
    assert attrs["skilltrack.event_id"].string_value == rows[0].event_id
    assert attrs["skilltrack.cost_usd"].double_value == pytest.approx(0.0123)
    inside = {a.key: a.value for a in second.attributes}
    assert inside["skilltrack.run.event_id"].string_value == "e-2"
    assert inside["skilltrack.agent.id"].string_value == "a1"
    assert "skilltrack.use.event_id" not in inside
    assert "skilltrack.cost_usd" not in inside  # no price: no cost, rather than 0


def test_a_usage_record_keeps_its_id_whenever_it_is_sent() -> None:
    assert usage_row().event_id == usage_row(ref=99, queued_at=1.0).event_id
    assert usage_row().event_id != usage_row(request_id="req_2").event_id
    assert usage_row().event_id != usage_row(session_id="s-2").event_id
    doc = usage_document(usage_row())
    assert doc["kind"] == "usage"
    assert doc["event_id"] == usage_row().event_id
    assert doc["cache_creation_input_tokens"] == 2500
    assert (doc["use_event_id"], doc["agent_id"]) == ("e-1", None)


# -- the outbox ----------------------------------------------------------------------------


def record(artifact_type: str | None = "tool", example: bool = False) -> Record:
    event_id = str(uuid.uuid4())
    row = EventRow(
        event_id, "PostToolUse", time.time(), time.time(), "s", None, None, "Bash",
        artifact_type, "x" if artifact_type else None, None, None, None, None, True, 5,
        "~/p", False, "{}",
    )  # fmt: skip
    snippet = None
    if example and artifact_type:
        snippet = TrainingExample(event_id, time.time(), None, None, artifact_type, "x", None,
                                  None, "in", "out")  # fmt: skip
    return Record(row, example=snippet)


async def open_store(tmp_path: Path, *sinks: SinkSpec) -> ForwardStore:
    store = await ForwardStore.open(tmp_path / "f.db")
    await store.configure_sinks(list(sinks))
    return store


async def test_events_are_queued_for_the_sinks_that_take_them(tmp_path: Path) -> None:
    store = await open_store(
        tmp_path, SinkSpec("all", "http", None), SinkSpec("skills", "everyskill", ("skill",))
    )
    tool, skill, bare = record("tool"), record("skill", example=True), record(None)
    await store.insert([tool, skill, bare])
    await store.insert([tool])  # resent: stored once, queued once
    everything = [e.event_id for e in await store.head("all", 10, 0)]
    assert everything == [tool.row.event_id, skill.row.event_id, bare.row.event_id]
    (only,) = await store.head("skills", 10, 0)
    assert (only.event_id, only.input_snippet, only.output_snippet) == (
        skill.row.event_id, "in", "out",
    )  # fmt: skip
    await store.close()


@pytest.mark.parametrize("events", [1, ROWS_PER_INSERT + 1])  # one INSERT statement, two
async def test_an_event_is_committed_with_its_place_in_the_outbox_or_not_at_all(
    tmp_path: Path, events: int
) -> None:
    store = await open_store(tmp_path, SinkSpec("c", "http", None))
    await store._db.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'full'); END"
    )
    records = [record() for _ in range(events)]
    with pytest.raises(sqlite3.IntegrityError, match="full"):
        await store.insert(records)
    assert (await store.count_events(), await store.artifact_summary()) == (0, [])
    await store._db.execute("DROP TRIGGER refuse")
    assert await store.insert(records) == events
    assert [e.event_id for e in await store.head("c", events, 0)] == [
        r.row.event_id for r in records
    ]
    await store.close()


async def test_settle_moves_events_out_and_counts_each_outcome(tmp_path: Path) -> None:
    store = await open_store(tmp_path, SinkSpec("c", "http", None))
    records = [record() for _ in range(4)]
    await store.insert(records)
    head = await store.head("c", 10, 0)
    await store.settle("c", [head[0].ref], [DeadLetter(head[1].ref, 400, "HTTP 400")])
    await store.record_error("c", "HTTP 503", retried=True)
    (status,) = await store.sink_status()
    assert (status["backlog"], status["dead_letters"]) == (2, {"400": 1})
    counters = status["counters"]
    assert (counters["delivered"], counters["dead"], counters["retried"]) == (1, 1, 1)
    assert status["last_error"] == "HTTP 503"
    assert await store.resend_dead_letters("c") == 1
    assert [e.ref for e in await store.head("c", 10, 0)] == [h.ref for h in head[1:]]
    await store.close()


async def test_age_and_backlog_limits_drop_the_oldest_and_count_them(tmp_path: Path) -> None:
    store = await open_store(tmp_path, SinkSpec("c", "http", None))
    await store.insert([record() for _ in range(10)])
    cutoff = time.time() + 1  # everything queued before it is too old
    assert await store.head("c", 4, cutoff) == []
    await store.insert([record() for _ in range(250)])
    assert await store.trim("c", 100) == 150
    (status,) = await store.sink_status()
    assert status["backlog"] == 100
    assert (status["counters"]["expired"], status["counters"]["overflow"]) == (10, 150)
    await store.close()


async def test_a_sink_no_longer_configured_queues_nothing_but_keeps_its_backlog(
    tmp_path: Path,
) -> None:
    store = await open_store(tmp_path, SinkSpec("c", "http", None))
    await store.insert([record()])
    await store.configure_sinks([])
    await store.insert([record()])
    (status,) = await store.sink_status()
    assert (status["enabled"], status["backlog"]) == (False, 1)
    await store.close()


async def test_deleting_an_event_takes_it_out_of_the_outbox_counted(tmp_path: Path) -> None:
    store = await open_store(tmp_path, SinkSpec("c", "http", None), SinkSpec("d", "http", None))
    await store.insert([record(), record()])
    await store._db.execute("DELETE FROM events WHERE id = 1")  # as retention will
    await store._db.commit()
    by_name = {s["name"]: s for s in await store.sink_status()}
    assert [by_name[n]["backlog"] for n in "cd"] == [1, 1]
    assert [by_name[n]["counters"]["removed"] for n in "cd"] == [1, 1]
    await store.close()


def request_row(n: int, use: Owner | None = None, run: Owner | None = None) -> RequestRow:
    return RequestRow(
        "s", f"req_{n}", "a1" if run else "", "p1", time.time(), "shop", "claude-opus-4-5",
        1000 + n, 100 + n, 2000 + n, 0, 3000 + n, 0.01, use, run,
    )  # fmt: skip


async def test_requests_are_queued_once_for_the_sinks_that_merge_them(tmp_path: Path) -> None:
    specs = [
        SinkSpec("all", "http", None),
        SinkSpec("skills", "otlp", ("skill",)),
        SinkSpec("agents", "http", ("agent",)),
        SinkSpec("market", "everyskill", ("skill",)),
    ]
    skill, run = Owner("e-skill", "skill", "pdf"), Owner("e-run", "agent", "Explore")
    store = await open_store(tmp_path, *specs)
    tokens = await TokenStore.open(tmp_path / "f.db")
    rows = [
        request_row(1),  # the session's own
        request_row(2, use=skill),
        request_row(3, use=skill, run=run),
        request_row(4, run=run),
    ]
    assert await tokens.save("s", "", rows, ThreadState(10)) == 4
    assert await tokens.save("s", "", rows, ThreadState(10)) == 0  # read again: stored once
    queued = {s.name: [r.request_id for r in await store.usage_head(s.name, 10, 0)] for s in specs}
    assert queued == {
        "all": ["req_1", "req_2", "req_3", "req_4"], "skills": ["req_2", "req_3"],
        "agents": ["req_3", "req_4"], "market": [],  # a marketplace gets them in the use
    }  # fmt: skip
    (third,) = [r for r in await store.usage_head("all", 10, 0) if r.request_id == "req_3"]
    assert (third.use_event, third.run_event, third.input_tokens) == ("e-skill", "e-run", 1003)
    # Out by delivery, age, backlog and retention: each counted.
    first, *rest = await store.usage_head("all", 10, 0)
    await store.settle("all", [first.ref], outbox="usage")
    assert await store.usage_head("all", 10, 0) == rest
    assert await store.usage_head("all", 10, time.time() + 1) == []  # all older than that
    assert await store.trim("skills", 1, "usage") == 1
    await tokens._db.execute("DELETE FROM requests WHERE request_id = 'req_3'")  # retention
    await tokens._db.commit()
    assert [r.request_id for r in await store.usage_head("skills", 10, 0)] == []
    counters = {s["name"]: s["counters"] for s in await store.sink_status()}
    assert (counters["all"]["delivered"], counters["all"]["expired"]) == (1, 3)
    assert (counters["skills"]["overflow"], counters["skills"]["removed"]) == (1, 1)
    assert counters["agents"]["removed"] == 1
    await tokens.close()
    await store.close()
