"""All of skilltrack's SQL, behind one object that owns one connection.

The daemon writes through `insert_events` (one transaction per group of events); the
commands read through the query methods. The database runs in WAL mode so that readers never
wait for the writer; `synchronous=NORMAL` makes a commit survive the daemon being killed
(what acknowledgements promise), though not a power cut in the last moment.
"""

from __future__ import annotations

import os
import sqlite3
import time
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple, Self

import aiosqlite

from skilltrack.daemon.migrations import MIGRATIONS

BUSY_TIMEOUT_MS = 250


class EventRow(NamedTuple):
    """One row of `events`, in column order."""

    event_id: str
    hook_event: str
    client_ts: float
    received_at: float
    session_id: str | None
    prompt_id: str | None
    tool_use_id: str | None
    tool_name: str | None
    artifact_type: str | None
    artifact_name: str | None
    plugin: str | None
    mcp_server: str | None
    agent_id: str | None
    agent_type: str | None
    success: bool | None
    duration_ms: int | None
    cwd: str | None
    truncated: bool
    payload: str


# ON CONFLICT (event_id) rather than INSERT OR IGNORE: only a resent id is skipped; any other
# constraint failure must raise, not vanish.
_INSERT = "INSERT INTO events ({}) VALUES ({}) ON CONFLICT (event_id) DO NOTHING".format(
    ", ".join(EventRow._fields), ", ".join("?" * len(EventRow._fields))
)
# Errors that come from a row's values, not from the store's health.
# (Not ProgrammingError or a bare ValueError: a closed connection raises those, and must not
# have every buffered event set aside as unstorable.)
ROW_ERRORS = (
    sqlite3.IntegrityError,
    sqlite3.InterfaceError,
    sqlite3.DataError,
    UnicodeEncodeError,
    OverflowError,
)


async def _connect(
    database: str | Path, isolation_level: str | None, *, uri: bool = False
) -> aiosqlite.Connection:
    db = await aiosqlite.connect(database, isolation_level=isolation_level, uri=uri)
    try:
        db.row_factory = sqlite3.Row
        await db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    except BaseException:
        await db.close()
        raise
    return db


def _readonly_uri(path: Path) -> str:
    return f"file:{urllib.parse.quote(os.path.abspath(path))}?mode=ro"


