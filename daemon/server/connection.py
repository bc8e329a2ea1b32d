"""One hook's connection to the daemon: read one frame until EOF, answer once, close.

Bounded on every side: a frame's size, the bytes buffered over all connections, the number of
connections (all three kept by the Intake), and how long a frame may take to arrive (its
sweep). Peers with another uid are turned away. The reply protocol is in skilltrack/wire.py.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import logging
import os
import socket
import struct
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from skilltrack.daemon.server.writer import Unstorable
from skilltrack.wire import ACK_OK, ACK_SPOOLED, CONTROL, MAX_FRAME

if TYPE_CHECKING:
    from skilltrack.daemon.server.lifecycle import Daemon

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 4096
MAX_BUFFERED_BYTES = 64 * 1024 * 1024  # frames being received, all connections together


class Intake:
    """The connections open now and the bytes their frames hold, each within its bound, and
    the sweep that turns away a connection whose frame does not arrive in time."""

    def __init__(
        self,
        *,
        frame_timeout: float,
        max_connections: int = MAX_CONNECTIONS,
        max_bytes: int = MAX_BUFFERED_BYTES,
    ) -> None:
        self.frame_timeout = frame_timeout
        self.max_connections = max_connections
        self.max_bytes = max_bytes
        self.connections: set[Connection] = set()
        self.buffered_bytes = 0

    def admit(self, conn: Connection) -> bool:
        if len(self.connections) >= self.max_connections:
            return False
        self.connections.add(conn)
        return True

    def leave(self, conn: Connection) -> None:
        self.connections.discard(conn)

    def reserve(self, size: int) -> bool:
        """Whether `size` more bytes may be buffered (then they are counted)."""
        if self.buffered_bytes + size > self.max_bytes:
            return False
        self.buffered_bytes += size
        return True

    def release(self, size: int) -> None:
        self.buffered_bytes -= size

    async def sweep(self) -> None:
        """Refuse (BUSY: the hook spools) each connection still receiving after the frame
        timeout: a stalled client must not hold its slot and buffer for ever."""
        while True:
            await asyncio.sleep(min(1.0, self.frame_timeout / 2))
            deadline = time.monotonic() - self.frame_timeout
            for conn in list(self.connections):
                if conn.receiving and conn.opened < deadline:
                    conn.refuse("timeout", final=False)

    def close_all(self) -> None:
        for conn in list(self.connections):
            conn.close()


class Connection(asyncio.Protocol):
    """One hook's connection: read one frame until EOF, answer once, close."""

    def __init__(self, daemon: Daemon, intake: Intake) -> None:
        self.daemon = daemon
        self.intake = intake
        self.opened = time.monotonic()
        self.receiving = True
        self._chunks: list[bytes] = []
        self._size = 0
        self._transport: asyncio.Transport | None = None
        self._task: asyncio.Future[dict[str, str]] | None = None  # a control command's

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's is not an asyncio.Transport subclass, but is one).
        self._transport = stream = cast(asyncio.Transport, transport)
        if not self.intake.admit(self):
            self.daemon.reject("too_many_connections")
            stream.abort()
            return
        uid = _peer_uid(stream)
        if uid is not None and uid != os.getuid():
            log.warning("refused a connection from uid %d", uid)
            self.intake.leave(self)
            self.daemon.reject("peer_uid")
            stream.abort()

    def data_received(self, data: bytes) -> None:
        if not self.receiving:
            return
        if self._size + len(data) > MAX_FRAME:
            self.refuse("too_large")
            return
        if not self.intake.reserve(len(data)):
            self.daemon.reject("overloaded")
            self._finish(b"BUSY overloaded\n")
            return
        self._chunks.append(data)
        self._size += len(data)

    def eof_received(self) -> bool:
        if not self.receiving:
            return False
        data = b"".join(self._chunks)
        self._release_buffer()
        if not data:  # connected and closed: a probe, or a client that gave up
            self.refuse("empty_frame")
            return True
        if data.startswith(CONTROL + b" "):
            self._control(data)
            return True
        reply = self.daemon.handle_frame(data)
        if isinstance(reply, bytes):
            self._finish(reply)
        else:
            reply.add_done_callback(self._committed)
        return True  # keep the transport open to write the reply

    def _committed(self, future: asyncio.Future[bool]) -> None:
        if future.cancelled():
            self.close()  # no acknowledgement: the hook spools the event
        elif isinstance(future.exception(), Unstorable):
            self._finish(b"ERR unstorable\n")
        elif future.exception() is not None:
            self.close()
        else:
            self._finish(ACK_OK if future.result() else ACK_SPOOLED)

    def _control(self, data: bytes) -> None:
        command = data[len(CONTROL) + 1 :].strip()
        if command == b"status":
            self._finish(_json_line(self.daemon.status()))
        elif command == b"dashboard":
            # Kept on self: the loop holds only a weak reference to a task.
            self._task = asyncio.ensure_future(self.daemon.open_dashboard())
            self._task.add_done_callback(lambda t: self._finish(_json_line(t.result())))
        else:
            self.refuse("bad_control")

    def refuse(self, reason: str, *, final: bool = True) -> None:
        """Answer ERR (resending cannot help) or, if not `final`, BUSY (the hook spools)."""
        self.daemon.reject(reason)
        self._finish(b"%s %s\n" % (b"ERR" if final else b"BUSY", reason.encode()))

    def _finish(self, reply: bytes) -> None:
        self._release_buffer()
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(reply)
            self._transport.close()

    def close(self) -> None:
        self._release_buffer()
        if self._transport is not None:
            self._transport.close()

    def _release_buffer(self) -> None:
        self.receiving = False
        self.intake.release(self._size)
        self._size = 0
        self._chunks = []

    def connection_lost(self, exc: Exception | None) -> None:
        self._release_buffer()
        self.intake.leave(self)


def _peer_uid(transport: asyncio.Transport) -> int | None:
    sock = transport.get_extra_info("socket")
    option = getattr(socket, "SO_PEERCRED", None)
    if sock is None or option is None:
        return None  # not Linux: the socket's 0600 mode in a 0700 directory guards it
    if _PEERCRED is not None:
        return _PEERCRED(sock.fileno())
    creds = sock.getsockopt(socket.SOL_SOCKET, option, _UCRED_SIZE)
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


_UCRED_SIZE = struct.calcsize("3i")


def _libc_peercred() -> Callable[[int], int] | None:
    """The peer's uid by calling getsockopt(2) on the descriptor, or None where that cannot be
    set up (not Linux, no libc to load).

    uvloop hands protocols a stand-in socket whose getsockopt builds a real socket object on
    every call: that cost ~10 µs of the event loop per connection, one event each; this ~2.
    """
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        getsockopt = libc.getsockopt
    except (OSError, AttributeError):
        return None
    getsockopt.argtypes = [
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_void_p,
        ctypes.POINTER(ctypes.c_uint32),
    ]
    getsockopt.restype = ctypes.c_int

    def peer_uid(fd: int) -> int:
        creds = (ctypes.c_int * 3)()  # struct ucred: pid, uid, gid
        size = ctypes.c_uint32(_UCRED_SIZE)
        if getsockopt(fd, socket.SOL_SOCKET, option, creds, ctypes.byref(size)) != 0:
            error = ctypes.get_errno()
            raise OSError(error, os.strerror(error))
        return int(creds[1])

    return peer_uid


_PEERCRED = _libc_peercred()


def _json_line(answer: dict[str, Any]) -> bytes:
    return json.dumps(answer).encode() + b"\n"
