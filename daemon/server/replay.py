"""Spool replay: events that waited in the spool go through the writer, as live ones do.

Every second, while the store is healthy, the spool is renamed aside (so hooks append to a new
one meanwhile) and its records are parsed and submitted; a file is deleted only once each of
its records is committed (or refused for good, counted), so a crash in between replays it
again and the store's unique event id keeps the count exact. Before each look, records kept
in the fallback folder (by hooks that found the spool's directory unsafe, or by a shutdown on
a full disk) are moved into the spool.

A record refused for a reason of ours (an internal error: a passing fault, or a bug a later
version fixes) is not deleted: it waits in the retry file, tried again after the daemon's
Backoff (1-2 s, then 2-4 s, … up to 5 min), and after REPLAY_ATTEMPTS tries (over 6 minutes
at least) it is set aside in a file of its own. The retry file
is taken out only when its first record is due, not read again every second.

Once a minute (the first at start), partial files whose writer died mid-write are given to
the replay (spool.adopt_stale_partials): otherwise nothing would ever read or remove them.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path

from skilltrack.daemon.backoff import Backoff
from skilltrack.daemon.server import spool
from skilltrack.daemon.server.counters import Counters
from skilltrack.daemon.server.writer import BufferFull, Unstorable, Writer
from skilltrack.daemon.store.records import Record
from skilltrack.wire import FrameError, RawFrame, decode_spool_record

log = logging.getLogger(__name__)

REPLAY_INTERVAL_S = 1.0
PARTIAL_SWEEP_S = 60.0
REPLAY_CHUNK = 500  # records submitted before waiting for their commits
REPLAY_ATTEMPTS = 10
REPLAY_BACKOFF_S = 2.0
REPLAY_BACKOFF_MAX_S = 300.0

# Decode (a frame or a spool record), validate and classify; a refusal is counted and raised
# as FrameError (Daemon.parse).
Parse = Callable[[Callable[[bytes], RawFrame], bytes], Record]


class SpoolReplay:
    def __init__(
        self,
        spool_dir: Path,
        writer: Writer,
        parse: Parse,
        reject: Callable[[str], None],
        counters: Counters,
        collect: Callable[[], None] = lambda: None,
    ) -> None:
        self._dir = spool_dir
        self._collect = collect  # brings records kept elsewhere into the spool
        self._writer = writer
        self._parse = parse
        self._reject = reject
        self._counters = counters
        # Records refused for a reason of ours: event id → (tries, not before), and when the
        # first in the retry file is due (at once for one an earlier daemon left).
        self._tries: dict[str, tuple[int, float]] = {}
        self._retry_due = 0.0
        # At least half of each wait: the tries before a record is set aside must span
        # minutes, long enough for a passing fault to pass.
        self._backoff = Backoff(REPLAY_BACKOFF_S, REPLAY_BACKOFF_MAX_S, least=0.5)

    async def run(self) -> None:
        next_sweep = 0.0
        while True:
            self._collect()
            if time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + PARTIAL_SWEEP_S
                self._adopt_stale_partials()
            if self._writer.healthy and (spool.has_backlog(self._dir) or self._retries_due()):
                try:
                    await self._replay()
                except OSError as exc:
                    log.warning("spool replay failed, will retry: %s", exc)
            await asyncio.sleep(REPLAY_INTERVAL_S)

    def _adopt_stale_partials(self) -> None:
        try:
            taken = spool.adopt_stale_partials(self._dir)
        except OSError as exc:
            log.warning("could not take stale partial spool files, will retry: %s", exc)
            return
        if taken:
            log.warning("took %d partial spool files whose writer died mid-write", taken)

    def _retries_due(self) -> bool:
        return time.monotonic() >= self._retry_due and (self._dir / spool.RETRY_NAME).exists()

    async def _replay(self) -> None:
        files = spool.replay_files(self._dir)
        names = [spool.SPOOL_NAME]
        if self._retries_due():
            names.append(spool.RETRY_NAME)
            self._retry_due = math.inf  # taken out whole: due when a record goes back in
        elif not (self._dir / spool.RETRY_NAME).exists():
            self._retry_due = math.inf
        for name in names:
            rotated = spool.rotate(self._dir, name)
            if rotated is not None:
                files.append(rotated)
        held = spool.Held(self._dir)
        try:
            for path in files:
                if not await self._replay_file(path, held):
                    return
                held.sync()  # before the file goes: a crash in between only replays it again
                path.unlink()
                log.info("replayed spool file %s", path.name)
        finally:
            held.close()

    async def _replay_file(self, path: Path, held: spool.Held) -> bool:
        """Submit every record of a spool file; True once all are committed. Those refused
        for a reason of ours go to `held`'s retry file (or, after REPLAY_ATTEMPTS tries, are
        set aside), as do those whose next try is not due yet."""
        futures: list[asyncio.Future[bool]] = []
        for line in spool.records(path):
            await asyncio.sleep(0)  # a record may be a megabyte to validate: let hooks in first
            try:
                raw = decode_spool_record(line)
            except FrameError as exc:
                self._counters.replayed += 1
                self._reject(exc.reason)  # cut short: nothing to retry
                continue
            tries = self._tries.get(raw.event_id)
            if tries is not None and tries[1] > time.monotonic():
                self._retry_later(held, line, tries[1])  # not yet: back in the retry file
                continue
            self._counters.replayed += 1
            try:
                record = self._parse(lambda _: raw, line)  # noqa: B023 (called at once)
            except FrameError as exc:
                if exc.retry:
                    self._failed_try(held, raw.event_id, line)
                continue  # counted
            self._tries.pop(raw.event_id, None)
            while True:
                try:
                    futures.append(self._writer.submit(record))
                    break
                except BufferFull:  # live traffic comes first: wait for room
                    if not await _all_committed(futures):
                        return False
                    futures = []
                    await asyncio.sleep(0.1)
            if len(futures) >= REPLAY_CHUNK:
                if not await _all_committed(futures):
                    return False
                futures = []
        return await _all_committed(futures)

    def _failed_try(self, held: spool.Held, event_id: str, line: bytes) -> None:
        tries = self._tries.get(event_id, (0, 0.0))[0] + 1
        if tries >= REPLAY_ATTEMPTS:
            self._tries.pop(event_id, None)
            held.add(spool.SET_ASIDE_NAME, line)
            self._counters.set_aside += 1
            log.error("set aside event %s after %d tries, in %s", event_id, tries,
                      self._dir / spool.SET_ASIDE_NAME)  # fmt: skip
            return
        due = time.monotonic() + self._backoff.delay(tries)
        self._tries[event_id] = (tries, due)
        self._counters.replay_retries += 1
        self._retry_later(held, line, due)

    def _retry_later(self, held: spool.Held, line: bytes, due: float) -> None:
        held.add(spool.RETRY_NAME, line)
        self._retry_due = min(self._retry_due, due)


async def _all_committed(futures: list[asyncio.Future[bool]]) -> bool:
    """Whether every future ended for good: committed, or refused by SQLite (counted)."""
    if not futures:
        return True
    await asyncio.wait(futures)
    return all(
        not f.cancelled() and (isinstance(f.exception(), Unstorable) or f.result() is True)
        for f in futures
    )
