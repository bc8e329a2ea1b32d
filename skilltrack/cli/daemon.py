"""`skilltrack-daemon start | stop | status [--json] | run`."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

from skilltrack import paths as paths_mod
from skilltrack.cli.parsing import DAEMON, Handler, Parser, add_json, add_version, run
from skilltrack.daemon.server.instance import AlreadyRunning
from skilltrack.errors import StartupError
from skilltrack.paths import InsecurePathError, Paths

NOT_RUNNING = 3  # `status`'s exit status when no daemon runs (LSB's "program is not running")


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    paths = paths_mod.resolve()
    handler: Handler = args.handler

    def failure(exc: Exception) -> str | None:
        # Why the daemon cannot run (a ConfigError or ControlError: see parsing.run).
        known = StartupError | AlreadyRunning | InsecurePathError
        return str(exc) if isinstance(exc, known) else None

    return run(DAEMON, lambda: handler(args, paths), failure)


def parser() -> argparse.ArgumentParser:
    top = Parser(
        prog=DAEMON,
        description="The skilltrack daemon: receives Claude Code hook events and stores them.",
    )
    add_version(top)
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    cmd = sub.add_parser("start", help="start the daemon in the background (no-op if running)")
    cmd.set_defaults(handler=start_command)
    cmd = sub.add_parser("stop", help="stop the running daemon, committing what it holds")
    cmd.set_defaults(handler=stop_command)
    cmd = sub.add_parser(
        "status",
        help="show whether it runs, its paths and counters (exit status 3 if it does not run)",
    )
    add_json(cmd)
    cmd.set_defaults(handler=status_command)
    cmd = sub.add_parser("run", help="run in the foreground (what `start` runs)")
    cmd.set_defaults(handler=run_command)
    return top


def run_command(args: argparse.Namespace, paths: Paths) -> int:
    """Be the daemon, in this process, until it is stopped."""
    from skilltrack.daemon.server import control

    return control.run(paths)


def start_command(args: argparse.Namespace, paths: Paths) -> int:
    return start(paths)


def start(paths: Paths) -> int:
    """Start the daemon and say so (on stdout, for people); ControlError if it did not.
    (`skilltrack dashboard` and the installer start it too.)"""
    from skilltrack.daemon.server import control

    started = control.start(paths)
    if started.already_running:
        print(f"skilltrack daemon already running (pid {started.pid})")
    else:
        print(f"skilltrack daemon started (pid {started.pid}), socket {paths.socket}")
        print("check it with: skilltrack-daemon status")
    return 0


def stop_command(args: argparse.Namespace, paths: Paths) -> int:
    from skilltrack.daemon.server import control

    pid = control.stop(paths)
    if pid is None:
        print("skilltrack daemon is not running")
    else:
        print(f"skilltrack daemon stopped (pid {pid})")
    return 0


def status_command(args: argparse.Namespace, paths: Paths) -> int:
    from skilltrack.daemon.server import control

    status = control.collect_status(paths)
    # As an init script's `status` (LSB): 0 running, 3 not running, whatever else is printed.
    exit_status = 0 if status["running"] else NOT_RUNNING
    if args.json:
        print(json.dumps(status, indent=2))
        return exit_status
    db, sp = status["database"], status["spool"]
    if status["running"]:
        c = status["counters"]
        print(f"skilltrack daemon running (pid {status['pid']}, up {status['uptime_s']:.0f}s)")
        print(
            f"  buffer     {status['buffer']['pending']} pending of {status['buffer']['capacity']}"
        )
        store = status["store"]
        print(
            f"  store      {'ok' if store['healthy'] else 'DEGRADED: ' + str(store['last_error'])}"
        )
        if store.get("quarantined"):
            print(f"  QUARANTINED {store['quarantined']}")
        if store.get("lost_at_last_shutdown"):
            print(f"  LOST       {store['lost_at_last_shutdown']}")
        print(
            f"  since start: {c['stored']} stored, {c['duplicates']} duplicates, "
            f"{c['replayed']} replayed from spool, {c['spooled']} spooled"
        )
        st = status["settings"]
        print(
            f"  identity   tenant {st['tenant_id']}, user {st['user_id']}; paths kept as "
            f"{st['paths']}; snippet policy {'on' if st['snippet_policy'] else 'off'}"
        )
        print(f"  rejected   {_by_reason(c['rejected'])}")
        print(f"  dropped    {_by_reason(c['dropped'])}")
        read = dict(status.get("transcripts") or {})
        if read:
            requests, pending = read.pop("requests", 0), read.pop("pending", 0)
            print(
                f"  usage      {requests} requests read from transcripts, {pending} sessions "
                f"waiting; not read: {_by_reason(read)}"
            )
        print(f"  dashboard  {_dashboard_state(status['dashboard'])}")
    else:
        print(
            "skilltrack daemon is not running"
            + (f": {status['problem']}" if "problem" in status else "")
        )
    print(f"  tracking   {tracking_line(status['tracking'], paths)}")
    if status["unsafe"] and status["running"]:  # (if not running, the problem said it)
        print(f"  UNSAFE     {status['unsafe']}")
    if "error" in db:
        print(f"  database   UNREADABLE: {db['error']}")
    else:
        print(f"  events     {db['events']} stored, last at {db['last_event_at'] or 'never'}")
    print(f"  spool      {sp['records']} events waiting ({sp['bytes']} bytes)")
    if sp["fallback_records"]:
        print(f"  fallback   {sp['fallback_records']} events kept in {status['paths']['fallback']}")
    for sink in status["forwarding"]:
        print(_sink_line(sink))
    for name, path in status["paths"].items():
        print(f"  {name:<10} {path}")
    return exit_status


def tracking_line(tracking: dict[str, Any], paths: Paths) -> str:
    """Whether hooks keep events, as status and doctor say it."""
    if tracking["paused"]:
        if tracking["config_enabled"] is False:
            how = f"set enabled = true in {paths.config}, then run skilltrack resume"
            return f"PAUSED since {tracking['since']} (enabled = false): to resume, {how}"
        return f"PAUSED since {tracking['since']} (skilltrack pause): hooks keep nothing; " + (
            "skilltrack resume keeps events again"
        )
    if tracking["config_enabled"] is False:
        return (
            f"on, though {paths.config} says enabled = false: run skilltrack config "
            "(or restart the daemon) to apply it"
        )
    return "on"


def _dashboard_state(dashboard: dict[str, Any]) -> str:
    if dashboard["error"]:
        return f"FAILED: {dashboard['error']}"
    if dashboard["port"] is None:
        return "not served (`skilltrack dashboard` serves and opens it)"
    return f"on 127.0.0.1:{dashboard['port']} (`skilltrack dashboard` opens it)"


def _sink_line(sink: dict[str, Any]) -> str:
    c = sink["counters"]
    state = "not configured" if not sink["enabled"] else "ok"
    if sink.get("paused"):
        state = f"PAUSED ({sink['paused']})"
    elif sink.get("next_retry_at"):
        state = f"retrying at {sink['next_retry_at']} (attempt {sink['failed_attempts_in_a_row']})"
    age = sink["oldest_pending_age_s"]
    lines = [
        f"  forward    {sink['name']} ({sink['kind']}): {state}; {sink['backlog']} waiting"
        + (f", oldest {age:.0f}s" if age is not None else "")
        + (f"; {sink['usage_backlog']} usage records waiting" if sink["usage_backlog"] else ""),
        f"             delivered {c['delivered']}, retried {c['retried']}, dead {c['dead']}, "
        f"expired {c['expired']}, overflow {c['overflow']}, rejected by receiver "
        f"{c['rejected']}; last success {sink['last_success'] or 'never'}",
    ]
    if sink["dead_letters"]:
        lines.append(
            f"             dead letters by status: {_by_reason(sink['dead_letters'])} "
            "(skilltrack dead-letters resend)"
        )
    if sink["last_error"]:
        lines.append(f"             last error {sink['last_error_at']}: {sink['last_error']}")
    return "\n".join(lines)


def _by_reason(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"