class Store:
    """skilltrack's SQLite database."""

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self.path = path
        self._checkpointer: aiosqlite.Connection | None = None

    @classmethod
    async def open(cls, path: Path) -> Self:
        """Open (creating if needed) and migrate the database at `path`, for writing."""
        # "IMMEDIATE": sqlite3 begins the write transaction before the first insert itself
        # (see insert_events); statements that are not inserts run outside transactions
        # unless a migration begins one explicitly.
        db = await _connect(path, "IMMEDIATE")
        try:
            await db.execute("PRAGMA journal_mode = WAL")
            await db.execute("PRAGMA synchronous = NORMAL")
            store = cls(db, path)
            await store.migrate()
        except BaseException:
            await db.close()
            raise
        return store

    @classmethod
    async def open_readonly(cls, path: Path) -> Self:
        """Open an existing database for reading: it never waits for the daemon's writes.

        A database whose schema is behind this version's is migrated first (once, through a
        writable connection), so that queries find the columns they expect.
        """
        db = await _connect(_readonly_uri(path), None, uri=True)
        try:
            store = cls(db, path)
            if await store._pending_migrations():
                await (await cls.open(path)).close()
        except BaseException:
            await db.close()
            raise
        return store

    async def _pending_migrations(self) -> bool:
        try:
            done = set(await self.schema_version())
        except sqlite3.OperationalError:  # no migrations table: a new database
            return True
        return any(step.__name__ not in done for step in MIGRATIONS)

    async def close(self) -> None:
        if self._checkpointer is not None:
            await self._checkpointer.close()
        await self._db.close()

    async def checkpoint_in_background(self) -> None:
        """Stop commits from checkpointing: `checkpoint()` is then called periodically.

        A checkpoint copies the WAL into the database and fsyncs it; done inside a commit
        (SQLite's default, every 1,000 pages) it costs ingest about a third of its rate.
        """
        await self._db.execute("PRAGMA wal_autocheckpoint = 0")

    async def checkpoint(self, *, restart: bool = False) -> None:
        """Checkpoint the WAL on a connection of its own, beside the writer's commits.

        PASSIVE never blocks the writer, but under sustained load never catches up with it
        either; `restart` (for a WAL grown too large) waits for a gap between commits and lets
        the next commit start the WAL file over.
        """
        if self._checkpointer is None:
            self._checkpointer = await _connect(self.path, None)
        mode = "RESTART" if restart else "PASSIVE"
        await self._checkpointer.execute(f"PRAGMA wal_checkpoint({mode})")

    def wal_bytes(self) -> int:
        try:
            return self.path.with_name(self.path.name + "-wal").stat().st_size
        except FileNotFoundError:
            return 0

    async def migrate(self) -> list[str]:
        """Apply the migrations not yet recorded; returns the names applied."""
        await self._db.execute(
            "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at REAL)"
        )
        applied = []
        for step in MIGRATIONS:
            name = step.__name__
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                done = await self._db.execute_fetchall(
                    "SELECT 1 FROM migrations WHERE name = ?", (name,)
                )
                if not done:
                    await step(self._db)
                    await self._db.execute(
                        "INSERT INTO migrations (name, applied_at) VALUES (?, ?)",
                        (name, time.time()),
                    )
                    applied.append(name)
                await self._db.execute("COMMIT")
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
        return applied

    async def schema_version(self) -> list[str]:
        rows = await self._db.execute_fetchall("SELECT name FROM migrations ORDER BY name")
        return [r[0] for r in rows]

    async def insert_events(self, rows: Sequence[EventRow]) -> int:
        """Store `rows` in one transaction; returns how many were new (ids already stored are
        skipped, so replays and resends count once)."""
        # Two trips to the connection's thread, not three: in this mode sqlite3 opens the
        # transaction (BEGIN IMMEDIATE) itself before the first insert. Each trip costs the
        # event loop a wake-up, and this is the daemon's hottest path.
        try:
            cursor = await self._db.executemany(_INSERT, rows)
            inserted = cursor.rowcount
            await self._db.commit()
        except BaseException:
            await self._rollback()
            raise
        return inserted

    async def _rollback(self) -> None:
        try:
            await self._db.rollback()
        except sqlite3.Error:
            pass  # no transaction left to roll back (SQLite already ended it)

    async def count_events(self) -> int:
        rows = await self._db.execute_fetchall("SELECT count(*) FROM events")
        return int(next(iter(rows))[0])

    async def last_event_time(self) -> float | None:
        rows = await self._db.execute_fetchall("SELECT max(received_at) FROM events")
        value = next(iter(rows))[0]
        return None if value is None else float(value)

    async def recent_events(
        self, limit: int, *, with_payload: bool = False
    ) -> list[dict[str, Any]]:
        """The newest `limit` events, newest first."""
        columns = [c for c in EventRow._fields if with_payload or c != "payload"]
        rows = await self._db.execute_fetchall(
            f"SELECT {', '.join(columns)} FROM events ORDER BY client_ts DESC, id DESC LIMIT ?",
            (limit,),
        )
        return [dict(r) for r in rows]

    async def artifact_summary(self) -> list[dict[str, Any]]:
        """Every artifact's lifetime totals, most used first."""
        rows = await self._db.execute_fetchall(
            """
            SELECT artifact_type, artifact_name, plugin, mcp_server, uses, failures,
                   timed_uses, total_duration_ms, first_used, last_used
            FROM artifact_summary
            ORDER BY uses DESC, artifact_type, artifact_name
            """
        )
        return [dict(r) for r in rows]
