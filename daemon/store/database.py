"""All of skilltrack's SQL, behind one object that owns one connection.

The daemon writes through `insert` (one transaction per group of events); the
commands read through the query methods. The database runs in WAL mode so that readers never
wait for the writer; `synchronous=NORMAL` makes a commit survive the daemon being killed
(what acknowledgements promise), though not a power cut in the last moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from pathlib import Path
from typing import Any, Self

import aiosqlite

from skilltrack.daemon.store import schema, spans
from skilltrack.daemon.store.files import own_files
from skilltrack.daemon.store.migrations import MIGRATIONS
from skilltrack.daemon.store.records import EventRow, Record, TrainingExample

BUSY_TIMEOUT_MS = 250
# A WAL holding more than this gets a RESTART checkpoint from the daemon (PASSIVE ones are not
# catching up), and its file is cut back to this size when the WAL starts over.
WAL_LIMIT_BYTES = 64 * 1024 * 1024
# What SQLite says of a file that is not a database, or one whose pages contradict each
# other; "locked", "busy", "full" or an I/O error are not this: they pass, or need a person.
_CORRUPT = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})


_ROW_PLACES = "({})".format(", ".join("?" * len(EventRow._fields)))
# Rows per INSERT statement. A group of events goes in as statements of many VALUES rows, not
# an executemany of one row each: sqlite3 takes the GIL back from the event loop between
# every two rows of an executemany (to bind the next), and under load that wait, not SQLite's
# work, was most of a commit's time. A statement of n rows stays compiled in sqlite3's cache
# (~1.8 KB a row here), hence no more than 64: one statement for the groups a busy daemon
# commits, at most 64 compiled sizes (~4 MB) whatever comes.
ROWS_PER_INSERT = 64
# RETURNING and ON CONFLICT DO UPDATE without a conflict target came in 3.35; the migrations
# also use iif (3.32) and the JSON functions (built in since 3.38, in most builds before).
MIN_SQLITE = (3, 35)


def check_sqlite(version: tuple[int, int, int] = sqlite3.sqlite_version_info) -> None:
    """Refuse, naming both versions, an SQLite older than the store's SQL needs."""
    if version < MIN_SQLITE:
        needed = ".".join(map(str, MIN_SQLITE))
        found = ".".join(map(str, version))
        raise sqlite3.NotSupportedError(
            f"SQLite {needed} or later is needed; this Python's sqlite3 module has {found}"
        )


def _insert(rows: Sequence[EventRow]) -> tuple[str, list[Any]]:
    """The INSERT of `rows` (at most ROWS_PER_INSERT) and its values."""
    return _insert_sql(len(rows)), [value for row in rows for value in row]


@functools.lru_cache(maxsize=ROWS_PER_INSERT)
def _insert_sql(rows: int) -> str:
    """The INSERT of `rows` events. ON CONFLICT (event_id) rather than INSERT OR IGNORE: only
    a resent id is skipped; any other constraint failure must raise, not vanish."""
    return "INSERT INTO events ({}) VALUES {} ON CONFLICT (event_id) DO NOTHING".format(
        ", ".join(EventRow._fields), ", ".join([_ROW_PLACES] * rows)
    )


