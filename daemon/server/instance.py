"""One daemon per user: the instance lock, the pid file, and finding the running daemon.

The lock is an `flock` on `run/daemon.lock` held for the daemon's lifetime. A hook that starts
the daemon takes the lock first and hands the descriptor over (`SKILLTRACK_LOCK_FD`), so the
lock is never free between the decision to start and the daemon running.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from skilltrack.paths import Paths, open_private, write_private

LOCK_FD_ENV = "SKILLTRACK_LOCK_FD"


class AlreadyRunning(Exception):
    """Another daemon holds the instance lock."""


def acquire(paths: Paths) -> int:
    """Hold the instance lock (inherited from a starting hook, or taken now); returns its fd."""
    inherited = _inherited_lock(paths.lock)
    if inherited is not None:
        return inherited
    fd = open_private(paths.lock, os.O_RDWR | os.O_CREAT)
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
        mine, ours = os.fstat(fd), lock.lstat()
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
    write_private(tmp, f"{os.getpid()}\n".encode())
    os.replace(tmp, paths.pid)


def read_pid(paths: Paths) -> int | None:
    try:
        fd = open_private(paths.pid, os.O_RDONLY)
    except OSError:
        return None
    try:
        return int(os.read(fd, 64).strip())
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)


def running_pid(paths: Paths) -> int | None:
    """The pid of the daemon holding the lock, or None if no daemon runs."""
    try:
        fd = open_private(paths.lock, os.O_RDONLY)
    except OSError:  # none, or a link no daemon of ours would have taken (status says so)
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return read_pid(paths) or -1
    finally:
        os.close(fd)  # also releases a lock we got: there was no daemon
    return None
