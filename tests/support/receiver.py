"""A real HTTP receiver for the forwarding tests: an aiohttp server on 127.0.0.1, in a thread.

It stands in for the remote end (an EverySkill server, an HTTP collector, an OpenTelemetry
collector) the way such a server behaves: it checks the Bearer key and, for `/api/track`, the
`x-everyskill-signature` HMAC over the raw body, as the EverySkill server does; it records every
request and the event ids it accepted per endpoint, de-duplicating them and counting duplicates
(delivery is at least once). What it answers is scripted: a queue of behaviours taken one per
request, then a default behaviour.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gzip
import hashlib
import hmac
import json
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

# How long a TLS connection's close waits for the peer's close_notify before it is cut, and
# how long stopping waits for every connection to be closed.
SSL_SHUTDOWN_S = 2.0
CLOSE_WAIT_S = 10.0


@dataclass(frozen=True)
class Respond:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay_s: float = 0.0


@dataclass(frozen=True)
class Hang:
    """Read the request, then never answer."""


@dataclass(frozen=True)
class Reset:
    """Read the request, then drop the connection without a word."""


Behaviour = Respond | Hang | Reset


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    raw: bytes  # as received (gzip, if it was sent so)
    body: bytes  # decompressed
    answered: int | None  # the status sent, None for a hang or reset
    at: float  # time.monotonic() when it arrived
    wall: float  # time.time() then


class Receiver:
    def __init__(
        self, key: str | None = None, port: int = 0, tls: ssl.SSLContext | None = None
    ) -> None:
        self.key = key
        self.tls = tls
        self.default: Behaviour = Respond(200)
        self.script: collections.deque[Behaviour] = collections.deque()
        self.requests: list[Request] = []
        # (path, event id) -> times accepted: each endpoint stands for one sink.
        self.accepted: collections.Counter[tuple[str, str]] = collections.Counter()
        self.bad_signatures = 0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop
        self._thread: threading.Thread
        self._runner: web.AppRunner | None = None
        self._server: asyncio.Server | None = None
        self._hung: list[asyncio.Future[None]] = []
        self.port = port  # 0: any free port; a stopped receiver's, to come back "up" there

    # -- control, from the test's thread ------------------------------------------------

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def then(self, *behaviours: Behaviour) -> None:
        with self._lock:
            self.script.extend(behaviours)

    def always(self, behaviour: Behaviour) -> None:
        with self._lock:
            self.default = behaviour

    def calm(self) -> None:
        """Forget what is left of the script: from now on, answer as a healthy server."""
        with self._lock:
            self.script.clear()
            self.default = Respond(200)

    @property
    def duplicates(self) -> int:
        with self._lock:
            return sum(n - 1 for n in self.accepted.values())

    def ids(self, path: str | None = None) -> set[str]:
        """The event ids accepted (at `path`, or at any)."""
        with self._lock:
            return {i for p, i in self.accepted if path in (None, p)}

    def answered(self) -> list[int | None]:
        with self._lock:
            return [r.answered for r in self.requests]

    def start(self) -> Receiver:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(CLOSE_WAIT_S + 10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()

    # -- the server, in its thread --------------------------------------------------------

    async def _start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/{tail:.*}", self._handle)
        # auto_decompress off: the raw body is what a signature is over, and what was sent.
        self._runner = web.AppRunner(app, handle_signals=False, auto_decompress=False)
        await self._runner.setup()
        assert self._runner.server is not None
        # Served by the loop directly (as web.TCPSite does) so that stopping can wait for
        # every connection it accepted, and can bound a TLS close on the peer's answer.
        self._server = await asyncio.get_running_loop().create_server(
            self._runner.server, "127.0.0.1", self.port, ssl=self.tls,
            ssl_shutdown_timeout=SSL_SHUTDOWN_S if self.tls else None,
        )  # fmt: skip
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        for hung in self._hung:
            hung.cancel()
        if self._server is not None:
            self._server.close()  # no new connections
        if self._runner is not None:
            await self._runner.cleanup()  # requests finished, idle connections closed
        # A connection closes in callbacks; a TLS one only once the peer has answered its
        # close_notify (or after SSL_SHUTDOWN_S), which a busy daemon may take long to do.
        # Closing the loop before would leave its socket to the garbage collector (a
        # ResourceWarning, which fails whichever test is running then). asyncio.Server counts
        # the connections still open (Python 3.12 waits for them in wait_closed()).
        deadline = time.monotonic() + CLOSE_WAIT_S
        while self._open_connections():
            if time.monotonic() > deadline:
                raise AssertionError(f"receiver: connections still open after {CLOSE_WAIT_S} s")
            await asyncio.sleep(0.01)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        arrived, wall = time.monotonic(), time.time()
        raw = await request.read()
        body = gzip.decompress(raw) if request.headers.get("Content-Encoding") == "gzip" else raw
        with self._lock:
            behaviour = self.script.popleft() if self.script else self.default
        status: int | None = None
        if isinstance(behaviour, Respond):
            status = behaviour.status
            if status == 200:
                status = self._check(request, raw)
        with self._lock:
            self.requests.append(
                Request(request.path, dict(request.headers), raw, body, status, arrived, wall)
            )
        if isinstance(behaviour, Hang):
            hung = asyncio.get_running_loop().create_future()
            self._hung.append(hung)
            await hung
        if isinstance(behaviour, Reset):
            assert request.transport is not None
            request.transport.abort()
            raise asyncio.CancelledError
        assert isinstance(behaviour, Respond)
        assert status is not None
        if behaviour.delay_s:
            await asyncio.sleep(behaviour.delay_s)
        if status == 200:
            self._accept(request.path, request.headers, body)
        return web.Response(status=status, headers=behaviour.headers, body=behaviour.body)

    def _open_connections(self) -> int:
        count: int = getattr(self._server, "_active_count", 0)
        return count

    def _check(self, request: web.Request, raw: bytes) -> int:
        """What a real server would answer a request it means to accept: 401 for a wrong
        key, 403 for a wrong signature (over the raw body, keyed by the API key)."""
        if self.key is None:
            return 200
        if request.headers.get("Authorization") != f"Bearer {self.key}":
            return 401
        signed = request.headers.get("x-everyskill-signature")
        if request.path == "/api/track" and signed is not None:
            expected = hmac.new(self.key.encode(), raw, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(signed, expected):
                with self._lock:
                    self.bad_signatures += 1
                return 403
        return 200

    def _accept(self, path: str, headers: Any, body: bytes) -> None:
        doc = json.loads(body)
        if path == "/api/track":
            ids = [headers["Idempotency-Key"]]
        elif path.endswith("/v1/logs"):
            ids = [
                attr["value"]["stringValue"]
                for resource in doc["resourceLogs"]
                for scope in resource["scopeLogs"]
                for record in scope["logRecords"]
                for attr in record["attributes"]
                if attr["key"] == "skilltrack.event_id"
            ]
        else:
            ids = [event["event_id"] for event in doc["events"]]
        with self._lock:
            self.accepted.update((path, i) for i in ids)


@contextlib.contextmanager
def running(key: str | None = None, port: int = 0) -> Iterator[Receiver]:
    receiver = Receiver(key, port).start()
    try:
        yield receiver
    finally:
        receiver.stop()
