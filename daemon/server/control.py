"""The daemon process seen from outside it: run it, start it detached, stop it, ask how it is.

What `skilltrack-daemon`, `skilltrack dashboard`, `skilltrack doctor` and the installer share.
Nothing here prints: a failure is raised as `ControlError`, a one-line reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import logging.handlers
import os
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skilltrack import config, pause
from skilltrack.daemon.server import instance, spool
from skilltrack.daemon.store.outbox import ForwardStore
from skilltrack.errors import ControlError, StartupError
from skilltrack.format import iso
from skilltrack.paths import (
    InsecurePathError,
    Paths,
    dir_problem,
    ensure_private_dir,
    ensure_private_dirs,
    file_problem,
    open_private,
    trust_problem,
    write_private,
)
from skilltrack.wire import CONTROL

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0


def run(paths: Paths) -> int:
    """Be the daemon, in this process, until it is stopped: its exit status. A daemon that
    cannot start raises (StartupError, AlreadyRunning, InsecurePathError, ConfigError), and
    leaves the reason in `paths.start_failed` for status and the hooks to find."""
    # Imported here: only the daemon's own process pays for its server and event loop.
    import uvloop

    from skilltrack.daemon.server.lifecycle import Daemon

    os.umask(0o077)  # before the log file is created: nothing we write is for other users
    os.chdir("/")  # a long-lived process should not pin whatever directory it was started in
    logging_to_file = False
    try:
        _setup_logging(paths)
        logging_to_file = True
        # Not half-configured: a bad file stops the daemon here, and hooks spool meanwhile.
        daemon = Daemon(paths, config.load(paths.config))
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(daemon.serve())
    except (StartupError, instance.AlreadyRunning, InsecurePathError, config.ConfigError) as exc:
        if logging_to_file:  # else the command line's one line says it, on stderr
            logging.getLogger(__name__).error("not starting: %s", exc)
        # A running daemon is no failure. The note goes only in a run directory that is the
        # user's alone (where hooks would start a daemon and look for it): none is left where
        # another user could read it or plant a link (status finds that problem itself).
        if not isinstance(exc, instance.AlreadyRunning) and _private(paths.run_dir):
            with contextlib.suppress(OSError):
                write_private(paths.start_failed, f"{exc}\n".encode())
        raise
    return 1 if daemon.failed else 0


@dataclass(frozen=True)
class Started:
    pid: int
    already_running: bool


def start(paths: Paths) -> Started:
    """Start the daemon detached, unless it runs, and wait until it answers on its socket.
    ControlError (or ConfigError, before anything is spawned) says why it did not."""
    pid = instance.running_pid(paths)
    if pid is not None:
        return Started(pid, already_running=True)
    check_config(paths)
    os.umask(0o077)  # the log and directories made here are for this user alone
    try:
        ensure_private_dirs(paths)
    except InsecurePathError as exc:
        raise ControlError(f"not starting: {exc}") from None
    with open(open_private(paths.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT), "ab") as log_file:
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
            raise ControlError(f"{why}; see {paths.log}")
        if query_status(paths) is not None:
            return Started(child.pid, already_running=False)
        time.sleep(0.05)
    raise ControlError(f"no answer within {START_TIMEOUT_S:.0f}s; see {paths.log}")


def stop(paths: Paths) -> int | None:
    """Stop the running daemon (SIGTERM: it commits what it holds) and wait until it has
    gone: its pid, or None if none ran. ControlError if it cannot be stopped."""
    pid = instance.running_pid(paths)
    if pid is None:
        return None
    if pid <= 0:
        raise ControlError("the daemon's pid file is missing")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        if instance.running_pid(paths) is None:
            return pid
        time.sleep(0.05)
    raise ControlError(f"pid {pid} did not stop within {STOP_TIMEOUT_S:.0f}s")


def query_status(paths: Paths, timeout: float = 2.0) -> dict[str, Any] | None:
    """The running daemon's own status over its socket, or None if it does not answer."""
    return control(paths, "status", timeout)


