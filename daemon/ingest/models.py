"""The shapes a frame must have to be stored, checked with pydantic.

Claude Code's fields come and go between versions, so every payload field is optional, unknown
ones are ignored here (they stay in the stored JSON text), and a field we read that has the
wrong type is read as absent: the use is still counted, and the stored text keeps the value.
Only a payload that is not a JSON object, or has no hook event name, is refused.

pydantic's JSON parser is fast but refuses some JSON that Claude Code sends: a lone surrogate
escape (Node's JSON.stringify writes `\\ud83d` for a string cut inside an emoji) and nesting
deeper than ~200 levels. Such a payload is read again by the standard library's parser, its
lone surrogates written as U+FFFD (SQLite, CSV and UTF-8 files cannot hold them).
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from skilltrack.wire import FLAG_TRUNCATED, FrameError, RawFrame

# The client's clock is taken within this window of the daemon's: a time outside it (a broken
# clock, a hostile frame) would count the use on a day that is not its own and stretch every
# report over the years between. Such a use is stored at the daemon's time instead (counted).
# The past reaches far: a spool can hold events from long before it is replayed.
CLIENT_PAST_S = 10 * 365 * 86400
CLIENT_AHEAD_S = 86400

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
    prompt: str | None = None
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


def parse_frame(raw: RawFrame, text: str, now: float | None = None) -> Frame:
    """Validate a frame whose payload, decoded (and sanitized), is `text`; a `FrameError`
    names the counted reason it was refused. A client time outside the window around `now`
    (the daemon's clock) becomes `now`."""
    # The header first: it is cheap, and a frame with a bad one is refused whatever it holds.
    if not _UUID.match(raw.event_id):
        raise FrameError("bad_header", "event_id is not a lowercase UUID")
    try:
        client_ts = float(raw.client_ts)
    except ValueError:
        raise FrameError("bad_header", "client time is not a number") from None
    if not math.isfinite(client_ts) or client_ts <= 0:
        raise FrameError("bad_header", "client time must be a positive finite number")
    now = time.time() if now is None else now
    if not now - CLIENT_PAST_S <= client_ts <= now + CLIENT_AHEAD_S:
        client_ts = now
    if not text.strip():
        raise FrameError("empty_payload")
    try:
        payload = HookPayload.model_validate_json(text)
    except ValidationError as exc:
        payload, text = _read_leniently(text, exc)
    return Frame(raw.event_id, client_ts, FLAG_TRUNCATED in raw.flags, payload, text)


def _read_leniently(text: str, refused: ValidationError) -> tuple[HookPayload, str]:
    """The payload of `text` that pydantic's JSON mode `refused`, and the text to keep: read
    by the standard library (lone surrogates made U+FFFD first), then validated with the
    fields of the wrong type left out. FrameError if it is no JSON object or has no event."""
    errors = refused.errors()
    if errors[0]["type"] == "json_invalid":
        text = without_lone_surrogates(text)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise FrameError("invalid_json", errors[0]["msg"]) from None
    if not isinstance(data, dict):
        raise FrameError("invalid_json", "the payload is not a JSON object")
    try:
        return HookPayload.model_validate(data), text
    except ValidationError as exc:
        wrong = {e["loc"][0] for e in exc.errors() if e["loc"]}
        where = ".".join(str(p) for p in exc.errors()[0]["loc"])
    if "hook_event_name" in wrong or not wrong:
        raise FrameError("invalid_field", where)
    try:
        kept = {key: value for key, value in data.items() if key not in wrong}
        return HookPayload.model_validate(kept), text
    except ValidationError:
        raise FrameError("invalid_field", where) from None


# A JSON escape, taken whole so that `\\` (an escaped backslash) is never read as the start
# of the next one: a surrogate pair, a lone surrogate (group 1), or any other.
_ESCAPE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}"
    r"|(\\u[dD][89a-fA-F][0-9a-fA-F]{2})"
    r"|\\."
)


def without_lone_surrogates(text: str) -> str:
    """JSON `text` with each lone surrogate escape written as `\\ufffd` (U+FFFD), as a
    surrogate pair's halves apart are no character; every other escape as it was."""
    if "\\u" not in text:
        return text
    return _ESCAPE.sub(lambda m: "\\ufffd" if m.group(1) else m.group(0), text)
