"""`skilltrack report`: what was used, how often, how well, over a range of time."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from skilltrack.daemon.ingest.skills import installed_skills
from skilltrack.daemon.report.build import ARTIFACT_TYPES, build, project_filter, when
from skilltrack.daemon.report.queries import Filters
from skilltrack.daemon.report.render import render
from skilltrack.paths import Paths


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--since",
        type=time_option,
        help="from this time: 2026-11-01, 2026-11-01T09:30 (UTC), or 7d, 12h",
    )
    parser.add_argument("--until", type=time_option, help="up to (not including) this time")
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


def time_option(text: str) -> float:
    """`--since`/`--until`: a time as `when` reads it, or a usage error that says why."""
    try:
        return when(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def project_option(text: str) -> str:
    return project_filter(text)


def filters_of(args: argparse.Namespace) -> Filters:
    return Filters(args.since, args.until, args.project, args.session, args.type)


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
