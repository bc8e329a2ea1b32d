"""The schema: a blank database migrates to exactly schema.sql, and a database made before the
migrations were squashed (tests/data/skilltrack-45b8c24.db, made by make_45b8c24_db.py with
that commit's code) is carried over with every row, or refused in one line when it cannot be.
"""

from __future__ import annotations

import shutil
import sqlite3
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from skilltrack.daemon.store import durations, schema
from skilltrack.daemon.store.database import Store
from skilltrack.daemon.store.migrations import LEGACY_STEPS, MIGRATIONS
from skilltrack.daemon.store.outbox import ForwardStore
from skilltrack.daemon.store.records import EventRow, Record
from skilltrack.daemon.store.schema import LegacySchemaError
from tests.support.home import Home

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_SQL = ROOT / "daemon" / "store" / "schema.sql"
LEGACY_DB = ROOT / "tests" / "data" / "skilltrack-45b8c24.db"
REGENERATE = ".venv/bin/python -P -m skilltrack.daemon.store.schema > daemon/store/schema.sql"


def copy_of_legacy(tmp_path: Path, *, stop_after: str | None = None) -> Path:
    """A copy of the 45b8c24 database; with `stop_after`, its record of the legacy steps
    ends there, as a development build before 45b8c24 would have left it."""
    db = tmp_path / "old.db"
    shutil.copyfile(LEGACY_DB, db)
    if stop_after is not None:
        later = LEGACY_STEPS[LEGACY_STEPS.index(stop_after) + 1 :]
        with closing(sqlite3.connect(db)) as conn:
            conn.executemany("DELETE FROM migrations WHERE name = ?", [(n,) for n in later])
            conn.commit()
    return db


