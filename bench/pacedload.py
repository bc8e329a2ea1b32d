"""A steady background load on a daemon: RATE events a second until SIGTERM, in its own process.

    python bench/pacedload.py SOCKET RATE

Other Claude Code sessions' events, while the benchmark times a hook: each event is its own
connection and frame, as in `ingestload`, started on a fixed schedule (not when the previous
one is answered), so the daemon sees the rate whatever its latency. On SIGTERM it prints one
JSON line, `{"sent", "ok", "errors", "seconds"}`, and exits.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from pathlib import Path
from typing import cast

import uvloop


async def _run(socket_path: str, rate: float) -> dict[str, float]:
    from bench.ingestload import OK, REPLY_TIMEOUT_S, _frame

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    counts = {"sent": 0, "ok": 0, "errors": 0}
    pending: set[asyncio.Task[None]] = set()

    async def one() -> None:
        try:
            reply = await _send_one(socket_path, _frame(), REPLY_TIMEOUT_S)
        except (OSError, TimeoutError):
            counts["errors"] += 1
            return
        counts["ok" if reply.decode(errors="replace").strip() == OK else "errors"] += 1

    start = time.monotonic()
    while not stop.is_set():
        due = start + counts["sent"] / rate
        delay = due - time.monotonic()
        if delay > 0:
            try:
                await asyncio.wait_for(stop.wait(), delay)
            except TimeoutError:
                pass
            continue
        counts["sent"] += 1
        task = asyncio.create_task(one())
        pending.add(task)
        task.add_done_callback(pending.discard)
    elapsed = time.monotonic() - start
    if pending:
        await asyncio.wait(pending)
    return {**counts, "seconds": round(elapsed, 3)}


class _OneFrame(asyncio.Protocol):
    """Send one frame, half-close, collect the reply until the daemon closes."""

    def __init__(self, frame: bytes, done: asyncio.Future[bytes]) -> None:
        self._frame = frame
        self._done = done
        self._reply = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        stream = cast(asyncio.WriteTransport, transport)  # uvloop's is one, not a subclass
        stream.write(self._frame)
        stream.write_eof()

    def data_received(self, data: bytes) -> None:
        self._reply += data

    def connection_lost(self, exc: Exception | None) -> None:
        if self._done.done():
            return
        if exc is not None and not self._reply:
            self._done.set_exception(exc)
        else:
            self._done.set_result(bytes(self._reply))


async def _send_one(socket_path: str, frame: bytes, reply_timeout_s: float) -> bytes:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[bytes] = loop.create_future()
    transport, _ = await loop.create_unix_connection(lambda: _OneFrame(frame, done), socket_path)
    try:
        return await asyncio.wait_for(done, reply_timeout_s)
    finally:
        transport.close()


def main() -> None:
    socket_path, rate = sys.argv[1], float(sys.argv[2])
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        print(json.dumps(runner.run(_run(socket_path, rate))), flush=True)


if __name__ == "__main__":
    sys.path.append(str(Path(__file__).resolve().parent.parent))  # the bench package
    main()
