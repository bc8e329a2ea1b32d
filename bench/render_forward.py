"""The forwarding part of BENCHMARKS.md: the drains to a local receiver, ingest and the hook
with the receiver hung, and the daemon's memory through a long outage."""

from __future__ import annotations

from bench.forwardload import (
    HUNG_CASES,
    HUNG_TIMEOUT_S,
    OUTAGE_ARRIVALS_PER_S,
    Drain,
    ForwardResult,
    HungResult,
    OutageResult,
    hung_order,
)
from bench.ingestload import IngestResult
from bench.mdparts import TIMES, Row
from bench.mdparts import mib as _mib
from bench.mdparts import ms as _ms
from bench.mdparts import table as _table
from bench.mdparts import verdict as _verdict
from bench.stats import Summary

FORWARD_TARGET = 10_000.0
# With the sink's receiver hung, ingest and the hook stay within 10% of no forwarding.
HUNG_INGEST_MIN = 0.90
HUNG_HOOK_MAX = 1.10
FIGURES = (
    "Forwarding rate, http sink",
    "Forwarding rate, everyskill sink",
    "Ingest with receiver hung",
    "Hook p50 with receiver hung",
    "Daemon RSS, outage backlog",
)


def rows(forward: ForwardResult) -> list[Row]:
    return [
        _http_row(forward.http),
        _everyskill_row(forward.everyskill),
        *_hung_rows(forward.hung),
        _outage_row(forward.outage),
    ]


def _http_row(http: Drain) -> Row:
    cpu = http.cpu
    return Row(
        "Forwarding rate, http sink",
        f"{http.rate:,.0f} events/s",
        f"≥ {FORWARD_TARGET:,.0f} events/s to a local receiver",
        f"{http.accepted:,} events in {http.requests:,} batches in {http.drain_s:.2f} s; daemon "
        f"CPU {http.cores(cpu.loop):.2f} cores event loop, {http.cores(cpu.sqlite):.2f} other "
        f"threads; {http.duplicates:,} duplicates",
        _verdict(http.rate >= FORWARD_TARGET),
        f"The http sink delivered {http.rate:,.0f} events/s to a local receiver ({http.accepted:,} "
        f"of {http.stored:,} stored events in {http.drain_s:.2f} s, {http.requests:,} batches); "
        f"the target is ≥ {FORWARD_TARGET:,.0f}/s.",
    )


def _everyskill_row(drains: list[Drain]) -> Row:
    rates = "; ".join(f"{d.rate:,.0f} events/s at concurrency {d.concurrency}" for d in drains)
    loop = ", ".join(f"{d.per_event_us(d.cpu.loop):,.0f} µs" for d in drains)
    return Row(
        "Forwarding rate, everyskill sink",
        rates,
        "(none; informational)",
        f"one POST per skill event, {drains[0].events:,} events per run; daemon event-loop CPU "
        f"per event {loop}",
        "—",
    )


def _hung_rows(hung: HungResult) -> list[Row]:
    ratio, hook = hung.ingest_ratio, hung.hook_ratio
    with_, without = hung.hook("hung"), hung.hook("none")
    rounds = f"{hung.rounds} alternating rounds of {hung.events:,} events per daemon"
    return [
        Row(
            "Ingest with receiver hung",
            f"{hung.rate('hung'):,.0f} events/s = {ratio:.3f} {TIMES} no forwarding",
            f"≥ {HUNG_INGEST_MIN:.2f} {TIMES} no forwarding (within 10%)",
            f"no forwarding {hung.rate('none'):,.0f} events/s; {rounds}",
            _verdict(ratio >= HUNG_INGEST_MIN),
            f"With its http sink's receiver hung, the daemon stored {hung.rate('hung'):,.0f} "
            f"events/s, {ratio:.3f} {TIMES} the {hung.rate('none'):,.0f} events/s of a daemon "
            f"without forwarding measured alongside it ({rounds}); the target is ≥ "
            f"{HUNG_INGEST_MIN:.2f} {TIMES}.",
        ),
        Row(
            "Hook p50 with receiver hung",
            f"{_ms(with_.p50)} = {hook:.3f} {TIMES} no forwarding",
            f"≤ {HUNG_HOOK_MAX:.2f} {TIMES} no forwarding p50 (within 10%)",
            f"no forwarding p50 {_ms(without.p50)}; {with_.n} interleaved runs each",
            _verdict(hook <= HUNG_HOOK_MAX),
            f"With the daemon's http sink's receiver hung, the hook's p50 is {_ms(with_.p50)}, "
            f"{hook:.3f} {TIMES} the {_ms(without.p50)} against a daemon without forwarding "
            f"({with_.n} interleaved runs each); the target is ≤ {HUNG_HOOK_MAX:.2f} {TIMES}.",
        ),
    ]