def rows(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, the migrations' record included."""
    with closing(sqlite3.connect(db)) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {t: sorted(conn.execute(f'SELECT * FROM "{t}"'), key=repr) for t in tables}


async def statements_of(db: Path) -> list[schema.Statement]:
    store = await Store.open_readonly(db)
    try:
        return await schema.statements(store._db)
    finally:
        await store.close()


def shape(statements: list[schema.Statement]) -> dict[str, tuple[str, str]]:
    """Each object by name: its kind and its statement, layout and comments set aside."""
    return {s.name: (s.kind, schema.normalized(s.sql)) for s in statements}


async def test_a_blank_database_migrates_to_exactly_schema_sql(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "new.db")
    try:
        text = schema.render(await schema.statements(store._db))
    finally:
        await store.close()
    assert text == SCHEMA_SQL.read_text(), f"schema.sql is out of date: {REGENERATE}"


def test_normalizing_sets_aside_layout_and_comments_only() -> None:
    assert schema.normalized("CREATE TABLE t (\n    a INTEGER,  -- why\n    b TEXT\n)") == (
        schema.normalized("CREATE TABLE t (a INTEGER , b TEXT)")
    )
    assert schema.normalized("CREATE TABLE t (a INTEGER)") != (
        schema.normalized("CREATE TABLE t (a TEXT)")
    )
    assert schema.normalized("CREATE TABLE t (a INTEGER, b TEXT)") != (
        schema.normalized("CREATE TABLE t (b TEXT, a INTEGER)")
    )


async def test_a_database_made_before_the_squash_keeps_every_row_and_gets_the_fresh_schema(
    tmp_path: Path,
) -> None:
    db = copy_of_legacy(tmp_path)
    before = rows(db)
    assert all(before.values()), "the fixture has rows in every table"
    fresh = await schema.fresh_statements()
    baseline = await schema.fresh_statements(MIGRATIONS[:1])
    assert set(before) == {s.name for s in baseline if s.kind == "table"}

    store = await Store.open(db)
    assert await store.schema_version() == [m.__name__ for m in MIGRATIONS]
    assert await store.migrate() == []  # carried over once
    await store.close()

    after = rows(db)
    assert [name for name, _ in after.pop("migrations")] == [m.__name__ for m in MIGRATIONS]
    # The steps after the baseline add what no row of the old database has: no open spans,
    # no span's end (ended_by) or call time (call_ms) on any event, no requests' tokens
    # (nor any queued for a sink, nor any session's usage known).
    assert after.pop("spans") == []
    for table in (
        "requests",
        "token_days",
        "transcripts",
        "token_versions",
        "token_sessions",
        "token_projects",
        "request_outbox",
        "usage_known",
    ):
        assert after.pop(table) == []
    assert {row[-2:] for row in after["events"]} == {(None, None)}
    after["events"] = sorted((row[:-2] for row in after["events"]), key=repr)
    assert after == {t: r for t, r in before.items() if t != "migrations"}
    # By name: the legacy steps made the objects in another order, which changes nothing
    # (each trigger on events writes tables that no other one reads).
    assert shape(await statements_of(db)) == shape(fresh)


async def test_a_carried_database_counts_and_queues_new_events(tmp_path: Path) -> None:
    db = copy_of_legacy(tmp_path)
    store = await ForwardStore.open(db)
    try:
        (bash,) = [a for a in await store.artifact_summary() if a["artifact_name"] == "Bash"]
        backlog = {s["name"]: s["backlog"] for s in await store.sink_status()}
        row = EventRow(
            event_id=str(uuid.uuid4()), hook_event="PostToolUse", client_ts=1_800_000_000.0,
            received_at=1_800_000_000.0, session_id="s9", prompt_id=None, tool_use_id=None,
            tool_name="Bash", artifact_type="tool", artifact_name="Bash", plugin=None,
            mcp_server=None, agent_id=None, agent_type=None, success=False, duration_ms=12,
            cwd=None, truncated=False, payload="{}", duration_bucket=durations.bucket(12),
        )  # fmt: skip
        assert await store.insert([Record(row)]) == 1
        (now,) = [a for a in await store.artifact_summary() if a["artifact_name"] == "Bash"]
        assert (now["uses"], now["failures"]) == (bash["uses"] + 1, bash["failures"] + 1)
        assert now["last_used"] == row.client_ts
        # The team's sink takes every event; the market's is no longer configured.
        assert {s["name"]: s["backlog"] for s in await store.sink_status()} == {
            "team": backlog["team"] + 1, "market": backlog["market"],
        }  # fmt: skip
    finally:
        await store.close()


@pytest.mark.parametrize("last", ["m002_artifact_summary", "m011_events_by_time_covering"])
async def test_a_database_partway_through_the_legacy_steps_is_refused_and_left_as_it_was(
    tmp_path: Path, last: str
) -> None:
    db = copy_of_legacy(tmp_path, stop_after=last)
    before = rows(db)
    with pytest.raises(LegacySchemaError, match=f"stops at {last}: open it once with skilltrack"):
        await Store.open(db)
    with pytest.raises(LegacySchemaError, match=f"stops at {last}"):
        await Store.open_readonly(db)
    assert rows(db) == before


async def test_a_database_whose_schema_is_not_the_one_45b8c24_left_is_refused(
    tmp_path: Path,
) -> None:
    db = copy_of_legacy(tmp_path)
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("DROP TRIGGER events_count_agent_use")
        conn.execute("CREATE INDEX mine ON events (tool_name)")
    before = rows(db)
    with pytest.raises(LegacySchemaError, match=r"\(no trigger events_count_agent_use\)"):
        await Store.open(db)
    assert rows(db) == before


async def test_a_later_migration_keeps_an_existing_databases_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "s.db"
    store = await Store.open(db)
    await store._db.execute(
        "INSERT INTO events (event_id, hook_event, client_ts, received_at, payload) "
        "VALUES ('old', 'SessionStart', 1, 1, '{}')"
    )
    await store._db.commit()
    await store.close()

    async def m999_later(db: Any) -> None:
        await db.execute("ALTER TABLE events ADD COLUMN later TEXT")

    later = [*MIGRATIONS, m999_later]
    monkeypatch.setattr("skilltrack.daemon.store.schema.MIGRATIONS", later)
    monkeypatch.setattr("skilltrack.daemon.store.database.MIGRATIONS", later)
    store = await Store.open_readonly(db)  # migrated first, through a writable connection
    assert await store.schema_version() == [m.__name__ for m in later]
    (old,) = await store.recent_events(10)
    assert (old["event_id"], old["tenant_id"], old["skill_id"]) == ("old", None, None)
    await store.close()

    # A database made before the squash is compared with the baseline alone, then gets the
    # steps after it as any other database does.
    legacy = copy_of_legacy(tmp_path)
    events = rows(legacy)["events"]
    store = await Store.open(legacy)
    assert await store.schema_version() == [m.__name__ for m in later]
    await store.close()
    now = rows(legacy)["events"]
    added = len(now[0]) - len(events[0])  # m002_spans' ended_by and call_ms, and `later`
    assert added == 3
    assert [r[:-added] for r in now] == events
    assert {r[-added:] for r in now} == {(None,) * added}


def test_a_refused_database_is_one_line_from_the_commands_and_the_daemon(home: Home) -> None:
    home.paths.db.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(copy_of_legacy(home.dir, stop_after="m005_forwarding"), home.paths.db)
    why = "stops at m005_forwarding: open it once with skilltrack at commit 45b8c24"

    stats = home.cli("skilltrack", "stats", check=False)
    assert stats.returncode == 1
    assert stats.stderr.startswith(f"skilltrack: cannot use {home.paths.db}: made by")
    assert why in stats.stderr
    assert stats.stderr.count("\n") == 1

    run = home.process("skilltrack-daemon", "run", check=False)  # the daemon's own process
    assert run.returncode == 1
    assert run.stderr.startswith(f"skilltrack-daemon: cannot use {home.paths.db}: made by")
    assert why in run.stderr
    assert run.stderr.count("\n") == 1
    assert not home.paths.socket.exists()
