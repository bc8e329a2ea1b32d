"""Reports on a large database: `skilltrack report --json`, the dashboard's JSON and
`skilltrack export`, timed; and what the database costs per event.

The database is eventgen.py's (in full mode 1,000,000 events), in a fresh home, with one ten times
smaller beside it. A user's home (`HOME`) holds the used user skills' SKILL.md files and
a few never used, so the report's clean-up list has something to say; the commands run in an
empty folder (no project skills).

Each round runs every (way, case) pair once, in a shuffled order, after warm-up rounds:

- `query`: in this process, what the command does once its modules are imported:
  the installed skills read from disk, `report.build.build` (opening the database read-only and
  running every query of the report) and `json.dumps` of the answer;
- `command`: `skilltrack report --json …` as a subprocess (interpreter start-up included);
- `dashboard`: a GET of the dashboard's JSON (`/<token>/api/report?…`, what the page shows)
  from a real daemon serving the database, on a fresh HTTP connection;

and, once per round, the command on a home without a database (start-up and imports alone).
Cases: all time, the last 30 days (`--since`, an absolute minute), one kind (`--type skill`),
the busiest session, the busiest project, and all time `--by session` and `--by project` (not
on the dashboard, which has no such list). Every report has the requests' tokens and cost.
Afterwards every answer is checked against what the generator wrote (uses; tokens in all,
since the cutoff, per session, project and skill version), and the ways' answers against
each other.

Export: `skilltrack export --format jsonl|csv -o FILE` of each database, started and reaped
with `os.wait4` by a small parent of its own (a few lines of Python), for its peak RSS
(`ru_maxrss`), CPU time and wall time.
"""

from __future__ import annotations

import asyncio
import collections
import http.client
import json
import os
import random
import sqlite3
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import eventgen
from bench.daemonproc import BIN, BenchError, Home, count_events, home, running_daemon
from bench.hooktime import Check
from bench.stats import Summary
from skilltrack.daemon.ingest.skill_folders import installed_skills
from skilltrack.daemon.report import build as report_build
from skilltrack.daemon.report.filters import Filters

CASES = (
    "all time", "last 30 days", "skills", "busiest session", "busiest project", "by session",
    "by project",
)  # fmt: skip
BY_CASES = ("by session", "by project")  # `--by`: the dashboard has no such list
WAYS = ("query", "command", "dashboard")
TOKEN_FIELDS = (  # the report's token counts, in the order of eventgen.Sums
    "requests", "input_tokens", "output_tokens", "cache_creation_input_tokens",
    "cache_read_input_tokens",
)  # fmt: skip
NEVER_USED = 5  # installed user skills with no use stored
SEED = 3
COMMAND_TIMEOUT_S = 600


@dataclass(frozen=True)
class Export:
    """One `skilltrack export` run."""

    fmt: str
    events: int  # in the database
    exported: int  # as the command counted them
    out_bytes: int
    wall_s: float
    cpu_s: float
    maxrss_kib: int
    code: int
    probe_kib: int  # the reaping parent's own peak: the floor under maxrss_kib

    @property
    def rate(self) -> float:
        return self.exported / self.wall_s

    @property
    def mb_s(self) -> float:
        return self.out_bytes / 1e6 / self.wall_s


@dataclass(frozen=True)
class DbObject:
    """A table or index, from `dbstat`."""

    name: str
    table: str
    kind: str  # table | index
    bytes: int