# A skill's location is where its newest version was read from (a plugin's moves with each
# release from a git marketplace: enrich.skill_version).
_REGISTER_SKILL = """
    INSERT INTO skills (skill_id, name, source, location, description, first_seen, last_seen)
    VALUES (:skill_id, :name, :source, :location, :description, :seen_at, :seen_at)
    ON CONFLICT (skill_id) DO UPDATE SET
        description = excluded.description, location = excluded.location
"""
_REGISTER_VERSION = """
    INSERT INTO skill_versions (skill_id, version, content_hash, description, first_seen, last_seen)
    VALUES (:skill_id, :version, :content_hash, :description, :seen_at, :seen_at)
    ON CONFLICT (skill_id, version) DO NOTHING
"""
# Only for an event this very transaction stored (same id and receive time; a use held open
# is in spans): a resent event must not gain a snippet captured under a consent it was not
# stored with.
_INSERT_EXAMPLE = """
    INSERT INTO training_examples ({}) SELECT {}
    WHERE EXISTS (SELECT 1 FROM events WHERE event_id = ? AND received_at = ?)
    OR EXISTS (SELECT 1 FROM spans WHERE event_id = ? AND received_at = ?)
    ON CONFLICT (event_id) DO NOTHING
""".format(", ".join(TrainingExample._fields), ", ".join("?" * len(TrainingExample._fields)))
KNOWN_VERSIONS_MAX = 10_000
PRUNE_CHUNK = 5_000  # events deleted per transaction
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
    database: str | Path,
    isolation_level: str | None,
    *,
    uri: bool = False,
    busy_timeout_ms: int = BUSY_TIMEOUT_MS,
) -> aiosqlite.Connection:
    check_sqlite()
    connecting = aiosqlite.connect(database, isolation_level=isolation_level, uri=uri)
    try:
        db = await connecting
    except BaseException:
        # aiosqlite stops its thread after a failed connect without waiting for it, and the
        # thread then reports to the event loop: if that loop has closed meanwhile (a daemon
        # whose start failed), it dies with a traceback on stderr. Waited for here, briefly.
        thread = getattr(connecting, "_thread", None)
        if isinstance(thread, threading.Thread) and thread.is_alive():
            thread.join(1.0)
        raise
    try:
        db.row_factory = sqlite3.Row
        await db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    except BaseException:
        await db.close()
        raise
    return db


class StoreReplaced(Exception):
    """The database file was deleted or replaced while open (not a passing store failure:
    retrying would write into the lost file again)."""


def _file_id(path: Path) -> tuple[int, int]:
    st = os.lstat(path)  # a link put in the file's place is a replacement too
    return st.st_dev, st.st_ino


def _readonly_uri(path: Path) -> str:
    return f"file:{urllib.parse.quote(os.path.abspath(path))}?mode=ro"


