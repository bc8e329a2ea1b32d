"""`skilltrack-daemon start | stop | status [--json] | run`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import logging.handlers
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

import uvloop

from skilltrack import config
from skilltrack import paths as paths_mod
from skilltrack.daemon.server import instance, spool
from skilltrack.daemon.server.lifecycle import Daemon, StartupError
from skilltrack.daemon.store.outbox import ForwardStore
from skilltrack.format import iso, reporting_to_stdout
from skilltrack.paths import InsecurePathError, Paths
from skilltrack.wire import CONTROL

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="skilltrack-daemon",
        description="The skilltrack daemon: receives Claude Code hook events and stores them.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("start", help="start the daemon in the background (no-op if running)")
    sub.add_parser("stop", help="stop the running daemon, committing what it holds")
    status = sub.add_parser("status", help="show whether it runs, its paths and counters")
    status.add_argument("--json", action="store_true", help="print JSON for programs")
    sub.add_parser("run", help="run in the foreground (what `start` runs)")
    args = parser.parse_args(argv)
    paths = paths_mod.resolve()
    return reporting_to_stdout(lambda: _translated(args, paths))


def _translated(args: argparse.Namespace, paths: Paths) -> int:
    """The command's exit status; what went wrong becomes a one-line message."""
    try:
        if args.command == "run":
            return run(paths)
        if args.command == "start":
            return start(paths)
        if args.command == "stop":
            return stop(paths)
        return show_status(paths, as_json=args.json)
    except (StartupError, instance.AlreadyRunning, InsecurePathError, config.ConfigError) as exc:
        print(f"skilltrack-daemon: {exc}", file=sys.stderr)
        return 1


def run(paths: Paths) -> int:
    os.umask(0o077)  # before the log file is created: nothing we write is for other users
    os.chdir("/")  # a long-lived process should not pin whatever directory it was started in
    _setup_logging(paths)
    try:
        # Not half-configured: a bad file stops the daemon here, and hooks spool meanwhile.
        daemon = Daemon(paths, config.load(paths.config))
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(daemon.serve())
    except (StartupError, instance.AlreadyRunning, InsecurePathError, config.ConfigError) as exc:
        logging.getLogger(__name__).error("not starting: %s", exc)
        if not isinstance(exc, instance.AlreadyRunning):  # a running daemon is no failure
            with contextlib.suppress(OSError):
                paths.start_failed.write_text(f"{exc}\n")
        raise
    return 1 if daemon.failed else 0


