"""Bringing a database's schema up to date, and the schema as text.

`migrate` applies the steps of migrations.py that a database has not recorded, each in its own
transaction with its record; before them it carries over a database made before the squash,
or refuses it (LegacySchemaError; see migrations.py). `render` is the text of schema.sql: the
schema a blank database ends with, statement by statement as SQLite keeps them, comments
included. Regenerate the file after changing the migrations:

    .venv/bin/python -P -m skilltrack.daemon.store.schema > daemon/store/schema.sql
"""

from __future__ import annotations

import contextlib
import logging
import re
import sqlite3
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Sequence
from typing import NamedTuple

import aiosqlite

from skilltrack.daemon.store.migrations import LEGACY_STEPS, MIGRATIONS, Migration

log = logging.getLogger(__name__)

HEADER = """\
-- The schema of a new skilltrack database: what the migrations in migrations.py create, as
-- SQLite keeps it. Generated, not edited: after changing the migrations, regenerate it with
--     .venv/bin/python -P -m skilltrack.daemon.store.schema > daemon/store/schema.sql
-- (tests/test_schema.py fails while it differs from what a blank database gets).
"""


class LegacySchemaError(sqlite3.DatabaseError):
    """A database made before the squash that cannot be carried over; says why in one line."""


class Statement(NamedTuple):
    kind: str  # table, index, trigger or view
    name: str
    sql: str  # as SQLite keeps it


async def migrate(db: aiosqlite.Connection, steps: Sequence[Migration] | None = None) -> list[str]:
    """Apply the steps of MIGRATIONS (or `steps`) not yet recorded; returns their names."""
    await db.execute(
        "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at REAL)"
    )
    await _carry_over(db)
    applied = []
    for step in MIGRATIONS if steps is None else steps:
        name = step.__name__
        async with _immediate(db):
            done = await db.execute_fetchall("SELECT 1 FROM migrations WHERE name = ?", (name,))
            if not done:
                await step(db)
                await db.execute(
                    "INSERT INTO migrations (name, applied_at) VALUES (?, ?)", (name, time.time())
                )
                applied.append(name)
    return applied


@contextlib.asynccontextmanager
async def _immediate(db: aiosqlite.Connection) -> AsyncIterator[None]:
    """A write transaction taken at once (no other writer can slip in between a check and
    the step it decides), committed at the end of the block, rolled back if it raises."""
    await db.execute("BEGIN IMMEDIATE")
    try:
        yield
        await db.execute("COMMIT")
    except BaseException:
        await db.execute("ROLLBACK")
        raise


async def _carry_over(db: aiosqlite.Connection) -> None:
    """Record the baseline in place of the twelve steps that made it before the squash, once
    the schema they left is found to be the baseline's (the steps after it then run as on
    any database); refuse a database partway through them, or one whose schema is not
    theirs."""
    if not await _legacy_steps(db):
        return  # read outside a write transaction: the common case takes no lock
    async with _immediate(db):
        legacy = await _legacy_steps(db)  # again: another process may have carried it over
        if legacy:
            if legacy != list(LEGACY_STEPS):
                raise LegacySchemaError(
                    f"made by an unreleased skilltrack, its schema stops at {legacy[-1]}: "
                    "open it once with skilltrack at commit 45b8c24 to complete it, or move "
                    "it aside to start afresh"
                )
            baseline = await fresh_statements(MIGRATIONS[:1])
            difference = _first_difference(await statements(db), baseline)
            if difference:
                raise LegacySchemaError(
                    f"its schema is not the one skilltrack 45b8c24 left ({difference}): move "
                    "it aside to start afresh"
                )
            await db.execute(
                f"DELETE FROM migrations WHERE name IN ({', '.join('?' * len(legacy))})",
                legacy,
            )
            await db.execute(
                "INSERT INTO migrations (name, applied_at) VALUES (?, ?)",
                (MIGRATIONS[0].__name__, time.time()),
            )
            log.info("carried over a database made before the squash (%s)", legacy[-1])


async def _legacy_steps(db: aiosqlite.Connection) -> list[str]:
    """The legacy steps `db` has recorded, in their order."""
    rows = await db.execute_fetchall(
        f"SELECT name FROM migrations WHERE name IN ({', '.join('?' * len(LEGACY_STEPS))})",
        LEGACY_STEPS,
    )
    recorded = {row[0] for row in rows}
    return [name for name in LEGACY_STEPS if name in recorded]


def _first_difference(found: list[Statement], wanted: list[Statement]) -> str | None:
    """The first object that `found` lacks, has too many or has otherwise than `wanted`,
    whatever the statements' layout and comments; None if there is none."""
    have = {s.name: (s.kind, normalized(s.sql)) for s in found}
    want = {s.name: (s.kind, normalized(s.sql)) for s in wanted}
    for name, (kind, _) in want.items():
        if name not in have:
            return f"no {kind} {name}"
    for name, (kind, sql) in have.items():
        if name not in want:
            return f"an unknown {kind} {name}"
        if (kind, sql) != want[name]:
            return f"{kind} {name} differs"
    return None


def normalized(sql: str) -> str:
    """`sql` without its comments and with its whitespace collapsed: the same schema written
    out two ways (the legacy steps' ALTER TABLEs, the baseline's layout) compares equal."""
    tokens = " ".join(re.sub(r"--[^\n]*", " ", sql).split())
    return re.sub(r" ?([(),;]) ?", r"\1", tokens)


async def statements(db: aiosqlite.Connection) -> list[Statement]:
    """The schema of `db`, in the order its objects were made (SQLite's own ones left out)."""
    rows = await db.execute_fetchall(
        "SELECT type, name, sql FROM sqlite_schema "
        "WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
    )
    return [Statement(*row) for row in rows]


async def fresh_statements(steps: Sequence[Migration] | None = None) -> list[Statement]:
    """The schema a blank database ends with (or gets from `steps`), made in memory."""
    db = await aiosqlite.connect(":memory:", isolation_level=None)
    try:
        await migrate(db, steps)
        return await statements(db)
    finally:
        await db.close()


def render(schema: list[Statement]) -> str:
    """schema.sql's text: the header, then each statement with its lines after the first
    dedented (SQLite keeps them as they were indented in the Python source)."""
    return HEADER + "".join(f"\n{_dedented(s.sql)};\n" for s in schema)


def _dedented(sql: str) -> str:
    first, _, rest = sql.rstrip().partition("\n")
    return f"{first}\n{textwrap.dedent(rest)}" if rest else first


def main() -> int:
    import asyncio

    sys.stdout.write(render(asyncio.run(fresh_statements())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
