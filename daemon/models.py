"""The shapes a frame must have to be stored, checked with pydantic.

Claude Code's fields come and go between versions, so every payload field is optional, unknown
ones are kept, and only a field we read that has the wrong type is a rejection.
"""

from __future__ import annotations

import math
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from skilltrack.wire import FLAG_TRUNCATED, FrameError, RawFrame

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class HookPayload(BaseModel):
    """A Claude Code hook event as it arrives on the hook's stdin."""

    model_config = ConfigDict(extra="allow", frozen=True)

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


class Frame(BaseModel):
    """One event as the hook framed it: its id, the client's clock and the payload."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    client_ts: float
    truncated: bool
    payload: HookPayload
    raw: str  # the payload's JSON text, kept as stored

    @field_validator("event_id")
    @classmethod
    def _uuid(cls, value: str) -> str:
        if not _UUID.match(value):
            raise ValueError("event_id is not a lowercase UUID")
        return value

    @field_validator("client_ts")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value) or value <= 0:
            raise ValueError("client time must be a positive finite number")
        return value


def parse_frame(raw: RawFrame, text: str) -> Frame:
    """Validate a frame whose payload, decoded (and sanitized), is `text`; a `FrameError`
    names the counted reason it was refused."""
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
    try:
        return Frame(
            event_id=raw.event_id,
            client_ts=raw.client_ts,  # type: ignore[arg-type]  # pydantic parses the text
            truncated=FLAG_TRUNCATED in raw.flags,
            payload=payload,
            raw=text,
        )
    except ValidationError as exc:
        raise FrameError("bad_header", exc.errors()[0]["msg"]) from None
