"""What a hook event was a use of: pure functions, no I/O.

- `Skill` (`tool_input.skill`)                     → what the name resolves to (skills.py): a
  skill or a command, under its canonical name; a name found nowhere → skill, as given
- `UserPromptExpansion` of a user-typed `/name`    → the same; a name found nowhere → command
- `Agent` / `Task` (`tool_input.subagent_type`)    → agent (the subagent type)
- `mcp__<server>__<tool>`                          → mcp (of that server)
- any other tool                                   → tool

Only `PostToolUse`, `PostToolUseFailure` and `UserPromptExpansion` are uses; other events
(session boundaries, subagent start/stop, …) are stored but count towards no artifact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

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


class Resolved(Protocol):
    """What a skill or command name was found to be (skills.SkillFile is one)."""

    @property
    def name(self) -> str: ...  # the canonical name
    @property
    def kind(self) -> str: ...  # skill | command
    @property
    def plugin(self) -> str | None: ...


def named_artifact(event: HookPayload) -> tuple[str, str | None] | None:
    """The skill or command name a use event gives, to be resolved, with the typed name's
    `command_source`; None for every other event."""
    hook = event.hook_event_name
    if hook == "UserPromptExpansion":
        name = (event.command_name or "").strip().lstrip("/")
        return (name, event.command_source) if name else None
    if hook in USE_EVENTS and event.tool_name == "Skill":
        skill = _mapping(event.tool_input).get("skill")
        if isinstance(skill, str) and skill.strip().lstrip("/"):
            return skill.strip().lstrip("/"), None
    return None


def classify(event: HookPayload, found: Resolved | None = None) -> Usage:
    """Classify one event; `found` is what its `named_artifact` resolved to, if anything."""
    hook = event.hook_event_name
    if hook not in USE_EVENTS:
        return NOT_A_USE
    named = named_artifact(event)
    if hook == "UserPromptExpansion":
        if named is None:
            return NOT_A_USE
        kind, name, plugin = _named(named[0], found, unknown="command")
        return Usage(kind, name, plugin=plugin, success=True)
    if not event.tool_name:
        return NOT_A_USE
    success = hook == "PostToolUse" and not _reports_failure(event.tool_response)
    duration = None if event.duration_ms is None else round(event.duration_ms)
    if named is not None:
        kind, name, plugin = _named(named[0], found, unknown="skill")
        return Usage(kind, name, plugin, None, success, duration)
    kind, name, plugin, server = tool_artifact(event.tool_name, _mapping(event.tool_input))
    return Usage(kind, name, plugin, server, success, duration)


def _named(name: str, found: Resolved | None, unknown: str) -> tuple[str, str, str | None]:
    if found is not None:
        return found.kind, found.name, found.plugin
    # Found nowhere (a built-in skill, a plugin loaded with --plugin-dir, one since removed):
    # the name as given, its plugin read from it.
    return unknown, name, _plugin_of(name)


def tool_artifact(
    tool_name: str, tool_input: Mapping[str, Any]
) -> tuple[str, str, str | None, str | None]:
    """(artifact type, name, plugin, MCP server) of a tool call other than a named `Skill`."""
    if tool_name == "Skill":
        return "tool", tool_name, None, None  # a Skill call naming nothing
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
