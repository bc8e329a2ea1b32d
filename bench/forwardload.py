"""Forwarding: how fast the daemon empties an outbox into a receiver, what a hung receiver
costs ingestion and the hook, and the daemon's memory through a long outage.

Every measurement runs a real daemon (daemonproc.py) with one sink in its config file, against
a real local receiver (receiver.py) in this process:

- Drain: N events are written to a fresh home's spool, the sink points at a port where nothing
  listens yet (connection refused: the sink retries, backing off 0.2 → 0.5 s), the daemon is
  started and replays them, and the run waits until all N are stored and queued. Then the
  receiver starts listening on that port; the drain is timed from its first request to its
  acceptance of the last new event id, and the sink's backlog must reach 0 with every stored
  event accepted. Done for the `http` sink (gzip JSON batches) and the `everyskill` sink (one
  POST per skill event) at each concurrency asked for.
- Hung receiver: two daemons run side by side, one with an `http` sink whose receiver reads
  each request and never answers (timeout 60 s), one with no forwarding; the ingest load of
  ingestload.py runs against each in turn, alternating which goes first each round, and then
  the real hook is timed against each, interleaved in a shuffled order each round.
- Outage: a daemon whose `http` sink's receiver is down (nothing listens) takes an outage's
  events (in full mode an hour's at 100 events/s) through its socket, in steps, as fast as it
  takes them; its RSS and its sink's backlog are read after each step.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.daemonproc import BenchError, Daemon, Home, count_events, home, running_daemon
from bench.hooktime import HOOK, Check, Spawner
from bench.ingestload import OK, Cpu, Load, run_load, write_spool
from bench.payloads import post_tool_use, skill_use, stop
from bench.receiver import Receiver
from bench.stats import Summary

SINK = "bench"  # the one sink's name, [forward.bench]
KEY = "st-bench-key-0c4e7a91d2b3"  # sent as a Bearer token (and the everyskill HMAC key)
# Backoff while the receiver is down: short, so that the drain starts within half a second of
# the receiver coming up (the drain's clock starts at the first request anyway).
RETRY = {"retry_initial_s": 0.2, "retry_max_s": 0.5}
HUNG_TIMEOUT_S = 60  # the hung sink waits this long for an answer before it retries
OUTAGE_ARRIVALS_PER_S = 100  # the outage's events arrive at this rate in real life
OUTAGE_STEPS = 4  # RSS and backlog read after each quarter of the outage's events
STATUS_TIMEOUT_S = 60.0
HUNG_CASES = ("hung", "none")


@dataclass(frozen=True)
class Drain:
    """One full outbox emptied into the receiver."""

    kind: str  # the sink's type
    concurrency: int  # the sink's requests in flight (the http sink: one batch at a time)
    events: int  # spooled, every one of them for this sink
    stored: int
    queued: int  # the sink's backlog when the receiver came up
    drain_s: float  # the receiver's first request → its acceptance of the last new event
    requests: int
    accepted: int  # distinct event ids the receiver accepted
    duplicates: int
    lost: int  # stored events the receiver never accepted
    unknown: int  # event ids accepted that are not in the database
    malformed: int  # requests the receiver could not read event ids from
    backlog_after: int
    counters: dict[str, int]  # the sink's, from `status` once its backlog was empty
    cpu: Cpu  # during the drain

    @property
    def label(self) -> str:
        return "http" if self.kind == "http" else f"{self.kind}, concurrency {self.concurrency}"

    @property
    def rate(self) -> float:
        return self.accepted / self.drain_s

    @property
    def per_request(self) -> float:
        return self.accepted / max(1, self.requests)

    def cores(self, cpu_s: float) -> float:
        return cpu_s / self.drain_s

    def per_event_us(self, cpu_s: float) -> float:
        return cpu_s * 1e6 / max(1, self.accepted)

    @property
    def checks(self) -> list[Check]:
        what = f"forward {self.label}:"
        return [
            Check(f"{what} spooled events stored", self.events, self.stored),
            Check(f"{what} stored events queued for the sink", self.stored, self.queued),
            Check(f"{what} stored events the receiver accepted", self.stored, self.accepted),
            Check(f"{what} events lost (stored, never accepted)", 0, self.lost),
            Check(f"{what} ids accepted that were never stored", 0, self.unknown),
            Check(f"{what} requests the receiver could not read", 0, self.malformed),
            Check(f"{what} backlog after the drain", 0, self.backlog_after),
            Check(
                f"{what} sink's `delivered` counter",
                self.stored,
                self.counters.get("delivered", -1),
            ),
            Check(f"{what} sink's `dead` counter", 0, self.counters.get("dead", -1)),
        ]


@dataclass
class HungResult:
    """Ingest and hook wall time with the sink's receiver hung, against no forwarding."""

    events: int  # per round and daemon
    rounds: int
    warmup: int  # events before the first round, per daemon
    loads: dict[str, list[Load]]  # by case, one per round
    cpu: dict[str, Cpu]  # by case, during its rounds
    hook_warmups: int
    hook_ms: dict[str, list[float]]  # by case
    hung_requests: int  # requests the hung receiver took (and never answered)
    db_events: dict[str, int]
    backlog: int  # the hung sink's outbox at the end
    checks: list[Check] = field(default_factory=list)

    def sent(self, case: str) -> int:
        return sum(load.events for load in self.loads[case])

    def rate(self, case: str) -> float:
        return self.sent(case) / sum(load.wall_s for load in self.loads[case])

    def per_event_us(self, case: str, cpu_s: float) -> float:
        return cpu_s * 1e6 / self.sent(case)

    @property
    def ingest_ratio(self) -> float:
        return self.rate("hung") / self.rate("none")

    def hook(self, case: str) -> Summary:
        return Summary.of(self.hook_ms[case])

    @property
    def hook_ratio(self) -> float:
        return self.hook("hung").p50 / self.hook("none").p50