def start(paths: Paths) -> int:
    pid = instance.running_pid(paths)
    if pid is not None:
        print(f"skilltrack daemon already running (pid {pid})")
        return 0
    check_config(paths)
    os.umask(0o077)  # the log and directories made here are for this user alone
    paths.log.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(paths.log, "ab") as log_file:
        child = subprocess.Popen(
            [sys.executable, "-P", "-m", "skilltrack.daemon", "run"],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            start_new_session=True,
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if child.poll() is not None:
            why = f"exited at start (code {child.returncode})"
            with contextlib.suppress(OSError):
                why = "not starting: " + paths.start_failed.read_text().strip()
            print(f"skilltrack-daemon: {why}; see {paths.log}", file=sys.stderr)
            return 1
        if query_status(paths) is not None:
            print(f"skilltrack daemon started (pid {child.pid}), socket {paths.socket}")
            print("check it with: skilltrack-daemon status")
            return 0
        time.sleep(0.05)
    print(
        f"skilltrack-daemon: no answer within {START_TIMEOUT_S:.0f}s; see {paths.log}",
        file=sys.stderr,
    )
    return 1


def stop(paths: Paths) -> int:
    pid = instance.running_pid(paths)
    if pid is None:
        print("skilltrack daemon is not running")
        return 0
    if pid <= 0:
        print("skilltrack-daemon: the daemon's pid file is missing", file=sys.stderr)
        return 1
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        if instance.running_pid(paths) is None:
            print(f"skilltrack daemon stopped (pid {pid})")
            return 0
        time.sleep(0.05)
    print(
        f"skilltrack-daemon: pid {pid} did not stop within {STOP_TIMEOUT_S:.0f}s", file=sys.stderr
    )
    return 1


def query_status(paths: Paths, timeout: float = 2.0) -> dict[str, Any] | None:
    """The running daemon's own status over its socket, or None if it does not answer."""
    return control(paths, "status", timeout)


def control(paths: Paths, command: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """The running daemon's JSON answer to a control command, or None if it does not answer."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(os.fspath(paths.socket))
            s.sendall(CONTROL + b" " + command.encode() + b"\n")
            s.shutdown(socket.SHUT_WR)
            data = b""
            while chunk := s.recv(65536):
                data += chunk
    except OSError:
        return None
    try:
        answer = json.loads(data)
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


def collect_status(paths: Paths) -> dict[str, Any]:
    """Everything `status` shows: the daemon's own view if it runs, and what is on disk."""
    live = query_status(paths)
    if live is None:
        pid = instance.running_pid(paths)
        live = {"running": False, "pid": pid if pid and pid > 0 else None}
        if pid is not None:
            live["problem"] = "the daemon holds its lock but does not answer on its socket"
        elif (refused := config_problem(paths)) is not None:
            live["problem"] = "it cannot start with its configuration: " + refused
        elif paths.start_failed.exists():
            live["problem"] = "the last start failed: " + paths.start_failed.read_text().strip()
    records, size = spool.backlog(paths.spool_dir)
    live["paths"] = {
        "socket": str(paths.socket),
        "database": str(paths.db),
        "spool": str(paths.spool),
        "log": str(paths.log),
        "config": str(paths.config),
    }
    live["spool"] = {"records": records, "bytes": size}
    live["database"], sinks = asyncio.run(_database_status(paths))
    live["forwarding"] = forwarding_status(sinks, live.get("forwarding", {}), time.time())
    return live


def check_config(paths: Paths) -> None:
    """What `start` checks before it starts a daemon, so that a bad file or an unreadable API
    key is named to the user, not only in the daemon's log: ConfigError if it fails."""
    config.read_sink_keys(config.load(paths.config))


def config_problem(paths: Paths) -> str | None:
    """Why `start` would refuse the configuration (check_config), or None: after such a
    refusal no daemon ran to leave a reason behind, so status looks for itself."""
    try:
        check_config(paths)
    except config.ConfigError as exc:
        return str(exc)
    return None


async def _database_status(paths: Paths) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    if not paths.db.exists():
        return {"events": 0, "bytes": 0, "last_event_at": None}, []
    try:
        store = await ForwardStore.open_readonly(paths.db)
        try:
            last = await store.last_event_time()
            database = {
                "events": await store.count_events(),
                "bytes": paths.db.stat().st_size,
                "last_event_at": iso(last),
            }
            return database, await store.sink_status()
        finally:
            await store.close()
    except sqlite3.Error as exc:  # status must still show the rest
        return {"events": None, "bytes": None, "last_event_at": None, "error": str(exc)}, []


def forwarding_status(
    sinks: list[dict[str, Any]], live: dict[str, dict[str, Any]], now: float
) -> list[dict[str, Any]]:
    """Each sink as the database knows it (backlog, counters, dead letters, last success and
    error) with what only the running daemon knows (paused, retrying)."""
    shown = []
    for sink in sinks:
        oldest = sink.pop("oldest_queued_at")
        sink["oldest_pending_age_s"] = None if oldest is None else round(now - oldest, 1)
        for key in ("last_success", "last_error_at"):
            sink[key] = iso(sink[key])
        sink.update(live.get(sink["name"], {}))
        if sink.get("next_retry_at") is not None:
            sink["next_retry_at"] = iso(sink["next_retry_at"])
        if sink["enabled"] or sink["backlog"] or sink["dead_letters"]:
            shown.append(sink)
    return shown


def show_status(paths: Paths, *, as_json: bool) -> int:
    status = collect_status(paths)
    if as_json:
        print(json.dumps(status, indent=2))
        return 0
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
        print(f"  dashboard  {_dashboard_state(status['dashboard'])}")
    else:
        print(
            "skilltrack daemon is not running"
            + (f": {status['problem']}" if "problem" in status else "")
        )
    if "error" in db:
        print(f"  database   UNREADABLE: {db['error']}")
    else:
        print(f"  events     {db['events']} stored, last at {db['last_event_at'] or 'never'}")
    print(f"  spool      {sp['records']} events waiting ({sp['bytes']} bytes)")
    for sink in status["forwarding"]:
        print(_sink_line(sink))
    for name, path in status["paths"].items():
        print(f"  {name:<10} {path}")
    return 0


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
        + (f", oldest {age:.0f}s" if age is not None else ""),
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


def _setup_logging(paths: Paths) -> None:
    paths.log.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    handlers: list[logging.Handler] = [
        logging.handlers.RotatingFileHandler(paths.log, maxBytes=1 << 20, backupCount=3)
    ]
    if sys.stderr.isatty():
        handlers.append(logging.StreamHandler())
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
    )
