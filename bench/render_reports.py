"""The reports part of BENCHMARKS.md: `report`, the dashboard's JSON and `export` on a large
database, and the database's bytes per event."""

from __future__ import annotations

from bench.mdparts import TIMES, Row, mib, ms, table, verdict
from bench.reportload import CASES, ReportResult

REPORT_TARGET_MS = 200.0
TARGET_EVENTS = 1_000_000  # the database size the issue sets the target on
EXPORT_GROWTH_KIB = 8 * 1024  # tests/test_export.py's bound: 8 MiB more for 10x the events
FIGURES = (
    "Report p50 on 1M events",
    "Dashboard JSON p50",
    "Export throughput",
    "Export peak RSS",
    "Database bytes per event",
)


def _size(n: int) -> str:
    """`on N events`, said only when the database is not the target's size (quick mode)."""
    return "" if n == TARGET_EVENTS else f" (on {n:,} events)"


def _p50s(r: ReportResult, way: str) -> str:
    return "; ".join(f"{case} {ms(r.summary(way, case).p50)}" for case in r.cases(way))


def _export_growth(r: ReportResult, fmt: str) -> int:
    return r.export(fmt, r.built.events).maxrss_kib - r.export(fmt, r.small.events).maxrss_kib


def rows(r: ReportResult) -> list[Row]:
    n = r.built.events
    slow_query = r.over("query", REPORT_TARGET_MS)
    slow_command = r.over("command", REPORT_TARGET_MS)
    slow_dashboard = r.over("dashboard", REPORT_TARGET_MS)
    command_case, command = r.slowest("command")
    start = r.startup()
    under = len(CASES) - len(slow_command)

    def listing(way: str, cases: list[str]) -> str:
        return ", ".join(f"{c} ({ms(r.summary(way, c).p50)})" for c in cases)

    jsonl, csv = r.export("jsonl", n), r.export("csv", n)
    small_jsonl, small_csv = r.export("jsonl", r.small.events), r.export("csv", r.small.events)
    growth_ok = max(_export_growth(r, "jsonl"), _export_growth(r, "csv")) <= EXPORT_GROWTH_KIB
    payload = r.built.payload_chars / n
    return [
        Row(
            "Report p50 on 1M events",
            f"query (tokens and cost of {r.built.requests:,} requests included): "
            f"{_p50s(r, 'query')}{_size(n)}",
            f"p50 < {REPORT_TARGET_MS:.0f} ms in every case, judged on the query (in-process: "
            "read, compute, JSON)",
            f"whole `skilltrack report --json` (start-up included) under {REPORT_TARGET_MS:.0f} "
            f"ms in {under} of {len(CASES)} cases, slowest {ms(command.p50)} ({command_case}); "
            f"start-up and imports alone (no database) {ms(start.p50)}",
            verdict(not slow_query),
            f"On {n:,} events, the report's query took p50 ≥ {REPORT_TARGET_MS:.0f} ms in "
            f"{listing('query', slow_query)}; the target is p50 < {REPORT_TARGET_MS:.0f} ms.",
        ),
        Row(
            "Dashboard JSON p50",
            f"{_p50s(r, 'dashboard')}{_size(n)}",
            f"p50 < {REPORT_TARGET_MS:.0f} ms in every case",
            f"the same report's query in-process, slowest {ms(r.slowest('query')[1].p50)}; "
            f"daemon RSS after serving them {mib(r.daemon_rss_kib[0])}",
            verdict(not slow_dashboard),
            f"On {n:,} events, the dashboard's JSON took p50 ≥ {REPORT_TARGET_MS:.0f} ms in "
            f"{listing('dashboard', slow_dashboard)}; the target is p50 < "
            f"{REPORT_TARGET_MS:.0f} ms.",
        ),
        Row(
            "Export throughput",
            f"jsonl {jsonl.rate:,.0f} events/s ({jsonl.mb_s:,.0f} MB/s); csv {csv.rate:,.0f} "
            f"events/s ({csv.mb_s:,.0f} MB/s){_size(n)}",
            "(none)",
            f"{n:,} events to a file: jsonl {jsonl.out_bytes / 1e9:.2f} GB in "
            f"{jsonl.wall_s:.1f} s, csv {csv.out_bytes / 1e9:.2f} GB in {csv.wall_s:.1f} s",
            "—",
        ),
        Row(
            "Export peak RSS",
            f"jsonl {mib(jsonl.maxrss_kib)}, csv {mib(csv.maxrss_kib)}{_size(n)}",
            f"bounded: ≤ {EXPORT_GROWTH_KIB // 1024} MiB above the export of 10{TIMES} "
            "fewer events",
            f"on {r.small.events:,} events: jsonl {mib(small_jsonl.maxrss_kib)}, csv "
            f"{mib(small_csv.maxrss_kib)}",
            verdict(growth_ok),
            f"Exporting {n:,} events peaked at jsonl {mib(jsonl.maxrss_kib)} and csv "
            f"{mib(csv.maxrss_kib)}, against {mib(small_jsonl.maxrss_kib)} and "
            f"{mib(small_csv.maxrss_kib)} for {r.small.events:,} events; the bound is "
            f"{EXPORT_GROWTH_KIB // 1024} MiB more.",
        ),
        Row(
            "Database bytes per event",
            f"{r.bytes_per_event:,.0f} bytes{_size(n)}",
            "(none)",
            f"{r.file_bytes / 1e9:.2f} GB for {n:,} events; of which the payload's JSON text "
            f"{payload:,.0f} characters per event on average",
            "—",
        ),
    ]


