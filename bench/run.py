"""Run skilltrack's benchmark and write BENCHMARKS.md.

    .venv/bin/python bench/run.py [--quick] [--output BENCHMARKS.md]

Measures, against the targets of design.md ("Guarantees, in numbers"): the hook's wall time
per event (daemon up, down, wedged) beside `python -I -S -c pass`; the daemon's ingest rate
with one connection per event, end to end into SQLite, and the count in the database
afterwards; the spool replay rate; the daemon's RSS idle and after the load; forwarding: how
fast a full outbox drains into a local receiver (`http` and `everyskill` sinks), ingest and
hook wall time with the sink's receiver hung beside no forwarding, and the daemon's RSS while
an hour's events wait for a receiver that is down; and, in-process, what the daemon's
enrichment stage (and its sanitizer alone) costs per event of each kind.

Exit status: 0 when the report is written and every correctness check passed (a missed
timing target is reported in the file, not in the exit status); 1 when a check failed (the
report is still written); 2 on a usage error.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Plan:
    hook_runs: int
    hook_warmups: int
    ingest_events: int
    ingest_warmup: int
    concurrency: int
    sweep: tuple[tuple[int, int], ...]  # (events in flight, events) after the main load
    replay_records: int
    idle_s: float
    enrich_calls: int  # timed calls per payload kind (and as many of the sanitizer alone)
    enrich_warmups: int
    forward_events: int  # spooled, then drained into the http sink's receiver
    everyskill_events: int  # skill events drained into the everyskill sink's receiver,
    everyskill_concurrency: tuple[int, ...]  # once at each of these `concurrency` settings
    # Ingest loads per daemon, receiver hung vs no forwarding: even, so that each daemon goes
    # first as often as the other.
    hung_rounds: int
    hung_events: int  # per round and daemon
    hung_hook_runs: int  # hook runs per daemon, interleaved
    outage_events: int  # backlogged with the receiver down (an hour at 100 events/s in full)


FULL = Plan(
    hook_runs=1000,
    hook_warmups=30,
    ingest_events=50_000,
    ingest_warmup=1_000,
    concurrency=32,
    sweep=((1, 2_000), (8, 10_000), (128, 10_000)),
    replay_records=20_000,
    idle_s=2.0,
    enrich_calls=3_000,
    enrich_warmups=100,
    forward_events=50_000,
    everyskill_events=5_000,
    everyskill_concurrency=(4, 16),
    hung_rounds=4,
    hung_events=12_000,
    hung_hook_runs=300,
    outage_events=360_000,
)
QUICK = Plan(
    hook_runs=100,
    hook_warmups=10,
    ingest_events=5_000,
    ingest_warmup=200,
    concurrency=32,
    sweep=((1, 300), (8, 1_000), (128, 1_000)),
    replay_records=2_000,
    idle_s=0.5,
    enrich_calls=300,
    enrich_warmups=20,
    forward_events=5_000,
    everyskill_events=500,
    everyskill_concurrency=(4, 16),
    hung_rounds=4,
    hung_events=1_500,
    hung_hook_runs=50,
    outage_events=20_000,
)


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark skilltrack; write BENCHMARKS.md.")
    parser.add_argument("--quick", action="store_true", help="fewer runs (well under two minutes)")
    parser.add_argument(
        "--output",
        type=Path,
        default=ROOT / "BENCHMARKS.md",
        help="where to write the report (default: BENCHMARKS.md at the repository root)",
    )
    args = parser.parse_args(argv)

    # Imported here: run as a script, the repository root is not on sys.path until now.
    from bench import enrichcost, forwardload, hooktime, ingestload, machine, render
    from bench.daemonproc import BenchError, home

    plan = QUICK if args.quick else FULL
    started = time.perf_counter()
    load_before = machine.load_average()
    try:
        hook = hooktime.measure(plan.hook_runs, plan.hook_warmups, log)
        with home("ingest") as h:
            ingest = ingestload.measure_ingest(
                h,
                plan.ingest_events,
                plan.concurrency,
                plan.ingest_warmup,
                plan.sweep,
                plan.idle_s,
                log,
            )
        with home("replay") as h:
            replay = ingestload.measure_replay(h, plan.replay_records, log)
        forward = forwardload.ForwardResult(
            http=forwardload.measure_drain("http", plan.forward_events, 1, log),
            everyskill=[
                forwardload.measure_drain("everyskill", plan.everyskill_events, c, log)
                for c in plan.everyskill_concurrency
            ],
            hung=forwardload.measure_hung(
                plan.hung_events,
                plan.hung_rounds,
                plan.ingest_warmup,
                plan.concurrency,
                plan.hung_hook_runs,
                plan.hook_warmups,
                log,
            ),
            outage=forwardload.measure_outage(
                plan.outage_events, plan.concurrency, plan.idle_s, log
            ),
        )
        # Last, with the daemons gone: it runs in this process and wants a quiet CPU.
        enrich = enrichcost.measure(plan.enrich_calls, plan.enrich_warmups, log)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    command = "bench/run.py" + (" --quick" if args.quick else "")
    run = render.Run(
        machine=machine.describe(),
        mode="quick" if args.quick else "full",
        command=f".venv/bin/python {command}",
        hook=hook,
        ingest=ingest,
        replay=replay,
        forward=forward,
        enrich=enrich,
        elapsed_s=time.perf_counter() - started,
        load_before=load_before,
        load_after=machine.load_average(),
    )
    args.output.write_text(render.markdown(run), encoding="utf-8")
    log(f"wrote {args.output}")
    for row in render.summary_rows(run):
        log(f"{row.figure}: {row.measured} (target {row.target}) {row.verdict}")
    failed = [c for c in render.checks(run) if not c.ok]
    for c in failed:
        log(f"CHECK FAILED: {c.what}: expected {c.expected}, found {c.found}")
    return 1 if failed else 0


if __name__ == "__main__":
    # Run as a script, sys.path[0] is bench/ itself; the package needs the repository root
    # (appended, so that the installed skilltrack still wins over the source folder).
    sys.path.append(str(ROOT))
    raise SystemExit(main())
