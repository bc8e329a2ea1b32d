"""The writer against a real SQLite file: grouped commits and a row SQLite refuses."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from skilltrack.daemon.server.counters import Counters
from skilltrack.daemon.server.writer import BufferFull, Unstorable, Writer
from skilltrack.daemon.store.database import Store
from skilltrack.daemon.store.records import Record
from tests.support.events import row


async def test_a_row_sqlite_refuses_is_set_aside_and_its_batch_is_stored(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.db")
    counters = Counters()
    writer = Writer(store, counters)
    good = [row() for _ in range(5)]
    poison = row()._replace(duration_ms=10**30)  # no SQLite integer holds it
    futures = [writer.submit(Record(r)) for r in [*good[:2], poison, *good[2:]]]
    task = asyncio.create_task(writer.run())

    done, _ = await asyncio.wait(futures, timeout=10)
    writer.close()
    await task

    assert len(done) == 6
    assert isinstance(futures[2].exception(), Unstorable)
    assert all(f.result() is True for i, f in enumerate(futures) if i != 2)
    assert await store.count_events() == 5
    assert counters.dropped == {"unstorable": 1}
    assert counters.stored == 5
    await store.close()


async def test_a_full_buffer_refuses_more(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.db")
    writer = Writer(store, Counters(), capacity=3)
    for _ in range(3):
        writer.submit(Record(row()))
    with pytest.raises(BufferFull):
        writer.submit(Record(row()))
    assert writer.backlog == 3
    await store.close()
