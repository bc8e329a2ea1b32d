"""From frame bytes to a row for the store: validate, classify, and stamp the receive time."""

from __future__ import annotations

import time
from collections.abc import Callable

from skilltrack.daemon.classify import classify
from skilltrack.daemon.models import Frame, parse_frame
from skilltrack.daemon.store import EventRow
from skilltrack.wire import FLAG_TRUNCATED, RawFrame, encode_spool_record

SkillCheck = Callable[[str, str | None], bool]


def to_row(frame: Frame, is_skill: SkillCheck, received_at: float | None = None) -> EventRow:
    """The stored form of a validated frame."""
    p = frame.payload
    usage = classify(p, lambda name: is_skill(name, p.cwd))
    return EventRow(
        event_id=frame.event_id,
        hook_event=p.hook_event_name,
        client_ts=frame.client_ts,
        received_at=time.time() if received_at is None else received_at,
        session_id=p.session_id,
        prompt_id=p.prompt_id,
        tool_use_id=p.tool_use_id,
        tool_name=p.tool_name,
        artifact_type=usage.artifact_type,
        artifact_name=usage.artifact_name,
        plugin=usage.plugin,
        mcp_server=usage.mcp_server,
        agent_id=p.agent_id,
        agent_type=p.agent_type,
        success=usage.success,
        duration_ms=usage.duration_ms,
        cwd=p.cwd,
        truncated=frame.truncated,
        payload=frame.raw,
    )


def parse(raw: RawFrame, is_skill: SkillCheck, sanitize: Callable[[str], str]) -> EventRow:
    """Sanitize, validate and classify; raises FrameError with the counted reason."""
    return to_row(parse_frame(raw, sanitize), is_skill)


def spool_record(row: EventRow) -> bytes:
    """The spool line that replays `row` as the hook sent it."""
    flags = FLAG_TRUNCATED if row.truncated else "-"
    raw = RawFrame(row.event_id, f"{row.client_ts:.6f}", flags, row.payload.encode("utf-8"))
    return encode_spool_record(raw)
