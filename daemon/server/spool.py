"""The spool: events that could not be handed over live, one line each, until replayed.

Hooks append to `events.spool` when the daemon is down or silent, and the daemon appends to it
when its buffer is full. Every writer appends under an exclusive `flock` and, once it holds the
lock, checks that its descriptor is still the file at the path. To replay, the daemon takes the
same lock and renames the file to `events.spool.replay-<ns>`: writers that were waiting then
see the rename and open a new spool, so no append can land in a file already read. A replay
file is deleted only after all its events are committed (or, for those the daemon refused for
a reason of its own, written to the retry file or set aside); one left by a crash is replayed
at the next start (event ids make that harmless). A file still under its `.partial-` name an
hour after it was last written lost its writer (killed mid-write): its whole records are
replayed and a record cut short is dropped (`adopt_stale_partials`).
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from skilltrack.paths import open_private
from skilltrack.wire import FLAG_TRUNCATED, RawFrame, encode_spool_record

if TYPE_CHECKING:  # the commands read the spool's backlog without loading the store
    from skilltrack.daemon.store.records import Record

SPOOL_NAME = "events.spool"
REPLAY_PREFIX = SPOOL_NAME + ".replay-"
# A spool file still being written by a writer that could not take the lock; renamed to a
# REPLAY_PREFIX name once whole.
PARTIAL_PREFIX = ".partial-"
# A writer fills its partial file in milliseconds; one untouched this long lost its writer.
PARTIAL_STALE_S = 3600.0
# Records the daemon refused for a reason of its own (an internal error), waiting for their
# next try; and those it gave up after many: kept, never replayed by itself, for a person or
# a later version to look at. Only the daemon writes either.
RETRY_NAME = "events.retry"
SET_ASIDE_NAME = "events.set-aside"
LOCK_WAIT_S = 0.05


def line_of(record: Record) -> bytes:
    """The spool line that replays `record` as the hook sent it."""
    if record.raw is not None:
        return encode_spool_record(record.raw)
    row = record.row
    flags = FLAG_TRUNCATED if row.truncated else "-"
    raw = RawFrame(row.event_id, f"{row.client_ts:.6f}", flags, row.payload.encode("utf-8"))
    return encode_spool_record(raw)


def append(spool_dir: Path, records: Sequence[bytes]) -> None:
    """Append whole records (each one line) to the spool; raises OSError if it cannot. If a
    peer holds the spool's lock for long, they go in a replay file of their own instead
    (appending without the lock could land in a file a replay has already read)."""
    spool_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = spool_dir / SPOOL_NAME
    data = b"".join(records)
    while True:
        fd = open_private(path, os.O_RDWR | os.O_APPEND | os.O_CREAT)
        try:
            if not _lock(fd):
                _append_alone(spool_dir, data)
                return
            if not _is_current(fd, path):
                continue
            if _cut_short(fd):  # disk full, a killed writer: it must not swallow these
                data = b"\n" + data
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            return
        finally:
            os.close(fd)


def _append_alone(spool_dir: Path, data: bytes) -> None:
    """`data` in a replay file of its own, made under another name and renamed whole (as
    the hook's spool_alone does)."""
    name = f"{REPLAY_PREFIX}{time.time_ns()}-{os.getpid()}"
    partial = spool_dir / f"{PARTIAL_PREFIX}{name}"
    fd = open_private(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    os.rename(partial, spool_dir / name)


def rotate(spool_dir: Path, name: str = SPOOL_NAME) -> Path | None:
    """Move the live spool (or the file `name` beside it) aside for replay; None if it is
    missing or empty."""
    path = spool_dir / name
    try:
        fd = open_private(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        # Unlike writers, never go on without the lock: a writer still appending to the file
        # we rename would finish after we had read it.
        if not _lock(fd):
            return None
        if not _is_current(fd, path) or os.fstat(fd).st_size == 0:
            return None
        target = spool_dir / f"{REPLAY_PREFIX}{time.time_ns()}"
        os.rename(path, target)
        return target
    finally:
        os.close(fd)


def collect(source: Path, spool_dir: Path) -> int:
    """Move the records waiting in the spool folder `source` (the fallback folder: what a
    shutdown or a hook could keep nowhere else) into the spool at `spool_dir`; how many. A
    file goes only once its records are in the spool (a crash in between only has them
    replayed twice, which event ids make harmless)."""
    adopt_stale_partials(source)
    rotate(source)  # under its lock: a hook still appending finishes first
    moved = 0
    for path in replay_files(source):
        lines = [line.rstrip(b"\n") + b"\n" for line in records(path)]
        append(spool_dir, lines)
        path.unlink()
        moved += len(lines)
    return moved


def adopt_stale_partials(spool_dir: Path, stale_s: float = PARTIAL_STALE_S) -> int:
    """Hand the partial files in `spool_dir` whose writer died (untouched for `stale_s`) to
    the replay: the whole records renamed to the replay name the writer would have given
    them, a record cut short at the end dropped, a file with no whole record removed. How
    many files were taken."""
    if not spool_dir.is_dir():
        return 0
    taken = 0
    cutoff = time.time() - stale_s
    for path in spool_dir.glob(PARTIAL_PREFIX + REPLAY_PREFIX + "*"):
        try:
            fd = open_private(path, os.O_RDWR)
        except FileNotFoundError:
            continue  # renamed by its writer meanwhile
        try:
            st = os.fstat(fd)
            if st.st_mtime > cutoff:
                continue  # its writer may be at work
            whole = _whole_length(fd, st.st_size)
            if whole:
                os.ftruncate(fd, whole)
                os.rename(path, spool_dir / path.name[len(PARTIAL_PREFIX) :])
            else:
                path.unlink()
        finally:
            os.close(fd)
        taken += 1
    return taken


def _whole_length(fd: int, size: int) -> int:
    """How many bytes of the file open on `fd` are whole records: up to its last newline."""
    end = size
    while end > 0:
        start = max(0, end - (1 << 16))
        newline = os.pread(fd, end - start, start).rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        end = start
    return 0


def replay_files(spool_dir: Path) -> list[Path]:
    """Files moved aside for replay and not yet finished, oldest first."""
    if not spool_dir.is_dir():
        return []
    return sorted(spool_dir.glob(REPLAY_PREFIX + "*"))


def records(path: Path) -> Iterator[bytes]:
    """The records of a replay file, read lazily (it may be large); blank lines skipped."""
    with open(open_private(path, os.O_RDONLY), "rb") as f:
        for line in f:
            if line.strip():
                yield line


def backlog(spool_dir: Path) -> tuple[int, int]:
    """(records, bytes) waiting in the spool and in unfinished replay files."""
    count = size = 0
    if not spool_dir.is_dir():
        return 0, 0
    for path in [spool_dir / SPOOL_NAME, spool_dir / RETRY_NAME, *replay_files(spool_dir)]:
        try:
            with open(open_private(path, os.O_RDONLY), "rb") as f:
                while chunk := f.read(1 << 20):
                    count += chunk.count(b"\n")
                    size += len(chunk)
        except FileNotFoundError:
            continue
    return count, size


def has_backlog(spool_dir: Path) -> bool:
    try:
        return (spool_dir / SPOOL_NAME).stat().st_size > 0 or bool(replay_files(spool_dir))
    except FileNotFoundError:
        return bool(replay_files(spool_dir))


class Held:
    """Records a replay holds back, written as they come to the file each is held in (a
    replay may hold back a whole spool's worth: not kept in memory)."""

    def __init__(self, spool_dir: Path) -> None:
        self._dir = spool_dir
        self._files: dict[str, BinaryIO] = {}

    def add(self, name: str, record: bytes) -> None:
        """Append `record` (one line) to the file `name` in the spool's folder."""
        out = self._files.get(name)
        if out is None:
            fd = open_private(self._dir / name, os.O_RDWR | os.O_APPEND | os.O_CREAT)
            cut_short = _cut_short(fd)
            out = self._files[name] = os.fdopen(fd, "ab")
            if cut_short:  # a record cut short (a crash) must not swallow this one
                out.write(b"\n")
        out.write(record if record.endswith(b"\n") else record + b"\n")

    def sync(self) -> None:
        """Make what was added durable: before the file it came from is deleted."""
        for out in self._files.values():
            out.flush()
            os.fsync(out.fileno())

    def close(self) -> None:
        for out in self._files.values():
            out.close()
        self._files.clear()


def _cut_short(fd: int) -> bool:
    """Whether the file open on `fd` ends in a record cut short (no final newline)."""
    size = os.fstat(fd).st_size
    return size > 0 and os.pread(fd, 1, size - 1) != b"\n"


def _lock(fd: int) -> bool:
    """Take the spool lock within LOCK_WAIT_S; returns whether it was taken.

    Writers hold it for one append. If it stays taken longer, a writer writes a file of its
    own rather than wait on a stuck peer.
    """
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.0005)


def _is_current(fd: int, path: Path) -> bool:
    try:
        st = path.stat()
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_ino, st.st_dev) == (mine.st_ino, mine.st_dev)