@dataclass(frozen=True)
class Checkpoint:
    sent: int  # events sent to the daemon so far
    backlog: int  # the sink's outbox rows, from `status`
    rss_kib: int
    hwm_kib: int


@dataclass
class OutageResult:
    """The daemon's memory while its sink's receiver is down and the outbox grows."""

    events: int
    rss_idle_kib: int
    hwm_idle_kib: int
    checkpoints: list[Checkpoint]
    loads: list[Load]
    db_events: int
    counters: dict[str, int]
    last_error: str | None
    checks: list[Check] = field(default_factory=list)

    @property
    def hours(self) -> float:
        return self.events / OUTAGE_ARRIVALS_PER_S / 3600

    @property
    def final(self) -> Checkpoint:
        return self.checkpoints[-1]


@dataclass
class ForwardResult:
    http: Drain
    everyskill: list[Drain]
    hung: HungResult
    outage: OutageResult

    @property
    def checks(self) -> list[Check]:
        drains = [self.http, *self.everyskill]
        return [
            *(c for d in drains for c in d.checks),
            *self.hung.checks,
            *self.outage.checks,
        ]


def write_config(h: Home, sink: dict[str, object]) -> None:
    """A config file with the one sink `[forward.bench]`, read at the daemon's next start."""
    # json.dumps writes these strings and numbers as TOML writes them.
    lines = [f"[forward.{SINK}]", *(f"{k} = {json.dumps(v)}" for k, v in sink.items())]
    h.paths.config.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    h.paths.config.write_text("\n".join(lines) + "\n", encoding="utf-8")


def sink_status(daemon: Daemon) -> dict[str, Any]:
    """The sink's entry in `skilltrack-daemon status --json`'s `forwarding` list."""
    for sink in daemon.status().get("forwarding", []):
        if sink.get("name") == SINK:
            return dict(sink)
    raise BenchError(f"`status` shows no sink named {SINK!r}")


def _counters(sink: dict[str, Any]) -> dict[str, int]:
    counters = sink.get("counters", {})
    return {str(k): int(v) for k, v in counters.items()} if isinstance(counters, dict) else {}


def stored_ids(h: Home, artifact_type: str | None) -> set[str]:
    """Event ids in the database (of one artifact type, or all), read-only."""
    conn = sqlite3.connect(f"file:{h.paths.db}?mode=ro", uri=True, timeout=5.0)
    try:
        if artifact_type is None:
            rows = conn.execute("SELECT event_id FROM events")
        else:
            rows = conn.execute(
                "SELECT event_id FROM events WHERE artifact_type = ?", (artifact_type,)
            )
        return {str(r[0]) for r in rows}
    finally:
        conn.close()


