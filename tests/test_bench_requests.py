"""The reports benchmark's requests (bench/eventgen.py) store what the usage task's own
`TokenStore.save` would: the generator writes many threads' requests in one transaction, and
the summaries its triggers keep must be those of a pass per thread through the real method."""

from __future__ import annotations

import collections
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest

from skilltrack.daemon.store.records import Record
from skilltrack.daemon.store.tokens import RequestRow, ThreadState, TokenStore

# bench/ is not installed: its folder's parent goes last on the path, as bench/run.py puts
# it (the installed skilltrack, already imported, still wins over the source folder).
sys.path.append(str(Path(__file__).resolve().parent.parent))
from bench import eventgen

EVENTS = 3_000
END = 1_780_000_000.0
TABLES = {  # each summary table, its key columns first
    "token_days": 3,
    "token_versions": 3,
    "token_sessions": 3,
    "requests": 2,
}


def _drawn() -> list[eventgen.Drawn]:
    gen = eventgen._Generator(EVENTS, END, eventgen.SEED)
    return [d for day, quota in gen.quotas() for d in gen.day(day, quota)]


async def _through_save(path: Path, drawn: list[eventgen.Drawn]) -> None:
    """The events, then each thread's requests as a pass of the usage task stores them."""
    store = await TokenStore.open(path)
    try:
        records: list[Record] = [record for record, _ in drawn]
        for start in range(0, len(records), eventgen.BATCH):
            await store.insert(records[start : start + eventgen.BATCH])
        threads: dict[tuple[str, str], list[RequestRow]] = collections.defaultdict(list)
        for _, requests in drawn:
            for r in requests:
                threads[r.session_id, r.thread].append(r)
        for (session, thread), rows in threads.items():
            assert await store.save(session, thread, rows, ThreadState(offset=1)) == len(rows)
    finally:
        await store.close()


def _rows(path: Path, table: str, keys: int) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        columns = "*" if table != "requests" else "session_id, request_id, *"
        rows = conn.execute(f"SELECT {columns} FROM {table}").fetchall()
    finally:
        conn.close()
    if table == "requests":  # its rowid depends on the order of insertion
        rows = [row[:2] + row[3:] for row in rows]
    return {row[:keys]: row[keys:] for row in rows}


async def test_the_generators_requests_make_the_summaries_the_usage_task_would(
    tmp_path: Path,
) -> None:
    drawn = _drawn()
    assert len(drawn) == EVENTS
    bench_db, real_db = tmp_path / "bench.db", tmp_path / "real.db"
    built = eventgen.Built(bench_db)
    await eventgen._write(bench_db, iter(drawn), built, lambda _: None, EVENTS)
    await _through_save(real_db, drawn)

    # The shapes worth comparing are there: owned, in subagent runs, per skill version.
    assert built.requests > EVENTS * 0.9
    assert built.owned_by["skill"]
    assert built.owned_by["command"]
    assert built.in_runs
    assert built.tokens_by_version
    for table, keys in TABLES.items():
        ours, theirs = _rows(bench_db, table, keys), _rows(real_db, table, keys)
        assert ours, f"{table} is empty"
        assert ours.keys() == theirs.keys(), table
        for key, row in ours.items():
            # Costs are sums of floats, added in another order.
            want = [pytest.approx(v, rel=1e-12) if isinstance(v, float) else v for v in theirs[key]]
            assert list(row) == want, (table, key)
