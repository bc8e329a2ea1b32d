"""The store on a real SQLite file: migrations, idempotent inserts, the summary."""

from __future__ import annotations

import sqlite3
import uuid
from contextlib import closing
from pathlib import Path

import pytest

from skilltrack.daemon.migrations import MIGRATIONS
from skilltrack.daemon.store import EventRow, Store


def row(
    artifact: tuple[str, str] | None = ("tool", "Bash"),
    *,
    success: bool | None = True,
    duration: int | None = 10,
    ts: float = 1_000.0,
    event_id: str | None = None,
) -> EventRow:
    kind, name = artifact or (None, None)
    return EventRow(
        event_id=event_id or str(uuid.uuid4()),
        hook_event="PostToolUse" if artifact else "SessionStart",
        client_ts=ts,
        received_at=ts + 0.01,
        session_id="s",
        prompt_id=None,
        tool_use_id=None,
        tool_name=name,
        artifact_type=kind,
        artifact_name=name,
        plugin=None,
        mcp_server=None,
        agent_id=None,
        agent_type=None,
        success=success,
        duration_ms=duration,
        cwd=None,
        truncated=False,
        payload="{}",
    )


async def test_migrations_are_recorded_and_run_once(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    store = await Store.open(db)
    assert await store.schema_version() == sorted(m.__name__ for m in MIGRATIONS)
    assert await store.migrate() == []
    await store.close()
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_replayed_event_ids_are_stored_and_counted_once(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.db")
    first = [row() for _ in range(3)]
    assert await store.insert_events(first) == 3
    assert await store.insert_events([*first, row()]) == 1  # three resends, one new
    assert await store.count_events() == 4
    [summary] = await store.artifact_summary()
    assert summary["uses"] == 4
    await store.close()


async def test_summary_matches_a_recount_of_the_events(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.db")
    rows = [
        row(("skill", "pdf"), success=True, duration=10, ts=5.0),
        row(("skill", "pdf"), success=False, duration=30, ts=1.0),
        row(("skill", "pdf"), success=True, duration=None, ts=9.0),
        row(("command", "deploy"), success=True, duration=None, ts=2.0),
        row(None, success=None, duration=None),  # a session event: no artifact
    ]
    await store.insert_events(rows)
    summary = {(s["artifact_type"], s["artifact_name"]): s for s in await store.artifact_summary()}

    assert set(summary) == {("skill", "pdf"), ("command", "deploy")}
    pdf = summary[("skill", "pdf")]
    assert (pdf["uses"], pdf["failures"], pdf["timed_uses"]) == (3, 1, 2)
    assert pdf["total_duration_ms"] == 40
    assert (pdf["first_used"], pdf["last_used"]) == (1.0, 9.0)
    assert summary[("command", "deploy")]["uses"] == 1
    await store.close()


async def test_a_failed_transaction_leaves_nothing_behind(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.db")
    good = row()
    bad = row()._replace(hook_event=None)  # type: ignore[arg-type]  # NOT NULL, mid-batch
    with pytest.raises(sqlite3.IntegrityError):
        await store.insert_events([good, bad])
    assert await store.count_events() == 0
    assert await store.artifact_summary() == []
    assert await store.insert_events([good]) == 1
    await store.close()


async def test_readonly_open_migrates_an_older_database_first(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with closing(sqlite3.connect(db)) as conn:  # a database no migration has run on yet
        conn.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at REAL)")
        conn.commit()
    store = await Store.open_readonly(db)
    assert await store.schema_version() == sorted(m.__name__ for m in MIGRATIONS)
    await store.close()