def _outage_row(outage: OutageResult) -> Row:
    final = outage.final
    return Row(
        "Daemon RSS, outage backlog",
        f"{_mib(final.rss_kib)} with {final.backlog:,} events waiting",
        "(none; bounded: the forwarder holds one batch of ≤ 500 events)",
        f"idle {_mib(outage.rss_idle_kib)} before; peak {_mib(final.hwm_kib)}; "
        f"{outage.events:,} events = {outage.hours:.2f} h at {OUTAGE_ARRIVALS_PER_S} events/s",
        "—",
    )


def section(forward: ForwardResult, ingest: IngestResult | None) -> list[str]:
    return [
        "## Forwarding",
        "",
        "Each measurement runs a real daemon with one sink in its config file, against a local "
        "receiver: an aiohttp server on 127.0.0.1, in a thread of the benchmark process (so on "
        "the same cores as the daemon), that reads each request's whole body, gunzips it if it "
        "was sent so, takes the event ids out of it (an `http` batch's `events[].event_id`, "
        "an `/api/track` request's `Idempotency-Key`) and counts them de-duplicated.",
        "",
        *_drain_part(forward),
        *_hung_part(forward.hung),
        *_outage_part(forward.outage, ingest),
    ]


def _drain_part(forward: ForwardResult) -> list[str]:
    http, everyskill = forward.http, forward.everyskill
    rows = [
        [
            d.kind,
            str(d.concurrency),
            f"{d.accepted:,} of {d.stored:,}",
            f"{d.requests:,}",
            f"{d.per_request:,.0f}",
            f"{d.drain_s:.2f} s",
            f"{d.rate:,.0f} events/s",
            f"{d.per_event_us(d.cpu.loop):,.0f} µs, {d.per_event_us(d.cpu.sqlite):,.0f} µs",
            f"{d.per_event_us(d.cpu.loadgen):,.0f} µs",
            f"{d.duplicates:,}",
            f"{d.lost:,}",
            f"{d.backlog_after:,}",
            f"{d.counters.get('retried', 0):,}",
        ]
        for d in (http, *everyskill)
    ]
    return [
        "### Draining a full outbox",
        "",
        f"{http.events:,} events (a PostToolUse of Bash) for the `http` sink, and "
        f"{everyskill[0].events:,} skill events (a PostToolUse of Skill) for the `everyskill` "
        "sink at each concurrency, were written to a fresh home's spool; the daemon started "
        "with its sink pointing at a port where nothing listened yet (connection refused: "
        "retried after 0.2 to 0.5 s), replayed them and queued them all. Then the receiver "
        "started listening on that port. The drain is timed from its first request to its "
        "acceptance of the last new event id, and the sink's backlog (from `status`) must "
        "then reach 0. The `http` sink sends one gzip batch of up to 500 events at a time; "
        "the `everyskill` sink one POST per event, as many in flight as its `concurrency`, "
        "each signed (`sign = true`); both send a Bearer key. "
        "CPU per event is over the drain (10 ms ticks: coarse for a short drain); the "
        "receiver's is the benchmark process's.",
        "",
        *_table(
            [
                "Sink",
                "Concurrency",
                "Accepted",
                "Requests",
                "Events per request",
                "Drain",
                "Rate",
                "Daemon CPU per event (event loop, other threads)",
                "Receiver CPU per event",
                "Duplicates",
                "Lost",
                "Backlog after",
                "Failed attempts (`retried`)",
            ],
            rows,
        ),
        "",
    ]