def section(r: ReportResult) -> list[str]:
    b, n = r.built, r.built.events
    latency = [
        [case, " ".join(f"`{o}`" for o in r.options[case]) or "(none)"]
        + [
            f"{ms(r.summary(w, case).p50)} / {ms(r.summary(w, case).p95)}"
            if case in r.cases(w)
            else "— (no `--by`)"
            for w in ("query", "command", "dashboard")
        ]
        for case in CASES
    ]
    start = r.startup()
    latency.append(["no database (start-up and imports)", "(none)", "—",
                    f"{ms(start.p50)} / {ms(start.p95)}", "—"])  # fmt: skip
    slow_command = r.over("command", REPORT_TARGET_MS)
    meets = (
        "meets it in every case"
        if not slow_command
        else f"misses it in {', '.join(slow_command)}"
        if len(slow_command) < len(CASES)
        else "misses it in every case"
    )
    exports = [
        [e.fmt, f"{e.events:,}", f"{e.exported:,}", f"{e.out_bytes / 1e6:,.1f} MB",
         f"{e.wall_s:.2f} s", f"{e.rate:,.0f}", f"{e.mb_s:,.1f}", f"{e.cpu_s:.2f} s",
         mib(e.maxrss_kib)]
        for e in r.exports
    ]  # fmt: skip
    days = (b.last_ts - b.first_ts) / 86400
    return [
        f"## Reports on {n:,} events",
        "",
        f"A database of {n:,} events written by `bench/eventgen.py` through the daemon's own "
        f"`Store.open` (migrations) and `Store.insert` ({5_000:,} events per transaction), so "
        "the triggers filled every summary table as the daemon's commits do; it took "
        f"{b.build_s:.1f} s ({n / b.build_s:,.0f} events/s, drawing the events in a second "
        f"process). {days:.1f} days of one heavy user's sessions: {b.sessions:,} sessions in "
        f"{len(b.by_project)} projects, {b.uses:,} uses of {len(b.artifacts)} artifacts (skills, "
        f"subagents, MCP tools, commands, built-in tools; {len(b.skill_versions)} skill "
        "versions used), "
        "failures and durations per artifact, payloads as the daemon stores them (home paths "
        "as `~`, inputs and outputs capped at 4,096 characters). Beside it, for the export's "
        f"memory, the same generator's {r.small.events:,} events.",
        "",
        *_requests_part(r),
        f"{r.runs} timed rounds after {r.warmups} warm-up "
        f"{'round' if r.warmups == 1 else 'rounds'}; each round runs every case in each way "
        "once, and the command on a home with no database, in a shuffled order. *Query*: in "
        "the benchmark process, what the command does after its imports (the installed "
        "skills read, `report.build.build`: the database opened read-only and every query of "
        "the report run, then `json.dumps`). *Command*: `skilltrack report --json` as a "
        "subprocess, interpreter start-up included. *Dashboard*: a GET of the dashboard's "
        "JSON (`/<token>/api/report`, the same filters as query parameters) on a fresh "
        "connection to a daemon serving this database (`dashboard = true`; it has no `--by`). "
        "Every case's answer has its tokens and cost (per artifact, subagent, skill version "
        "and day, and totals); `--by session` and `--by project` list them per session and "
        "per project too. The busiest "
        f"session holds {b.by_session[r.options['busiest session'][1]]:,} uses, the busiest "
        f"project {b.by_project[r.options['busiest project'][1]]:,} "
        f"({b.by_project[r.options['busiest project'][1]] / b.uses:.0%} of all).",
        "",
        *table(
            ["Case", "Options", "Query p50 / p95", "Command p50 / p95", "Dashboard p50 / p95"],
            latency,
        ),
        "",
        f"The target, p50 < {REPORT_TARGET_MS:.0f} ms, is judged on the query: it is what "
        "the report costs whatever starts it (the dashboard pays it on every request). The "
        f"whole command adds the interpreter's start-up and imports ({ms(start.p50)} p50 "
        f"here) and {meets}. The all-time answer is {r.answer_bytes / 1e3:,.0f} kB of JSON, "
        f"{r.answer_artifacts} artifacts. The daemon's RSS after serving the dashboard's "
        f"reports: {mib(r.daemon_rss_kib[0])} (peak {mib(r.daemon_rss_kib[1])}).",
        "",
        "### Export",
        "",
        "`skilltrack export --format jsonl|csv -o FILE` of each whole database, once each, "
        "started and reaped with `os.wait4` by a small Python parent of its own: its peak "
        "RSS (`ru_maxrss`), CPU and wall time. (Started by the benchmark process itself, the "
        "export would count the benchmark's RSS as its own peak: Linux keeps the larger "
        "peak across `exec`. The parent's own peak, the floor under the figure, was "
        f"{mib(max(e.probe_kib for e in r.exports))}.) Rates count the process's whole "
        "life, start-up included.",
        "",
        *table(
            [
                "Format",
                "Events",
                "Exported",
                "Output",
                "Wall",
                "Events/s",
                "MB/s",
                "CPU",
                "Peak RSS",
            ],
            exports,
        ),
        "",
        *_size_part(r),
    ]


