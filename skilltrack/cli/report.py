"""`skilltrack report`: what was used, how often, how well, over a range of time."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from skilltrack.daemon.ingest.redact_paths import home_redactor
from skilltrack.daemon.ingest.skills import InstalledSkill, installed_skills
from skilltrack.daemon.report.queries import Filters, ReportStore, subagents_of
from skilltrack.format import iso, table
from skilltrack.paths import Paths

ARTIFACT_TYPES = ("skill", "agent", "mcp", "command", "tool")
_RELATIVE = re.compile(r"^(\d+)([dhm])$")
_UNIT_S = {"d": 86400, "h": 3600, "m": 60}
SPARKS = "▁▂▃▄▅▆▇█"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--since", type=when, help="from this time: 2026-11-01, 2026-11-01T09:30 (UTC), or 7d, 12h"
    )
    parser.add_argument("--until", type=when, help="up to (not including) this time")
    parser.add_argument(
        "--project", type=project_option, help="only this project: its folder name or its path"
    )
    parser.add_argument("--session", help="only this Claude Code session id")
    parser.add_argument("--type", choices=ARTIFACT_TYPES, help="only this kind of artifact")
    parser.add_argument(
        "--unused-days",
        type=int,
        default=30,
        metavar="N",
        help="suggest removing installed skills not used in the last N days (default 30)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON for programs")


def when(text: str, now: float | None = None) -> float:
    """A time as the options take it: an ISO date or time (UTC unless it says otherwise), or
    a span back from now (`7d`, `12h`, `30m`)."""
    match = _RELATIVE.match(text.strip())
    if match:
        ts = (time.time() if now is None else now) - int(match[1]) * _UNIT_S[match[2]]
    else:
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a time: give 2026-11-01, 2026-11-01T09:30 or 7d, 12h, 30m"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        ts = moment.timestamp()
    # Refused here, not when the report shows the time (a traceback) or when a query compares
    # it (a silent "all time"): what is not a UTC date of years 1 to 9999 is no time to us.
    try:
        datetime.fromtimestamp(ts, UTC)
    except (ValueError, OverflowError, OSError):
        raise argparse.ArgumentTypeError(f"{text!r} is out of range") from None
    return ts


def project_option(text: str) -> str:
    """A `--project` as the option takes it, in the form the daemon stores paths in."""
    return stored_path(text, str(Path.home()))


def stored_path(path: str, home: str) -> str:
    """`path` as the daemon stores it: an absolute path in `home` written as `~/...` by the
    daemon's own rule (redact_paths.py), so that `--project "$PWD"` finds what the daemon
    recorded there. Anything else (a folder name, `~/x`, a path elsewhere) is left as given."""
    if path.startswith("/"):
        path = os.path.normpath(path)
    return home_redactor(home)(path)


def cleanup(
    installed: list[InstalledSkill],
    last_uses: dict[str, float],
    days: int,
    now: float,
    home: str,
) -> list[dict[str, Any]]:
    """Installed skills never used, or not in the last `days` days, with where they live."""
    out = []
    for skill in installed:
        last = last_uses.get(skill.name)
        if last is not None and last >= now - days * 86400:
            continue
        where = skill.path
        if where == home or where.startswith(home + "/"):
            where = "~" + where[len(home) :]
        out.append(
            {"name": skill.name, "source": skill.source, "location": where,
             "last_used": iso(last), "never_used": last is None}
        )  # fmt: skip
    out.sort(key=lambda s: (not s["never_used"], s["last_used"] or "", s["name"]))
    return out


def filters_of(args: argparse.Namespace) -> Filters:
    return Filters(args.since, args.until, args.project, args.session, args.type)


async def build(
    db: Path, f: Filters, *, exists: bool, installed: list[InstalledSkill], unused_days: int
) -> dict[str, Any]:
    """The whole report as `report --json` prints it (`exists`: whether `db` does)."""
    report: dict[str, Any] = {
        "filters": {
            "since": iso(f.since), "until": iso(f.until), "project": f.project,
            "session": f.session, "type": f.artifact_type,
        },
        "artifacts": [],
        "per_day": [],
        "versions": [],
        "subagents": [],
        "cleanup": [],
    }  # fmt: skip
    home = str(Path.home())
    if not exists:
        report["cleanup"] = cleanup(installed, {}, unused_days, time.time(), home)
        return report  # nothing recorded yet; don't create a database just to read it
    artifacts, (per_day, versions), (inside, last_uses) = await _read(db, f)
    subagents = subagents_of(artifacts, inside) if f.artifact_type in (None, "agent") else []
    for skill in versions:
        for v in skill["versions"]:
            v["first_used"], v["last_used"] = iso(v["first_used"]), iso(v["last_used"])
    report["versions"] = versions
    report["subagents"] = subagents
    report["cleanup"] = cleanup(installed, last_uses, unused_days, time.time(), home)
    for a in artifacts:
        a["first_used"], a["last_used"] = iso(a["first_used"]), iso(a["last_used"])
    report["artifacts"] = artifacts
    report["per_day"] = [
        {"day": datetime.fromtimestamp(d["day"], UTC).date().isoformat(),
         "uses": d["uses"], "failures": d["failures"]}
        for d in per_day
    ]  # fmt: skip
    return report


async def _read(
    db: Path, f: Filters
) -> tuple[
    list[dict[str, Any]],
    tuple[list[dict[str, Any]], list[dict[str, Any]]],
    tuple[dict[tuple[str, str, str], list[int]], dict[str, float]],
]:
    """The report's queries in three groups (the top artifacts, the costliest, alone), each
    on a connection of its own: each connection has its own thread and SQLite lets go of the
    GIL while it steps, so on two cores the report takes about as long as its longest group
    rather than all three (on a million events, ~205 ms instead of ~290 for 30 days here)."""

    async def days_and_versions(
        store: ReportStore,
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        per_day = await store.per_day(f)
        return per_day, await store.versions(f) if f.artifact_type in (None, "skill") else []

    async def inside_and_last_uses(
        store: ReportStore,
    ) -> tuple[dict[tuple[str, str, str], list[int]], dict[str, float]]:
        inside = await store.uses_inside(f) if f.artifact_type in (None, "agent") else {}
        return inside, await store.last_uses("skill")

    async with contextlib.AsyncExitStack() as stack:
        stores = []
        for _ in range(3):  # one at a time: the first migrates an older database
            store = await ReportStore.open_readonly(db)
            stack.push_async_callback(store.close)
            stores.append(store)
        groups = (
            asyncio.ensure_future(stores[0].artifacts(f)),
            asyncio.ensure_future(days_and_versions(stores[1])),
            asyncio.ensure_future(inside_and_last_uses(stores[2])),
        )
        try:
            artifacts, days_versions, inside_last = await asyncio.gather(*groups)
        except BaseException:
            for group in groups:  # not left running on connections about to close
                group.cancel()
            await asyncio.gather(*groups, return_exceptions=True)
            raise
        return artifacts, days_versions, inside_last


def run(args: argparse.Namespace, paths: Paths) -> int:
    if args.since is not None and args.until is not None and args.until <= args.since:
        print("skilltrack: --until must be after --since", file=sys.stderr)
        return 2
    if args.unused_days < 1:
        print("skilltrack: --unused-days must be at least 1", file=sys.stderr)
        return 2
    installed = installed_skills(Path.home(), Path.cwd())
    report = asyncio.run(
        build(
            paths.db,
            filters_of(args),
            exists=paths.db.exists(),
            installed=installed,
            unused_days=args.unused_days,
        )
    )
    if args.json:
        # Indented for a person at a terminal; compact for a program reading a pipe: on a
        # large database the report is megabytes, and indenting it takes json's pure-Python
        # encoder (~90 ms per MB here) where the compact form takes its C one (~20).
        print(json.dumps(report, indent=2 if sys.stdout.isatty() else None))
        return 0
    print(render(report))
    return 0


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def sparkline(values: list[int]) -> str:
    top = max(values, default=0)
    if top == 0:
        return SPARKS[0] * len(values)
    return "".join(SPARKS[min(len(SPARKS) - 1, v * len(SPARKS) // (top + 1))] for v in values)


def render(report: dict[str, Any]) -> str:
    artifacts = report["artifacts"]
    if not artifacts:
        return nothing_used(report["filters"])
    return "\n".join(_usage_lines(report) + _cleanup_lines(report["cleanup"]))


def nothing_used(filters: dict[str, str | None]) -> str:
    """What an empty report says: what it was filtered by, so that an empty answer to a
    misspelt project does not read as an empty range."""
    said = [
        f"{words} {filters[key]}"
        for key, words in (("type", "of type"), ("project", "in project"),
                           ("session", "in session"), ("since", "since"), ("until", "before"))
        if filters[key] is not None
    ]  # fmt: skip
    return " ".join(["nothing used", *said]) if said else "nothing used yet"


def _cleanup_lines(suggestions: list[dict[str, Any]]) -> list[str]:
    if not suggestions:
        return []
    lines = ["", "installed skills to consider removing:"]
    for s in suggestions:
        when = "never used" if s["never_used"] else f"last used {s['last_used']}"
        lines.append(f"  {s['name']} ({s['source']}, {s['location']}): {when}")
    return lines


def _usage_lines(report: dict[str, Any]) -> list[str]:
    artifacts = report["artifacts"]
    lines = [
        table(
            [
                "TYPE",
                "NAME",
                "USES",
                "FAILURES",
                "FAIL%",
                "P50 MS",
                "P95 MS",
                "LAST USED",
                "RATING",
            ],
            [
                (
                    a["artifact_type"],
                    a["artifact_name"],
                    a["uses"],
                    a["failures"],
                    f"{a['failure_rate']:.0%}",
                    a["p50_duration_ms"],
                    a["p95_duration_ms"],
                    a["last_used"],
                    None if a["avg_rating"] is None else f"{a['avg_rating']:.1f} ({a['ratings']})",
                )
                for a in artifacts
            ],
        )
    ]
    days = report["per_day"]
    if days:
        uses = [d["uses"] for d in days]
        lines += [
            "",
            f"uses per day, {days[0]['day']} to {days[-1]['day']} (UTC): "
            f"{sparkline(uses)}  total {sum(uses)}, busiest {max(uses)}",
        ]
    for skill in report["versions"]:
        lines += ["", f"versions of {skill['name']} ({skill['source']}, {skill['location']}):"]
        rows = [
            (v["version"], v["first_used"], v["uses"], v["failures"],
             f"{v['failure_rate']:.0%}", v["p50_duration_ms"], v["p95_duration_ms"])
            for v in skill["versions"]
        ]  # fmt: skip
        headers = ["VERSION", "FIRST USED", "USES", "FAILURES", "FAIL%", "P50 MS", "P95 MS"]
        lines.append(table(headers, rows))
    if report["subagents"]:
        lines += ["", "subagents:"]
        for agent in report["subagents"]:
            used = ", ".join(f"{u['artifact_name']} {u['uses']}" for u in agent["uses_inside"][:8])
            lines.append(
                f"  {agent['agent_type']}: {plural(agent['runs'], 'run')}, "
                f"{agent['failures']} failed" + (f"; used {used}" if used else "")
            )
    return lines
