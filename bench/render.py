"""BENCHMARKS.md from one run's results: each figure beside its target and its comparison."""

from __future__ import annotations

from dataclasses import dataclass

from bench import (
    render_clistart,
    render_forward,
    render_plugin,
    render_reports,
    render_suite,
    transcriptcost,
)
from bench.clistart import CliStartResult
from bench.enrichcost import BASH, EnrichResult
from bench.forwardload import ForwardResult
from bench.hooktime import Check, HookResult, LoadedResult
from bench.ingestload import IngestResult, ReplayResult
from bench.machine import Machine, Speed
from bench.mdparts import TIMES, Row, timing_cells
from bench.mdparts import check_mark as _check
from bench.mdparts import mib as _mib
from bench.mdparts import ms as _ms
from bench.mdparts import table as _table
from bench.mdparts import us as _us
from bench.mdparts import verdict as _verdict
from bench.plugintime import PluginResult
from bench.reportload import ReportResult
from bench.suite import SuiteResult
from bench.transcriptcost import TranscriptResult

HOOK_RATIO_TARGET = 1.5
HOOK_WORST_MS = 100.0
INGEST_TARGET = 5000.0
# All the daemon may spend on one event, on every thread, to keep up with the ingest target.
EVENT_BUDGET_US = 1e6 / INGEST_TARGET

# Row labels of the summary table (tests/test_bench_smoke.py looks for each one).
FIGURES = (
    "Hook p50, daemon up",
    "Hook p99, daemon up",
    "Hook p50, daemon down",
    "Hook worst case, daemon down",
    "Hook worst case, daemon wedged",
    "Hook p50, daemon under load",
    *render_plugin.FIGURES,
    "Daemon ingest rate",
    "Ingest latency p50",
    "Ingest latency p99",
    "Events in the database after ingest",
    "Spool replay rate",
    "Daemon RSS, idle",
    "Daemon RSS, after ingest",
    *render_forward.FIGURES,
    *render_reports.FIGURES,
    *render_clistart.FIGURES,
    "Enrichment p50, Bash event",
    transcriptcost.FIGURE,
    *render_suite.FIGURES,
)


@dataclass(frozen=True)
class Run:
    """One run's results; a part is None when `--only` left it out."""

    machine: Machine
    source: str  # the commit measured (machine.source)
    speed_before: Speed  # the machine's speed over fixed work, before the parts and after
    speed_after: Speed
    mode: str
    command: str
    elapsed_s: float
    load_before: str  # /proc/loadavg's 1, 5 and 15 minute averages
    load_after: str
    hook: HookResult | None = None
    loaded: LoadedResult | None = None
    plugin: PluginResult | None = None
    ingest: IngestResult | None = None
    replay: ReplayResult | None = None
    forward: ForwardResult | None = None
    reports: ReportResult | None = None
    cli: CliStartResult | None = None
    enrich: EnrichResult | None = None
    transcripts: TranscriptResult | None = None
    suite: SuiteResult | None = None

    @property
    def complete(self) -> bool:
        parts = (self.hook, self.loaded, self.plugin, self.ingest, self.replay, self.forward,
                 self.reports, self.cli, self.enrich, self.transcripts, self.suite)  # fmt: skip
        return all(part is not None for part in parts)


def summary_rows(run: Run) -> list[Row]:
    """The rows of the parts that ran, in the order of FIGURES (all of them in a whole run)."""
    rows: list[Row] = []
    if run.hook is not None:
        rows += _hook_rows(run.hook)
    if run.loaded is not None:
        rows.append(_loaded_row(run.loaded))
    if run.plugin is not None:
        rows += render_plugin.rows(run.plugin)
    if run.ingest is not None:
        rows += _ingest_rows(run.ingest, run.machine)
    if run.replay is not None:
        rows.append(_replay_row(run.replay))
    if run.ingest is not None:
        rows += _memory_rows(run.ingest)
    if run.forward is not None:
        rows += render_forward.rows(run.forward)
    if run.reports is not None:
        rows += render_reports.rows(run.reports)
    if run.cli is not None:
        rows += render_clistart.rows(run.cli)
    if run.enrich is not None:
        rows.append(_enrich_row(run.enrich))
    if run.transcripts is not None:
        rows += transcriptcost.rows(run.transcripts)
    if run.suite is not None:
        rows += render_suite.rows(run.suite)
    figures = tuple(r.figure for r in rows)
    assert figures == (FIGURES if run.complete else tuple(f for f in FIGURES if f in figures))
    return rows


