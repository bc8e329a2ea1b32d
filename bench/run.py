"""Run skilltrack's benchmark and write BENCHMARKS.md.

    .venv/bin/python bench/run.py [--quick | --smoke] [--output BENCHMARKS.md]
    .venv/bin/python bench/run.py [--quick | --smoke] --only PART[,PART] --output FILE

Measures, against the targets of design.md ("Guarantees, in numbers") and the issues': the
hook's wall time per event (daemon up, down, wedged) beside `python -I -S -c pass`, and again
while another process keeps the daemon busy with a steady rate of other sessions' events; the
plugin's hook where `python3` is a version manager's shim, beside the shim alone; the
daemon's ingest rate with one connection per event, end to end into SQLite, and the count in
the database afterwards; the spool replay rate; the daemon's RSS idle and after the load;
forwarding: how fast a full outbox drains into a local receiver (`http` and `everyskill`
sinks), ingest and hook wall time with the sink's receiver hung beside no forwarding, and the
daemon's RSS while an hour's events wait for a receiver that is down; reports on a database
of 1,000,000 realistic events (built through the daemon's store and triggers): `skilltrack
report --json` and its query alone for five kinds of filter, the dashboard's JSON from a real
daemon, `skilltrack export` throughput and peak RSS (beside a 10x smaller database), and the
database's bytes per event; `skilltrack report --json` on an empty home beside `python -c
pass` (the command's start-up); in-process, what the daemon's enrichment stage (and its
sanitizer alone) costs per event of each kind; what reading usage from transcripts costs per
API request; and, last, the test suite's wall time (in a
full run; quick and smoke runs time one small test file).

`--only` runs some parts alone (hook, loaded, plugin, ingest, replay, forward, reports, cli,
enrich, transcripts, suite) and
writes a report of those parts only, to the file `--output` names.

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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Plan:
    hook_runs: int
    hook_warmups: int
    plugin_runs: int  # rounds of the plugin's hook with a shim (each pays ~0.2 s of shim)
    ingest_events: int
    ingest_warmup: int
    concurrency: int
    sweep: tuple[tuple[int, int], ...]  # (events in flight, events) after the main load
    replay_records: int
    idle_s: float
    enrich_calls: int  # timed calls per payload kind (and as many of the sanitizer alone)
    enrich_warmups: int
    transcript_requests: int  # API requests in the transcript the usage task reads
    forward_events: int  # spooled, then drained into the http sink's receiver
    everyskill_events: int  # skill events drained into the everyskill sink's receiver,
    everyskill_concurrency: tuple[int, ...]  # once at each of these `concurrency` settings
    # Ingest loads per daemon, receiver hung vs no forwarding: even, so that each daemon goes
    # first as often as the other.
    hung_rounds: int
    hung_events: int  # per round and daemon
    hung_hook_runs: int  # hook runs per daemon, interleaved
    outage_events: int  # backlogged with the receiver down (an hour at 100 events/s in full)
    loaded_rate: float  # background events per second while the hook is timed under load
    loaded_runs: int
    report_events: int  # in the reports' database
    report_small_events: int  # the 10x smaller one beside it (export memory)
    report_runs: int  # timed rounds of every report case, each way
    report_warmups: int
    cli_runs: int  # timed rounds of the command's start-up beside the bare interpreter
    cli_warmups: int
    suite_paths: tuple[str, ...]  # what the test suite part runs (empty: all of it)


FULL = Plan(
    hook_runs=1000,
    hook_warmups=30,
    plugin_runs=200,
    ingest_events=50_000,
    ingest_warmup=1_000,
    concurrency=32,
    sweep=((1, 2_000), (8, 10_000), (128, 10_000)),
    replay_records=20_000,
    idle_s=2.0,
    enrich_calls=3_000,
    enrich_warmups=100,
    transcript_requests=5_000,
    forward_events=50_000,
    everyskill_events=5_000,
    everyskill_concurrency=(4, 16),
    hung_rounds=4,
    hung_events=12_000,
    hung_hook_runs=300,
    outage_events=360_000,
    loaded_rate=1_000.0,
    loaded_runs=300,
    report_events=1_000_000,
    report_small_events=100_000,
    report_runs=10,  # on 2 cores a round of every case takes ~15 s at 1M events
    report_warmups=1,
    cli_runs=300,
    cli_warmups=10,
    suite_paths=(),
)
QUICK = Plan(
    hook_runs=100,
    hook_warmups=10,
    plugin_runs=50,
    ingest_events=5_000,
    ingest_warmup=200,
    concurrency=32,
    sweep=((1, 300), (8, 1_000), (128, 1_000)),
    replay_records=2_000,
    idle_s=0.5,
    enrich_calls=300,
    enrich_warmups=20,
    transcript_requests=1_000,
    forward_events=5_000,
    everyskill_events=500,
    everyskill_concurrency=(4, 16),
    hung_rounds=4,
    hung_events=1_500,
    hung_hook_runs=50,
    outage_events=10_000,
    loaded_rate=1_000.0,
    loaded_runs=50,
    report_events=20_000,
    report_small_events=2_000,
    report_runs=3,
    report_warmups=1,
    cli_runs=30,
    cli_warmups=5,
    suite_paths=("tests/test_layout.py",),
)
# For the test suite (tests/test_bench_smoke.py): every part run and every figure written, on
# the least work that takes; its figures say nothing about speed.
SMOKE = Plan(
    hook_runs=10,
    hook_warmups=2,
    plugin_runs=5,
    ingest_events=500,
    ingest_warmup=50,
    concurrency=32,
    sweep=((1, 50), (8, 100), (128, 200)),
    replay_records=200,
    idle_s=0.2,
    enrich_calls=30,
    enrich_warmups=5,
    transcript_requests=100,
    forward_events=500,
    everyskill_events=50,
    everyskill_concurrency=(4, 16),
    hung_rounds=2,
    hung_events=200,
    hung_hook_runs=10,
    outage_events=1_000,
    loaded_rate=1_000.0,
    loaded_runs=10,
    report_events=2_000,
    report_small_events=200,
    report_runs=1,
    report_warmups=1,
    cli_runs=5,
    cli_warmups=1,
    suite_paths=("tests/test_layout.py",),
)
PARTS = (
    "hook", "loaded", "plugin", "ingest", "replay", "forward", "reports", "cli", "enrich",
    "transcripts", "suite",
)  # fmt: skip


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _parts(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in PARTS] or ([] if names else [text])
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown part {unknown[0]!r}: choose from {', '.join(PARTS)}"
        )
    return names


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark skilltrack; write BENCHMARKS.md.")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="fewer runs (well under two minutes)")
    size.add_argument(
        "--smoke", action="store_true", help="the least work, for the test suite: figures only"
    )
    parser.add_argument(
        "--output",
        type=Path,
        help="where to write the report (default: BENCHMARKS.md at the repository root)",
    )
    parser.add_argument(
        "--only",
        type=_parts,
        metavar="PART[,PART]",
        help=f"run only these parts ({', '.join(PARTS)}); needs --output",
    )
    args = parser.parse_args(argv)
    if args.only and args.output is None:
        parser.error("--only writes a partial report: name its file with --output")
    output: Path = args.output or ROOT / "BENCHMARKS.md"

    # Imported here: run as a script, the repository root is not on sys.path until now.
    from bench import machine, render
    from bench.daemonproc import BenchError

    plan = SMOKE if args.smoke else QUICK if args.quick else FULL
    only = args.only or PARTS
    started = time.perf_counter()
    source = machine.source(ROOT, output)
    load_before = machine.load_average()
    speed_before = machine.speed()
    try:
        parts = _measure(plan, only)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    speed_after = machine.speed()
    command = "bench/run.py" + (" --smoke" if args.smoke else " --quick" if args.quick else "")
    mode = "smoke mode" if args.smoke else "quick mode" if args.quick else "full mode"
    if args.only:
        command += f" --only {','.join(only)}"
        mode += f", only {', '.join(only)}"
    run = render.Run(
        machine=machine.describe(),
        source=source,
        speed_before=speed_before,
        speed_after=speed_after,
        mode=mode,
        command=f".venv/bin/python {command}",
        elapsed_s=time.perf_counter() - started,
        load_before=load_before,
        load_after=machine.load_average(),
        **parts,
    )
    output.write_text(render.markdown(run), encoding="utf-8")
    log(f"wrote {output}")
    for row in render.summary_rows(run):
        log(f"{row.figure}: {row.measured} (target {row.target}) {row.verdict}")
    failed = [c for c in render.checks(run) if not c.ok]
    for c in failed:
        log(f"CHECK FAILED: {c.what}: expected {c.expected}, found {c.found}")
    return 1 if failed else 0


def _measure(plan: Plan, only: Sequence[str]) -> dict[str, Any]:
    """Each part asked for, by its name in render.Run, in the order of PARTS."""
    from bench import (
        clistart,
        enrichcost,
        forwardload,
        hooktime,
        ingestload,
        plugintime,
        reportload,
        suite,
        transcriptcost,
    )
    from bench.daemonproc import home

    parts: dict[str, Any] = {}
    if "hook" in only:
        parts["hook"] = hooktime.measure(plan.hook_runs, plan.hook_warmups, log)
    if "loaded" in only:
        parts["loaded"] = hooktime.measure_loaded(
            plan.loaded_runs, plan.hook_warmups, plan.loaded_rate, log
        )
    if "plugin" in only:
        parts["plugin"] = plugintime.measure(plan.plugin_runs, plan.hook_warmups, log)
    if "ingest" in only:
        with home("ingest") as h:
            parts["ingest"] = ingestload.measure_ingest(
                h,
                plan.ingest_events,
                plan.concurrency,
                plan.ingest_warmup,
                plan.sweep,
                plan.idle_s,
                log,
            )
    if "replay" in only:
        with home("replay") as h:
            parts["replay"] = ingestload.measure_replay(h, plan.replay_records, log)
    if "forward" in only:
        parts["forward"] = forwardload.ForwardResult(
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
    if "reports" in only:
        parts["reports"] = reportload.measure(
            plan.report_events,
            plan.report_small_events,
            plan.report_runs,
            plan.report_warmups,
            log,
        )
    if "cli" in only:
        parts["cli"] = clistart.measure(plan.cli_runs, plan.cli_warmups, log)
    if "enrich" in only:
        # Last, with the daemons gone: it runs in this process and wants a quiet CPU.
        parts["enrich"] = enrichcost.measure(plan.enrich_calls, plan.enrich_warmups, log)
    if "transcripts" in only:
        parts["transcripts"] = transcriptcost.measure(plan.transcript_requests, log)
    if "suite" in only:
        # After everything: it takes minutes and leaves nothing running.
        parts["suite"] = suite.measure(plan.suite_paths, log)
    return parts


if __name__ == "__main__":
    # Run as a script, sys.path[0] is bench/ itself; the package needs the repository root
    # (appended, so that the installed skilltrack still wins over the source folder).
    sys.path.append(str(ROOT))
    raise SystemExit(main())
