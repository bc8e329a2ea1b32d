"""`skilltrack report`: what was used, how often, how well, over a range of time."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from skilltrack.cli.parsing import UsageError
from skilltrack.paths import Paths, check_private_dir


def report_command(args: argparse.Namespace, paths: Paths) -> int:
    if args.since is not None and args.until is not None and args.until <= args.since:
        raise UsageError("--until must be after --since")
    if args.unused_days < 1:
        raise UsageError("--unused-days must be at least 1")
    from skilltrack.daemon.ingest.skill_folders import installed_skills
    from skilltrack.daemon.report import build
    from skilltrack.daemon.report.filters import Filters

    installed = installed_skills(Path.home(), Path.cwd())
    filters = Filters(args.since, args.until, args.project, args.session, args.type)
    if paths.db.exists():
        import asyncio

        check_private_dir(paths.data_dir)  # else others could read or swap it

        report = asyncio.run(
            build.build(
                paths.db,
                filters,
                exists=True,
                installed=installed,
                unused_days=args.unused_days,
                by=args.by,
            )
        )
    else:
        report = build.empty(filters, installed=installed, unused_days=args.unused_days, by=args.by)
    if args.json:
        # Indented for a person at a terminal; compact for a program reading a pipe: on a
        # large database the report is megabytes, and indenting it takes json's pure-Python
        # encoder (~90 ms per MB here) where the compact form takes its C one (~20).
        print(json.dumps(report, indent=2 if sys.stdout.isatty() else None))
        return 0
    from skilltrack.daemon.report.render import render

    print(render(report))
    if not report["artifacts"] and all(v is None for v in report["filters"].values()):
        print(first_look(Path.home(), Path.cwd()))
    return 0


def first_look(home: Path, cwd: Path) -> str:
    """What to do when nothing was ever recorded: tracking is not on yet, or it is and
    Claude Code has not run since (doctor's view of the hooks, said for a first look)."""
    from skilltrack.cli.doctor import check_hooks

    (finding, *_) = check_hooks(home, cwd)
    if finding.level == "fail" and finding.message.startswith("not registered"):
        return (
            "no hook is registered, so nothing is recorded: turn tracking on with "
            "skilltrack-install (or scripts/install in a clone), then use Claude Code"
        )
    if finding.level != "ok":
        return f"the hook: {finding.message}; skilltrack doctor checks every part"
    return (
        f"the hook is on ({finding.message}): use Claude Code, then look again; "
        "skilltrack doctor checks every part"
    )