def _hook_rows(hook: HookResult) -> list[Row]:
    base = hook.summary("pass")
    up, down, wedged = hook.summary("up"), hook.summary("down"), hook.summary("wedged")
    ratio = hook.ratio_p50("up")
    return [
        Row(
            "Hook p50, daemon up",
            f"{_ms(up.p50)} = {ratio:.2f} {TIMES} pass",
            f"≤ {HOOK_RATIO_TARGET} {TIMES} `python -I -S -c pass` p50",
            f"pass p50 {_ms(base.p50)} (hook adds {_ms(up.p50 - base.p50)})",
            _verdict(ratio <= HOOK_RATIO_TARGET),
            f"With the daemon up, the hook's p50 is {_ms(up.p50)}, {ratio:.2f} {TIMES} the "
            f"{_ms(base.p50)} of `python -I -S -c pass` measured alongside it; the target is "
            f"≤ {HOOK_RATIO_TARGET} {TIMES}.",
        ),
        Row("Hook p99, daemon up", _ms(up.p99), "(none)", f"pass p99 {_ms(base.p99)}", "—"),
        Row(
            "Hook p50, daemon down",
            f"{_ms(down.p50)} = {hook.ratio_p50('down'):.2f} {TIMES} pass",
            "(none; it spools)",
            f"pass p50 {_ms(base.p50)}",
            "—",
        ),
        Row(
            "Hook worst case, daemon down",
            f"max {_ms(down.max)} (p99 {_ms(down.p99)})",
            f"≤ {HOOK_WORST_MS:.0f} ms",
            f"pass max {_ms(base.max)}",
            _verdict(down.max <= HOOK_WORST_MS),
            f"With no daemon, the slowest of {down.n} hook runs took {_ms(down.max)} "
            f"({hook.over('down', HOOK_WORST_MS)} runs over {HOOK_WORST_MS:.0f} ms; the "
            f"slowest `pass` run took {_ms(base.max)}); the target is ≤ {HOOK_WORST_MS:.0f} ms.",
        ),
        Row(
            "Hook worst case, daemon wedged",
            f"max {_ms(wedged.max)} (p50 {_ms(wedged.p50)})",
            f"≤ {HOOK_WORST_MS:.0f} ms",
            f"pass max {_ms(base.max)}",
            _verdict(wedged.max <= HOOK_WORST_MS),
            f"Against a daemon that accepts connections but never answers, the slowest of "
            f"{wedged.n} hook runs took {_ms(wedged.max)} ({hook.over('wedged', HOOK_WORST_MS)} "
            f"runs over {HOOK_WORST_MS:.0f} ms; p50 {_ms(wedged.p50)}); the target is "
            f"≤ {HOOK_WORST_MS:.0f} ms. The hook waits for the daemon up to 60 ms, cut short "
            f"when its process is 80 ms old (interpreter start included, {_ms(base.p50)} here "
            f"at p50) though never under 30 ms, then spools.",
        ),
    ]


def _loaded_row(loaded: LoadedResult) -> Row:
    base, hook = loaded.summary("pass"), loaded.summary("loaded")
    ratio = loaded.ratio_p50()
    return Row(
        "Hook p50, daemon under load",
        f"{_ms(hook.p50)} = {ratio:.2f} {TIMES} pass",
        f"≤ {HOOK_RATIO_TARGET} {TIMES} `python -I -S -c pass` p50 under the same load",
        f"pass p50 {_ms(base.p50)} under the same load; background "
        f"{loaded.achieved:,.0f} events/s acknowledged (asked {loaded.rate:,.0f})",
        _verdict(ratio <= HOOK_RATIO_TARGET),
        f"With the daemon taking {loaded.achieved:,.0f} events/s from other sessions, the "
        f"hook's p50 is {_ms(hook.p50)}, {ratio:.2f} {TIMES} the {_ms(base.p50)} of "
        f"`python -I -S -c pass` measured alongside it under the same load; the target is "
        f"≤ {HOOK_RATIO_TARGET} {TIMES}.",
    )