def _requests_part(r: ReportResult) -> list[str]:
    b = r.built
    owned = sum(b.owned_by.values())
    return [
        f"With the events, {b.requests:,} API requests ({b.requests / b.uses:.2f} per use: "
        "the one that issued each tool call, and each prompt's and subagent run's answer), "
        "stored after their events through the usage task's own INSERT, so the triggers on "
        "`requests` filled `token_days`, `token_versions` and `token_sessions` as its passes "
        f"do. {owned:,} ({owned / b.requests:.0%}) are owned by a skill or command use (the "
        "requests after its call, or its prompt's for a typed `/name`), "
        f"{b.in_runs:,} ({b.in_runs / b.requests:.0%}) by a subagent run, the rest are their "
        f"sessions' own; {len(b.models)} model names, usage growing with each thread's "
        f"context, ${b.tokens[5]:,.0f} in all at the shipped prices "
        f"(`daemon/ingest/prices.py`). The 200 ms target covers these: tokens are part of "
        "every report.",
        "",
    ]


def _size_part(r: ReportResult) -> list[str]:
    n = r.built.events
    out = [
        "### Database size",
        "",
        f"{r.file_bytes:,} bytes (database and WAL after `PRAGMA wal_checkpoint(TRUNCATE)`) "
        f"for {n:,} events: {r.bytes_per_event:,.0f} bytes per event.",
        "",
    ]
    if r.objects is None:
        return [*out, "This SQLite has no `dbstat` table: no breakdown by table.", ""]
    total = sum(o.bytes for o in r.objects)
    rows = [
        [f"`{o.name}`", o.kind, f"`{o.table}`", f"{o.bytes / 1e6:,.1f} MB",
         f"{o.bytes / n:,.0f}", f"{o.bytes / total:.1%}"]
        for o in r.objects
        if o.bytes / total >= 0.0005
    ]  # fmt: skip
    return [
        *out,
        "By table and index, from SQLite's `dbstat` (pages in use, tables and indexes under "
        "0.05% left out):",
        "",
        *table(["Object", "Kind", "Table", "Size", "Bytes per event", "Share"], rows),
        "",
    ]
