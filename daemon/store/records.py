"""What the store takes and gives: an event's row, its skill version, its snippets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from skilltrack.wire import RawFrame


class EventRow(NamedTuple):
    """One row of `events`, in column order."""

    event_id: str
    hook_event: str
    client_ts: float
    received_at: float
    session_id: str | None
    prompt_id: str | None
    tool_use_id: str | None
    tool_name: str | None
    artifact_type: str | None
    artifact_name: str | None
    plugin: str | None
    mcp_server: str | None
    agent_id: str | None
    agent_type: str | None
    success: bool | None
    duration_ms: int | None
    cwd: str | None
    truncated: bool
    payload: str
    tenant_id: str | None = None
    user_id: str | None = None
    skill_id: str | None = None
    skill_version: str | None = None
    duration_bucket: int | None = None  # durations.bucket(duration_ms), for p50/p95
    project: str | None = None  # durations.project_of(cwd), for report --project
    ended_by: str | None = None  # a span's use: what ended it (see spans.py)
    call_ms: int | None = None  # a span's use: its call's own duration


class SkillVersion(NamedTuple):
    """A skill version to register before the first event that uses it."""

    skill_id: str
    version: str
    name: str
    source: str  # user | project | plugin
    location: str  # its folder, with home (or project) paths redacted
    description: str | None
    content_hash: str
    seen_at: float


class TrainingExample(NamedTuple):
    """A captured snippet (already sanitized and capped) of the event `event_id`."""

    event_id: str
    created_at: float
    tenant_id: str | None
    user_id: str | None
    artifact_type: str
    artifact_name: str
    skill_id: str | None
    skill_version: str | None
    input_snippet: str | None
    output_snippet: str | None


@dataclass(frozen=True, slots=True)
class Record:
    """What one event stores: its row, the skill version it used, and its snippets."""

    row: EventRow
    skill: SkillVersion | None = None
    example: TrainingExample | None = None
    # The frame as the hook sent it, to spool if the buffer overflows: replayed, it is
    # enriched again from what Claude Code sent, not from what sanitizing left of it.
    raw: RawFrame | None = None
    # A use whose work goes on after its event: held open in `spans` until it ends.
    opening: Opening | None = None
    # An event after which its session's transcripts are read (transcripts.READ_AT): the
    # transcript path it names, as Claude Code sent it.
    transcript: str | None = None

    @property
    def size(self) -> int:
        """What it holds in memory, roughly: its payload, twice if the raw frame is kept."""
        return len(self.row.payload) + (len(self.raw.payload) if self.raw else 0)


class Opening(NamedTuple):
    """A use whose work goes on after its event, held open until its end is seen (spans.py)."""

    kind: str  # "agent" (a background subagent's run) or "work" (a skill's or command's)
    thread: str  # "" the main thread, or the agent_id of the subagent the use was made in
    agent_id: str | None  # an agent run: the subagent its call launched
    started_at: float  # the call's start: its event's time less the call's own duration
