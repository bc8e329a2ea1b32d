"""A daemon whose writer dies shuts down cleanly: the buffer is spooled, not lost; and spool
records refused by a fault of its own are retried, not dropped."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from skilltrack import paths
from skilltrack.daemon.backoff import Backoff
from skilltrack.daemon.ingest.pipeline import Ingest
from skilltrack.daemon.server import replay, spool
from skilltrack.daemon.server.lifecycle import Daemon
from skilltrack.daemon.store.database import Store
from skilltrack.daemon.store.records import Record
from skilltrack.wire import RawFrame, encode_frame, encode_spool_record
from tests.support.events import payload


async def test_writer_crash_stops_the_daemon_and_spools_what_it_held(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = Path(tempfile.mkdtemp(prefix="st-", dir="/tmp"))
    try:
        state = paths.under(home)

        async def broken_insert(self: Store, records: list[Record]) -> int:
            raise RuntimeError("a bug in the writer's path")  # injected: not a store error

        monkeypatch.setattr(Store, "insert", broken_insert)
        daemon = Daemon(state)
        serving = asyncio.create_task(daemon.serve())
        for _ in range(1000):  # the daemon is up once its socket exists
            if state.socket.exists():
                break
            await asyncio.sleep(0.01)

        reader, writer = await asyncio.open_unix_connection(str(state.socket))
        writer.write(encode_frame(str(uuid.uuid4()), 1.0e9, payload(tool_use_id="toolu_held")))
        writer.write_eof()
        reply = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        await asyncio.wait_for(serving, 10)

        assert daemon.failed is True
        assert reply in (b"", b"SPOOLED\n")  # never OK: nothing was committed
        assert spool.backlog(state.spool_dir)[0] == 1
        assert not state.socket.exists()
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def state() -> Iterator[paths.Paths]:
    home = Path(tempfile.mkdtemp(prefix="st-", dir="/tmp"))  # short: a socket path's limit
    yield paths.under(home)
    shutil.rmtree(home, ignore_errors=True)


def fail_enriching(monkeypatch: pytest.MonkeyPatch, times: float) -> None:
    """Make the daemon's enrichment fail `times` times (a bug, or a passing fault)."""
    original = Ingest.parse
    calls = {"n": 0}

    def failing(self: Ingest, raw: RawFrame) -> Record:
        calls["n"] += 1
        if calls["n"] <= times:
            raise RuntimeError("injected: a fault while enriching")
        return original(self, raw)

    monkeypatch.setattr(Ingest, "parse", failing)


def spooled(state: paths.Paths) -> bytes:
    """One event put in the spool, as a hook does when no daemon answers; its record."""
    event = RawFrame(str(uuid.uuid4()), "1000000000.0", "-", payload(tool_use_id="toolu_r"))
    spool.append(state.spool_dir, [encode_spool_record(event)])
    return encode_spool_record(event)


@contextlib.asynccontextmanager
async def serving(daemon: Daemon) -> AsyncIterator[None]:
    task = asyncio.create_task(daemon.serve())
    try:
        yield
    finally:
        daemon._stop.set()
        await asyncio.wait_for(task, 10)


async def until(done: Callable[[], bool], daemon: Daemon) -> None:
    for _ in range(1500):
        if done():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not done after 30 s; counters: {daemon.counters.as_dict()}")


class Ceiling(random.Random):
    """Backoff's longest wait every time: the retry times as exact as the clock allows."""

    def uniform(self, a: float, b: float) -> float:
        return b


@pytest.mark.parametrize("fails", [2, 100])
async def test_a_spool_record_refused_by_a_fault_of_ours_is_retried_then_set_aside(
    monkeypatch: pytest.MonkeyPatch, state: paths.Paths, fails: int
) -> None:
    # Replay once deleted such a record (as if it were malformed) with its spool file: a
    # passing fault, or a bug a later version fixes, became a lost event.
    monkeypatch.setattr(replay, "REPLAY_INTERVAL_S", 0.02)
    monkeypatch.setattr(replay, "REPLAY_BACKOFF_S", 0.02)
    monkeypatch.setattr(replay, "REPLAY_ATTEMPTS", 3)
    fail_enriching(monkeypatch, fails)
    record = spooled(state)
    daemon = Daemon(state)
    async with serving(daemon):
        await until(lambda: bool(daemon.counters.stored or daemon.counters.set_aside), daemon)

    set_aside = state.spool_dir / spool.SET_ASIDE_NAME
    if fails < 3:  # fails twice, then stored on the third try
        assert (daemon.counters.stored, daemon.counters.replay_retries) == (1, 2)
        assert not set_aside.exists()
    else:  # every try fails: kept apart after the third, never deleted
        assert (daemon.counters.stored, daemon.counters.set_aside) == (0, 1)
        assert set_aside.read_bytes() == record
    assert daemon.counters.rejected["internal_error"] == min(fails, 3)
    assert spool.backlog(state.spool_dir)[0] == 0


async def test_a_record_waiting_for_its_next_try_is_not_read_again_before_it_is_due(
    monkeypatch: pytest.MonkeyPatch, state: paths.Paths
) -> None:
    # The retry file is taken out for replay only when its first record is due: not every
    # second, which rewrote a spool's worth of failing records each time.
    monkeypatch.setattr(replay, "REPLAY_INTERVAL_S", 0.02)
    monkeypatch.setattr(replay, "REPLAY_BACKOFF_S", 0.4)
    monkeypatch.setattr(replay, "Backoff", functools.partial(Backoff, rng=Ceiling()))
    fail_enriching(monkeypatch, float("inf"))
    taken: list[tuple[str, int]] = []  # (the file taken out, the tries refused by then)
    rotate = spool.rotate

    def counted(spool_dir: Path, name: str = spool.SPOOL_NAME) -> Path | None:
        rotated = rotate(spool_dir, name)
        if rotated is not None:
            taken.append((name, daemon.counters.rejected["internal_error"]))
        return rotated

    monkeypatch.setattr(spool, "rotate", counted)
    record = spooled(state)
    daemon = Daemon(state)
    async with serving(daemon):
        # Tries 0.4 and 0.8 s apart: dozens of the loop's passes in between.
        await until(lambda: daemon.counters.rejected["internal_error"] >= 3, daemon)

    retry_takes = [tries for name, tries in taken if name == spool.RETRY_NAME]
    assert [t for t in retry_takes if t <= 2] == [1, 2]  # once after each try, none between
    assert spool.backlog(state.spool_dir)[0] == 1  # still waiting, in the retry file
    # (or in a replay file, if the daemon stopped while trying it a fourth time)
    waiting = [state.spool_dir / spool.RETRY_NAME, *spool.replay_files(state.spool_dir)]
    assert b"".join(p.read_bytes() for p in waiting if p.exists()) == record
