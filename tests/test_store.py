"""The store on a real SQLite file: migrations, idempotent inserts, the summary."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import pytest

from skilltrack.daemon.store.database import ROWS_PER_INSERT, Store, check_sqlite
from skilltrack.daemon.store.migrations import MIGRATIONS
from skilltrack.daemon.store.records import EventRow, Record, SkillVersion, TrainingExample
from tests.support.events import row


async def insert_rows(store: Store, rows: list[EventRow]) -> int:
    """Plain rows, without a skill version or a snippet."""
    return await store.insert([Record(r) for r in rows])


def test_an_sqlite_too_old_for_the_stores_sql_is_refused_naming_both_versions() -> None:
    check_sqlite()  # this machine's
    check_sqlite((3, 35, 0))
    with pytest.raises(sqlite3.NotSupportedError, match=r"SQLite 3\.35 or later .* has 3\.31\.1$"):
        check_sqlite((3, 31, 1))


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
    assert await insert_rows(store, first) == 3
    assert await insert_rows(store, [*first, row()]) == 1  # three resends, one new
    assert await insert_rows(store, []) == 0
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
    await insert_rows(store, rows)
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
        await insert_rows(store, [good, bad])
    assert await store.count_events() == 0
    assert await store.artifact_summary() == []
    assert await insert_rows(store, [good]) == 1
    await store.close()


@pytest.mark.parametrize("table", ["artifact_running", "project_days"])
@pytest.mark.parametrize("events", [1, ROWS_PER_INSERT + 1])  # one INSERT statement, two
async def test_an_event_is_committed_with_its_counts_or_not_at_all(
    tmp_path: Path, table: str, events: int
) -> None:
    # The summaries are kept by triggers inside each event's INSERT: a summary that cannot be
    # written undoes the events too, so the writer acknowledges none of them.
    store = await Store.open(tmp_path / "s.db")
    await store._db.execute(
        f"CREATE TRIGGER refuse BEFORE INSERT ON {table} BEGIN SELECT RAISE(ABORT, 'full'); END"
    )
    rows = [row(ts=1e4 + i)._replace(project="app") for i in range(events)]
    with pytest.raises(sqlite3.IntegrityError, match="full"):
        await insert_rows(store, rows)
    assert (await store.count_events(), await store.artifact_summary()) == (0, [])
    await store._db.execute("DROP TRIGGER refuse")
    assert await insert_rows(store, rows) == events
    await store.close()


async def test_a_batch_of_several_statements_counts_once_and_fails_whole(
    tmp_path: Path,
) -> None:
    # More rows than one INSERT statement takes: a resend inside the batch and across its
    # statements counts once, and a refused row in the last statement undoes the first.
    store = await Store.open(tmp_path / "s.db")
    rows = [row(ts=float(i)) for i in range(ROWS_PER_INSERT + 7)]
    batch = [*rows, rows[0], rows[-1]]
    assert await insert_rows(store, batch) == len(rows)
    assert await store.count_events() == len(rows)
    [summary] = await store.artifact_summary()
    assert summary["uses"] == len(rows)

    more = [row(ts=1e4 + i) for i in range(ROWS_PER_INSERT + 1)]
    bad = row()._replace(hook_event=None)  # type: ignore[arg-type]  # NOT NULL
    with pytest.raises(sqlite3.IntegrityError):
        await insert_rows(store, [*more, bad])
    assert await store.count_events() == len(rows)
    assert await insert_rows(store, more) == len(more)
    await store.close()


async def test_a_prune_that_fails_beside_an_insert_undoes_only_itself(tmp_path: Path) -> None:
    # The daemon's writer and its daily prune share one connection, which has one
    # transaction at a time. An insert that arrives in the middle of a prune must neither
    # commit the prune's first statements nor be rolled back with them when it fails.
    store = await Store.open(tmp_path / "s.db")
    old = row(("skill", "pdf"), ts=1.0)
    snippet = TrainingExample(old.event_id, 1.0, "t", "u", "skill", "pdf", None, None, "i", "o")
    await store.insert([Record(old, example=snippet), Record(row(ts=2.0))])
    await store._db.execute(  # the prune's last statement, deleting the snippet, fails
        "CREATE TRIGGER refuse BEFORE DELETE ON training_examples "
        "BEGIN SELECT RAISE(ABORT, 'refused'); END"
    )
    loop = asyncio.get_running_loop()
    inserts: list[asyncio.Task[int]] = []
    fired = threading.Event()
    new = row(ts=3.0)

    def traced(sql: str) -> None:  # the connection's thread, as each statement starts
        if sql.lstrip().startswith("DELETE FROM events") and not fired.is_set():
            fired.set()
            loop.call_soon_threadsafe(
                lambda: inserts.append(asyncio.ensure_future(insert_rows(store, [new])))
            )

    await store._db.set_trace_callback(traced)
    with pytest.raises(sqlite3.IntegrityError, match="refused"):
        await store.prune(before=10.0)
    assert len(inserts) == 1
    assert await inserts[0] == 1
    with closing(sqlite3.connect(tmp_path / "s.db")) as conn:
        stored = sorted(r[0] for r in conn.execute("SELECT client_ts FROM events"))
        horizon = conn.execute("SELECT * FROM prune_horizon").fetchall()
    assert stored == [1.0, 2.0, 3.0]  # nothing pruned, the insert kept
    assert horizon == []  # raised in the prune's transaction, undone with it
    await store.close()


async def test_readonly_open_migrates_an_older_database_first(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with closing(sqlite3.connect(db)) as conn:  # a database no migration has run on yet
        conn.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at REAL)")
        conn.commit()
    store = await Store.open_readonly(db)
    assert await store.schema_version() == sorted(m.__name__ for m in MIGRATIONS)
    await store.close()


def skill_version(version: str, *, skill_id: str = "sk1", seen_at: float = 1_000.0) -> SkillVersion:
    return SkillVersion(
        skill_id=skill_id,
        version=version,
        name="pdf",
        source="user",
        location="~/.claude/skills/pdf",
        description=f"pdf {version}",
        content_hash=version * 8,
        seen_at=seen_at,
    )


def skill_use(version: SkillVersion, *, success: bool = True, ts: float = 1_000.0) -> Record:
    event = row(("skill", "pdf"), success=success, ts=ts)._replace(
        skill_id=version.skill_id, skill_version=version.version
    )
    return Record(event, version)


async def test_skill_versions_are_registered_and_counted_per_version(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.db")
    v1, v2 = skill_version("aaaa", seen_at=1.0), skill_version("bbbb", seen_at=7.0)
    first = [skill_use(v1, ts=1.0), skill_use(v1, success=False, ts=3.0)]
    assert await store.insert(first) == 2
    assert await store.insert([*first, skill_use(v2, ts=7.0)]) == 1  # resends count once
    (skill,) = await store.skills()
    assert (skill["name"], skill["source"], skill["description"]) == ("pdf", "user", "pdf bbbb")
    assert (skill["first_seen"], skill["last_seen"]) == (1.0, 7.0)
    by_version = {v["version"]: v for v in skill["versions"]}
    assert (by_version["aaaa"]["uses"], by_version["aaaa"]["failures"]) == (2, 1)
    assert (by_version["aaaa"]["first_seen"], by_version["aaaa"]["last_seen"]) == (1.0, 3.0)
    assert (by_version["bbbb"]["uses"], by_version["bbbb"]["failures"]) == (1, 0)
    assert [v["version"] for v in skill["versions"]] == ["bbbb", "aaaa"]  # newest first
    await store.close()


async def test_a_skill_lives_where_its_newest_version_was_read_from(tmp_path: Path) -> None:
    # A plugin from a git marketplace: each release is read from its own cache folder.
    store = await Store.open(tmp_path / "s.db")
    cache = "~/.claude/plugins/cache/mkt/tools"
    v1 = skill_version("aaaa")._replace(source="plugin", location=f"{cache}/1.0.0/skills/pdf")
    v2 = skill_version("bbbb")._replace(source="plugin", location=f"{cache}/1.1.0/skills/pdf")
    await store.insert([skill_use(v1)])
    await store.insert([skill_use(v2)])
    (skill,) = await store.skills()
    assert (skill["location"], len(skill["versions"])) == (f"{cache}/1.1.0/skills/pdf", 2)
    await store.close()


async def test_a_rolled_back_batch_registers_no_version(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.db")
    v1 = skill_version("aaaa")
    bad = Record(row()._replace(hook_event=None))  # type: ignore[arg-type]
    with pytest.raises(sqlite3.IntegrityError):
        await store.insert([skill_use(v1), bad])
    assert await store.skills() == []
    assert await store.insert([skill_use(v1)]) == 1  # registered now, since not before
    assert len(await store.skills()) == 1
    await store.close()


async def test_a_training_example_only_comes_with_a_newly_stored_event(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.db")
    plain = row(("skill", "pdf"))
    await store.insert([Record(plain)])
    example = TrainingExample(
        plain.event_id, 1.0, "t", "u", "skill", "pdf", None, None, "in", "out"
    )
    # The same event again, now with a snippet (consent granted since): no example.
    resent = plain._replace(received_at=plain.received_at + 5)
    assert await store.insert([Record(resent, example=example)]) == 0
    assert await store.count_training_examples() == 0
    fresh = row(("skill", "pdf"))
    new_example = example._replace(event_id=fresh.event_id)
    assert await store.insert([Record(fresh, example=new_example)]) == 1
    (stored,) = await store.training_examples(10)
    assert (stored["status"], stored["source"], stored["input_snippet"]) == (
        "pending", "usage_capture", "in",
    )  # fmt: skip
    assert await store.delete_training_examples() == 1
    assert await store.count_training_examples() == 0
    await store.close()


async def store_with_a_grown_wal(path: Path) -> Store:
    """A store whose WAL holds 1,000 events, checkpointed by `checkpoint()` only."""
    store = await Store.open(path)
    await store.checkpoint_in_background()
    for _ in range(20):
        await insert_rows(store, [row() for _ in range(50)])
    return store


async def test_checkpoint_measures_what_the_wal_holds_not_its_file(tmp_path: Path) -> None:
    # The daemon asks for a RESTART checkpoint (one that holds commits up) only when the WAL
    # holds too much. Its file keeps its size after the WAL starts over, so the file's size
    # would ask for one at every checkpoint once it had grown.
    store = await store_with_a_grown_wal(tmp_path / "s.db")
    held = await store.checkpoint()
    wal_file = (tmp_path / "s.db-wal").stat().st_size
    assert 0 < held <= wal_file
    assert await store.checkpoint(restart=True) == 0  # copied, and the next commit starts over
    await insert_rows(store, [row()])
    after = await store.checkpoint()
    assert 0 < after < held / 10
    assert (tmp_path / "s.db-wal").stat().st_size == wal_file  # the file did not shrink
    await store.close()


async def test_a_wal_file_past_its_limit_is_cut_back_when_the_wal_starts_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from skilltrack.daemon.store import database as store_module

    monkeypatch.setattr(store_module, "WAL_LIMIT_BYTES", 64 * 1024)
    store = await store_with_a_grown_wal(tmp_path / "s.db")
    wal = tmp_path / "s.db-wal"
    assert wal.stat().st_size > 64 * 1024
    assert await store.checkpoint(restart=True) == 0
    await insert_rows(store, [row()])  # starts the WAL over
    assert wal.stat().st_size <= 64 * 1024
    await store.close()