def _hung_part(hung: HungResult) -> list[str]:
    round_rows = [
        [
            str(r + 1),
            "receiver hung" if hung_order(r)[0] == "hung" else "no forwarding",
            f"{hung.loads['hung'][r].rate:,.0f} events/s",
            f"{hung.loads['none'][r].rate:,.0f} events/s",
        ]
        for r in range(hung.rounds)
    ]

    def latency(case: str) -> str:
        lat = Summary.of([ms for load in hung.loads[case] for ms in load.latency_ms])
        return f"p50 {_ms(lat.p50)}, p99 {_ms(lat.p99)}"

    def cpu(case: str) -> str:
        used = hung.cpu[case]
        return (
            f"{hung.per_event_us(case, used.loop):,.0f} µs, "
            f"{hung.per_event_us(case, used.sqlite):,.0f} µs"
        )

    def hook(case: str) -> list[str]:
        h = hung.hook(case)
        return [_ms(h.p50), _ms(h.p90), _ms(h.p99), _ms(h.max), _ms(h.mean)]

    concurrency = hung.loads["hung"][0].concurrency
    return [
        "### Receiver hung",
        "",
        "Two daemons side by side: one whose `http` sink's receiver reads each request and "
        f"never answers (`timeout_s = {HUNG_TIMEOUT_S}`; it took {hung.hung_requests} "
        f"{'request' if hung.hung_requests == 1 else 'requests'} in the whole run and "
        "answered none), one without forwarding. After "
        f"{hung.warmup:,} warm-up events each, {hung.rounds} rounds of {hung.events:,} events "
        f"each at {concurrency} in flight (the ingest load above), the daemon that goes first "
        "alternating from round to round; a daemon's rate is all its events over all its "
        f"rounds' wall time. At the end the hung sink's outbox held {hung.backlog:,} events "
        f"of the {hung.db_events['hung']:,} stored: every one queued, none delivered.",
        "",
        *_table(
            ["Round", "First", "Receiver hung", "No forwarding"],
            round_rows,
        ),
        "",
        *_table(
            ["", "Receiver hung", "No forwarding"],
            [
                ["Rate, all rounds", *(f"{hung.rate(c):,.0f} events/s" for c in HUNG_CASES)],
                ["Latency connect → reply", *(latency(c) for c in HUNG_CASES)],
                ["Daemon CPU per event (event loop, other threads)", *(cpu(c) for c in HUNG_CASES)],
            ],
        ),
        "",
        f"Then the real hook (the ~1 KB Bash event on stdin, as in the hook section): "
        f"{hung.hook_warmups} warm-up rounds and {hung.hook('hung').n} timed rounds, each "
        "running it once against each daemon, in a shuffled order.",
        "",
        *_table(
            ["Hook against", "n", "p50", "p90", "p99", "max", "mean"],
            [
                ["daemon, receiver hung", str(hung.hook("hung").n), *hook("hung")],
                ["daemon, no forwarding", str(hung.hook("none").n), *hook("none")],
            ],
        ),
        "",
    ]


def _outage_part(outage: OutageResult, ingest: IngestResult | None) -> list[str]:
    rows = [["idle, after start", "0", "0", _mib(outage.rss_idle_kib), _mib(outage.hwm_idle_kib)]]
    rows += [
        [
            f"after {i + 1} of {len(outage.checkpoints)}",
            f"{c.sent:,}",
            f"{c.backlog:,}",
            _mib(c.rss_kib),
            _mib(c.hwm_kib),
        ]
        for i, c in enumerate(outage.checkpoints)
    ]
    counters = outage.counters
    return [
        "### Memory through an outage",
        "",
        "A daemon whose `http` sink's receiver is down (nothing listens on its port: "
        f"connection refused, retried after 0.2 to 0.5 s) took {outage.events:,} events through "
        f"its socket, {outage.hours:.2f} h of events at {OUTAGE_ARRIVALS_PER_S} events/s (sent "
        f"here as fast as it takes them, {outage.loads[0].concurrency} in flight), in "
        f"{len(outage.checkpoints)} steps; after each, a second's pause (a few more failed "
        "attempts, each reading the outbox's head) and then the daemon's `VmRSS` and `VmHWM` "
        "and the sink's backlog from `status`. The forwarder holds at most one head of the "
        "outbox (≤ 500 events) in memory; the rest waits in SQLite.",
        "",
        *_table(["Point", "Events sent", "Waiting in the outbox", "VmRSS", "VmHWM"], rows),
        "",
        f"Sink counters at the end: delivered {counters.get('delivered', 0):,}, failed "
        f"attempts (retried) {counters.get('retried', 0):,}, dropped for backlog size "
        f"{counters.get('overflow', 0):,}, dropped for age {counters.get('expired', 0):,}; "
        f"last error: `{outage.last_error}`."
        + (
            ""
            if ingest is None
            else f" For scale, the daemon without forwarding after the ingest load above: "
            f"{_mib(ingest.rss_after_kib)} (peak {_mib(ingest.hwm_after_kib)})."
        ),
        "",
    ]
