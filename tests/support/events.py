"""Events as each part sees them: the hook's stdin, the daemon's frames and spool records, the
store's rows, and generated usage whose report figures are known."""

from __future__ import annotations

import copy
import json
import random
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skilltrack.daemon.ingest.projects import project_of
from skilltrack.daemon.report.queries import DAY_S
from skilltrack.daemon.store import durations
from skilltrack.daemon.store.records import EventRow, Record
from skilltrack.wire import encode_frame

REAL_EVENTS = Path(__file__).parent.parent / "data" / "claude_code_2.1.328_events.json"
REAL: dict[str, dict[str, Any]] = {
    e["title"]: e["payload"] for e in json.loads(REAL_EVENTS.read_text())["events"]
}


def real(title: str, **changes: Any) -> dict[str, Any]:
    """The payload Claude Code 2.1.328 sent for the event `title` of REAL_EVENTS, changed."""
    event = copy.deepcopy(REAL[title])
    event.update(changes)
    return event


def payload(hook_event: str = "PostToolUse", **fields: Any) -> bytes:
    """A hook event's stdin, shaped like Claude Code 2.1.328's (shared/claude-code-events.md)."""
    event: dict[str, Any] = {
        "session_id": fields.pop("session_id", "8350fdb2-23dd-490c-a332-ff6a54b6b4af"),
        "transcript_path": "/home/ann/.claude/projects/-home-ann-proj/s.jsonl",
        "cwd": fields.pop("cwd", "/home/ann/proj"),
        "hook_event_name": hook_event,
    }
    if hook_event.startswith("PostToolUse"):
        event.update(
            tool_name="Bash",
            tool_input={"command": "echo hi"},
            tool_use_id=f"toolu_{uuid.uuid4().hex[:12]}",
            duration_ms=9,
        )
        if hook_event == "PostToolUse":
            event["tool_response"] = {"stdout": "hi", "stderr": "", "interrupted": False}
        else:
            event.update(error="Exit code 3", is_interrupt=False)
    event.update(fields)
    return json.dumps(event).encode()


def frame(**fields: Any) -> bytes:
    """A PostToolUse event framed as the hook sends it to the daemon's socket, made now."""
    return encode_frame(str(uuid.uuid4()), time.time(), payload(**fields))


def row(
    artifact: tuple[str, str] | None = ("tool", "Bash"),
    *,
    success: bool | None = True,
    duration: int | None = 10,
    ts: float = 1_000.0,
    event_id: str | None = None,
) -> EventRow:
    """A stored event's row (no artifact: a session event)."""
    kind, name = artifact or (None, None)
    return EventRow(
        event_id=event_id or str(uuid.uuid4()),
        hook_event="PostToolUse" if artifact else "SessionStart",
        client_ts=ts,
        received_at=ts + 0.01,
        session_id="s",
        prompt_id=None,
        tool_use_id=None,
        tool_name=name,
        artifact_type=kind,
        artifact_name=name,
        plugin=None,
        mcp_server=None,
        agent_id=None,
        agent_type=None,
        success=success,
        duration_ms=duration,
        cwd=None,
        truncated=False,
        payload="{}",
    )


# -- generated usage, for the reports ------------------------------------------------------

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z
ARTIFACTS = [("skill", "pdf"), ("skill", "review"), ("tool", "Bash"), ("agent", "Explore"),
             ("mcp", "mcp__github__search")]  # fmt: skip


@dataclass(frozen=True)
class Generated:
    """One generated use: the fields the reports count by."""

    ts: float
    kind: str
    name: str
    ok: bool
    ms: int | None
    session: str
    cwd: str


def generate(n: int, days: int, seed: int = 3) -> list[Generated]:
    """`n` uses spread at random (seeded) over `days` days from START."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        kind, name = rng.choice(ARTIFACTS)
        ms = None if rng.random() < 0.1 else int(rng.lognormvariate(5, 1.5))
        out.append(
            Generated(
                ts=START + rng.uniform(0, days * DAY_S),
                kind=kind,
                name=name,
                ok=rng.random() > 0.2,
                ms=ms,
                session=rng.choice(["s1", "s2", "s3"]),
                cwd=rng.choice(["~/work/app", "~/work/site", "~/app"]),
            )
        )
    return out


def record(g: Generated) -> Record:
    """A generated use as the daemon would store it."""
    event = EventRow(
        event_id=str(uuid.uuid4()), hook_event="PostToolUse", client_ts=g.ts,
        received_at=g.ts + 0.01, session_id=g.session, prompt_id=None, tool_use_id=None,
        tool_name=g.name, artifact_type=g.kind, artifact_name=g.name, plugin=None,
        mcp_server=None, agent_id=None, agent_type=None, success=g.ok, duration_ms=g.ms,
        cwd=g.cwd, truncated=False, payload="{}",
        duration_bucket=None if g.ms is None else durations.bucket(g.ms),
        project=project_of(g.cwd),
    )  # fmt: skip
    return Record(event)