def _ingest_rows(ingest: IngestResult, machine: Machine) -> list[Row]:
    main, cpu = ingest.main, ingest.cpu
    lat = main.latency()
    complete = _ingest_complete(ingest)

    def per_event(cpu_s: float) -> str:
        return f"{ingest.per_event_ms(cpu_s):.3f} ms"

    return [
        Row(
            "Daemon ingest rate",
            f"{main.rate:,.0f} events/s",
            f"≥ {INGEST_TARGET:,.0f} events/s on 2 cores",
            f"CPU in cores: daemon event loop {ingest.cores(cpu.loop):.2f}, its SQLite thread "
            f"{ingest.cores(cpu.sqlite):.2f}, load generator {ingest.cores(cpu.loadgen):.2f}, "
            f"other processes {ingest.cores(cpu.rest):.2f}, stolen "
            f"{ingest.cores(cpu.stolen):.2f}",
            _verdict(main.rate >= INGEST_TARGET),
            f"The daemon stored {main.rate:,.0f} events/s, one connection per event, "
            f"{main.concurrency} in flight; the target is ≥ {INGEST_TARGET:,.0f}/s. Per event, "
            f"its event-loop thread used {per_event(cpu.loop)} of CPU (alone on a core, at "
            f"most {1000 / ingest.per_event_ms(cpu.loop):,.0f} events/s), its SQLite thread "
            f"{per_event(cpu.sqlite)}, and the load generator {per_event(cpu.loadgen)}, on "
            f"{machine.cores} cores shared by all three.",
        ),
        Row("Ingest latency p50", _ms(lat.p50), "(none)", "connect → `OK`", "—"),
        Row("Ingest latency p99", _ms(lat.p99), "(none)", f"max {_ms(lat.max)}", "—"),
        Row(
            "Events in the database after ingest",
            f"{ingest.db_events:,} of {ingest.acked_ok:,} acknowledged",
            "every acknowledged event stored, once",
            f"{ingest.sent:,} sent",
            _check(complete),
            ""
            if complete
            else (
                f"Of {ingest.sent:,} events sent, {ingest.acked_ok:,} were acknowledged `OK` "
                f"and {ingest.db_events:,} are in the database (connection errors: "
                f"{dict(ingest.errors)})."
            ),
        ),
    ]


def _speed(speed: Speed) -> str:
    return f"Python {speed.python_ms:.1f} ms, SQLite {speed.sqlite_ms:.1f} ms"


def _ingest_complete(ingest: IngestResult) -> bool:
    return not ingest.errors and ingest.acked_ok == ingest.sent == ingest.db_events


def _replay_row(replay: ReplayResult) -> Row:
    complete = _replay_complete(replay)
    return Row(
        "Spool replay rate",
        f"{replay.rate:,.0f} events/s",
        "(none)",
        f"{replay.records:,} records in {replay.replay_s:.2f} s after the socket was up",
        _check(complete),
        ""
        if complete
        else (
            f"Of {replay.records:,} spooled events, {replay.db_events:,} are in the "
            f"database and {replay.spool_left:,} are still in the spool."
        ),
    )


def _memory_rows(ingest: IngestResult) -> list[Row]:
    return [
        Row(
            "Daemon RSS, idle",
            _mib(ingest.rss_idle_kib),
            "(none)",
            "fresh daemon, empty database",
            "—",
        ),
        Row(
            "Daemon RSS, after ingest",
            _mib(ingest.rss_after_kib),
            "(none)",
            f"peak {_mib(ingest.hwm_after_kib)}",
            "—",
        ),
    ]


def _replay_complete(replay: ReplayResult) -> bool:
    return (
        replay.db_events == replay.records
        and replay.spool_left == 0
        and replay.replayed_counter == replay.records
    )


def _enrich_row(enrich: EnrichResult) -> Row:
    bash = enrich.kind(BASH)
    cost, alone = bash.enrich(), bash.sanitize()
    # Informational: the budget is the whole daemon's (socket, parsing, SQLite), so no
    # share of it is a target by itself; the ingest rate row is where it is judged.
    return Row(
        "Enrichment p50, Bash event",
        f"{_us(cost.p50)} (p99 {_us(cost.p99)})",
        f"informational: ≤ {EVENT_BUDGET_US:.0f} µs is the whole daemon's budget per event",
        f"{cost.p50 / EVENT_BUDGET_US:.0%} of the {EVENT_BUDGET_US:.0f} µs per-event budget at "
        f"{INGEST_TARGET:,.0f} events/s; sanitizer alone p50 {_us(alone.p50)}",
        "—",
    )


