"""`skilltrack prune` and `skilltrack stats` on a real database filled by the daemon.

Summaries are lifetime totals: pruning deletes events (and their snippets), never what the
summaries counted; the test proves both halves of that.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest

from tests.support.events import payload
from tests.support.home import DaemonProcess, Home

DAY = 86400


@pytest.fixture
def aged(home: Home, daemon: DaemonProcess) -> Home:
    """Six Bash events, four of them made to look 100 days old."""
    for _ in range(6):
        home.hook(payload("PostToolUse"))
    home.wait_for(lambda: len(home.events()) == 6, what="6 events stored")
    with closing(sqlite3.connect(home.paths.db)) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM events ORDER BY id LIMIT 4")]
        conn.executemany(
            "UPDATE events SET client_ts = ? WHERE id = ?",
            [(time.time() - 100 * DAY, i) for i in ids],
        )
        conn.commit()
    return home


def test_prune_deletes_old_events_and_keeps_lifetime_summaries(aged: Home) -> None:
    dry = aged.json("skilltrack", "prune", "--older-than", "90", "--dry-run")
    assert (dry["deleted"], dry["dry_run"], dry["older_than_days"]) == (4, True, 90)
    assert len(aged.events()) == 6
    done = aged.json("skilltrack", "prune", "--older-than", "90")
    assert done["deleted"] == 4
    assert len(aged.events()) == 2
    (bash,) = aged.report()
    assert bash["uses"] == 6  # lifetime totals: what was counted stays counted
    again = aged.cli("skilltrack", "prune", "--older-than", "90").stdout
    assert again.startswith("deleted 0 events from before ")


def test_prune_takes_the_configured_retention_by_default(aged: Home) -> None:
    aged.paths.config.write_text("retention_days = 120\n")
    assert aged.json("skilltrack", "prune")["deleted"] == 0
    aged.paths.config.write_text("retention_days = 30\n")
    assert aged.json("skilltrack", "prune")["deleted"] == 4


def test_prune_vacuum_reports_the_size_after(aged: Home) -> None:
    out = aged.json("skilltrack", "prune", "--older-than", "90", "--vacuum")
    assert out["deleted"] == 4
    assert out["bytes_after"] > 0


def test_prune_refuses_a_nonsense_age(home: Home) -> None:
    refused = home.cli("skilltrack", "prune", "--older-than", "0", check=False)
    assert refused.returncode == 2
    assert "--older-than must be at least 1 day" in refused.stderr


def test_stats_shows_size_rows_oldest_event_and_schema(aged: Home) -> None:
    stats = aged.json("skilltrack", "stats")
    assert stats["rows"]["events"] == 6
    assert stats["rows"]["artifact_summary"] == 1
    assert stats["schema_version"].startswith("m0")
    assert stats["bytes"] > 0
    assert stats["oldest_event"] < stats["newest_event"]
    text = aged.cli("skilltrack", "stats").stdout
    assert "events" in text
    assert stats["schema_version"] in text


def test_stats_without_a_database(home: Home) -> None:
    assert home.cli("skilltrack", "stats").stdout.strip() == "no database yet"
    assert not home.paths.db.exists()


async def test_the_daemon_prunes_after_its_first_delay_and_then_at_each_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retention loop itself, in-process on a real store: first with a first delay no
    test outlasts, then with it and its day shortened to 50 ms and 0.2 s."""
    from skilltrack.daemon.server import upkeep
    from skilltrack.daemon.store.database import Store
    from skilltrack.daemon.store.records import Record
    from tests.support.events import Generated, record

    store = await Store.open(tmp_path / "skilltrack.db")
    now = time.time()

    def event(age_days: float) -> Record:
        return record(Generated(now - age_days * DAY, "tool", "Bash", True, 5, "s", "~/app"))

    async def stored() -> int:
        rows = await store._db.execute_fetchall("SELECT count(*) FROM events")
        return int(next(iter(rows))[0])

    async def until_stored(count: int) -> None:
        for _ in range(600):
            if await stored() == count:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{await stored()} events stored after 30 s, not {count}")

    async def stopped(loop: asyncio.Task[None]) -> None:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop

    loop: asyncio.Task[None] | None = None

    await store.insert([event(31), event(45), event(29), event(1)])
    try:
        monkeypatch.setattr(upkeep, "RETENTION_FIRST_S", 3600.0)
        loop = asyncio.create_task(upkeep.retention_loop(store, retention_days=30))
        await asyncio.sleep(0.2)
        assert await stored() == 4  # not before the first delay
        await stopped(loop)

        monkeypatch.setattr(upkeep, "RETENTION_FIRST_S", 0.05)
        monkeypatch.setattr(upkeep, "RETENTION_INTERVAL_S", 0.2)
        loop = asyncio.create_task(upkeep.retention_loop(store, retention_days=30))
        await until_stored(2)  # the two older than 30 days went
        await store.insert([event(60)])  # one more, which only a later round can take
        await until_stored(2)
    finally:
        if loop is not None:
            await stopped(loop)
        await store.close()
