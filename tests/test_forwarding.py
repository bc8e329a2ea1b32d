"""Forwarding end to end: the real daemon and hook, a real local aiohttp receiver.

Each test writes a config with one or more sinks pointing at a `tests.receiver.Receiver`,
sends events through the real hook, and checks what the receiver accepted (de-duplicated on
event ids, duplicates counted), what is left in the outbox, the dead letters, and `status`.
"""

from __future__ import annotations

import json
import time
from email.utils import formatdate
from typing import Any

import pytest

from tests.conftest import Home, payload
from tests.receiver import Hang, Receiver, Reset, Respond, running

KEY = "st-test-key-4f1d0c9a7e2b"


def configure(home: Home, **sinks: dict[str, Any]) -> None:
    lines = []
    for name, sink in sinks.items():
        lines.append(f"[forward.{name}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in sink.items()]
    home.paths.config.parent.mkdir(parents=True, exist_ok=True)
    home.paths.config.write_text("\n".join(lines) + "\n")


def http_sink(receiver: Receiver, **extra: Any) -> dict[str, Any]:
    return {"type": "http", "url": receiver.url + "/ingest", "api_key": KEY,
            "retry_initial_s": 0.05, "retry_max_s": 0.2, "timeout_s": 2, **extra}  # fmt: skip


def send(home: Home, n: int, **fields: Any) -> list[str]:
    """Send `n` events through the hook; returns the stored event ids."""
    before = {e["event_id"] for e in home.events()}
    for _ in range(n):
        assert home.hook(payload(**fields)).returncode == 0
    home.wait_for(lambda: len(home.events()) >= len(before) + n, what=f"{n} events stored")
    return [e["event_id"] for e in home.events() if e["event_id"] not in before]


def spool(home: Home, n: int, **fields: Any) -> None:
    """Send `n` events with no daemon to take them: the hooks spool them, and the daemon
    started next replays them in one go."""
    for _ in range(n):
        hook = home.hook(payload(**fields), extra_env={"SKILLTRACK_NO_AUTOSTART": "1"})
        assert hook.returncode == 0


def sink_status(home: Home, name: str) -> dict[str, Any]:
    sinks: list[dict[str, Any]] = home.status()["forwarding"]
    (sink,) = [s for s in sinks if s["name"] == name]
    return sink


def test_events_reach_an_http_collector_once_each(home: Home) -> None:
    with running(KEY) as receiver:
        configure(home, collector=http_sink(receiver))
        home.start_daemon()
        ids = send(home, 5)
        home.wait_for(lambda: receiver.ids() == set(ids), what="all delivered")
        home.wait_for(lambda: sink_status(home, "collector")["backlog"] == 0, what="empty")
        sink = sink_status(home, "collector")
        assert sink["counters"]["delivered"] == 5
        assert receiver.duplicates == 0
        request = receiver.requests[0]
        assert request.headers["Authorization"] == f"Bearer {KEY}"
        assert request.headers["Content-Encoding"] == "gzip"
        doc = json.loads(request.body)
        assert doc["batch_id"] == request.headers["X-Skilltrack-Batch-Id"]
        event = doc["events"][0]
        assert event["hook_event"] == "PostToolUse"
        assert (event["artifact_type"], event["artifact_name"]) == ("tool", "Bash")
        assert "payload" not in event
        assert "input_snippet" not in event  # no consent given


def otlp_sink(receiver: Receiver, **extra: Any) -> dict[str, Any]:
    return {"type": "otlp", "endpoint": receiver.url, "api_key": KEY, "retry_initial_s": 0.05,
            "retry_max_s": 0.2, "timeout_s": 2, **extra}  # fmt: skip


def everyskill_sink(receiver: Receiver, **extra: Any) -> dict[str, Any]:
    return {"type": "everyskill", "url": receiver.url, "api_key": KEY, "sign": True,
            "retry_initial_s": 0.05, "retry_max_s": 0.2, "timeout_s": 2, **extra}  # fmt: skip


def skill_use(name: str = "pdf-helper") -> dict[str, Any]:
    return {"tool_name": "Skill", "tool_input": {"skill": name}}


def free_port() -> int:
    receiver = Receiver().start()
    port = receiver.port
    receiver.stop()
    return port


def test_receiver_down_then_up_loses_nothing_and_each_sink_gets_each_event_once(
    home: Home,
) -> None:
    port = free_port()
    down = Receiver(KEY, port)  # not started: connections are refused
    configure(
        home,
        collector=http_sink(down),
        otel=otlp_sink(down),
        marketplace=everyskill_sink(down),
    )
    home.start_daemon()
    tools = send(home, 6)
    skills = send(home, 3, **skill_use())
    home.wait_for(
        lambda: all(s["counters"]["retried"] >= 2 for s in home.status()["forwarding"]),
        what="every sink to have failed and retried",
    )
    for sink in home.status()["forwarding"]:
        assert "Connect" in (sink["last_error"] or ""), sink
        assert sink["backlog"] == (3 if sink["kind"] == "everyskill" else 9)
    with running(KEY, port) as receiver:
        home.wait_for(
            lambda: all(s["backlog"] == 0 for s in home.status()["forwarding"]),
            what="every outbox empty",
            timeout=30,
        )
        for request in receiver.requests:
            assert request.answered == 200, request
        everything = set(tools) | set(skills)
        assert receiver.ids("/ingest") == receiver.ids("/v1/logs") == everything
        assert receiver.ids("/api/track") == set(skills)  # only skill events go there
        assert receiver.duplicates == 0
    delivered = {s["name"]: s["counters"]["delivered"] for s in home.status()["forwarding"]}
    assert delivered == {"collector": 9, "otel": 9, "marketplace": 3}


@pytest.mark.parametrize(
    ("first", "outcome"),
    [
        (Respond(200), "delivered"),
        (Respond(400), "dead"),
        (Respond(401), "dead"),
        (Respond(403), "dead"),
        (Respond(404), "dead"),
        (Respond(500), "dead"),
        (Respond(408), "retried"),
        (Respond(429), "retried"),
        (Respond(502), "retried"),
        (Respond(503), "retried"),
        (Respond(504), "retried"),
        (Respond(429, {"Retry-After": "garbage"}), "retried"),
        (Hang(), "retried"),
        (Reset(), "retried"),
        (Respond(301, {"Location": "http://127.0.0.1:1/"}), "dead"),
    ],
    ids=lambda v: repr(v) if not isinstance(v, str) else v,
)
def test_each_answer_gets_its_treatment(home: Home, first: Any, outcome: str) -> None:
    with running(KEY) as receiver:
        receiver.then(first)
        configure(home, collector=http_sink(receiver, timeout_s=1))
        home.start_daemon()
        ids = send(home, 1)  # one event, so the first request is about it alone
        home.wait_for(lambda: sink_status(home, "collector")["backlog"] == 0, what="settled")
        sink = sink_status(home, "collector")
        status = getattr(first, "status", None)
        if outcome == "delivered":
            assert receiver.answered() == [200]
            assert (sink["counters"]["delivered"], sink["counters"]["dead"]) == (1, 0)
        elif outcome == "retried":
            assert receiver.answered()[1:] == [200]
            assert (sink["counters"]["retried"], sink["counters"]["delivered"]) == (1, 1)
            assert sink["dead_letters"] == {}
        else:
            assert receiver.answered() == [status]
            assert sink["dead_letters"] == {str(status): 1}
            assert (sink["counters"]["dead"], sink["counters"]["delivered"]) == (1, 0)
            dead = home.json("skilltrack", "dead-letters")["dead_letters"]
            assert {d["event_id"] for d in dead} == set(ids)
            assert {d["status"] for d in dead} == {status}
            # Once the cause is fixed (here the receiver now answers 200), they go out.
            assert home.json("skilltrack", "dead-letters", "resend") == {"resent": 1}
            home.wait_for(lambda: receiver.ids() == set(ids), what="resent and accepted")
        assert receiver.ids() == set(ids)
        assert receiver.duplicates == 0


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_retry_after_is_a_floor_under_the_backoff(home: Home, form: str) -> None:
    with running(KEY) as receiver:
        configure(home, collector=http_sink(receiver))
        home.start_daemon()
        until = int(time.time()) + 5
        retry_after = "2" if form == "seconds" else formatdate(until, usegmt=True)
        receiver.then(Respond(503, {"Retry-After": retry_after}))
        send(home, 1)
        home.wait_for(lambda: len(receiver.requests) == 2, what="the retry", timeout=15)
        # The backoff alone would wait at most 0.2 s (retry_max_s).
        first, second = receiver.requests
        if form == "seconds":
            assert second.at - first.at >= 2.0
        else:
            assert second.wall >= until - 0.05
            assert second.at - first.at >= 1.0


def test_a_413_splits_the_batch_until_it_fits(home: Home) -> None:
    with running(KEY) as receiver:
        # The first answer holds the sink back 3 s, long enough for the rest to queue up
        # behind the first event; then the batch of 4 is too large, and so is half of it.
        receiver.then(Respond(503, {"Retry-After": "3"}), Respond(413), Respond(413))
        configure(home, collector=http_sink(receiver))
        home.start_daemon()
        ids = send(home, 1)
        home.wait_for(lambda: len(receiver.requests) == 1, what="the first request")
        ids += send(home, 3)
        home.wait_for(
            lambda: receiver.ids() == set(ids),
            what="all delivered",
            timeout=15,
        )
        sizes = [len(json.loads(r.body)["events"]) for r in receiver.requests]
        assert sizes == [1, 4, 2, 1, 1, 2]
        assert receiver.answered() == [503, 413, 413, 200, 200, 200]
        assert receiver.duplicates == 0
        assert sink_status(home, "collector")["dead_letters"] == {}


def test_an_event_too_large_even_alone_is_a_dead_letter(home: Home) -> None:
    with running(KEY) as receiver:
        receiver.then(Respond(413))
        configure(home, collector=http_sink(receiver))
        home.start_daemon()
        send(home, 1)
        home.wait_for(lambda: sink_status(home, "collector")["dead_letters"] == {"413": 1},
                      what="a dead letter")  # fmt: skip
        assert receiver.answered() == [413]
