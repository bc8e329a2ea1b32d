"""A daemon whose writer dies shuts down cleanly: the buffer is spooled, not lost."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

from skilltrack import paths
from skilltrack.daemon import spool
from skilltrack.daemon.server import Daemon
from skilltrack.daemon.store import Record, Store
from skilltrack.wire import encode_frame
from tests.conftest import payload


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
