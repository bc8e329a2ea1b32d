"""`skilltrack`: every command and option in one argparse tree, each command a function
(`handler`) in the module of its group, run through the one boundary (`parsing.run`).

The tree names each command's handler by its module and function, and the module is imported
only when the command runs: a command's start-up pays for its own module, not for every
command's. The tree itself is built from light code (the option types are parsing.py's), and
no command's module imports the daemon's libraries (asyncio, aiosqlite, pydantic) at its top:
`skilltrack report` on a machine that has recorded nothing needs none of them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib import import_module

from skilltrack import paths as paths_mod
from skilltrack.cli.parsing import (
    Handler,
    Parser,
    add_json,
    add_version,
    comment,
    days,
    hours,
    positive,
    project_option,
    rating,
    run,
    time_option,
)
from skilltrack.daemon.report.filters import ARTIFACT_TYPES, BY
from skilltrack.paths import InsecurePathError, Paths

# typing.TYPE_CHECKING without importing typing: see daemon/report/filters.py.
TYPE_CHECKING = False
if TYPE_CHECKING:
    Commands = argparse._SubParsersAction[Parser]

PROG = "skilltrack"


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parser(argv[0] if argv else None).parse_args(argv)
    paths = paths_mod.resolve()
    handler = load(args.handler)
    if getattr(args, "demo", False):
        handler = _on_demo(
            load("demo:dashboard_command") if args.command == "dashboard" else handler
        )

    def failure(exc: Exception) -> str | None:
        # Every command but doctor works on the database, so a file or SQLite error is said
        # as the database's; doctor also reads the settings files and the socket, where
        # that would mislead.
        import sqlite3  # here: only a command that failed pays for it

        if isinstance(exc, InsecurePathError):
            return f"not safe to use: {exc}"
        if isinstance(exc, OSError | sqlite3.Error) and args.command != "doctor":
            return f"cannot use {paths.db}: {exc}"
        return None

    return run(PROG, lambda: handler(args, paths), failure)


def _on_demo(handler: Handler) -> Handler:
    """`handler` run on the demo's database (skilltrack/cli/demo.py), never the real one."""

    def on_demo(args: argparse.Namespace, paths: Paths) -> int:
        from skilltrack.cli.demo import demo_paths

        return handler(args, demo_paths(paths))

    return on_demo