class Store:
    """skilltrack's SQLite database."""

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self.path = path
        self._checkpointer: aiosqlite.Connection | None = None
        self._frame_bytes = 0  # known once the checkpointer is open
        self._known_versions: set[tuple[str, str]] = set()  # registered and committed
        self._writing = asyncio.Lock()  # held for each write transaction (_transaction)
        self._file: tuple[int, int] | None = None  # (device, inode) of the file written to

    @classmethod
    async def open(cls, path: Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> Self:
        """Open (creating if needed) and migrate the database at `path`, for writing.

        The daemon keeps the default short wait for a lock (it retries with backoff itself);
        a command that writes beside the running daemon waits longer for its turn.
        """
        # "IMMEDIATE": sqlite3 begins the write transaction before the first insert itself
        # (see insert); statements that are not inserts run outside transactions unless a
        # migration begins one explicitly.
        own_files(path, create=True)
        db = await _connect(path, "IMMEDIATE", busy_timeout_ms=busy_timeout_ms)
        try:
            await db.execute("PRAGMA journal_mode = WAL")
            await db.execute("PRAGMA synchronous = NORMAL")
            await db.execute(f"PRAGMA journal_size_limit = {WAL_LIMIT_BYTES}")
            store = cls(db, path)
            await store.migrate()
            store._file = _file_id(path)
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
        own_files(path, create=False)
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

    async def checkpoint(self, *, restart: bool = False) -> int:
        """Checkpoint the WAL on a connection of its own, beside the writer's commits; returns
        the bytes the WAL holds since it last started over (0 once a RESTART got through).

        PASSIVE never blocks the writer, but the WAL starts over only after a checkpoint that
        no commit overlapped: under steady traffic it keeps growing. `restart` (for a WAL
        grown too large) holds commits up until it has copied the rest, 100-250 ms here, and
        has the next commit start the WAL over. What grows is the WAL's content, not its file:
        the file keeps its size when the WAL starts over, so its size says nothing of a
        backlog (judged by it, every checkpoint was a RESTART once the file had grown).
        """
        if self._checkpointer is None:
            self._checkpointer = await _connect(self.path, None)
            (page,) = next(iter(await self._checkpointer.execute_fetchall("PRAGMA page_size")))
            self._frame_bytes = int(page) + 24  # a WAL frame: its header and one page
        mode = "RESTART" if restart else "PASSIVE"
        rows = await self._checkpointer.execute_fetchall(f"PRAGMA wal_checkpoint({mode})")
        busy, frames, _copied = next(iter(rows))
        if restart and not busy:
            return 0
        return max(int(frames), 0) * self._frame_bytes  # -1: no WAL to checkpoint

    async def migrate(self) -> list[str]:
        """Apply the migrations not yet recorded (a database made before they were squashed
        is carried over first, or refused); returns the names applied."""
        return await schema.migrate(self._db)

    async def schema_version(self) -> list[str]:
        rows = await self._db.execute_fetchall("SELECT name FROM migrations ORDER BY name")
        return [r[0] for r in rows]

    async def insert(self, records: Sequence[Record]) -> int:
        """Store `records` in one transaction; returns how many events were new (ids already
        stored are skipped, so replays and resends count once).

        The INSERT of an event also counts it in every summary and queues it for each sink
        that takes it: the triggers on events (schema.sql) do both inside that statement, so
        the writer, which acknowledges once this returns, never acknowledges an event whose
        counts or place in the outbox could still be lost. A use that opens a span is held in
        `spans` instead, and goes into events, counted, in the transaction that sees its end
        (spans.py).
        """
        if not records:
            return 0
        # In this mode sqlite3 opens the transaction (BEGIN IMMEDIATE) itself before the
        # first statement: no trip to the connection's thread for it. Each trip costs the
        # event loop a wake-up, and this is the daemon's hottest path.
        versions = {
            (skill.skill_id, skill.version): skill
            for skill in (r.skill for r in records)
            if skill is not None and (skill.skill_id, skill.version) not in self._known_versions
        }
        examples = [
            (*r.example, r.row.event_id, r.row.received_at, r.row.event_id, r.row.received_at)
            for r in records
            if r.example is not None
        ]
        held = [r for r in records if r.opening is not None]
        ending = {
            r.row.session_id
            for r in records
            if r.opening is not None or r.row.hook_event in spans.ENDING_EVENTS
        }
        plain = [r for r in records if r.opening is None] if held else records
        if not versions and not examples and not ending and len(records) <= ROWS_PER_INSERT:
            inserted = await self._insert_at_once(records)
            self._check_file()
            return inserted
        async with self._transaction():
            if versions:
                await self._db.executemany(
                    _REGISTER_SKILL, [v._asdict() for v in versions.values()]
                )
                await self._db.executemany(
                    _REGISTER_VERSION, [v._asdict() for v in versions.values()]
                )
            inserted = await self._insert_rows([r.row for r in plain])
            if held:
                inserted += await spans.hold(self._db, held)
            if ending:
                await self._end_spans(await spans.ended(self._db, ending))
            if examples:
                await self._db.executemany(_INSERT_EXAMPLE, examples)
        self._check_file()
        if len(self._known_versions) > KNOWN_VERSIONS_MAX:
            self._known_versions.clear()
        self._known_versions.update(versions)
        return inserted

    def _check_file(self) -> None:
        """Raise StoreReplaced if the database's path no longer names the file this store
        writes to: what it commits then is lost with that file, and must not be
        acknowledged. One stat a commit."""
        if self._file is None:
            return
        try:
            now = _file_id(self.path)
        except FileNotFoundError:
            raise StoreReplaced(f"{self.path} was deleted while in use") from None
        if now != self._file:
            raise StoreReplaced(f"{self.path} was replaced while in use")

    async def end_stale_spans(self, now: float | None = None) -> int:
        """Store the uses of spans open too long (spans.SPAN_TIMEOUT_S); returns how many."""
        async with self._transaction():
            uses = await spans.stale(self._db, time.time() if now is None else now)
            await self._end_spans(uses)
        return len(uses)

    async def count_open_spans(self) -> int:
        rows = await self._db.execute_fetchall("SELECT count(*) FROM spans")
        return int(next(iter(rows))[0])

    async def _end_spans(self, uses: Sequence[EventRow]) -> None:
        """Store ended spans' uses (counted and queued by the triggers) and let them go."""
        await self._insert_rows(uses)
        await self._db.executemany(
            "DELETE FROM spans WHERE event_id = ?", [(u.event_id,) for u in uses]
        )

    async def _insert_rows(self, rows: Sequence[EventRow]) -> int:
        inserted = 0
        for start in range(0, len(rows), ROWS_PER_INSERT):
            cursor = await self._db.execute(*_insert(rows[start : start + ROWS_PER_INSERT]))
            inserted += cursor.rowcount  # rows this statement added, not its triggers'
        return inserted

    async def _insert_at_once(self, records: Sequence[Record]) -> int:
        """`records` in one INSERT, handed to the connection's thread together with the
        commit, so that it commits right after the insert rather than once the event loop
        (busy with connections, it takes a while to look) has seen the insert's result. Only
        for one statement: if it fails SQLite undoes all of it, its triggers' work included,
        and the commit that follows commits nothing."""
        async with self._writing:
            # Both reach the thread's queue in this order, one after the other: each task
            # queues its call in its first step, and the two steps run in turn.
            inserting = asyncio.ensure_future(self._db.execute(*_insert([r.row for r in records])))
            committing = asyncio.ensure_future(self._db.commit())
            try:
                outcomes = await asyncio.gather(inserting, committing, return_exceptions=True)
                for outcome in outcomes:
                    if isinstance(outcome, BaseException):
                        raise outcome
            except BaseException:
                # Also when cancelled: a failed commit would leave the transaction open (and
                # SQLite's write lock held) for the next one to commit. Queued after the
                # commit, this rollback finds nothing to undo if it succeeded.
                await self._rollback()
                raise
        cursor = outcomes[0]
        assert isinstance(cursor, aiosqlite.Cursor)
        return cursor.rowcount  # the rows the statement added, not its triggers'

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[None]:
        """A write transaction: committed at the end of the block, rolled back if it raises,
        and alone. A connection has one transaction at a time, so tasks writing through it
        at once would commit or roll back each other's statements (a failed prune rolling
        back events the writer goes on to acknowledge)."""
        async with self._writing:
            try:
                yield
                await self._db.commit()
            except BaseException:
                await self._rollback()
                raise

    async def _rollback(self) -> None:
        try:
            await self._db.rollback()
        except sqlite3.Error:
            pass  # no transaction left to roll back (SQLite already ended it)

    async def count_events(self) -> int:
        rows = await self._db.execute_fetchall("SELECT count(*) FROM events")
        return int(next(iter(rows))[0])

    async def iter_events(
        self, since: float | None, until: float | None, chunk: int = 1000
    ) -> AsyncGenerator[sqlite3.Row, None]:
        """Every stored event in the range, oldest first, `chunk` rows in memory at a time."""
        columns = [c for c in EventRow._fields if c != "duration_bucket"]
        cursor = await self._db.execute(
            f"SELECT {', '.join(columns)} FROM events "
            "WHERE client_ts >= ?1 AND (?2 IS NULL OR client_ts < ?2) ORDER BY client_ts, id",
            (since if since is not None else float("-inf"), until),
        )
        try:
            while rows := await cursor.fetchmany(chunk):
                for row in rows:
                    yield row
        finally:
            await cursor.close()

    async def count_events_before(self, before: float) -> int:
        rows = await self._db.execute_fetchall(
            "SELECT count(*) FROM events WHERE client_ts < ?", (before,)
        )
        return int(next(iter(rows))[0])

    async def prune(self, before: float, chunk: int = PRUNE_CHUNK) -> int:
        """Delete the events (and their snippets) from before `before`, `chunk` at a time so
        that the daemon's commits are never held up for long; returns how many.

        The API requests read from transcripts go the same way (their daily totals stay).
        Summaries are lifetime totals and are not reduced (docs/configuration.md); an event still
        waiting in a forwarding outbox leaves it, counted as `removed` (the trigger
        events_leave_outbox in schema.sql). The prune horizon is raised to `before` with the
        first deletion.
        """
        deleted = 0
        while True:
            async with self._transaction():
                if not deleted:  # in the first chunk's transaction
                    await self._db.execute(
                        "INSERT INTO prune_horizon VALUES (1, ?) "
                        "ON CONFLICT DO UPDATE SET before = max(before, excluded.before)",
                        (before,),
                    )
                cursor = await self._db.execute(
                    """
                    DELETE FROM events WHERE id IN (
                        SELECT id FROM events WHERE client_ts < ? ORDER BY client_ts LIMIT ?
                    ) RETURNING event_id
                    """,
                    (before, chunk),
                )
                gone = [(r[0],) for r in await cursor.fetchall()]
                await self._db.executemany("DELETE FROM training_examples WHERE event_id = ?", gone)
            deleted += len(gone)
            if len(gone) < chunk:
                break
        await self._prune_requests(before, chunk)
        return deleted

    async def _prune_requests(self, before: float, chunk: int) -> None:
        """Delete the API requests read from transcripts (tokens.py) from before `before`, as
        events go; their daily totals (`token_days`) stay, lifetime totals like the rest."""
        while True:
            async with self._transaction():
                cursor = await self._db.execute(
                    "DELETE FROM requests WHERE id IN ("
                    "SELECT id FROM requests WHERE at < ? ORDER BY at LIMIT ?)",
                    (before, chunk),
                )
            if cursor.rowcount < chunk:
                return

    async def vacuum(self) -> None:
        """Give the space of deleted rows back to the file system (needs a moment alone)."""
        await self._db.execute("VACUUM")

    async def table_counts(self) -> dict[str, int]:
        tables = [
            r[0]
            for r in await self._db.execute_fetchall(
                "SELECT name FROM sqlite_schema WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        counts = {}
        for table in tables:
            rows = await self._db.execute_fetchall(f'SELECT count(*) FROM "{table}"')
            counts[table] = int(next(iter(rows))[0])
        return counts

    async def first_event_time(self) -> float | None:
        rows = await self._db.execute_fetchall("SELECT min(client_ts) FROM events")
        value = next(iter(rows))[0]
        return None if value is None else float(value)

    async def last_event_time(self) -> float | None:
        rows = await self._db.execute_fetchall("SELECT max(received_at) FROM events")
        value = next(iter(rows))[0]
        return None if value is None else float(value)

    async def recent_events(
        self, limit: int, *, with_payload: bool = False
    ) -> list[dict[str, Any]]:
        """The newest `limit` events, newest first."""
        hidden = {"duration_bucket"} | (set() if with_payload else {"payload"})
        columns = [c for c in EventRow._fields if c not in hidden]
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

    async def skills(self) -> list[dict[str, Any]]:
        """Every skill seen, each with its versions (newest first)."""
        skills = [
            dict(r)
            for r in await self._db.execute_fetchall(
                """
                SELECT skill_id, name, source, location, description, first_seen, last_seen
                FROM skills ORDER BY last_seen DESC, name
                """
            )
        ]
        versions: dict[str, list[dict[str, Any]]] = {}
        for r in await self._db.execute_fetchall(
            """
            SELECT skill_id, version, content_hash, description, first_seen, last_seen, uses,
                   failures, timed_uses, total_duration_ms
            FROM skill_versions ORDER BY first_seen DESC
            """
        ):
            versions.setdefault(r["skill_id"], []).append(dict(r))
        for skill in skills:
            skill["versions"] = versions.get(skill["skill_id"], [])
        return skills

    async def training_examples(self, limit: int) -> list[dict[str, Any]]:
        rows = await self._db.execute_fetchall(
            """
            SELECT event_id, created_at, tenant_id, user_id, artifact_type, artifact_name,
                   skill_version, input_snippet, output_snippet, status, source
            FROM training_examples ORDER BY created_at DESC, id DESC LIMIT ?
            """,
            (limit,),
        )
        return [dict(r) for r in rows]

    async def count_training_examples(self) -> int:
        rows = await self._db.execute_fetchall("SELECT count(*) FROM training_examples")
        return int(next(iter(rows))[0])

    async def delete_training_examples(self) -> int:
        """Delete every captured snippet; returns how many."""
        async with self._transaction():
            cursor = await self._db.execute("DELETE FROM training_examples")
        return cursor.rowcount


def is_corrupt(exc: sqlite3.Error) -> bool:
    """Whether SQLite refused the file itself (not a database, or malformed)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _CORRUPT


def quarantine(path: Path, now: float | None = None) -> Path:
    """Move the database at `path` (and its -wal and -shm files) aside, to a name that holds
    when and never replaces anything; the new path of the database file."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while any(Path(f"{target}{suffix}").exists() for suffix in ("", "-wal", "-shm")):
        n += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{path}{suffix}").exists():
            os.rename(f"{path}{suffix}", f"{target}{suffix}")
    return target
