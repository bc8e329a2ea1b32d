"""Forwarding end to end: the real daemon and hook, a real local aiohttp receiver.

Each test writes a config with one or more sinks pointing at a `support.receiver.Receiver`,
sends events through the real hook, and checks what the receiver accepted (de-duplicated on
event ids, duplicates counted), what is left in the outbox, the dead letters, and `status`.
"""

from __future__ import annotations

import json
import ssl
import time
from email.utils import formatdate
from typing import Any

import pytest
import trustme

from tests.support.events import payload
from tests.support.forwarding import (
    KEY,
    configure,
    everyskill_sink,
    http_sink,
    otlp_sink,
    sink_status,
)
from tests.support.home import WAIT_FOR_ACK, Home
from tests.support.receiver import Hang, Receiver, Reset, Respond, running


def send(home: Home, n: int, **fields: Any) -> list[str]:
    """Send `n` events through the hook; returns the stored event ids. Skill uses are sent
    in a turn that then ends (Stop): a skill's use is stored once its work has ended."""
    before = {e["event_id"] for e in home.events()}
    for _ in range(n):
        assert home.hook(payload(**fields)).returncode == 0
    ending = fields.get("tool_name") == "Skill"
    if ending:
        assert home.hook(payload("Stop")).returncode == 0
    home.wait_for(lambda: len(home.events()) >= len(before) + n + ending, what=f"{n} events stored")
    return [
        e["event_id"]
        for e in home.events()
        if e["event_id"] not in before and e["hook_event"] != "Stop"
    ]


def spool(home: Home, n: int, **fields: Any) -> None:
    """Send `n` events with no daemon to take them: the hooks spool them, and the daemon
    started next replays them in one go."""
    for _ in range(n):
        hook = home.hook(payload(**fields), extra_env={"SKILLTRACK_NO_AUTOSTART": "1"})
        assert hook.returncode == 0


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
    stored = {e["event_id"] for e in home.events()}  # the uses, and the Stop after the skills
    assert len(stored) == 10
    for sink in home.status()["forwarding"]:
        assert "Connect" in (sink["last_error"] or ""), sink
        assert sink["backlog"] == (3 if sink["kind"] == "everyskill" else 10)
    with running(KEY, port) as receiver:
        home.wait_for(
            lambda: all(s["backlog"] == 0 for s in home.status()["forwarding"]),
            what="every outbox empty",
            timeout=30,
        )
        for request in receiver.requests:
            assert request.answered == 200, request
        assert set(tools) | set(skills) < stored
        assert receiver.ids("/ingest") == receiver.ids("/v1/logs") == stored
        assert receiver.ids("/api/track") == set(skills)  # only skill events go there
        assert receiver.duplicates == 0
    delivered = {s["name"]: s["counters"]["delivered"] for s in home.status()["forwarding"]}
    assert delivered == {"collector": 10, "otel": 10, "marketplace": 3}


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
        retry_after = "1" if form == "seconds" else formatdate(until, usegmt=True)
        receiver.then(Respond(503, {"Retry-After": retry_after}))
        send(home, 1)
        home.wait_for(lambda: len(receiver.requests) == 2, what="the retry", timeout=15)
        # The backoff alone would wait at most 0.2 s (retry_max_s).
        first, second = receiver.requests
        if form == "seconds":
            assert second.at - first.at >= 1.0
        else:
            assert second.wall >= until - 0.05
            assert second.at - first.at >= 1.0


def test_a_413_splits_the_batch_until_it_fits(home: Home) -> None:
    with running(KEY) as receiver:
        # The first answer holds the sink back 3 s, long enough for the rest to queue up
        # behind the first event (whose retry goes alone, as it was); then the batch of 3 is
        # too large, and so is its larger half.
        receiver.then(
            Respond(503, {"Retry-After": "3"}), Respond(200), Respond(413), Respond(200),
            Respond(413),
        )  # fmt: skip
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
        assert sizes == [1, 1, 3, 1, 2, 1, 1]
        assert receiver.answered() == [503, 200, 413, 200, 413, 200, 200]
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


