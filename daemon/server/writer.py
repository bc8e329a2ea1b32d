"""The bounded buffer between the socket and the store, and the task that commits it.

Events wait here until they are committed; their futures resolve only then, which is when the
hook gets its acknowledgement. Commits are grouped: whatever has arrived while the previous
commit ran goes into the next transaction. When the store fails (locked, disk full, I/O
error) the batch stays at the head of the buffer and the writer retries with exponential
backoff; when the buffer is full `submit` refuses, and the caller spools the event instead.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import deque
from collections.abc import Callable, Sequence

from skilltrack.daemon.backoff import Backoff
from skilltrack.daemon.server.counters import Counters
from skilltrack.daemon.store.database import ROW_ERRORS, Store, StoreReplaced
from skilltrack.daemon.store.records import Record

log = logging.getLogger(__name__)

# An event waiting in the buffer, and what its sender awaits: True once committed, False if it
# was spooled instead, `Unstorable` if SQLite refused its values.
Pending = tuple[Record, "asyncio.Future[bool]"]


class BufferFull(Exception):
    """The buffer holds as many events as it may; spool this one."""


class Unstorable(Exception):
    """SQLite refused this event's values; retrying cannot help."""


class Writer:
    """Owns the buffer of events waiting to be committed."""

    def __init__(
        self,
        store: Store,
        counters: Counters,
        *,
        capacity: int = 20_000,
        capacity_bytes: int = 64 * 1024 * 1024,
        max_batch: int = 2_000,
        backoff: Backoff | None = None,
        on_commit: Callable[[], None] | None = None,
        on_stored: Callable[[Sequence[Record]], None] | None = None,
    ) -> None:
        self._store = store
        self._counters = counters
        self.capacity = capacity
        self.capacity_bytes = capacity_bytes
        self._bytes = 0  # payload size in the buffer (characters), the batch in commit included
        self._max_batch = max_batch
        # At least half of each wait: only one writer retries, so there is no herd to spread
        # out, and a store that is down should not be hammered by near-zero waits.
        self._backoff = backoff or Backoff(initial=0.05, cap=2.0, least=0.5)
        self._on_commit = on_commit  # told after each commit (the forwarder's wake-up)
        self._on_stored = on_stored  # given each committed batch (the usage task's trigger)
        self._pending: deque[Pending] = deque()
        self._in_flight = 0  # taken from _pending for the commit under way
        self._wake = asyncio.Event()
        self._closing = False
        self.healthy = True
        self.last_error: str | None = None

    @property
    def backlog(self) -> int:
        """Events not yet committed, the batch being committed included."""
        return len(self._pending) + self._in_flight

    def submit(self, record: Record) -> asyncio.Future[bool]:
        """Queue `record`; the future resolves once it is committed."""
        size = record.size
        if self._closing or self.backlog >= self.capacity:
            raise BufferFull
        if self._bytes + size > self.capacity_bytes and self.backlog:
            raise BufferFull
        future = asyncio.get_running_loop().create_future()
        self._pending.append((record, future))
        self._bytes += size
        self._wake.set()
        return future

    async def run(self) -> None:
        """Commit the buffer until `close()`; returns when closing and nothing is left."""
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            count = min(self._max_batch, len(self._pending))
            error = await self._commit([self._pending.popleft() for _ in range(count)])
            if error is None:
                if not self.healthy:
                    log.info("store recovered after %d attempts", self._backoff.failures)
                self.healthy = True
                self._backoff.succeeded()
                continue
            # The store is degraded (locked, disk full, I/O error): what was not committed is
            # back at the head of the buffer, in order; retry after a backoff.
            self._counters.store_retries += 1
            self.healthy = False
            if self.last_error != str(error):
                log.warning("store failed, will retry: %s", error)
            self.last_error = str(error)
            if self._closing:
                return
            await asyncio.sleep(self._backoff.failed())

    async def _commit(self, batch: list[Pending]) -> Exception | None:
        """Commit `batch` in one transaction; on a store failure put it back and return why."""
        self._in_flight = len(batch)
        try:
            inserted = await self._store.insert([record for record, _ in batch])
        except ROW_ERRORS:
            # Some row's values are refused: commit row by row so that only that row is set
            # aside, not the events that came with it.
            self._in_flight = 0
            return await self._commit_singly(batch)
        except StoreReplaced as exc:
            # Committed into a file that is gone: not acknowledged. The writer stops, the
            # daemon with it (the batch is spooled), and the next start makes a new database.
            log.error("%s: stopping, so that nothing is acknowledged into it", exc)
            self._in_flight = 0
            return self._put_back(batch, exc)
        except BaseException as exc:
            # Also when cancelled at shutdown: the batch goes back to be spooled (it may still
            # commit in the store's thread; its ids make the replay harmless).
            self._in_flight = 0
            return self._put_back(batch, exc)
        self._in_flight = 0
        self._resolve(batch, inserted)
        return None

    async def _commit_singly(self, batch: list[Pending]) -> Exception | None:
        for i, (record, future) in enumerate(batch):
            try:
                inserted = await self._store.insert([record])
            except ROW_ERRORS as exc:
                event_id = record.row.event_id
                log.error("event %s cannot be stored and is dropped: %s", event_id, exc)
                self._bytes -= record.size
                self._counters.dropped["unstorable"] += 1
                if not future.done():
                    future.set_exception(Unstorable(str(exc)))
                continue
            except BaseException as exc:
                return self._put_back(batch[i:], exc)
            self._resolve([(record, future)], inserted)
        return None

    def _put_back(self, rows: list[Pending], error: BaseException) -> Exception:
        """Return uncommitted rows to the head of the buffer, in order; a store failure is
        returned for the retry, anything else (cancellation, a bug) raised on."""
        self._pending.extendleft(reversed(rows))
        if isinstance(error, sqlite3.Error | OSError):
            return error
        raise error

    def _resolve(self, batch: list[Pending], inserted: int) -> None:
        self._bytes -= sum(record.size for record, _ in batch)
        self._counters.stored += inserted
        if inserted and self._on_commit is not None:
            self._on_commit()
        self._counters.duplicates += len(batch) - inserted
        if self._on_stored is not None:
            self._on_stored([record for record, _ in batch])
        for _, future in batch:
            if not future.done():
                future.set_result(True)  # True: committed

    def close(self) -> None:
        """Accept nothing more; `run()` returns once the buffer is committed."""
        self._closing = True
        self._wake.set()

    def take_uncommitted(self) -> list[Pending]:
        """Empty the buffer of what could not be committed (to spool it at shutdown); the
        caller resolves the futures: True committed, False spooled."""
        taken = list(self._pending)
        self._pending.clear()
        self._bytes = 0
        return taken