def _wait_stored(h: Home, n: int, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    stored = 0
    while time.monotonic() < deadline:
        try:
            stored = count_events(h.paths.db)
        except sqlite3.OperationalError:  # the daemon is still creating the database
            stored = 0
        if stored >= n:
            break
        time.sleep(0.02)
    return stored


def _wait_backlog(daemon: Daemon, want: int, timeout_s: float) -> dict[str, Any]:
    """The sink's status once its backlog is `want` (or as it is when time is up)."""
    deadline = time.monotonic() + timeout_s
    while True:
        sink = sink_status(daemon)
        if int(sink.get("backlog", -1)) == want or time.monotonic() > deadline:
            return sink
        time.sleep(0.05)


def measure_drain(kind: str, events: int, concurrency: int, log: Callable[[str], None]) -> Drain:
    """Spool `events`, let the daemon queue them for a sink whose receiver is down, then bring
    the receiver up and time how fast the outbox empties into it."""
    skill = kind == "everyskill"
    # Skill uses are stored once their work has ended: the turn's Stop, after them, ends it.
    ending = (stop(),) if skill else ()
    with home(f"fwd-{kind}") as h, Receiver("ok", expect=events) as receiver:
        write_config(h, _drain_sink(kind, receiver.url, concurrency))
        write_spool(h, events, skill_use if skill else post_tool_use, ending)
        log(f"forward {kind}: {events:,} spooled events, receiver down")
        with running_daemon(h) as daemon:
            stored = _wait_stored(h, events + len(ending), 60 + events / 500) - len(ending)
            queued = int(_wait_backlog(daemon, stored, STATUS_TIMEOUT_S).get("backlog", -1))
            drain_s, cpu = _time_drain(daemon, receiver, events)
            final = _wait_backlog(daemon, 0, STATUS_TIMEOUT_S)
            if daemon.stop() != 0:
                raise BenchError("the daemon did not exit 0 on SIGTERM")
        accepted = receiver.ids()
        in_db = stored_ids(h, "skill" if skill else None)
        drain = Drain(
            kind=kind,
            concurrency=concurrency,
            events=events,
            stored=stored,
            queued=queued,
            drain_s=drain_s,
            requests=receiver.requests,
            accepted=len(accepted),
            duplicates=receiver.duplicates,
            lost=len(in_db - accepted),
            unknown=len(accepted - in_db),
            malformed=receiver.malformed,
            backlog_after=int(final.get("backlog", -1)),
            counters=_counters(final),
            cpu=cpu,
        )
    log(f"forward {drain.label}: {drain.rate:,.0f} events/s, {drain.requests:,} requests")
    return drain


def _drain_sink(kind: str, url: str, concurrency: int) -> dict[str, object]:
    sink: dict[str, object] = {"type": kind, "url": url + "/ingest", "api_key": KEY, **RETRY}
    if kind == "everyskill":
        # As docs/forwarding.md configures EverySkill: bodies signed; the url is the server's base,
        # to which the sink adds /api/track.
        sink.update(url=url, sign=True, concurrency=concurrency)
    return sink


def _time_drain(daemon: Daemon, receiver: Receiver, events: int) -> tuple[float, Cpu]:
    """Start the receiver; (its first request → all `events` accepted, in seconds, and the
    CPU used meanwhile)."""
    receiver.start()
    if not receiver.first_request.wait(30):
        raise BenchError("forward: no request within 30 s of the receiver's start")
    before = Cpu.now(daemon)
    receiver.complete.wait(60 + events / 200)
    cpu = Cpu.now(daemon) - before
    # Timed out: the rate is of what was accepted by then (and the checks fail).
    end = receiver.complete_at if receiver.complete_at is not None else time.perf_counter()
    first = receiver.first_at if receiver.first_at is not None else end
    return max(end - first, 1e-6), cpu


def measure_hung(
    events: int,
    rounds: int,
    warmup: int,
    concurrency: int,
    hook_runs: int,
    hook_warmups: int,
    log: Callable[[str], None],
    seed: int = 2,
) -> HungResult:
    """Ingest (`rounds` loads of `events` per daemon) and hook wall time (`hook_runs` per daemon)
    with the sink's receiver hung, against a daemon with no forwarding, interleaved."""
    with (
        Receiver("hang") as receiver,
        home("fwd-hung") as hung,
        home("fwd-none") as none,
    ):
        receiver.start()
        url = receiver.url + "/ingest"
        write_config(
            hung, {"type": "http", "url": url, "api_key": KEY, "timeout_s": HUNG_TIMEOUT_S}
        )
        homes = {"hung": hung, "none": none}
        for h in homes.values():
            h.env["SKILLTRACK_NO_AUTOSTART"] = "1"  # never let a hook start a stray daemon
        with running_daemon(hung) as d_hung, running_daemon(none) as d_none:
            daemons = {"hung": d_hung, "none": d_none}
            socks = {case: str(h.paths.socket) for case, h in homes.items()}
            log(f"forward hung: {warmup} warm-up events each, then {rounds} rounds of {events}")
            warm = {case: run_load(socks[case], warmup, concurrency) for case in HUNG_CASES}
            if not receiver.first_request.wait(10):
                raise BenchError("forward hung: the sink sent nothing to the hung receiver")
            loads, cpu = _alternate(daemons, socks, events, rounds, concurrency, log)
            ms, spawners = _time_hooks(homes, hook_runs, hook_warmups, seed, log)
            db_events = {case: count_events(h.paths.db) for case, h in homes.items()}
            backlog = int(sink_status(d_hung).get("backlog", -1))
            for daemon in daemons.values():
                if daemon.stop() != 0:
                    raise BenchError("the daemon did not exit 0 on SIGTERM")
        hooks = hook_runs + hook_warmups
        checks = _hung_checks(warm, loads, spawners, hooks, db_events, backlog)
        result = HungResult(
            events=events,
            rounds=rounds,
            warmup=warmup,
            loads=loads,
            cpu=cpu,
            hook_warmups=hook_warmups,
            hook_ms=ms,
            hung_requests=receiver.requests,
            db_events=db_events,
            backlog=backlog,
            checks=checks,
        )
    log(
        f"forward hung: ingest {result.rate('hung'):,.0f} vs {result.rate('none'):,.0f} "
        f"events/s; hook p50 {result.hook('hung').p50:.2f} vs {result.hook('none').p50:.2f} ms"
    )
    return result


def hung_order(round_index: int) -> tuple[str, ...]:
    """The order the two daemons take their load in, in a round (alternating)."""
    return HUNG_CASES if round_index % 2 == 0 else HUNG_CASES[::-1]


def _alternate(
    daemons: dict[str, Daemon],
    socks: dict[str, str],
    events: int,
    rounds: int,
    concurrency: int,
    log: Callable[[str], None],
) -> tuple[dict[str, list[Load]], dict[str, Cpu]]:
    """`rounds` loads on each daemon, and the CPU used during them; which goes first
    alternates, so that a drift of the machine's speed over the run falls on both alike."""
    loads: dict[str, list[Load]] = {case: [] for case in HUNG_CASES}
    cpu = {case: Cpu(0.0, 0.0, 0.0, 0.0, 0.0) for case in HUNG_CASES}
    for r in range(rounds):
        for case in hung_order(r):
            before = Cpu.now(daemons[case])
            loads[case].append(run_load(socks[case], events, concurrency))
            cpu[case] = cpu[case] + (Cpu.now(daemons[case]) - before)
        log(
            f"forward hung: round {r + 1}/{rounds}: "
            + ", ".join(f"{c} {loads[c][-1].rate:,.0f} events/s" for c in HUNG_CASES)
        )
    return loads, cpu


def _time_hooks(
    homes: dict[str, Home], runs: int, warmups: int, seed: int, log: Callable[[str], None]
) -> tuple[dict[str, list[float]], dict[str, Spawner]]:
    """The real hook against each daemon: every round runs each case once, shuffled."""
    stdin = homes["none"].dir / "event.json"
    stdin.write_bytes(post_tool_use())
    argv = [sys.executable, "-I", "-S", os.fspath(HOOK)]
    spawners = {case: Spawner(argv, h.env, stdin, h.dir / "out-hook") for case, h in homes.items()}
    log(f"forward hung: hook, {warmups} warm-up rounds, then {runs} timed rounds")
    order = list(HUNG_CASES)
    for _ in range(warmups):
        for case in order:
            spawners[case]()
    rng = random.Random(seed)
    ms: dict[str, list[float]] = {case: [] for case in HUNG_CASES}
    for _ in range(runs):
        rng.shuffle(order)
        for case in order:
            ms[case].append(spawners[case]())
    return ms, spawners


def _hung_checks(
    warm: dict[str, Load],
    loads: dict[str, list[Load]],
    spawners: dict[str, Spawner],
    hooks: int,
    db_events: dict[str, int],
    backlog: int,
) -> list[Check]:
    """Every event sent (by the load generator and the hook) stored, on both daemons; the
    hook quiet and exiting 0; every event stored with the receiver hung still waiting."""
    checks = []
    for case in HUNG_CASES:
        what = f"forward hung, {case}:"
        sent = [warm[case], *loads[case]]
        total = sum(load.events for load in sent)
        acked = sum(load.replies[OK] for load in sent)
        errors = sum(sum(load.errors.values()) for load in sent)
        out, err = spawners[case].output_bytes()
        checks += [
            Check(f"{what} events acknowledged OK", total, acked),
            Check(f"{what} connection errors", 0, errors),
            Check(f"{what} events in the database (load and hook)", total + hooks, db_events[case]),
            Check(f"{what} hook runs that exited non-zero", 0, len(spawners[case].failures)),
            Check(f"{what} bytes the hook wrote to stdout", 0, out),
            Check(f"{what} bytes the hook wrote to stderr", 0, err),
        ]
    checks.append(
        Check("forward hung: events waiting in the hung sink's outbox", db_events["hung"], backlog)
    )
    return checks


def measure_outage(
    events: int, concurrency: int, idle_s: float, log: Callable[[str], None]
) -> OutageResult:
    """`events` sent to a daemon whose sink's receiver is down, in OUTAGE_STEPS steps, with
    the daemon's RSS and the sink's backlog read after each step."""
    # A receiver never started: its port is reserved and refuses connections.
    with home("fwd-outage") as h, Receiver("ok") as receiver:
        write_config(h, {"type": "http", "url": receiver.url + "/ingest", "api_key": KEY, **RETRY})
        with running_daemon(h) as daemon:
            time.sleep(idle_s)
            rss_idle, hwm_idle = daemon.rss_kib()
            log(f"forward outage: {events:,} events with the receiver down")
            sock = str(h.paths.socket)
            loads: list[Load] = []
            checkpoints: list[Checkpoint] = []
            for step in range(OUTAGE_STEPS):
                n = events * (step + 1) // OUTAGE_STEPS - sum(load.events for load in loads)
                loads.append(run_load(sock, n, concurrency))
                # Long enough for a few more failed attempts, each of which reads the head of
                # the now larger outbox (≤ 500 events) into memory.
                time.sleep(2 * float(RETRY["retry_max_s"]))
                rss, hwm = daemon.rss_kib()
                backlog = int(sink_status(daemon).get("backlog", -1))
                checkpoints.append(Checkpoint(sum(x.events for x in loads), backlog, rss, hwm))
                log(f"forward outage: {backlog:,} waiting, RSS {rss / 1024:.1f} MiB")
            final = sink_status(daemon)
            db_events = count_events(h.paths.db)
            if daemon.stop() != 0:
                raise BenchError("the daemon did not exit 0 on SIGTERM")
    counters = _counters(final)
    last_error = final.get("last_error")
    return OutageResult(
        events=sum(load.events for load in loads),
        rss_idle_kib=rss_idle,
        hwm_idle_kib=hwm_idle,
        checkpoints=checkpoints,
        loads=loads,
        db_events=db_events,
        counters=counters,
        last_error=str(last_error) if last_error is not None else None,
        checks=_outage_checks(loads, db_events, checkpoints[-1].backlog, counters),
    )


def _outage_checks(
    loads: list[Load], db_events: int, backlog: int, counters: dict[str, int]
) -> list[Check]:
    """Every event sent stored and waiting for the sink; none delivered, none dropped."""
    sent = sum(load.events for load in loads)
    return [
        Check("forward outage: events acknowledged OK", sent, sum(x.replies[OK] for x in loads)),
        Check("forward outage: connection errors", 0, sum(sum(x.errors.values()) for x in loads)),
        Check("forward outage: events in the database", sent, db_events),
        Check("forward outage: events waiting in the outbox", db_events, backlog),
        Check("forward outage: sink's `delivered` counter", 0, counters.get("delivered", -1)),
        Check("forward outage: dropped for backlog size", 0, counters.get("overflow", -1)),
        Check("forward outage: dropped for age", 0, counters.get("expired", -1)),
    ]