def test_everyskill_signs_each_body_as_the_server_checks_it(home: Home) -> None:
    with running(KEY) as receiver:
        configure(home, marketplace=everyskill_sink(receiver))
        home.start_daemon()
        skills = send(home, 3, **skill_use("pdf-helper"))
        send(home, 2)  # not skills: not for the marketplace
        home.wait_for(lambda: receiver.ids("/api/track") == set(skills), what="3 tracked")
        assert receiver.bad_signatures == 0
        assert receiver.answered() == [200, 200, 200]
        request = receiver.requests[0]
        doc = json.loads(request.body)
        assert doc["skill_id"] == "pdf-helper"  # no SKILL.md on disk here: its name
        assert (doc["tool_name"], doc["hook_event"]) == ("Skill", "PostToolUse")
        # The use's whole span, to the next skill or its turn's end; the call alone took 9.
        [stored] = [e for e in home.events() if e["event_id"] == request.headers["Idempotency-Key"]]
        assert doc["latency_ms"] == stored["duration_ms"] >= 9
        assert stored["call_ms"] == 9
        assert doc["ts"].endswith("Z")


def test_everyskill_with_a_wrong_key_pauses_and_says_so(home: Home) -> None:
    with running(KEY) as receiver:
        configure(home, marketplace=everyskill_sink(receiver, api_key="st-wrong-key-0000"))
        home.start_daemon()
        first = send(home, 1, **skill_use())
        home.wait_for(lambda: sink_status(home, "marketplace").get("paused"), what="paused")
        send(home, 2, **skill_use())
        time.sleep(1.5)  # a paused sink sends nothing more, however long it waits
        sink = sink_status(home, "marketplace")
        assert receiver.answered() == [401]
        assert sink["dead_letters"] == {"401": 1}
        assert sink["backlog"] == 2  # kept for when the key is fixed
        assert "401" in sink["paused"]
        text = home.cli("skilltrack-daemon", "status").stdout
        assert "PAUSED" in text
        dead = home.json("skilltrack", "dead-letters")["dead_letters"]
        assert [d["event_id"] for d in dead] == first


def test_a_signature_the_server_rejects_is_a_dead_letter(home: Home) -> None:
    # The server knows the key by another value than the one we sign with (but accepts the
    # Bearer token): 403, permanent for the event, and the sink goes on.
    with running(KEY) as receiver:
        receiver.key = "st-server-side-other"
        receiver.then(Respond(403))
        configure(home, marketplace=everyskill_sink(receiver))
        home.start_daemon()
        send(home, 1, **skill_use())
        home.wait_for(
            lambda: sink_status(home, "marketplace")["dead_letters"] == {"403": 1},
            what="a dead letter",
        )
        assert not sink_status(home, "marketplace").get("paused")


def test_a_daemon_killed_mid_batch_sends_the_batch_again_after_restart(home: Home) -> None:
    with running(KEY) as receiver:
        receiver.always(Hang())  # the batch is in flight when the daemon dies
        configure(home, collector=http_sink(receiver, timeout_s=30))
        spool(home, 5)
        home.start_daemon()
        home.wait_for(lambda: len(home.events()) == 5, what="5 events stored")
        home.wait_for(lambda: receiver.requests, what="a batch in flight")
        home.kill_daemon()  # SIGKILL: no last attempt, nothing settled
        receiver.always(Respond(200))
        home.start_daemon()
        ids = {e["event_id"] for e in home.events()}
        home.wait_for(lambda: receiver.ids() == ids, what="all delivered after restart")
        home.wait_for(lambda: sink_status(home, "collector")["backlog"] == 0, what="empty")
        # At least once: what was in flight may have been received twice, never lost.
        assert receiver.duplicates == 0  # a hung request was never accepted
        assert sink_status(home, "collector")["counters"]["delivered"] == 5


def test_a_retry_resends_the_batch_as_it_was_with_its_batch_id(home: Home) -> None:
    # Before, a retry re-read the outbox's head, which had grown meanwhile: the same events
    # and more, under a new batch id, which a receiver de-duplicating by batch counts twice.
    with running(KEY) as receiver:
        receiver.then(Hang())  # the first request times out
        configure(home, collector=http_sink(receiver, timeout_s=2))
        home.start_daemon()
        (first,) = send(home, 1)
        home.wait_for(lambda: receiver.requests, what="the first batch in flight")
        later = send(home, 2)  # committed while the first batch waits for an answer
        home.wait_for(lambda: receiver.ids() == {first, *later}, what="all delivered")
        batches = [json.loads(r.body) for r in receiver.requests]
        sent = [(b["batch_id"], [e["event_id"] for e in b["events"]]) for b in batches]
        assert sent[0] == sent[1]  # the retry: the same events, the same batch id
        assert sent[0][1] == [first]
        assert sorted(i for _, ids in sent[2:] for i in ids) == sorted(later)
        assert receiver.duplicates == 0


