"""Tokens in forwarding, end to end: the real daemon and hook, transcripts in the shape Claude
Code writes them (support.transcripts' worked example), and a real local receiver.

`http` and `otlp` get each API request once, as a usage record naming the use it is charged
to; `everyskill` gets each skill use in one POST carrying its tokens, held until its turn's
transcript is read (or `usage_wait_s` passes).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.events import payload
from tests.support.forwarding import (
    KEY,
    configure,
    everyskill_sink,
    http_sink,
    otlp_sink,
    sink_status,
)
from tests.support.home import Home
from tests.support.receiver import Receiver, Respond, running
from tests.support.transcripts import AGENT_ID, MODEL, PROMPT, SESSION, worked_example

CWD = "/home/ann/src/shop"
INSIDE = {"agent_id": AGENT_ID, "agent_type": "general-purpose"}
# The worked example's figures (support.transcripts): (requests, input, cache writes,
# cache reads, output) per owner, and of the whole session.
ALPHA = (6, 6039, 12039, 18039, 639)
BETA = (2, 2011, 4011, 6011, 211)
RUN = (3, 3015, 6015, 9015, 315)
SESSION_TOTAL = (10, 10055, 20055, 30055, 1055)


def transcripts(home: Home) -> Path:
    """The worked example's transcripts under a HOME of the daemon's own; the main one."""
    user = home.dir / "user"
    home.env["HOME"] = str(user)
    main, sub = worked_example(user)
    meta = sub.path.with_name(f"agent-{AGENT_ID}.meta.json")
    meta.write_text(json.dumps({"agentType": "general-purpose", "toolUseId": "toolu_41885_0003"}))
    return main.path


def resume(main: Path) -> None:
    """One more request in the session, in a new prompt, owned by no use."""
    line = json.loads(main.read_text().splitlines()[-2])  # request 10's line
    line["requestId"], line["promptId"] = "req_41885_011", "p2"
    with main.open("a") as f:
        f.write(json.dumps({"type": "user", "promptId": "p2", "message": {"content": "more"}}))
        f.write("\n" + json.dumps(line) + "\n")


def hook(home: Home, main: Path, hook_event: str, **fields: Any) -> None:
    fields = {"session_id": SESSION, "prompt_id": PROMPT, "cwd": CWD,
              "transcript_path": str(main), **fields}  # fmt: skip
    event = payload(hook_event, **fields)
    assert home.hook(event).returncode == 0


def skill(name: str, call: str, **fields: Any) -> dict[str, Any]:
    return {"tool_name": "Skill", "tool_input": {"skill": name}, "tool_use_id": call,
            "tool_response": {"success": True, "commandName": name}, **fields}  # fmt: skip


def run_turn(home: Home, main: Path) -> None:
    """The worked example's hook events, as Claude Code sends them, ending with its Stop."""
    hook(home, main, "PostToolUse", **skill("alpha-skill", "toolu_41885_0001"))
    hook(home, main, "PostToolUse", **skill("beta-skill", "toolu_41885_0004", **INSIDE))
    hook(home, main, "SubagentStop", **INSIDE)
    hook(home, main, "PostToolUse", tool_name="Agent", tool_use_id="toolu_41885_0003",
         tool_input={"subagent_type": "general-purpose", "prompt": "help"},
         tool_response={"status": "completed", "agentId": AGENT_ID})  # fmt: skip
    hook(home, main, "Stop")


def use_ids(home: Home) -> dict[str, str]:
    """The event id of each use, by its name."""
    return {
        e["artifact_name"]: e["event_id"]
        for e in home.events()
        if e["hook_event"] == "PostToolUse" and e["artifact_type"] in ("skill", "agent")
    }


def usage_records(receiver: Receiver) -> list[dict[str, Any]]:
    return [
        doc
        for r in receiver.requests
        if r.answered == 200 and r.path == "/ingest"
        for doc in json.loads(r.body)["events"]
        if doc["kind"] == "usage"
    ]


def log_records(receiver: Receiver) -> list[dict[str, Any]]:
    """The usage log records the OTLP endpoint accepted, their attributes as plain values."""
    found = []
    for r in receiver.requests:
        if r.answered != 200 or not r.path.endswith("/v1/logs"):
            continue
        for resource in json.loads(r.body)["resourceLogs"]:
            for record in resource["scopeLogs"][0]["logRecords"]:
                if record.get("eventName") == "skilltrack.usage":
                    found.append(
                        {a["key"]: next(iter(a["value"].values())) for a in record["attributes"]}
                    )
    return found


def owned(records: list[dict[str, Any]], key: str, event_id: str) -> list[dict[str, Any]]:
    return [r for r in records if r[key] == event_id]


def figures(records: list[dict[str, Any]]) -> tuple[int, ...]:
    return (
        len(records),
        sum(r["input_tokens"] for r in records),
        sum(r["cache_creation_input_tokens"] for r in records),
        sum(r["cache_read_input_tokens"] for r in records),
        sum(r["output_tokens"] for r in records),
    )