def checks(run: Run) -> list[Check]:
    ingest, replay = run.ingest, run.replay
    out = [*(run.hook.checks if run.hook else []), *(run.loaded.checks if run.loaded else [])]
    if ingest is not None:
        out += [
            Check("ingest: events acknowledged OK", ingest.sent, ingest.acked_ok),
            Check("ingest: events in the database", ingest.acked_ok, ingest.db_events),
            Check("ingest: connection errors", 0, sum(ingest.errors.values())),
        ]
    if replay is not None:
        out += [
            Check("replay: events in the database", replay.records, replay.db_events),
            Check("replay: records left in the spool", 0, replay.spool_left),
            Check("replay: daemon's `replayed` counter", replay.records, replay.replayed_counter),
        ]
    parts = (run.plugin, run.forward, run.reports, run.cli, run.enrich, run.transcripts,
             run.suite)  # fmt: skip
    for part in parts:
        out += part.checks if part is not None else []
    return out


def markdown(run: Run) -> str:
    m = run.machine
    rows = summary_rows(run)
    failed = [c for c in checks(run) if not c.ok]
    out = [
        "# skilltrack benchmarks",
        "",
        f"Written by `{run.command}` ({run.mode}, {run.elapsed_s:.0f} s) on {m.date}. "
        "Every figure below comes from this one run; each comparison was measured in the same "
        "run, interleaved with the figure it is compared with. Timings on a shared machine "
        "move from run to run: the load average and the CPU other processes used are given "
        "so that a reader can judge how quiet it was. The same machine's speed also moves "
        "from day to day (here by up to 1.5 times): the speed reference below is fixed work "
        "that does not depend on skilltrack's code, so that figures from two runs compare "
        "only as far as their speed references agree.",
        "",
        "## Machine",
        "",
        *_table(
            ["", ""],
            [
                ["CPU", m.cpu],
                ["Cores", str(m.cores)],
                ["Python", m.python],
                ["Kernel", m.kernel],
                ["SQLite", m.sqlite],
                ["Date", m.date],
                ["Source measured", run.source],
                [
                    "Speed reference (fixed work, median of 7; lower is faster)",
                    f"{_speed(run.speed_before)} before; {_speed(run.speed_after)} after",
                ],
                [
                    "Load average (1, 5, 15 min)",
                    f"{run.load_before} before, {run.load_after} after",
                ],
            ],
        ),
        "",
        "## Figures and targets",
        "",
        *_table(
            ["Figure", "Measured", "Target", "Comparison (same run)", "Verdict"],
            [[r.figure, r.measured, r.target, r.comparison, r.verdict] for r in rows],
        ),
        "",
    ]
    missed = [r.missed for r in rows if r.failed]
    if missed or failed:
        out += ["**Missed in this run:**", ""]
        out += [f"- {text}" for text in missed]
        out += [
            f"- Check failed: {c.what}: expected {c.expected:,}, found {c.found:,}." for c in failed
        ]
    else:
        out += ["Every target was met in this run."]
    out.append("")
    if run.hook is not None:
        out += _hook_section(run.hook)
    if run.loaded is not None:
        out += _loaded_section(run.loaded)
    if run.plugin is not None:
        out += render_plugin.section(run.plugin)
    if run.ingest is not None:
        out += _ingest_section(run.ingest)
    if run.replay is not None:
        out += _replay_section(run.replay)
    if run.forward is not None:
        out += render_forward.section(run.forward, run.ingest)
    if run.reports is not None:
        out += render_reports.section(run.reports)
    if run.cli is not None:
        out += render_clistart.section(run.cli)
    if run.enrich is not None:
        out += _enrich_section(run.enrich, run.ingest)
    if run.transcripts is not None:
        out += transcriptcost.section(run.transcripts)
    if run.suite is not None:
        out += render_suite.section(run.suite)
    out += [*_checks_section(run), *_method()]
    return "\n".join(out)