@dataclass
class ReportResult:
    built: eventgen.Built
    small: eventgen.Built
    runs: int
    warmups: int
    options: dict[str, list[str]]  # each case's options to `skilltrack report`
    ms: dict[str, dict[str, list[float]]]  # way -> case -> samples
    startup_ms: list[float]  # the command on a home without a database
    exports: list[Export]
    file_bytes: int  # database + WAL, after a checkpoint
    objects: list[DbObject] | None  # None: this SQLite has no dbstat
    daemon_rss_kib: tuple[int, int]  # (VmRSS, VmHWM) after serving the dashboard's reports
    answer_bytes: int  # of the all-time report --json
    answer_artifacts: int
    checks: list[Check] = field(default_factory=list)

    def cases(self, way: str) -> tuple[str, ...]:
        return cases(way)

    def summary(self, way: str, case: str) -> Summary:
        return Summary.of(self.ms[way][case])

    def startup(self) -> Summary:
        return Summary.of(self.startup_ms)

    def slowest(self, way: str) -> tuple[str, Summary]:
        """The case with the highest p50 for `way`."""
        case = max(cases(way), key=lambda c: self.summary(way, c).p50)
        return case, self.summary(way, case)

    def over(self, way: str, limit_ms: float) -> list[str]:
        return [c for c in cases(way) if self.summary(way, c).p50 >= limit_ms]

    @property
    def bytes_per_event(self) -> float:
        return self.file_bytes / self.built.events

    def export(self, fmt: str, events: int) -> Export:
        return next(e for e in self.exports if e.fmt == fmt and e.events == events)


def _options(built: eventgen.Built) -> dict[str, list[str]]:
    since = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(built.since))
    return {
        "all time": [],
        "last 30 days": ["--since", since],
        "skills": ["--type", "skill"],
        "busiest session": ["--session", built.by_session.most_common(1)[0][0]],
        "busiest project": ["--project", built.by_project.most_common(1)[0][0]],
        "by session": ["--by", "session"],
        "by project": ["--by", "project"],
    }


def cases(way: str) -> tuple[str, ...]:
    """The cases `way` runs: the dashboard's JSON has no `--by`."""
    return tuple(c for c in CASES if way != "dashboard" or c not in BY_CASES)


def _expected_uses(built: eventgen.Built, options: dict[str, list[str]]) -> dict[str, int]:
    return {
        "all time": built.uses,
        "last 30 days": built.uses_since,
        "skills": built.by_kind["skill"],
        "busiest session": built.by_session[options["busiest session"][1]],
        "busiest project": built.by_project[options["busiest project"][1]],
        "by session": built.uses,
        "by project": built.uses,
    }


def _user_home(base: Path, used: list[str]) -> Path:
    """A HOME whose ~/.claude/skills holds the used user skills and a few never used."""
    fake = base / "user-home"
    for name in [*used, *(f"never-used-{i}" for i in range(NEVER_USED))]:
        folder = fake / ".claude" / "skills" / name
        folder.mkdir(parents=True)
        (folder / "SKILL.md").write_text(
            f"---\nname: {name}\ndescription: {name.replace('-', ' ')}\n---\n\nSteps.\n",
            encoding="utf-8",
        )
    return fake


def _checkpoint(db: Path) -> int:
    """Checkpoint the WAL into the database; the bytes of both files afterwards."""
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    wal = db.with_name(db.name + "-wal")
    return db.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def _dbstat(db: Path) -> list[DbObject] | None:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        owners = {
            name: (table, kind)
            for name, table, kind in conn.execute("SELECT name, tbl_name, type FROM sqlite_schema")
        }
        try:
            rows = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
        except sqlite3.OperationalError:  # built without SQLITE_ENABLE_DBSTAT_VTAB
            return None
    finally:
        conn.close()
    objects = []
    for name, size in rows:
        table, kind = owners.get(name, (name, "table"))
        objects.append(DbObject(name, table, kind, int(size)))
    return sorted(objects, key=lambda o: -o.bytes)


def _query(db: Path, f: Filters, by: str | None, user_home: Path) -> dict[str, Any]:
    installed = installed_skills(user_home, None)
    report = asyncio.run(
        report_build.build(db, f, exists=True, installed=installed, unused_days=30, by=by)
    )
    json.dumps(report)  # as `report --json` prints it into a pipe
    return report


def _filters(options: list[str]) -> Filters:
    given = dict(zip(options[::2], options[1::2], strict=True))
    since = given.get("--since")
    return Filters(
        since=None if since is None else report_build.when(since),
        project=given.get("--project"),
        session=given.get("--session"),
        artifact_type=given.get("--type"),
    )


def _query_string(options: list[str]) -> str:
    given = dict(zip(options[::2], options[1::2], strict=True))
    return urllib.parse.urlencode({k.removeprefix("--"): v for k, v in given.items()})


