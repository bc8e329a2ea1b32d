"""What a hook event was a use of: pure functions, no I/O.

- `Skill` (`tool_input.skill`, maybe `plugin:name`)              → skill
- `Agent` / `Task` (`tool_input.subagent_type`)                   → agent (the subagent type)
- `mcp__<server>__<tool>`                                         → mcp (of that server)
- any other tool                                                  → tool
- `UserPromptExpansion` of a user-typed `/name`                   → skill if a skill of that
  name is installed, else command

Only `PostToolUse`, `PostToolUseFailure` and `UserPromptExpansion` are uses; other events
(session boundaries, subagent start/stop, …) are stored but count towards no artifact.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from skilltrack.daemon.ingest.models import HookPayload

USE_EVENTS = frozenset({"PostToolUse", "PostToolUseFailure", "UserPromptExpansion"})
AGENT_TOOLS = frozenset({"Agent", "Task"})
DEFAULT_SUBAGENT = "general-purpose"  # what Claude Code runs when no subagent_type is given


@dataclass(frozen=True, slots=True)
class Usage:
    """The artifact an event was a use of, and how the use went."""

    artifact_type: str | None  # skill | agent | mcp | command | tool, None for non-uses
    artifact_name: str | None
    plugin: str | None = None
    mcp_server: str | None = None
    success: bool | None = None
    duration_ms: int | None = None


NOT_A_USE = Usage(None, None)


def classify(event: HookPayload, is_skill: Callable[[str], bool] = lambda name: False) -> Usage:
    """Classify one event; `is_skill(name)` says whether a user-typed `/name` is a skill."""
    hook = event.hook_event_name
    if hook not in USE_EVENTS:
        return NOT_A_USE
    if hook == "UserPromptExpansion":
        name = (event.command_name or "").lstrip("/")
        if not name:
            return NOT_A_USE
        kind = "skill" if is_skill(name) else "command"
        return Usage(kind, name, plugin=_plugin_of(name), success=True)
    if not event.tool_name:
        return NOT_A_USE
    success = hook == "PostToolUse" and not _reports_failure(event.tool_response)
    duration = None if event.duration_ms is None else round(event.duration_ms)
    kind, name, plugin, server = tool_artifact(event.tool_name, _mapping(event.tool_input))
    return Usage(kind, name, plugin, server, success, duration)


def tool_artifact(
    tool_name: str, tool_input: Mapping[str, Any]
) -> tuple[str, str, str | None, str | None]:
    """(artifact type, name, plugin, MCP server) of a tool call."""
    if tool_name == "Skill":
        skill = tool_input.get("skill")
        if isinstance(skill, str) and skill.strip():
            name = skill.strip().lstrip("/")
            return "skill", name, _plugin_of(name), None
        return "tool", tool_name, None, None
    if tool_name in AGENT_TOOLS:
        subagent = tool_input.get("subagent_type")
        name = subagent if isinstance(subagent, str) and subagent else DEFAULT_SUBAGENT
        return "agent", name, _plugin_of(name), None
    if tool_name.startswith("mcp__"):
        server, sep, _tool = tool_name[len("mcp__") :].partition("__")
        if server and sep:
            return "mcp", tool_name, None, server
    return "tool", tool_name, None, None


def _plugin_of(name: str) -> str | None:
    plugin, sep, _ = name.partition(":")
    return plugin if sep and plugin else None


def _reports_failure(response: object) -> bool:
    # Some tools answer PostToolUse with an explicit `"success": false` rather than failing.
    return isinstance(response, Mapping) and response.get("success") is False


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
