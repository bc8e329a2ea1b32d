"""The bytes the hook sends to the daemon, and the lines both write to the spool.

A frame is one header line and the hook's stdin, verbatim:

    ST1 <event_id> <client_time> <flags>\\n<payload bytes>

sent on a fresh connection that the hook then half-closes; the daemon answers with one line:
`OK` (committed, or already stored), `SPOOLED` (the daemon put it in the spool itself), or
`ERR <reason>` (rejected; resending would not help). Anything else, or nothing before the
hook's deadline, and the hook spools the event.

A spool record is the same header with the payload in base64 on the same line, so that one
record is always exactly one line whatever the payload holds:

    ST1 <event_id> <client_time> <flags> <base64 payload>\\n

`hooks/skilltrack_hook.py` writes both forms with the standard library alone; keep the two in
step (the hook tests run the real script against this parser).
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass

MAGIC = b"ST1"
CONTROL = b"CTL"
# The hook cuts stdin down to this before sending; the daemon refuses bigger frames.
MAX_PAYLOAD = 1024 * 1024
MAX_HEADER = 128
MAX_FRAME = MAX_PAYLOAD + MAX_HEADER
FLAG_TRUNCATED = "t"

ACK_OK = b"OK\n"
ACK_SPOOLED = b"SPOOLED\n"


class FrameError(ValueError):
    """A frame or spool record that cannot be read; `reason` is the counted rejection."""

    def __init__(self, reason: str, detail: str = "", *, retry: bool = False) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.retry = retry  # not the frame's fault: worth keeping for a later try


@dataclass(frozen=True, slots=True)
class RawFrame:
    """A frame split into its header fields; the payload is not parsed yet."""

    event_id: str
    client_ts: str
    flags: str
    payload: bytes


def split_frame(data: bytes) -> RawFrame:
    """Split a received frame into header fields and payload bytes. A frame shorter than its
    header says was cut short by its sender (a send too slow for the hook's deadline): it is
    refused as `slow`, to retry (the hook spools it), not taken for bad JSON."""
    end = data.find(b"\n", 0, MAX_HEADER)
    if end < 0:
        raise FrameError("bad_header", "no header line")
    frame = RawFrame(*_header_fields(data[:end]), payload=data[end + 1 :])
    declared = _declared_length(frame.flags)
    if declared is not None and len(frame.payload) != declared:
        if len(frame.payload) < declared:
            raise FrameError("slow", f"{len(frame.payload)} of {declared} bytes", retry=True)
        raise FrameError("bad_header", f"{len(frame.payload)} bytes, {declared} declared")
    return frame


def _declared_length(flags: str) -> int | None:
    """The payload length a frame's flags declare (`n<length>`; hooks before it sent none)."""
    _, n, length = flags.partition("n")
    return int(length) if n and length.isdigit() else None


def _header_fields(line: bytes) -> tuple[str, str, str]:
    parts = line.split(b" ")
    if len(parts) != 4 or parts[0] != MAGIC:
        raise FrameError("bad_header", repr(line[:40]))
    try:
        return parts[1].decode("ascii"), parts[2].decode("ascii"), parts[3].decode("ascii")
    except UnicodeDecodeError:
        raise FrameError("bad_header", "not ASCII") from None


def encode_spool_record(frame: RawFrame) -> bytes:
    """One spool line for `frame` (the daemon spools overflow in the hook's own format)."""
    b64 = binascii.b2a_base64(frame.payload, newline=False)
    header = f"ST1 {frame.event_id} {frame.client_ts} {frame.flags} ".encode("ascii")
    return header + b64 + b"\n"


def decode_spool_record(line: bytes) -> RawFrame:
    """Parse one spool line (without or with its trailing newline)."""
    line = line.rstrip(b"\n")
    head, sep, b64 = line.rpartition(b" ")
    if not sep:
        raise FrameError("spool_corrupt", "no payload field")
    try:
        fields = _header_fields(head)
        payload = binascii.a2b_base64(b64, strict_mode=True)
    except (FrameError, binascii.Error) as exc:
        raise FrameError("spool_corrupt", str(exc)) from None
    return RawFrame(*fields, payload=payload)


def encode_frame(event_id: str, client_ts: float, payload: bytes, flags: str = "-") -> bytes:
    """A frame as the hook sends it (used by tests and the benchmark's load generator)."""
    return f"ST1 {event_id} {client_ts:.6f} {flags}\n".encode("ascii") + payload
