"""Realistic hook events: a PostToolUse of Bash as Claude Code 2.1.328 sends it, a
PostToolUse of the Skill tool (a skill event), and the Stop that ends their turn.

Shaped like the samples in shared/claude-code-events.md; the Bash event has about a kilobyte
of command output in `tool_response` (a typical `ls`/`git status` sized answer).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

_STDOUT = "\n".join(
    f"-rw-r--r--  1 ann ann  {1000 + 37 * i:>6} May  9 07:35 src/module_{i:02d}.py"
    for i in range(18)
)


_COMMON: dict[str, Any] = {
    "session_id": "8350fdb2-23dd-490c-a332-ff6a54b6b4af",
    "transcript_path": (
        "/home/ann/.claude/projects/-home-ann-proj/8350fdb2-23dd-490c-a332-ff6a54b6b4af.jsonl"
    ),
    "cwd": "/home/ann/proj",
    "prompt_id": "3037ca87-25fc-4c40-afe6-f2ebf5821d90",
    "permission_mode": "default",
    "effort": {"level": "medium"},
}


def post_tool_use(tool_use_id: str | None = None) -> bytes:
    """The JSON bytes of one PostToolUse event (a fresh tool_use_id unless one is given)."""
    return _post_tool_use(
        tool_name="Bash",
        tool_input={"command": "ls -l src", "description": "List the source files"},
        tool_response={"stdout": _STDOUT, "stderr": "", "interrupted": False, "isImage": False},
        tool_use_id=tool_use_id,
        duration_ms=31,
    )


def skill_use(skill: str = "pdf-helper") -> bytes:
    """The JSON bytes of one PostToolUse of the Skill tool (a skill event, the kind an
    `everyskill` sink forwards), as Claude Code 2.1.328 sends it; a fresh tool_use_id."""
    return _post_tool_use(
        tool_name="Skill",
        tool_input={"skill": skill},
        tool_response={"success": True, "commandName": skill},
        tool_use_id=None,
        duration_ms=9,
    )


def stop() -> bytes:
    """The JSON bytes of the Stop that ends the turn of these events: the skills' work ends
    with it, and a skill's use is stored (and forwarded) once its work has ended."""
    return json.dumps({**_COMMON, "hook_event_name": "Stop", "stop_hook_active": False}).encode()


def _post_tool_use(
    *,
    tool_name: str,
    tool_input: dict[str, Any],
    tool_response: dict[str, Any],
    tool_use_id: str | None,
    duration_ms: int,
) -> bytes:
    event: dict[str, Any] = {
        **_COMMON,
        "hook_event_name": "PostToolUse",
        "tool_name": tool_name,
        "tool_input": tool_input,
        "tool_response": tool_response,
        "tool_use_id": tool_use_id or f"toolu_{uuid.uuid4().hex[:24]}",
        "duration_ms": duration_ms,
    }
    return json.dumps(event, indent=2).encode()


def post_tool_use_parts() -> tuple[bytes, bytes]:
    """The event's bytes before and after its tool_use_id, for a fast load generator."""
    marker = "toolu_MARKER"
    head, _, tail = post_tool_use(marker).partition(marker.encode())
    return head, tail
