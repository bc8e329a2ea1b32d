"""Forwarding: one task per configured sink, reading its outbox and sending what it holds.

Beside ingestion, never in its way: each sink reads its outbox through a connection of its
own, holds at most one head of it (≤ 500 events) in memory, and a receiver that is slow, hung
or down only makes its own sink wait. An event leaves the outbox only once the receiver has
accepted it (or refused it for good), so a crash re-sends at worst the batch in flight, under
the same event ids: at least once. A retry re-sends the batch that failed as it was, though
more events have come since, so an `http` sink's retry carries the same batch id. After a
restart the batch is cut again from the outbox, and holds the events that came meanwhile:
its batch id is new, and receivers de-duplicate by event id.

A sink has two outboxes: events, and usage records (the API requests read from transcripts,
for `http` and `otlp` sinks). A batch is cut from one of them, each in turn when both hold
something, so that a busy one never starves the other. An `everyskill` sink's event head
leaves out the skill uses still waiting for their tokens (outbox.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from typing import Any

import aiohttp

from skilltrack.config import EverySkillSink, HttpSink, OtlpSink, Settings
from skilltrack.daemon.backoff import Backoff
from skilltrack.daemon.forward.everyskill import EverySkillTrackSink
from skilltrack.daemon.forward.otlp import OtlpLogSink
from skilltrack.daemon.forward.sinks import Delivery, HttpBatchSink, Sink, http_poster
from skilltrack.daemon.store.outbox import ForwardStore, Outbox

log = logging.getLogger(__name__)

IDLE_POLL_S = 1.0  # an idle sink looks at its outbox this often (dead letters re-sent)
TRIM_INTERVAL_S = 30.0  # how often the backlog is counted against `max_backlog`
LAST_ATTEMPT_S = 3.0  # at shutdown: one last attempt, bounded
# A sink whose outbox cannot be read (the store locked or failing) tries again after this.
STORE_RETRY_INITIAL_S = 1.0
STORE_RETRY_MAX_S = 30.0
OUTBOXES: tuple[Outbox, ...] = ("event", "usage")


def make_sink(name: str, settings: EverySkillSink | HttpSink | OtlpSink, key: str | None) -> Sink:
    if isinstance(settings, EverySkillSink):
        return EverySkillTrackSink(name, settings, key)
    if isinstance(settings, HttpSink):
        return HttpBatchSink(name, settings, key)
    return OtlpLogSink(name, settings, key)


class SinkRunner:
    """The loop that empties one sink's outbox."""

    def __init__(
        self,
        sink: Sink,
        store: ForwardStore,
        session: aiohttp.ClientSession,
        *,
        timeout_s: float,
        verify_tls: bool,
        max_age_s: float,
        max_backlog: int,
    ) -> None:
        self.sink = sink
        self.name = sink.name
        self._store = store
        self._post = http_poster(session, timeout_s, verify_tls)
        self._max_age_s = max_age_s
        self._max_backlog = max_backlog
        self._wake = asyncio.Event()  # new events were committed
        self._finishing = asyncio.Event()  # shutting down: one last attempt, no retries
        self.paused: str | None = None
        self._retries = sink.policy.backoff()  # failed attempts in a row, and the wait after
        self.retry_at: float | None = None  # wall-clock time of the next try, when waiting
        self.in_flight = 0
        # The batch to re-send as it was (its outbox and refs), after a failure to retry.
        self._again: tuple[Outbox, frozenset[int]] | None = None

    def wake(self) -> None:
        self._wake.set()

    @property
    def _final(self) -> bool:
        return self._finishing.is_set()

    def finish(self) -> None:
        """Make at most one more attempt, without retries, then return."""
        self._finishing.set()

    async def run(self) -> None:
        store_errors = Backoff(STORE_RETRY_INITIAL_S, STORE_RETRY_MAX_S)
        while True:
            try:
                await self._run()
                return
            except sqlite3.Error as exc:
                # The store is locked or failing: the writer reports its health; this sink
                # waits and starts over from its outbox, which is where it left it.
                log.warning("%s: store error, will retry: %s", self.name, exc)
                await self._backoff(store_errors.failed())
                if self._final:
                    return

    async def _run(self) -> None:
        next_trim = 0.0
        usage_first = False  # which outbox to cut the next batch from, when both hold some
        while True:
            if self.paused is not None:
                return  # the outbox keeps the events until the daemon is restarted
            if time.monotonic() >= next_trim:
                for which in OUTBOXES:
                    dropped = await self._store.trim(self.name, self._max_backlog, which)
                    if dropped:
                        log.warning("%s: backlog over %d, dropped the oldest %d", self.name,
                                    self._max_backlog, dropped)  # fmt: skip
                next_trim = time.monotonic() + TRIM_INTERVAL_S
            # Cleared before reading: a commit from now on wakes the idle wait below.
            self._wake.clear()
            again, self._again = self._again, None
            order: tuple[Outbox, ...] = ("usage", "event") if usage_first else ("event", "usage")
            if self.sink.usage_wait_s is not None:
                order = ("event",)  # it holds uses for their tokens: it gets no usage records
            attempt = None
            outbox: Outbox
            for outbox in (again[0],) if again else order:
                attempt = await self._attempt(outbox, again[1] if again else None)
                if attempt is not None:
                    break
            if attempt is None:
                if self._final:
                    return
                await self._idle()
                continue
            usage_first = outbox == "event"
            refs, delivery = attempt
            await self._store.settle(
                self.name, delivery.delivered, delivery.dead, rejected=delivery.rejected,
                outbox=outbox,
            )  # fmt: skip
            if delivery.error is not None:
                await self._store.record_error(self.name, delivery.error, retried=delivery.retry)
            if delivery.pause is not None:
                self.paused = delivery.pause
                log.error("%s: paused: %s; fix its API key and restart the daemon", self.name,
                          delivery.pause)  # fmt: skip
                return
            if not delivery.retry:
                self._retries.succeeded()
                continue
            if self._final:
                return
            settled = {*delivery.delivered, *(d.ref for d in delivery.dead)}
            self._again = (outbox, frozenset(r for r in refs if r not in settled))
            delay = self._retries.failed(delivery.retry_after)
            attempt_no = self._retries.failures
            if attempt_no == 1 or attempt_no % 10 == 0:
                log.warning("%s: %s; retry %d in %.1f s", self.name, delivery.error,
                            attempt_no, delay)  # fmt: skip
            self.retry_at = time.time() + delay
            try:
                await self._backoff(delay)
            finally:
                self.retry_at = None

    async def _attempt(
        self, outbox: Outbox, only: frozenset[int] | None
    ) -> tuple[list[int], Delivery] | None:
        """Send the head of one outbox (only the refs `only`, re-sending a batch as it was,
        not the head as it has grown since); None when it holds nothing to send."""
        expire_before = time.time() - self._max_age_s
        size = self.sink.head_size
        if outbox == "usage":
            records = await self._store.usage_head(self.name, size, expire_before)
            records = [r for r in records if only is None or r.ref in only] or records
            if not records:
                return None
            self.in_flight = len(records)
            try:
                return [r.ref for r in records], await self.sink.deliver_usage(self._post, records)
            finally:
                self.in_flight = 0
        wait = self.sink.usage_wait_s
        hold_before = None if wait is None else time.time() - wait
        events = await self._store.head(self.name, size, expire_before, hold_before=hold_before)
        events = [e for e in events if only is None or e.ref in only] or events
        if not events:
            return None
        self.in_flight = len(events)
        try:
            return [e.ref for e in events], await self.sink.deliver(self._post, events)
        finally:
            self.in_flight = 0

    async def _idle(self) -> None:
        """Wait for new events (or a while: dead letters re-sent by a command), or the end."""
        wake, finish = (
            asyncio.ensure_future(self._wake.wait()),
            asyncio.ensure_future(self._finishing.wait()),
        )
        try:
            await asyncio.wait({wake, finish}, timeout=IDLE_POLL_S, return_when="FIRST_COMPLETED")
        finally:
            wake.cancel()
            finish.cancel()

    async def _backoff(self, seconds: float) -> None:
        """Wait `seconds` whatever arrives meanwhile (new events must not cut a backoff or
        a receiver's Retry-After short); only shutting down ends it early."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._finishing.wait(), seconds)

    def status(self) -> dict[str, Any]:
        return {
            "paused": self.paused,
            "failed_attempts_in_a_row": self._retries.failures,
            "next_retry_at": self.retry_at,
            "in_flight": self.in_flight,
        }


class Forwarder:
    """Every configured sink's runner, and what they share."""

    def __init__(self, settings: Settings, store: ForwardStore) -> None:
        self._settings = settings
        self._store = store
        self._sessions: list[aiohttp.ClientSession] = []
        self.runners: list[SinkRunner] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, keys: dict[str, str | None]) -> list[asyncio.Task[None]]:
        for name, settings in self._settings.forward.items():
            limit = settings.concurrency if isinstance(settings, EverySkillSink) else 1
            session = aiohttp.ClientSession(
                # No proxy from the environment: where events go is the config's to say.
                connector=aiohttp.TCPConnector(limit=limit),
                trust_env=False,
            )
            self._sessions.append(session)
            runner = SinkRunner(
                make_sink(name, settings, keys.get(name)),
                self._store,
                session,
                timeout_s=settings.timeout_s,
                verify_tls=settings.verify_tls,
                max_age_s=settings.max_age_days * 86400,
                max_backlog=settings.max_backlog,
            )
            self.runners.append(runner)
            self._tasks.append(asyncio.create_task(runner.run(), name=f"forward:{name}"))
        return self._tasks

    def wake(self) -> None:
        """New events were committed."""
        for runner in self.runners:
            runner.wake()

    async def stop(self, bound_s: float = LAST_ATTEMPT_S) -> None:
        """One last attempt per sink (no retries), bounded by `bound_s`; the rest stays in
        the outbox for the next start."""
        for runner in self.runners:
            runner.finish()
        if self._tasks:
            _done, late = await asyncio.wait(self._tasks, timeout=bound_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for session in self._sessions:
            await session.close()

    def status(self) -> dict[str, dict[str, Any]]:
        return {runner.name: runner.status() for runner in self.runners}