def test_http_and_otlp_get_each_request_once_charged_to_its_use(home: Home) -> None:
    main = transcripts(home)
    with running(KEY) as receiver:
        configure(home, collector=http_sink(receiver), otel=otlp_sink(receiver))
        home.start_daemon()
        run_turn(home, main)
        home.wait_for(lambda: len(usage_records(receiver)) >= 10, what="10 usage records")
        home.wait_for(lambda: len(log_records(receiver)) >= 10, what="10 OTLP usage records")
        # The session goes on: its transcripts are read again, only the new request is sent.
        resume(main)
        hook(home, main, "Stop", prompt_id="p2")
        home.wait_for(lambda: len(usage_records(receiver)) >= 11, what="the 11th usage record")
        home.wait_for(lambda: len(log_records(receiver)) >= 11, what="the 11th OTLP record")
        records, logs = usage_records(receiver), log_records(receiver)
        assert receiver.duplicates == 0
    uses = use_ids(home)
    assert len(records) == 11
    assert {r["request_id"] for r in records} == {f"req_41885_{n:03}" for n in range(1, 12)}
    (last,) = [r for r in records if r["request_id"] == "req_41885_011"]
    assert (last["use_event_id"], last["run_event_id"], last["prompt_id"]) == (None, None, "p2")
    records.remove(last)
    assert figures(records) == SESSION_TOTAL
    assert figures(owned(records, "use_event_id", uses["alpha-skill"])) == ALPHA
    assert figures(owned(records, "use_event_id", uses["beta-skill"])) == BETA
    assert figures(owned(records, "run_event_id", uses["general-purpose"])) == RUN
    assert {r["model"] for r in records} == {MODEL}
    assert sum(r["cost_usd"] for r in records) == pytest.approx(0.167606)  # the cost-state's
    # The OTLP records: the same requests, input counted with its cache reads and writes.
    assert len(logs) == 11
    logs = [r for r in logs if r["skilltrack.request_id"] != "req_41885_011"]
    assert sum(int(r["gen_ai.usage.input_tokens"]) for r in logs) == 10055 + 20055 + 30055
    assert sum(int(r["gen_ai.usage.output_tokens"]) for r in logs) == 1055
    assert sum(int(r["gen_ai.usage.cache_read.input_tokens"]) for r in logs) == 30055
    assert {r["gen_ai.request.model"] for r in logs} == {MODEL}
    alpha = [r for r in logs if r.get("skilltrack.use.event_id") == uses["alpha-skill"]]
    assert sum(int(r["gen_ai.usage.output_tokens"]) for r in alpha) == ALPHA[4]


def test_usage_records_wait_in_the_outbox_through_a_restart(home: Home) -> None:
    main = transcripts(home)
    with running(KEY) as receiver:
        receiver.always(Respond(503))
        configure(home, collector=http_sink(receiver, artifact_types=["skill"]))
        daemon = home.start_daemon()
        run_turn(home, main)
        # Only what a skill owns is queued for a sink that takes skills: 8 of the 10.
        home.wait_for(
            lambda: sink_status(home, "collector")["usage_backlog"] == 8,
            what="8 usage records queued",
        )
        assert "8 usage records waiting" in home.cli("skilltrack-daemon", "status").stdout
        assert daemon.terminate() == 0
        receiver.calm()
        home.start_daemon()
        home.wait_for(lambda: len(usage_records(receiver)) >= 8, what="8 usage records sent")
        home.wait_for(
            lambda: sink_status(home, "collector")["usage_backlog"] == 0, what="none left"
        )
        records = usage_records(receiver)
        assert receiver.duplicates == 0
    assert len(records) == 8
    uses = use_ids(home)
    assert figures(owned(records, "use_event_id", uses["alpha-skill"])) == ALPHA
    assert figures(owned(records, "use_event_id", uses["beta-skill"])) == BETA


def tracked(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in receiver.requests if r.answered == 200]


def test_everyskill_sends_each_skill_use_once_with_its_tokens(home: Home) -> None:
    main = transcripts(home)
    with running(KEY) as receiver:
        # A wait far beyond the test's bound: the uses go when their turn is read.
        configure(home, marketplace=everyskill_sink(receiver, usage_wait_s=3600))
        home.start_daemon()
        run_turn(home, main)
        home.wait_for(lambda: len(tracked(receiver)) >= 2, what="2 skill uses sent")
        home.wait_for(lambda: sink_status(home, "marketplace")["backlog"] == 0, what="nothing left")
        bodies = tracked(receiver)
        assert receiver.duplicates == 0
    assert len(bodies) == 2
    by_skill = {b["skill_id"]: b for b in bodies}
    assert set(by_skill) == {"alpha-skill", "beta-skill"}  # not found on disk: their names
    for name, (_, uncached, writes, reads, output) in (
        ("alpha-skill", ALPHA),
        ("beta-skill", BETA),
    ):
        body = by_skill[name]
        assert body["model_name"] == MODEL
        assert body["input_tokens"] == uncached + writes + reads
        assert body["output_tokens"] == output


def test_everyskill_sends_a_use_without_tokens_once_its_wait_is_over(home: Home) -> None:
    # A failed call owns no work: stored at once, it waits for a turn end that never comes.
    with running(KEY) as receiver:
        configure(home, marketplace=everyskill_sink(receiver, usage_wait_s=1))
        home.start_daemon()
        main = home.dir / "user" / ".claude" / "projects" / "-p" / f"{SESSION}.jsonl"
        hook(home, main, "PostToolUseFailure", tool_name="Skill", tool_input={"skill": "pdf"})
        home.wait_for(lambda: len(tracked(receiver)) == 1, what="the use sent")
        (body,) = tracked(receiver)
        sent_at = receiver.requests[0].wall
    (event,) = home.events()
    assert body["skill_id"] == "pdf"
    assert not {"model_name", "input_tokens", "output_tokens"} & set(body)
    # Held for its wait, counted from when the daemon received it (its outbox's time).
    assert sent_at >= _epoch(event["received_at"]) + 1


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()
