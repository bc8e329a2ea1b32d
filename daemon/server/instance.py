"""One daemon per user: the instance lock, the pid file, and finding the running daemon.

The lock is an `flock` on `run/daemon.lock` held for the daemon's lifetime. A hook that starts
the daemon takes the lock first and hands the descriptor over (`SKILLTRACK_LOCK_FD`), so the
lock is never free between the decision to start and the daemon running.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from skilltrack.paths import Paths

LOCK_FD_ENV = "SKILLTRACK_LOCK_FD"


class AlreadyRunning(Exception):
    """Another daemon holds the instance lock."""


def acquire(paths: Paths) -> int:
    """Hold the instance lock (inherited from a starting hook, or taken now); returns its fd."""
    inherited = _inherited_lock(paths.lock)
    if inherited is not None:
        return inherited
    fd = os.open(paths.lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise AlreadyRunning(f"a skilltrack daemon already runs (pid {read_pid(paths)})") from None
    return fd


def _inherited_lock(lock: Path) -> int | None:
    value = os.environ.pop(LOCK_FD_ENV, None)
    if value is None or not value.isdigit():
        return None
    fd = int(value)
    try:
        mine, ours = os.fstat(fd), lock.stat()
    except OSError:
        return None
    if (mine.st_ino, mine.st_dev) != (ours.st_ino, ours.st_dev):
        return None
    # The same open file description already holds the lock: this succeeds at once.
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.set_inheritable(fd, False)
    return fd


def write_pid(paths: Paths) -> None:
    tmp = paths.pid.with_suffix(".tmp")
    tmp.write_text(f"{os.getpid()}\n")
    os.replace(tmp, paths.pid)


def read_pid(paths: Paths) -> int | None:
    try:
        return int(paths.pid.read_text().strip())
    except (OSError, ValueError):
        return None


def running_pid(paths: Paths) -> int | None:
    """The pid of the daemon holding the lock, or None if no daemon runs."""
    try:
        fd = os.open(paths.lock, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return read_pid(paths) or -1
    finally:
        os.close(fd)  # also releases a lock we got: there was no daemon
    return None