def add_demo(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument(
        "--demo", action="store_true", help="on the demo data (made by `skilltrack demo`)"
    )


def load(name: str) -> Handler:
    """The handler the tree names `module:function` (a module of skilltrack.cli), imported."""
    module, _, function = name.partition(":")
    handler: Handler = getattr(import_module(f"skilltrack.cli.{module}"), function)
    return handler


def parser(command: str | None = None) -> argparse.ArgumentParser:
    """The tree: every command's parser, or only `command`'s when it names one.

    argparse makes a whole parser for each command (~0.2 ms each here, much of it gettext
    looking for translations), and a command's arguments are read by its parser alone: a
    command line that names a command needs no other. Whatever names none (`--help`, a
    misspelt command) gets them all, for the list or the choices it shows.
    """
    top = Parser(
        prog=PROG,
        description="What Claude Code's skills, subagents, commands and tools were used for.",
    )
    add_version(top)
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, add in COMMANDS.items():
        if command not in COMMANDS or command == name:
            add(sub)
    return top


def _events(sub: Commands) -> None:
    cmd = sub.add_parser("events", help="the stored events, newest first")
    cmd.add_argument("--limit", type=positive, default=50, help="how many (default 50)")
    cmd.add_argument("--payload", action="store_true", help="include each raw payload")
    add_json(cmd)
    add_demo(cmd)
    cmd.set_defaults(handler="events:events_command")


def _report(sub: Commands) -> None:
    cmd = sub.add_parser(
        "report",
        help="uses, failures, durations and ratings per skill, agent, command and tool",
        description="What was used over a range of time: per artifact its uses, failures, "
        "p50/p95 duration, last use, rating and cost, then tokens, uses per day and each "
        "skill's versions side by side (with their tokens per use and cost). Times are UTC.",
    )
    cmd.add_argument(
        "--since",
        type=time_option,
        help="from this time: 2026-11-01, 2026-11-01T09:30 (UTC), or 7d, 12h",
    )
    cmd.add_argument("--until", type=time_option, help="up to (not including) this time")
    cmd.add_argument(
        "--project",
        type=project_option,
        help="only this project: its folder name or its path",
    )
    cmd.add_argument("--session", help="only this Claude Code session id")
    cmd.add_argument("--type", choices=ARTIFACT_TYPES, help="only this kind of artifact")
    cmd.add_argument(
        "--by",
        choices=BY,
        help="also list tokens and cost per session or per project (the costliest first)",
    )
    cmd.add_argument(
        "--unused-days",
        type=days,
        default=30,
        metavar="N",
        help="suggest removing installed skills not used in the last N days (default 30)",
    )
    add_json(cmd)
    add_demo(cmd)
    cmd.set_defaults(handler="report:report_command")


def _rate(sub: Commands) -> None:
    cmd = sub.add_parser(
        "rate", help="rate a skill you have used, 1 to 5 (your rating replaces your earlier one)"
    )
    cmd.add_argument("skill", help="the skill's name as `report` shows it (maybe plugin:name)")
    cmd.add_argument("rating", type=rating, help="1 (useless) to 5 (indispensable)")
    cmd.add_argument("--comment", type=comment, help="what you found (secrets are removed)")
    cmd.add_argument(
        "--hours-saved",
        type=hours,
        help="your estimate of the time it saved you, in hours",
    )
    add_json(cmd)
    cmd.set_defaults(handler="rate:rate_command")


def _skills(sub: Commands) -> None:
    cmd = sub.add_parser("skills", help="the skills and commands seen, with their versions")
    add_json(cmd)
    add_demo(cmd)
    cmd.set_defaults(handler="events:skills_command")


def _consent(sub: Commands) -> None:
    cmd = sub.add_parser(
        "consent", help="your own consent to keeping input/output snippets of your skill uses"
    )
    cmd.add_argument(
        "action",
        choices=["grant", "revoke", "status"],
        help="grant or revoke it (takes effect at the next event), or show where it stands",
    )
    cmd.add_argument(
        "--delete", action="store_true", help="with revoke: also delete what was captured"
    )
    add_json(cmd)
    cmd.set_defaults(handler="privacy:consent_command")


def _snippets(sub: Commands) -> None:
    cmd = sub.add_parser("snippets", help="the snippets captured with consent")
    cmd.add_argument(
        "action", nargs="?", choices=["list", "delete"], default="list", help="(default: list)"
    )
    cmd.add_argument("--limit", type=positive, default=20, help="how many (default 20)")
    add_json(cmd)
    cmd.set_defaults(handler="privacy:snippets_command")


def _config(sub: Commands) -> None:
    cmd = sub.add_parser(
        "config", help="check the configuration file and show the settings in effect"
    )
    add_json(cmd)
    cmd.set_defaults(handler="privacy:config_command")


def _export(sub: Commands) -> None:
    cmd = sub.add_parser(
        "export", help="every stored event as JSON Lines or CSV, streamed (any size)"
    )
    cmd.add_argument("--format", choices=["jsonl", "csv"], default="jsonl",
                     help="JSON Lines (default) or CSV with a header row")  # fmt: skip
    cmd.add_argument("--since", type=time_option, help="from this time (as for report)")
    cmd.add_argument("--until", type=time_option, help="up to (not including) this time")
    cmd.add_argument("--output", "-o", help="write to this file instead of standard output")
    what = cmd.add_mutually_exclusive_group()
    what.add_argument(
        "--ratings",
        action="store_true",
        help="the ratings given (skill, user, rating, comment, hours saved) instead of events",
    )
    add_demo(cmd)
    what.add_argument(
        "--requests",
        action="store_true",
        help="the API requests read from transcripts (model, tokens, cost, owning use) "
        "instead of events",
    )
    cmd.set_defaults(handler="export:export_command")


def _prune(sub: Commands) -> None:
    cmd = sub.add_parser(
        "prune",
        help="delete events older than the retention (the daemon also does it once a day)",
    )
    cmd.add_argument(
        "--older-than",
        type=days,
        metavar="DAYS",
        help="delete events older than this many days (default: retention_days of the config)",
    )
    cmd.add_argument("--dry-run", action="store_true", help="only say how many would go")
    cmd.add_argument(
        "--vacuum", action="store_true", help="then give the freed space back to the disk"
    )
    add_json(cmd)
    cmd.set_defaults(handler="maintenance:prune_command")


def _stats(sub: Commands) -> None:
    cmd = sub.add_parser(
        "stats", help="database size, rows per table, oldest event, schema version"
    )
    add_json(cmd)
    add_demo(cmd)
    cmd.set_defaults(handler="maintenance:stats_command")


def _dead_letters(sub: Commands) -> None:
    cmd = sub.add_parser(
        "dead-letters",
        help="events a forwarding receiver refused for good; resend them once fixed",
    )
    cmd.add_argument(
        "action", nargs="?", choices=["list", "resend"], default="list", help="(default: list)"
    )
    cmd.add_argument("--sink", help="only this sink (its name in the config file)")
    cmd.add_argument("--limit", type=positive, default=50, help="how many (default 50)")
    add_json(cmd)
    cmd.set_defaults(handler="forward:dead_letters_command")


def _dashboard(sub: Commands) -> None:
    cmd = sub.add_parser(
        "dashboard",
        help="open the local dashboard (charts of the report), served by the daemon",
        description="Have the daemon serve the dashboard on 127.0.0.1 (starting the daemon if "
        "needed), print its URL, which holds your private token, and open it in a browser. "
        "Set `dashboard = true` in the config file to serve it whenever the daemon runs.",
    )
    cmd.add_argument(
        "--no-open", action="store_true", help="print the URL only; do not open a browser"
    )
    add_json(cmd, help='print {"url": …} for programs')
    add_demo(cmd)
    cmd.set_defaults(handler="dashboard:dashboard_command")


def _pause(sub: Commands) -> None:
    cmd = sub.add_parser(
        "pause",
        help="stop keeping events until `skilltrack resume` (hooks exit at once)",
        description="Pause tracking: every hook exits at once and keeps nothing (no socket, "
        "no spool, no daemon start) until `skilltrack resume`. Events already spooled are "
        "still stored. `enabled = false` in the config file does the same.",
    )
    add_json(cmd)
    cmd.set_defaults(handler="tracking:pause_command")


def _resume(sub: Commands) -> None:
    cmd = sub.add_parser(
        "resume",
        help="keep events again after `skilltrack pause` (refused while the config file "
        "says enabled = false)",
    )
    add_json(cmd)
    cmd.set_defaults(handler="tracking:resume_command")


def _demo(sub: Commands) -> None:
    cmd = sub.add_parser(
        "demo",
        help="fill a separate demo database with a month of made-up usage, to try the reports",
        description="Make a month of realistic, made-up usage (skills with versions and "
        "ratings, subagents, MCP tools, commands, failures, tokens and cost) in a database "
        "of its own, never mixed with yours; then look at it with `--demo` on report, "
        "dashboard, events, skills, stats and export. Made again whole each time.",
    )
    cmd.add_argument("--seed", type=int, default=1, help="the same seed makes the same data")
    cmd.add_argument(
        "--days", type=positive, default=30, help="how many days back from now (default 30)"
    )
    cmd.add_argument("--remove", action="store_true", help="delete the demo data")
    add_json(cmd)
    cmd.set_defaults(handler="demo:demo_command")


def _doctor(sub: Commands) -> None:
    cmd = sub.add_parser(
        "doctor", help="check that tracking works: hooks, daemon, permissions, data"
    )
    add_json(cmd)
    cmd.set_defaults(handler="doctor:doctor_command")


# Each command's parser, in the order `skilltrack --help` lists them.
COMMANDS: dict[str, Callable[[Commands], None]] = {
    "events": _events,
    "report": _report,
    "rate": _rate,
    "skills": _skills,
    "consent": _consent,
    "snippets": _snippets,
    "config": _config,
    "export": _export,
    "prune": _prune,
    "stats": _stats,
    "dead-letters": _dead_letters,
    "dashboard": _dashboard,
    "demo": _demo,
    "pause": _pause,
    "resume": _resume,
    "doctor": _doctor,
}


if __name__ == "__main__":
    sys.exit(main())