def _hook_section(hook: HookResult) -> list[str]:
    cases = (
        ("pass", "`python -I -S -c pass`"),
        ("up", "hook, daemon up"),
        ("down", "hook, daemon down (spools)"),
        ("wedged", "hook, daemon wedged (deadline, spools)"),
    )
    base = hook.summary("pass").p50
    rows = []
    for case, label in cases:
        rows.append(
            [*timing_cells(label, hook.summary(case), base), str(hook.over(case, HOOK_WORST_MS))]
        )
    return [
        "## Hook wall time per event (whole process)",
        "",
        f"{hook.runs} timed rounds after {hook.warmups} warm-up rounds; each round spawns every "
        f"case once, in a shuffled order. Payload: a {hook.payload_bytes:,}-byte PostToolUse "
        "(Bash) event on stdin. Interpreter: the venv's `python -I -S` for every case.",
        "",
        *_table(
            ["Case", "n", "p50", "p90", "p99", "max", "mean", "p50 / pass p50", "runs > 100 ms"],
            rows,
        ),
        "",
    ]


def _loaded_section(loaded: LoadedResult) -> list[str]:
    base = loaded.summary("pass").p50
    rows = []
    for case, label in (("pass", "`python -I -S -c pass`"), ("loaded", "hook, daemon under load")):
        rows.append(timing_cells(label, loaded.summary(case), base))
    load = loaded.load
    return [
        "## Hook with the daemon under load",
        "",
        f"While another process (`bench/pacedload.py`) sends the daemon {loaded.rate:,.0f} "
        "events a second, other sessions' events each on its own connection, started on a "
        "fixed schedule whatever the daemon's latency: "
        f"{loaded.runs} timed rounds after {loaded.warmups} warm-up rounds, each spawning "
        "`python -I -S -c pass` and the hook (the same event as above, its own daemon with "
        "its own database) once, in a shuffled order, so that both pay the same load.",
        "",
        *_table(["Case", "n", "p50", "p90", "p99", "max", "mean", "p50 / pass p50"], rows),
        "",
        f"Background load: {int(load['sent']):,} events sent, {int(load['ok']):,} "
        f"acknowledged `OK`, {int(load['errors']):,} errors, over {load['seconds']:.1f} s: "
        f"{loaded.achieved:,.0f} events/s acknowledged. Hook runs that gave up waiting and "
        f"spooled their event: {loaded.spooled:,} of {loaded.warmups + loaded.runs:,}.",
        "",
    ]


def _ingest_section(ingest: IngestResult) -> list[str]:
    main, cpu, lat = ingest.main, ingest.cpu, ingest.main.latency()
    cpu_rows = [
        [
            f"CPU, {who}",
            f"{used:.2f} s = {ingest.cores(used):.2f} cores, "
            f"{ingest.per_event_ms(used):.3f} ms per event",
        ]
        for who, used in (
            ("daemon event-loop thread", cpu.loop),
            ("daemon's other threads (SQLite)", cpu.sqlite),
            ("load generator (this process)", cpu.loadgen),
            ("other processes on the machine", cpu.rest),
            ("stolen by the hypervisor", cpu.stolen),
        )
    ]
    sweep_rows = [
        [
            str(load.concurrency),
            f"{load.events:,}",
            f"{load.rate:,.0f} events/s",
            _ms(load.latency().p50),
            _ms(load.latency().p99),
        ]
        for load in sorted([main, *ingest.sweep], key=lambda load: load.concurrency)
    ]
    return [
        "## Daemon ingest, one connection per event",
        "",
        f"{main.events:,} events (after {ingest.warmup.events:,} warm-up events) from an "
        f"epoll load generator in the benchmark process, {main.concurrency} in flight, each "
        "a fresh Unix-socket connection carrying one frame, half-closed, answered once "
        "committed.",
        "",
        *_table(
            ["", ""],
            [
                ["Wall time", f"{main.wall_s:.2f} s"],
                ["Rate", f"{main.rate:,.0f} events/s"],
                [
                    "Latency connect → reply",
                    f"p50 {_ms(lat.p50)}, p90 {_ms(lat.p90)}, p99 {_ms(lat.p99)}, "
                    f"max {_ms(lat.max)}",
                ],
                ["Replies", ", ".join(f"`{k}` {v:,}" for k, v in sorted(main.replies.items()))],
                [
                    "Connection errors",
                    ", ".join(f"{k} {v}" for k, v in ingest.errors.items()) or "none",
                ],
                *cpu_rows,
                [
                    "Daemon RSS",
                    f"idle {_mib(ingest.rss_idle_kib)}, after the load "
                    f"{_mib(ingest.rss_after_kib)}, peak {_mib(ingest.hwm_after_kib)}",
                ],
                [
                    "Events in the database (read-only count, after the sweep too)",
                    f"{ingest.db_events:,} (sent {ingest.sent:,}, acknowledged "
                    f"{ingest.acked_ok:,})",
                ],
                ["Daemon counters at the end", f"`{_counters(ingest.counters)}`"],
                [
                    "Speed reference just before and after this part",
                    f"{_speed(ingest.speed_before)} before; {_speed(ingest.speed_after)} after",
                ],
            ],
        ),
        "",
        "Rate by events in flight (the main load, then a shorter load at each other level, "
        "same daemon): a rate that grows with concurrency while the CPU above is not used up "
        "is bound by latency (the commit cycle), not by CPU.",
        "",
        *_table(["In flight", "Events", "Rate", "p50", "p99"], sweep_rows),
        "",
    ]


