"""The shapes a frame must have to be stored, checked with pydantic.

Claude Code's fields come and go between versions, so every payload field is optional, unknown
ones are ignored here (they stay in the stored JSON text), and only a field we read that has
the wrong type is a rejection.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from skilltrack.wire import FLAG_TRUNCATED, FrameError, RawFrame

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class HookPayload(BaseModel):
    """A Claude Code hook event as it arrives on the hook's stdin."""

    # Ignored, not kept as attributes: building them cost the daemon's hot path for nothing.
    model_config = ConfigDict(extra="ignore", frozen=True)

    hook_event_name: str = Field(min_length=1, max_length=200)
    session_id: str | None = None
    prompt_id: str | None = None
    transcript_path: str | None = None
    cwd: str | None = None
    tool_name: str | None = None
    tool_input: Any = None
    tool_response: Any = None
    tool_use_id: str | None = None
    # Finite and below a year: round() and SQLite's 64-bit integers must both take it.
    duration_ms: float | None = Field(default=None, ge=0, lt=3.2e10, allow_inf_nan=False)
    error: Any = None
    is_interrupt: bool | None = None
    agent_id: str | None = None
    agent_type: str | None = None
    command_name: str | None = None
    command_args: str | None = None
    command_source: str | None = None
    expansion_type: str | None = None
    mcp_server: Any = None


@dataclass(frozen=True, slots=True)
class Frame:
    """One event as the hook framed it: its id, the client's clock and the payload."""

    event_id: str
    client_ts: float
    truncated: bool
    payload: HookPayload
    raw: str  # the payload's JSON text, kept as stored


def parse_frame(raw: RawFrame, text: str) -> Frame:
    """Validate a frame whose payload, decoded (and sanitized), is `text`; a `FrameError`
    names the counted reason it was refused."""
    # The header first: it is cheap, and a frame with a bad one is refused whatever it holds.
    if not _UUID.match(raw.event_id):
        raise FrameError("bad_header", "event_id is not a lowercase UUID")
    try:
        client_ts = float(raw.client_ts)
    except ValueError:
        raise FrameError("bad_header", "client time is not a number") from None
    if not math.isfinite(client_ts) or client_ts <= 0:
        raise FrameError("bad_header", "client time must be a positive finite number")
    if not text.strip():
        raise FrameError("empty_payload")
    try:
        payload = HookPayload.model_validate_json(text)
    except ValidationError as exc:
        kinds = {e["type"] for e in exc.errors()}
        if kinds & {"json_invalid", "model_type", "json_type"}:
            raise FrameError("invalid_json", exc.errors()[0]["msg"]) from None
        where = ".".join(str(p) for p in exc.errors()[0]["loc"])
        raise FrameError("invalid_field", where) from None
    return Frame(raw.event_id, client_ts, FLAG_TRUNCATED in raw.flags, payload, text)