def control(paths: Paths, command: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """The running daemon's JSON answer to a control command, or None if it does not answer."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(os.fspath(paths.socket))
            if server_uid(s, paths.socket) != os.getuid():
                return None  # not our daemon: an impostor hears nothing and is not believed
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


def server_uid(s: socket.socket, path: Path) -> int:
    """The uid the daemon at the other end of `s` runs as: its peer credentials (Linux's
    SO_PEERCRED; LOCAL_PEERCRED on macOS and FreeBSD), else the socket file's owner."""
    platform: str = sys.platform  # (not narrowed by mypy: the code is checked on Linux)
    with contextlib.suppress(OSError):
        if platform == "linux":
            creds = s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
            return int(struct.unpack("i2I", creds)[1])  # struct ucred: pid, uid, gid
        if platform == "darwin" or platform.startswith("freebsd"):
            # struct xucred: cr_version (0), then cr_uid. SOL_LOCAL and LOCAL_PEERCRED.
            creds = s.getsockopt(0, 1, XUCRED_SIZE)
            version, uid = struct.unpack("2I", creds[:8])
            if version == 0:
                return int(uid)
    return path.lstat().st_uid


XUCRED_SIZE = 76  # u_int, uid_t, short (padded), 16 gid_t


def collect_status(paths: Paths) -> dict[str, Any]:
    """Everything `status` shows: the daemon's own view if it runs, and what is on disk."""
    unsafe = trust_problem(paths)
    live = query_status(paths)
    if live is None:
        pid = instance.running_pid(paths)
        live = {"running": False, "pid": pid if pid and pid > 0 else None}
        if pid is not None:
            live["problem"] = "the daemon holds its lock but does not answer on its socket"
        elif unsafe is not None:
            live["problem"] = "its state is not safe: " + unsafe
        elif (refused := config_problem(paths)) is not None:
            live["problem"] = "it cannot start with its configuration: " + refused
        elif paths.start_failed.exists():
            live["problem"] = "the last start failed: " + paths.start_failed.read_text().strip()
    live["unsafe"] = unsafe
    live["tracking"] = tracking_status(paths)
    records, size = spool.backlog(paths.spool_dir)
    live["paths"] = {
        "socket": str(paths.socket),
        "database": str(paths.db),
        "spool": str(paths.spool),
        "log": str(paths.log),
        "config": str(paths.config),
    }
    # What hooks kept in the fallback folder, the spool's directory being unsafe (or full).
    kept = spool.backlog(paths.fallback_spool_dir)[0] if _private(paths.fallback_spool_dir) else 0
    live["spool"] = {"records": records, "bytes": size, "fallback_records": kept}
    live["paths"]["fallback"] = str(paths.fallback_spool_dir)
    live["database"], sinks = asyncio.run(_database_status(paths))
    live["forwarding"] = forwarding_status(sinks, live.get("forwarding", {}), time.time())
    return live


def tracking_status(paths: Paths) -> dict[str, Any]:
    """Whether hooks keep events: the pause marker they look for (skilltrack/pause.py), and
    the config file's `enabled` (None if the file cannot be used), which the marker follows
    only from the daemon's next start or `skilltrack config`."""
    try:
        enabled: bool | None = config.load(paths.config).enabled
    except config.ConfigError:
        enabled = None
    return {**pause.describe(pause.read(paths)), "config_enabled": enabled}


def _private(path: Path) -> bool:
    return os.path.lexists(path) and dir_problem(path) is None


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
                "bytes": paths.db_bytes(),
                "last_event_at": iso(last),
            }
            return database, await store.sink_status()
        finally:
            await store.close()
    except (sqlite3.Error, OSError, InsecurePathError) as exc:  # status must show the rest
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
        if sink["enabled"] or sink["backlog"] or sink["usage_backlog"] or sink["dead_letters"]:
            shown.append(sink)
    return shown


class _PrivateLog(logging.handlers.RotatingFileHandler):
    """The daemon's log, opened (and reopened at each rotation) without following a link, and
    made 0600."""

    def _open(self) -> Any:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        return open(open_private(self.baseFilename, flags), "a", encoding=self.encoding)


def _setup_logging(paths: Paths) -> None:
    ensure_private_dir(paths.log.parent)  # InsecurePathError: the start fails, said on stderr
    try:
        handlers: list[logging.Handler] = [_PrivateLog(paths.log, maxBytes=1 << 20, backupCount=3)]
    except OSError as exc:
        problem = file_problem(paths.log) or f"cannot open the log {paths.log}: {exc}"
        raise StartupError(problem) from None
    if sys.stderr.isatty():
        handlers.append(logging.StreamHandler())
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
    )