def _replay_section(replay: ReplayResult) -> list[str]:
    return [
        "## Spool replay",
        "",
        f"{replay.records:,} records written to `spool/events.spool` before the daemon started.",
        "",
        *_table(
            ["", ""],
            [
                ["Daemon start → socket answers", f"{replay.start_to_socket_s:.2f} s"],
                ["Daemon start → all stored", f"{replay.start_to_all_stored_s:.2f} s"],
                ["Replay rate (after the socket answered)", f"{replay.rate:,.0f} events/s"],
                ["Events in the database", f"{replay.db_events:,}"],
                ["Records left in the spool", f"{replay.spool_left:,}"],
                ["Daemon's `replayed` counter", f"{replay.replayed_counter:,}"],
            ],
        ),
        "",
    ]


def _enrich_section(enrich: EnrichResult, ingest: IngestResult | None) -> list[str]:
    bash = enrich.kind(BASH).enrich()
    rows = [
        [
            kind.label,
            f"{kind.payload_bytes:,}",
            _us(kind.enrich().p50),
            _us(kind.enrich().p99),
            _us(kind.sanitize().p50),
            _us(kind.sanitize().p99),
        ]
        for kind in enrich.kinds
    ]
    return [
        "## Enrichment cost per event",
        "",
        "The daemon's per-event enrichment stage, called in the benchmark process with no "
        "socket and no SQLite: `Ingest.parse` on one frame (UTF-8 decode, cwd, secrets and "
        "home paths out, pydantic validation, classification, skill resolution on disk, size "
        "caps), and the sanitizer alone on the same text. Default settings (paths `home`, "
        f"caps of 4,096 characters). {enrich.calls:,} timed calls per kind and column after "
        f"{enrich.warmups:,} warm-up rounds; each round times every kind and column once, in a "
        "shuffled order. Payloads: Claude Code 2.1.328's own, the ~1 KB Bash event of the "
        "sections above, that event with a fake AWS key and GitHub token in its command, and "
        "a Read of a ~20 KB file.",
        "",
        f"At {INGEST_TARGET:,.0f} events/s the daemon has {EVENT_BUDGET_US:.0f} µs per event "
        f"in all; the Bash event's enrichment takes {_us(bash.p50)} of it at p50 "
        f"({bash.p50 / EVENT_BUDGET_US:.0%}).{_loop_scale(ingest)}",
        "",
        *_table(
            [
                "Kind",
                "Payload bytes",
                "Enrichment p50",
                "Enrichment p99",
                "Sanitizer p50",
                "Sanitizer p99",
            ],
            rows,
        ),
        "",
    ]


def _loop_scale(ingest: IngestResult | None) -> str:
    if ingest is None:
        return ""
    loop_us = ingest.per_event_ms(ingest.cpu.loop) * 1000
    return (
        f" For scale, the daemon's event-loop thread used {loop_us:.0f} µs of CPU per event "
        "during the ingest load above (same payload), which includes this stage along with "
        "the socket and the frame handling."
    )


def _checks_section(run: Run) -> list[str]:
    return [
        "## Checks",
        "",
        *_table(
            ["Check", "Expected", "Found", ""],
            [[c.what, f"{c.expected:,}", f"{c.found:,}", _check(c.ok)] for c in checks(run)],
        ),
        "",
    ]


