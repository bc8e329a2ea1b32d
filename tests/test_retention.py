"""`skilltrack prune` and `skilltrack stats` on a real database filled by the daemon.

Summaries are lifetime totals: pruning deletes events (and their snippets), never what the
summaries counted; the test proves both halves of that.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing

import pytest

from tests.conftest import DaemonProcess, Home, payload

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
