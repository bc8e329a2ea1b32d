"""A local receiver for the forwarding benchmark: a real aiohttp server on 127.0.0.1, in a
thread of the benchmark process with an event loop of its own.

The port is bound when the receiver is made and listened on only from `start()`: until then a
sink pointed at it gets "connection refused" at once, as from a receiver that is down, and no
other process can take the port in the meantime. Modes:

- `ok`: read the whole body (gunzipped if it was sent so), take the event ids out of it (an
  `http` batch's `events[].event_id`; for `/api/track`, the `Idempotency-Key` header, the
  EverySkill body having no id of its own), count them de-duplicated (delivery is at least
  once: a duplicate is counted, not stored twice), then answer 200;
- `hang`: read the whole body, then never answer (until the receiver stops).

Thresholds are watched from the receiver's thread: `first_request` is set when the first
request arrives, `complete` when `expect` distinct event ids have been accepted, each with the
`perf_counter` time it happened at.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import threading
import time
from types import TracebackType
from typing import Literal

import uvloop
from aiohttp import web

Mode = Literal["ok", "hang"]
TRACK_PATH = "/api/track"
START_TIMEOUT_S = 10.0


class Receiver:
    def __init__(self, mode: Mode, expect: int = 0) -> None:
        self.mode = mode
        self.expect = expect  # distinct event ids after which `complete` is set
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self._lock = threading.Lock()
        self._ids: set[str] = set()
        self.requests = 0
        self.duplicates = 0
        self.malformed = 0  # requests answered 400: no event ids could be read from them
        self.first_at: float | None = None
        self.complete_at: float | None = None
        self.first_request = threading.Event()
        self.complete = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._hung: set[asyncio.Future[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ids(self) -> set[str]:
        """The distinct event ids accepted so far."""
        with self._lock:
            return set(self._ids)

    @property
    def accepted(self) -> int:
        with self._lock:
            return len(self._ids)

    def start(self) -> Receiver:
        """Listen on the reserved port and serve, from now on."""
        loop = uvloop.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="receiver", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), loop).result(START_TIMEOUT_S)
        return self

    def stop(self) -> None:
        """Stop serving (a hung request is dropped) and release the port."""
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None:
            asyncio.run_coroutine_threadsafe(self._stop(), loop).result(START_TIMEOUT_S)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(START_TIMEOUT_S)
            loop.close()
            self._loop = self._thread = None
        self._sock.close()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- in the receiver's thread ---------------------------------------------------------

    async def _start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/{tail:.*}", self._handle)
        # auto_decompress off: the body is gunzipped here, as part of the work a receiver
        # does per request; no access log: formatting one line per request is not the
        # receiver's work, and would take CPU from the daemon on the same cores.
        self._runner = web.AppRunner(
            app, handle_signals=False, auto_decompress=False, access_log=None
        )
        await self._runner.setup()
        await web.SockSite(self._runner, self._sock, shutdown_timeout=1.0, backlog=1024).start()

    async def _stop(self) -> None:
        for hung in self._hung:
            hung.cancel()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        arrived = time.perf_counter()
        raw = await request.read()
        with self._lock:
            self.requests += 1
            if self.first_at is None:
                self.first_at = arrived
                self.first_request.set()
        if self.mode == "hang":
            await self._hang()
        try:
            ids = _event_ids(request, raw)
        except (ValueError, KeyError, TypeError, OSError, EOFError):
            with self._lock:
                self.malformed += 1
            return web.Response(status=400, text="no event ids in this request")
        self._accept(ids)
        return web.Response(status=200)

    async def _hang(self) -> None:
        hung: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._hung.add(hung)
        try:
            await hung  # cancelled only by stop()
        finally:
            self._hung.discard(hung)

    def _accept(self, ids: list[str]) -> None:
        with self._lock:
            for event_id in ids:
                if event_id in self._ids:
                    self.duplicates += 1
                else:
                    self._ids.add(event_id)
            if self.complete_at is None and self.expect and len(self._ids) >= self.expect:
                self.complete_at = time.perf_counter()
                self.complete.set()


def _event_ids(request: web.Request, raw: bytes) -> list[str]:
    """The event ids a request carries (ValueError and friends when it carries none)."""
    body = gzip.decompress(raw) if request.headers.get("Content-Encoding") == "gzip" else raw
    doc = json.loads(body)
    if request.path.endswith(TRACK_PATH):
        if not isinstance(doc, dict) or "skill_id" not in doc:
            raise ValueError("not a track body")
        return [request.headers["Idempotency-Key"]]
    return [str(event["event_id"]) for event in doc["events"]]