class _Runner:
    """Runs one (way, case) and keeps its last answer and its failures."""

    def __init__(self, h: Home, none_home: Home, user_home: Path, url: str) -> None:
        self.h, self.none_home, self.user_home = h, none_home, user_home
        parsed = urllib.parse.urlsplit(url)
        self.port, self.base = int(parsed.port or 0), parsed.path.rstrip("/")
        self.cwd = h.dir / "elsewhere"
        self.cwd.mkdir(exist_ok=True)
        self.answers: dict[tuple[str, str], dict[str, Any]] = {}
        self.failures: dict[str, int] = {way: 0 for way in (*WAYS, "startup")}

    def __call__(self, way: str, case: str, options: list[str]) -> float:
        """One run; its wall time in milliseconds (the answer is parsed after the clock)."""
        t0 = time.perf_counter()
        answer: dict[str, Any] | bytes | None
        if way == "query":
            by = dict(zip(options[::2], options[1::2], strict=True)).get("--by")
            answer = _query(self.h.paths.db, _filters(options), by, self.user_home)
        elif way == "dashboard":
            answer = self._get(f"{self.base}/api/report?{_query_string(options)}")
        else:
            answer = self._command(self.none_home if way == "startup" else self.h, options)
        took = (time.perf_counter() - t0) * 1000
        if answer is None:
            self.failures[way] += 1
        else:
            self.answers[way, case] = answer if isinstance(answer, dict) else json.loads(answer)
        return took

    def _command(self, h: Home, options: list[str]) -> bytes | None:
        result = subprocess.run(
            [os.fspath(BIN / "skilltrack"), "report", "--json", *options],
            env=h.env, cwd=self.cwd, capture_output=True, timeout=COMMAND_TIMEOUT_S, check=False,
        )  # fmt: skip
        return result.stdout if result.returncode == 0 else None

    def _get(self, path: str) -> bytes | None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=COMMAND_TIMEOUT_S)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        return body if response.status == 200 else None


def _dashboard_url(h: Home) -> str:
    result = subprocess.run(
        [os.fspath(BIN / "skilltrack"), "dashboard", "--json", "--no-open"],
        env=h.env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise BenchError(f"skilltrack dashboard failed: {result.stderr.strip()}")
    return str(json.loads(result.stdout)["url"])


# Reaps the export for its rusage. A process started by this one would count this one's RSS
# as its own until its exec (vfork shares the parent's memory, and Linux keeps the larger peak
# across the exec): a small parent of its own keeps that floor at a few MiB.
_PROBE = """
import json, os, sys, time
with open("/proc/self/status", encoding="ascii") as f:  # this process's own peak (VmHWM)
    probe_kib = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
t0 = time.perf_counter()
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ)
_, status, use = os.wait4(pid, 0)
print(json.dumps({"wall_s": time.perf_counter() - t0, "maxrss_kib": use.ru_maxrss,
                  "cpu_s": use.ru_utime + use.ru_stime,
                  "code": os.waitstatus_to_exitcode(status),
                  "probe_kib": probe_kib}))
"""


def _export(h: Home, fmt: str, events: int) -> Export:
    """`skilltrack export --format FMT -o FILE`, reaped with wait4 for its peak RSS."""
    out = h.dir / f"export.{fmt}"
    argv = [os.fspath(BIN / "skilltrack"), "export", "--format", fmt, "-o", os.fspath(out)]
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _PROBE, *argv],
        env=h.env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise BenchError(f"the export probe failed: {result.stderr.strip()[-2000:]}")
    got = json.loads(result.stdout)
    said = result.stderr.split()  # "exported N events to FILE"
    exported = int(said[1]) if said[:1] == ["exported"] and said[1].isdigit() else -1
    size = out.stat().st_size if out.exists() else 0
    out.unlink(missing_ok=True)
    return Export(
        fmt=fmt,
        events=events,
        exported=exported,
        out_bytes=size,
        wall_s=got["wall_s"],
        cpu_s=got["cpu_s"],
        maxrss_kib=got["maxrss_kib"],
        code=got["code"],
        probe_kib=got["probe_kib"],
    )


