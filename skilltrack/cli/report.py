"""`skilltrack report`: what was used, how often, how well, over a range of time."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from skilltrack.cli.parsing import UsageError
from skilltrack.daemon.ingest.skills import installed_skills
from skilltrack.daemon.report.build import build, project_filter
from skilltrack.daemon.report.queries import Filters
from skilltrack.daemon.report.render import render
from skilltrack.paths import Paths


def project_option(text: str) -> str:
    return project_filter(text)


def report_command(args: argparse.Namespace, paths: Paths) -> int:
    if args.since is not None and args.until is not None and args.until <= args.since:
        raise UsageError("--until must be after --since")
    if args.unused_days < 1:
        raise UsageError("--unused-days must be at least 1")
    installed = installed_skills(Path.home(), Path.cwd())
    report = asyncio.run(
        build(
            paths.db,
            Filters(args.since, args.until, args.project, args.session, args.type),
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