def test_a_hung_receiver_never_slows_storing(home: Home) -> None:
    with running(KEY) as receiver:
        receiver.always(Hang())
        configure(home, collector=http_sink(receiver, timeout_s=60))
        home.start_daemon()
        send(home, 1)
        home.wait_for(lambda: receiver.requests, what="the receiver to hang")
        # Each hook spools its event unless the daemon acknowledges it, after the commit,
        # within the hook's deadline (here the longest it takes, 1 s): nothing spooled by a
        # hook or by the daemon is the proof that storing went on at its pace.
        for _ in range(20):
            reply = home.hook(payload(), extra_env=WAIT_FOR_ACK)
            assert reply.returncode == 0
        home.wait_for(lambda: len(home.events()) == 21, what="all stored")
        status = home.status()
        assert status["counters"]["spooled"] == 0  # acknowledged, not pushed aside
        assert (status["spool"]["records"], status["counters"]["replayed"]) == (0, 0), status
        assert sink_status(home, "collector")["backlog"] == 21


def test_sigterm_makes_one_last_bounded_attempt(home: Home) -> None:
    with running(KEY) as receiver:
        receiver.always(Hang())
        # The sink would wait 300 s for an answer; the daemon gives its last attempt a few
        # seconds, so it exits long before a wait that long could end.
        configure(home, collector=http_sink(receiver, timeout_s=300))
        daemon = home.start_daemon()
        send(home, 3)
        home.wait_for(lambda: receiver.requests, what="the receiver to hang")
        assert daemon.terminate(timeout=30) == 0
        assert sink_status(home, "collector")["backlog"] == 3  # waits for the next start


def test_sigterm_sends_what_is_waiting_when_the_receiver_answers(home: Home) -> None:
    with running(KEY) as receiver:
        receiver.then(Respond(503, {"Retry-After": "120"}))  # the sink backs off for 2 min
        configure(home, collector=http_sink(receiver))
        daemon = home.start_daemon()
        ids = send(home, 2)
        home.wait_for(lambda: receiver.requests, what="the first request")
        assert daemon.terminate(timeout=15) == 0  # cuts the backoff short: one last try
        assert receiver.ids() == set(ids)
        assert sink_status(home, "collector")["backlog"] == 0


def test_the_api_key_never_shows(home: Home) -> None:
    with running(KEY) as receiver:
        receiver.then(Respond(400), Reset(), Respond(503))
        configure(home, collector=http_sink(receiver), marketplace=everyskill_sink(receiver))
        home.start_daemon()
        send(home, 3, **skill_use())
        home.wait_for(lambda: len(receiver.requests) >= 5, what="a few answers")
        shown = [
            home.cli("skilltrack-daemon", "status").stdout,
            home.cli("skilltrack-daemon", "status", "--json").stdout,
            home.cli("skilltrack", "dead-letters", "--json").stdout,
            home.cli("skilltrack", "config", "--json").stdout,
            home.cli("skilltrack", "doctor", check=False).stdout,
        ]
        home.kill_daemon()
        for text in shown:
            assert KEY not in text
        # Nor in any file the daemon wrote: log, database, spool (the config holds it).
        for path in home.dir.rglob("*"):
            if path.is_file() and path != home.paths.config:
                assert KEY.encode() not in path.read_bytes(), path


def test_a_missing_key_stops_the_daemon_from_starting(home: Home) -> None:
    configure(home, collector={"type": "http", "url": "http://127.0.0.1:9/x",
                               "api_key_env": "ST_TEST_NO_SUCH_VAR"})  # fmt: skip
    started = home.cli("skilltrack-daemon", "start", check=False)
    assert started.returncode == 1
    assert "forward.collector.api_key_env: $ST_TEST_NO_SUCH_VAR is not set" in started.stderr
    assert not home.paths.socket.exists()


@pytest.mark.parametrize("verify", [True, False])
def test_tls_certificates_are_verified_unless_told_not_to(home: Home, verify: bool) -> None:
    # A receiver whose certificate no trusted CA signed (a throwaway one, as in a test lab).
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    receiver = Receiver(KEY, tls=context).start()
    try:
        settings = http_sink(receiver) if verify else http_sink(receiver, verify_tls=False)
        configure(home, collector=settings)
        home.start_daemon()
        ids = send(home, 1)
        if verify:
            home.wait_for(
                lambda: "certificate" in (sink_status(home, "collector")["last_error"] or ""),
                what="a certificate error",
            )
            assert receiver.requests == []
            assert sink_status(home, "collector")["backlog"] == 1  # kept, retried
        else:
            home.wait_for(lambda: receiver.ids() == set(ids), what="delivered")
    finally:
        receiver.stop()