def measure(
    events: int, small_events: int, runs: int, warmups: int, log: Callable[[str], None]
) -> ReportResult:
    with home("reports") as h, home("reports-small") as small_h, home("reports-none") as none_h:
        log(f"reports: writing {events:,} events through Store.insert")
        built = eventgen.build(h.paths.db, events, log)
        log(f"reports: {events:,} events in {built.build_s:.1f} s "
            f"({events / built.build_s:,.0f} events/s)")  # fmt: skip
        file_bytes = _checkpoint(h.paths.db)
        objects = _dbstat(h.paths.db)
        small = eventgen.build(small_h.paths.db, small_events, lambda _: None)
        _checkpoint(small_h.paths.db)
        user_home = _user_home(h.dir, built.installed)
        for each in (h, small_h, none_h):
            each.env["HOME"] = os.fspath(user_home)
        # The dashboard served from the start; retention long enough that the daemon's first
        # daily prune (a minute after start) has nothing to delete from 90 days of events.
        h.paths.config.write_text(
            "dashboard = true\ndashboard_port = 0\nretention_days = 3650\n", encoding="utf-8"
        )
        options = _options(built)
        with running_daemon(h) as daemon:
            run = _Runner(h, none_h, user_home, _dashboard_url(h))
            ms, startup = _rounds(run, options, runs, warmups, log)
            rss = daemon.rss_kib()
            if daemon.stop() != 0:
                raise BenchError("the daemon did not exit 0 on SIGTERM")
        exports = []
        for hh, b in ((small_h, small), (h, built)):
            for fmt in ("jsonl", "csv"):
                exports.append(_export(hh, fmt, b.events))
                e = exports[-1]
                log(f"reports: export {fmt} of {b.events:,} events: {e.rate:,.0f} events/s, "
                    f"peak RSS {e.maxrss_kib / 1024:.1f} MiB")  # fmt: skip
        checks = _checks(run, built, small, options, h, small_h, exports)
        answer = run.answers.get(("command", "all time"), {})
    return ReportResult(
        built=built,
        small=small,
        runs=runs,
        warmups=warmups,
        options=options,
        ms=ms,
        startup_ms=startup,
        exports=exports,
        file_bytes=file_bytes,
        objects=objects,
        daemon_rss_kib=rss,
        answer_bytes=len(json.dumps(answer, indent=2)),
        answer_artifacts=len(answer.get("artifacts", [])),
        checks=checks,
    )


def _rounds(
    run: _Runner,
    options: dict[str, list[str]],
    runs: int,
    warmups: int,
    log: Callable[[str], None],
) -> tuple[dict[str, dict[str, list[float]]], list[float]]:
    """`warmups` untimed rounds, then `runs` timed ones, of every (way, case) pair and the
    command without a database, each round in a shuffled order; the samples by way and case,
    and the start-up's."""
    ms: dict[str, dict[str, list[float]]] = {way: {c: [] for c in cases(way)} for way in WAYS}
    startup: list[float] = []
    jobs = [(way, case) for way in WAYS for case in cases(way)] + [("startup", "")]
    log(f"reports: {warmups} warm-up rounds, then {runs} rounds of {len(jobs)}")
    rng = random.Random(SEED)
    for r in range(warmups + runs):
        rng.shuffle(jobs)
        for way, case in jobs:
            took = run(way, case, options.get(case, []))
            if r >= warmups:
                (startup if way == "startup" else ms[way][case]).append(took)
    for way in WAYS:
        case, s = max(((c, Summary.of(ms[way][c])) for c in ms[way]), key=lambda x: x[1].p50)
        log(f"reports: {way} p50 slowest {s.p50:.1f} ms ({case})")
    return ms, startup


