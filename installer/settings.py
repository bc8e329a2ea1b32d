"""Merging skilltrack's hook registrations into a Claude Code settings object, and out again.

Pure functions over parsed JSON: no files here (see files.py). Our entries are recognised by
their command, which runs `skilltrack_hook.py`; everything else, other tools' hooks on the
same events included, is kept exactly as it was, in its order.
"""

from __future__ import annotations

import copy
import shlex
from typing import Any

HOOK_SCRIPT = "skilltrack_hook.py"
HOOK_TIMEOUT_S = 5
# Events whose entries take a tool-name matcher.
TOOL_EVENTS = ("PostToolUse", "PostToolUseFailure")
# The rest mark where a use ends: a subagent's end, a turn's end, a task notification.
EVENTS = (
    *TOOL_EVENTS,
    "UserPromptExpansion",
    "UserPromptSubmit",
    "SubagentStart",
    "SubagentStop",
    "Stop",
    "StopFailure",
    "SessionStart",
    "SessionEnd",
)

Settings = dict[str, Any]


class SettingsShapeError(ValueError):
    """The settings are not in a shape we can edit without risking someone else's entries."""


def hook_command(python: str, hook: str) -> str:
    return f"{shlex.quote(python)} -I -S {shlex.quote(hook)}"


def our_entries(command: str) -> dict[str, list[dict[str, Any]]]:
    """The `hooks` groups skilltrack registers (what settings.template.json shows)."""
    entries: dict[str, list[dict[str, Any]]] = {}
    for event in EVENTS:
        group: dict[str, Any] = {}
        if event in TOOL_EVENTS:
            group["matcher"] = "*"
        group["hooks"] = [{"type": "command", "command": command, "timeout": HOOK_TIMEOUT_S}]
        entries[event] = [group]
    return entries


def is_ours(hook: Any) -> bool:
    return (
        isinstance(hook, dict)
        and isinstance(hook.get("command"), str)
        and HOOK_SCRIPT in hook["command"]
    )


def check_shape(settings: Any) -> None:
    """Raise SettingsShapeError naming the first part we would not know how to edit."""
    if not isinstance(settings, dict):
        raise SettingsShapeError("the file does not hold a JSON object")
    if "hooks" not in settings:
        return
    hooks = settings["hooks"]
    if not isinstance(hooks, dict):  # null too: someone wrote it, it is not ours to fill in
        raise SettingsShapeError('"hooks" is not an object')
    for event, groups in hooks.items():
        if not isinstance(groups, list):
            raise SettingsShapeError(f'"hooks.{event}" is not a list')
        for i, group in enumerate(groups):
            if not isinstance(group, dict) or not isinstance(group.get("hooks", []), list):
                raise SettingsShapeError(f'"hooks.{event}[{i}]" is not a hook group')


def install(settings: Settings, command: str) -> Settings:
    """`settings` with our entries for `command`, replacing older ones of ours."""
    check_shape(settings)
    wanted = our_entries(command)
    result = copy.deepcopy(settings)
    if all(_has_exactly(result, event, groups[0]) for event, groups in wanted.items()):
        return result  # already installed: change nothing, not even the order
    result = uninstall(result)
    hooks = result.setdefault("hooks", {})
    for event, groups in wanted.items():
        hooks.setdefault(event, []).extend(groups)
    return result


def uninstall(settings: Settings) -> Settings:
    """`settings` without any entry of ours; groups, events and a `hooks` object left empty
    by that removal go too (ones that were empty before are kept)."""
    check_shape(settings)
    result = copy.deepcopy(settings)
    hooks = result.get("hooks")
    if not hooks:
        return result
    for event in list(hooks):
        groups = hooks[event]
        kept = []
        for group in groups:
            members = group.get("hooks", [])
            remaining = [h for h in members if not is_ours(h)]
            if len(remaining) == len(members):
                kept.append(group)
            elif remaining:
                kept.append({**group, "hooks": remaining})
        if kept:
            hooks[event] = kept
        elif groups:
            del hooks[event]
    if not hooks and settings["hooks"]:
        del result["hooks"]
    return result


def installed_events(settings: Any) -> list[str]:
    """Events for which an entry of ours is registered."""
    hooks = settings.get("hooks") if isinstance(settings, dict) else None
    if not isinstance(hooks, dict):
        return []
    return [
        event
        for event, groups in hooks.items()
        if isinstance(groups, list)
        and any(
            is_ours(h)
            for g in groups
            if isinstance(g, dict) and isinstance(g.get("hooks"), list)
            for h in g["hooks"]
        )
    ]


def our_commands(settings: Any) -> list[str]:
    """The distinct commands of our entries, in the order they come."""
    hooks = settings.get("hooks") if isinstance(settings, dict) else None
    found: list[str] = []
    for groups in hooks.values() if isinstance(hooks, dict) else []:
        for group in groups if isinstance(groups, list) else []:
            members = group.get("hooks") if isinstance(group, dict) else None
            for hook in members if isinstance(members, list) else []:
                if is_ours(hook) and hook["command"] not in found:
                    found.append(hook["command"])
    return found


def _has_exactly(settings: Settings, event: str, group: dict[str, Any]) -> bool:
    groups = settings.get("hooks", {}).get(event, [])
    ours = [g for g in groups if any(is_ours(h) for h in g.get("hooks", []))]
    return ours == [group]


def same_as_before_us(original: Any, current: Settings) -> bool:
    """Whether `current` (ours removed) is `original` but for containers our removal emptied.

    Then the original file's exact bytes can be given back. Never when the original held
    entries of ours (an older install): those must not come back.
    """
    return not installed_events(original) and _pruned(original) == _pruned(current)


def nothing_else_changed(original: Any, current: Settings) -> bool:
    """Whether `current` (ours removed) is `original` with ours removed, but for containers
    that removal emptied: then a backup of `original` holds nothing the file lacks but
    entries of ours."""
    try:
        return bool(_pruned(uninstall(original)) == _pruned(current))
    except SettingsShapeError:
        return False


def _pruned(settings: Any) -> Any:
    if not isinstance(settings, dict) or not isinstance(settings.get("hooks"), dict):
        return settings
    hooks = {event: groups for event, groups in settings["hooks"].items() if groups}
    rest = {k: v for k, v in settings.items() if k != "hooks"}
    return {**rest, "hooks": hooks} if hooks else rest