def _method() -> list[str]:
    return [
        "## Method",
        "",
        "- Hook: each run is `posix_spawn` → `waitpid` of a fresh interpreter, stdin a file "
        "holding the event, stdout and stderr files (checked empty afterwards), timed with "
        "`perf_counter_ns`. `SKILLTRACK_NO_AUTOSTART=1` in every case. *Daemon down*: no "
        "socket, the hook spools. *Daemon wedged*: a socket that accepts and never answers; "
        "the hook waits out its deadline (60 ms by default, `SKILLTRACK_HOOK_TIMEOUT_MS`, "
        "cut short when the process is 80 ms old, though never under 30 ms) and spools.",
        "- Ingest: frames built with `skilltrack.wire.encode_frame`, each with an event id "
        "made as the hook makes it (a time-ordered UUID version 7) and `time.time()`; latency "
        "from before `connect` to the reply. The load generator (a plain `select.epoll` loop, "
        "blocking connects) shares the machine's cores with the daemon, as hooks would. CPU "
        "per thread from "
        "`/proc/<pid>/task/*/stat`, the machine's from `/proc/stat` (10 ms ticks). The count is "
        "read from the SQLite file through a read-only connection.",
        "- RSS: `VmRSS` / `VmHWM` from `/proc/<pid>/status` of the daemon, idle after start "
        "and right after the main load.",
        "- Forwarding: the receiver is `bench/receiver.py`; its port is bound before the "
        "daemon starts and listened on only when the receiver starts, so until then the sink "
        "gets `connection refused`. Drain times are `perf_counter` in the receiver's thread; "
        "the backlog and the sink's counters are `skilltrack-daemon status --json`'s "
        "`forwarding` entry; lost events are the stored event ids (read-only) the receiver "
        "never accepted. The hung-receiver hook runs are spawned as in the hook section.",
        "- Plugin with a shim: `/bin/sh -c COMMAND` spawned and timed as the hook is, with "
        "`CLAUDE_PLUGIN_ROOT` the checkout and `PATH` the shim's folder, then `/usr/bin:/bin`; "
        "the shim logs each run to a file per case, which the checks count.",
        "- Hook under load: the background load is `bench/pacedload.py` (one uvloop process, "
        "each event a fresh connection and frame, sent on a fixed schedule and counted when "
        "answered); the hook and `pass` are spawned as above, against a daemon of their own, "
        "and every hook event and acknowledged background event is counted in its database.",
        "- Reports: the database is built by `bench/eventgen.py` (fixed seeds: the same events "
        "in every run, ending at the run's start) through `Store.open` and `Store.insert`. "
        "Query timings are `perf_counter` around the in-process call; command timings around "
        "`subprocess.run` of the venv's `skilltrack` script, its stdout read through a pipe; "
        "dashboard timings around a `http.client` GET and the reading of its body (both "
        "answers parsed after the clock stops). Every answer's uses are "
        "checked against the generator's counts; the query's and the dashboard's answers must "
        "equal the command's (the clean-up list aside: it names folders relative to `$HOME`). "
        "Export memory is `ru_maxrss` from `os.wait4` on the export process, by a parent of "
        "its own. The "
        "database's size: `stat` of the file and its WAL after a checkpoint; the breakdown, "
        "SQLite's `dbstat` virtual table.",
        "- Enrichment: `perf_counter_ns` around each `Ingest.parse` call (the frame, with a "
        "fresh UUID and `time.time()`, built outside the timed span) and each sanitizer call; "
        "the SKILL.md of `pdf-helper` sits in a temporary home, so the first call hashes it "
        "and later ones re-stat it, as in the daemon. The garbage collector stays on.",
        "- Speed reference: `bench/machine.py`'s `speed()`, in the benchmark process before "
        "the first part and after the last, and again around the ingest part: the median of "
        "7 rounds of fixed work, parsing, editing, dumping and sorting 600 JSON records "
        "shaped like a hook event (Python) and inserting 10,000 rows into an indexed "
        "in-memory table, then grouping them (SQLite). "
        "It uses no skilltrack code, so it moves only with the machine. *Source measured*: "
        "`git rev-parse HEAD` and `git status` of the checkout at the start.",
        "- Re-run: `.venv/bin/python bench/run.py [--quick] [--output BENCHMARKS.md]`; "
        "`--only PART[,PART] --output FILE` runs some parts alone (a partial report).",
        "",
    ]


def _counters(counters: dict[str, object]) -> str:
    keep = ("received", "stored", "duplicates", "rejected", "dropped", "spooled", "replayed")
    return ", ".join(f"{k}={counters[k]}" for k in keep if k in counters) or "(none)"