def _checks(
    run: _Runner,
    built: eventgen.Built,
    small: eventgen.Built,
    options: dict[str, list[str]],
    h: Home,
    small_h: Home,
    exports: list[Export],
) -> list[Check]:
    def same(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
        # The clean-up list names folders relative to $HOME, which this process does not share.
        return a is not None and b is not None and {**a, "cleanup": 0} == {**b, "cleanup": 0}

    checks = [
        Check("reports: events in the database", built.events, count_events(h.paths.db)),
        Check(
            "reports: events in the 10x smaller database",
            small.events,
            count_events(small_h.paths.db),
        ),
        *(Check(f"reports: {way} runs that failed", 0, n) for way, n in run.failures.items()),
    ]
    for case, want in _expected_uses(built, options).items():
        answer = run.answers.get(("command", case))
        found = -1 if answer is None else sum(a["uses"] for a in answer["artifacts"])
        checks.append(Check(f"report --json, {case}: uses over all artifacts", want, found))
        for way in ("query", "dashboard"):
            if case not in cases(way):
                continue
            differs = not same(answer, run.answers.get((way, case)))
            checks.append(Check(f"{way}, {case}: answers that differ from report --json", 0,
                                int(differs)))  # fmt: skip
    checks += _token_checks(run, built, options)
    for e in exports:
        what = f"export {e.fmt} of {e.events:,} events:"
        checks.append(Check(f"{what} events exported", e.events, e.exported))
        checks.append(Check(f"{what} exit code", 0, e.code))
    return checks


def _differs(figures: dict[str, Any] | None, sums: eventgen.Sums | None) -> bool:
    """Whether a report's token figures are not the generator's `sums` (cost to a millionth,
    as the report rounds it)."""
    sums = sums or [0.0] * 7
    if figures is None:
        return True
    counts = [figures.get(k) for k in TOKEN_FIELDS]
    cost = figures.get("cost_usd")
    return counts != [int(x) for x in sums[:5]] or cost is None or abs(cost - sums[5]) > 1e-5


def _token_checks(
    run: _Runner, built: eventgen.Built, options: dict[str, list[str]]
) -> list[Check]:
    """The answers' tokens against the requests the generator wrote: the totals, a session's
    and a project's, every session's and project's of `--by`, and every skill version's."""

    def answer(case: str) -> dict[str, Any]:
        return run.answers.get(("command", case)) or {}

    session, project = options["busiest session"][1], options["busiest project"][1]
    totals = {
        "all time": built.tokens,
        "last 30 days": built.tokens_since,
        "busiest session": built.tokens_by_session.get(session),
        "busiest project": built.tokens_by_project.get(project),
    }
    checks = [
        Check(f"report --json, {case}: totals' tokens that differ from the requests written", 0,
              int(_differs(answer(case).get("totals"), sums)))
        for case, sums in totals.items()
    ]  # fmt: skip
    skills = answer("skills").get("artifacts", [])
    checks.append(Check("report --json, skills: requests the skills own", built.owned_by["skill"],
                        sum(a.get("requests", 0) for a in skills)))  # fmt: skip
    sessions = answer("by session").get("sessions", [])
    checks += [
        Check("report --by session: sessions listed", len(built.tokens_by_session),
              len(sessions)),
        Check("report --by session: sessions whose tokens differ", 0,
              sum(_differs(s, built.tokens_by_session.get(s["session"])) for s in sessions)),
    ]  # fmt: skip
    projects = answer("by project").get("projects", [])
    named = set(built.tokens_by_project) | set(built.by_project)
    checks += [
        Check("report --by project: projects listed", len(named), len(projects)),
        Check("report --by project: projects whose tokens differ", 0,
              sum(_differs(p, built.tokens_by_project.get(p["project"])) for p in projects)),
        Check("report --by project: projects whose sessions or uses differ", 0,
              sum((p["sessions"], p["uses"])
                  != (len(built.sessions_by_project.get(p["project"], ())),
                      built.by_project[p["project"]])
                  for p in projects)),
    ]  # fmt: skip
    versions = [(s["skill_id"], v) for s in answer("all time").get("versions", [])
                for v in s["versions"]]  # fmt: skip
    per_skill = collections.Counter(skill_id for skill_id, _ in built.skill_versions)
    checks.append(Check("report --json: versions of skills used in more than one",
                        sum(n for n in per_skill.values() if n > 1), len(versions)))  # fmt: skip
    checks.append(Check("report --json: skill versions whose tokens differ", 0,
                        sum(_differs(v, built.tokens_by_version.get((skill_id, v["version"])))
                            for skill_id, v in versions)))  # fmt: skip
    return checks
