"""`skilltrack events` and `skilltrack report`: what was stored, for people and programs."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from skilltrack import paths as paths_mod
from skilltrack.cli import dashboard as dashboard_cli
from skilltrack.cli import db
from skilltrack.cli import export as export_cli
from skilltrack.cli import maintenance as maintenance_cli
from skilltrack.cli import rate as rate_cli
from skilltrack.cli import report as report_cli
from skilltrack.daemon.store.database import Store
from skilltrack.errors import ConfigError
from skilltrack.format import iso, listing, reporting_to_stdout
from skilltrack.paths import Paths


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="skilltrack",
        description="What Claude Code's skills, subagents, commands and tools were used for.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    events = sub.add_parser("events", help="the stored events, newest first")
    events.add_argument("--limit", type=_positive, default=50, help="how many (default 50)")
    events.add_argument("--payload", action="store_true", help="include each raw payload")
    events.add_argument("--json", action="store_true", help="print JSON for programs")
    report = sub.add_parser(
        "report",
        help="uses, failures, durations and ratings per skill, agent, command and tool",
        description="What was used over a range of time: per artifact its uses, failures, "
        "p50/p95 duration, last use and rating, then uses per day. Times are UTC.",
    )
    report_cli.add_arguments(report)
    rate = sub.add_parser(
        "rate",
        help="rate a skill you have used, 1 to 5 (your rating replaces your earlier one)",
    )
    rate_cli.add_arguments(rate)
    skills = sub.add_parser("skills", help="the skills seen, with their versions")
    skills.add_argument("--json", action="store_true", help="print JSON for programs")
    consent_cmd = sub.add_parser(
        "consent", help="your own consent to keeping input/output snippets of your skill uses"
    )
    consent_cmd.add_argument(
        "action",
        choices=["grant", "revoke", "status"],
        help="grant or revoke it (takes effect at the next event), or show where it stands",
    )
    consent_cmd.add_argument(
        "--delete", action="store_true", help="with revoke: also delete what was captured"
    )
    consent_cmd.add_argument("--json", action="store_true", help="print JSON for programs")
    snippets = sub.add_parser("snippets", help="the snippets captured with consent")
    snippets.add_argument(
        "action", nargs="?", choices=["list", "delete"], default="list", help="(default: list)"
    )
    snippets.add_argument("--limit", type=_positive, default=20, help="how many (default 20)")
    snippets.add_argument("--json", action="store_true", help="print JSON for programs")
    config_cmd = sub.add_parser(
        "config", help="check the configuration file and show the settings in effect"
    )
    config_cmd.add_argument("--json", action="store_true", help="print JSON for programs")
    export = sub.add_parser(
        "export", help="every stored event as JSON Lines or CSV, streamed (any size)"
    )
    export_cli.add_arguments(export)
    prune = sub.add_parser(
        "prune",
        help="delete events older than the retention (the daemon also does it once a day)",
    )
    maintenance_cli.add_prune_arguments(prune)
    stats = sub.add_parser(
        "stats", help="database size, rows per table, oldest event, schema version"
    )
    stats.add_argument("--json", action="store_true", help="print JSON for programs")
    dead = sub.add_parser(
        "dead-letters",
        help="events a forwarding receiver refused for good; resend them once fixed",
    )
    dead.add_argument(
        "action", nargs="?", choices=["list", "resend"], default="list", help="(default: list)"
    )
    dead.add_argument("--sink", help="only this sink (its name in the config file)")
    dead.add_argument("--limit", type=_positive, default=50, help="how many (default 50)")
    dead.add_argument("--json", action="store_true", help="print JSON for programs")
    dashboard = sub.add_parser(
        "dashboard",
        help="open the local dashboard (charts of the report), served by the daemon",
        description="Have the daemon serve the dashboard on 127.0.0.1 (starting the daemon if "
        "needed), print its URL, which holds your private token, and open it in a browser. "
        "Set `dashboard = true` in the config file to serve it whenever the daemon runs.",
    )
    dashboard_cli.add_arguments(dashboard)
    doctor_cmd = sub.add_parser(
        "doctor", help="check that tracking works: hooks, daemon, permissions, data"
    )
    doctor_cmd.add_argument("--json", action="store_true", help="print JSON for programs")
    args = parser.parse_args(argv)
    paths = paths_mod.resolve()
    return reporting_to_stdout(lambda: _translated(args, paths))


def _translated(args: argparse.Namespace, paths: Paths) -> int:
    if args.command == "doctor":
        from skilltrack.cli import doctor

        return doctor.report(doctor.diagnose(paths, Path.home(), Path.cwd()), as_json=args.json)
    # The one place where what went wrong becomes a one-line message and an exit status.
    try:
        return _dispatch(args, paths)
    except BrokenPipeError:
        raise  # standard output's, not the database's: see main
    except ConfigError as exc:
        print(f"skilltrack: {exc}", file=sys.stderr)
        return 1
    except (sqlite3.Error, OSError) as exc:
        print(f"skilltrack: cannot use {paths.db}: {exc}", file=sys.stderr)
        return 1


def _dispatch(args: argparse.Namespace, paths: Paths) -> int:
    if args.command == "export":
        return export_cli.run(args, paths)
    if args.command in ("prune", "stats"):
        return maintenance_cli.run(args, paths)
    if args.command == "dashboard":
        return dashboard_cli.run(args, paths)
    if args.command == "rate":
        return rate_cli.run(args, paths)
    if args.command == "dead-letters":
        from skilltrack.cli import forward as forward_cli

        return forward_cli.run(args, paths)
    if args.command in ("consent", "snippets", "config"):
        from skilltrack.cli import privacy as privacy_cli

        return privacy_cli.run(args, paths)
    return _run(args, paths)


def _run(args: argparse.Namespace, paths: Paths) -> int:
    if args.command == "events":
        rows = db.read_rows(
            paths, Store, lambda s: s.recent_events(args.limit, with_payload=args.payload)
        )
        return _print_events([event_json(r) for r in rows], as_json=args.json)
    if args.command == "skills":
        found = db.read_rows(paths, Store, lambda s: s.skills())
        return _print_skills([skill_json(r) for r in found], as_json=args.json)
    return report_cli.run(args, paths)


def event_json(row: dict[str, Any]) -> dict[str, Any]:
    """An `events` row as `events --json` shows it."""
    event = dict(row)
    event["client_time"] = iso(event.pop("client_ts"))
    event["received_at"] = iso(event["received_at"])
    event["success"] = None if event["success"] is None else bool(event["success"])
    event["truncated"] = bool(event["truncated"])
    if "payload" in event:
        event["payload"] = json.loads(event["payload"])
    return event


def skill_json(row: dict[str, Any]) -> dict[str, Any]:
    """A skill with its versions, newest first, as `skills --json` shows it."""
    skill = dict(row)
    skill["first_seen"], skill["last_seen"] = iso(row["first_seen"]), iso(row["last_seen"])
    versions = []
    for v in row["versions"]:
        version = dict(v)
        version["first_seen"], version["last_seen"] = iso(v["first_seen"]), iso(v["last_seen"])
        versions.append(version)
    skill["versions"] = versions
    skill["current_version"] = versions[0]["version"] if versions else None
    skill["uses"] = sum(v["uses"] for v in versions)
    return skill


def _print_skills(skills: list[dict[str, Any]], *, as_json: bool) -> int:
    return listing(
        "skills",
        skills,
        as_json=as_json,
        empty="no skill used yet",
        headers=["SKILL", "SOURCE", "VERSION", "VERSIONS", "USES", "LAST USED", "WHERE"],
        row=lambda s: (
            s["name"],
            s["source"],
            s["current_version"],
            len(s["versions"]),
            s["uses"],
            s["last_seen"],
            s["location"],
        ),
    )


def _print_events(events: list[dict[str, Any]], *, as_json: bool) -> int:
    return listing(
        "events",
        events,
        as_json=as_json,
        empty="no events stored yet",
        headers=["TIME", "EVENT", "TYPE", "NAME", "RESULT", "MS", "SUBAGENT"],
        row=lambda e: (
            e["client_time"],
            e["hook_event"],
            e["artifact_type"],
            e["artifact_name"] or e["tool_name"],
            {True: "ok", False: "FAIL", None: None}[e["success"]],
            e["duration_ms"],
            e["agent_type"],
        ),
    )


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


if __name__ == "__main__":
    sys.exit(main())
