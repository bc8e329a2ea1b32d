"""Enrichment after classification: size caps, skill versions, snippets. Pure functions.

Everything here works on a payload that is already sanitized (secrets and home paths out), so
whatever it keeps or cuts is safe to store and to forward.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from skilltrack.daemon.ingest.skills import SkillFile
from skilltrack.daemon.store.records import SkillVersion

# Where each kept field's cap comes from: what went in, and what came out.
INPUT_FIELDS = ("tool_input", "command_args", "prompt")
OUTPUT_FIELDS = ("tool_response", "error")
VERSION_CHARS = 12  # of the SHA-256: plenty to tell a skill's versions apart
# The conversation's own words in events that mark where uses end: what the user typed and
# what the model answered are not usage, and are never stored.
CONVERSATION_FIELDS = {
    "UserPromptSubmit": ("prompt",),
    "Stop": ("last_assistant_message",),
    "SubagentStop": ("last_assistant_message",),
    "StopFailure": ("last_assistant_message",),
}


def truncation_marker(dropped: int, unit: str) -> str:
    return f" [TRUNCATED:{dropped} {unit}]"


def cap_payload(text: str, max_input: int, max_output: int) -> tuple[str, bool]:
    """The payload's JSON text with inputs and outputs cut to their caps; and whether it was.

    Only what a tool was given and what it gave back is cut; ids, names and times, which
    counts and attribution depend on, are kept whole.
    """
    if len(text) <= min(max_input, max_output):
        return text, False  # the common case: nothing in it can be over a cap
    data = json.loads(text)
    if not isinstance(data, dict):
        return text, False
    capped = False
    for fields, limit in ((INPUT_FIELDS, max_input), (OUTPUT_FIELDS, max_output)):
        for field in fields:
            value = data.get(field)
            if value is None or _json_len(value) <= limit:
                continue
            data[field] = shrink(value, limit)
            capped = True
    if not capped:
        return text, False
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")), True


def without_conversation(text: str, hook_event: str, added: dict[str, Any] | None = None) -> str:
    """The payload's JSON text without the fields of CONVERSATION_FIELDS, and with `added`."""
    fields = CONVERSATION_FIELDS.get(hook_event, ())
    if not any(f'"{field}"' in text for field in fields) and not added:
        return text
    data = json.loads(text)
    if not isinstance(data, dict):
        return text
    for field in fields:
        data.pop(field, None)
    data.update(added or {})
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def shrink(value: Any, limit: int) -> Any:
    """`value` with its strings, lists and objects cut so that about `limit` characters of
    content remain; each cut leaves a marker saying how much went."""
    budget = limit

    def walk(item: Any) -> Any:
        nonlocal budget
        if isinstance(item, str):
            if len(item) <= budget:
                budget -= len(item)
                return item
            keep, budget = max(budget, 0), 0
            return item[:keep] + truncation_marker(len(item) - keep, "chars")
        if isinstance(item, list):
            kept: list[Any] = []
            for i, element in enumerate(item):
                if budget <= 0:
                    kept.append(truncation_marker(len(item) - i, "items").lstrip())
                    break
                kept.append(walk(element))
            return kept
        if isinstance(item, dict):
            fields: dict[str, Any] = {}
            for i, (key, element) in enumerate(item.items()):
                if budget <= 0:
                    fields["skilltrack_truncated"] = truncation_marker(
                        len(item) - i, "keys"
                    ).lstrip()
                    break
                budget -= len(key)
                fields[key] = walk(element)
            return fields
        budget -= len(str(item))
        return item

    try:
        return walk(value)
    except RecursionError:  # nested deeper than any real tool input: keep a marker only
        return truncation_marker(_json_len(value), "chars").lstrip()


def snippet(value: Any, limit: int) -> str | None:
    """At most `limit` characters of `value` (JSON unless it is text), for a training example."""
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if len(text) <= limit:
        return text
    return text[:limit] + truncation_marker(len(text) - limit, "chars")


def skill_version(
    found: SkillFile, redact_path: Callable[[str], str], seen_at: float
) -> SkillVersion:
    """The version record of a skill or command found on disk, its location (a skill's
    folder, a command's .md) redacted like any path.

    A user's or a project's is one skill per (source, location, name). A plugin's is one per
    plugin and name, wherever the plugin is read from: a plugin from a git marketplace moves to
    a new cache folder with each release, and its versions are still one skill's.
    """
    location = redact_path(found.path.removesuffix("/SKILL.md"))
    if found.plugin_id is not None:
        identity = f"plugin\n{found.plugin_id}\n{found.kind}\n{found.name}".encode()
    else:
        identity = f"{found.source}\n{location}\n{found.name}".encode()
    description = None if found.description is None else redact_path(found.description)
    return SkillVersion(
        skill_id=hashlib.sha256(identity).hexdigest()[:16],
        version=found.content_hash[:VERSION_CHARS],
        name=found.name,
        source=found.source,
        location=location,
        description=description,
        content_hash=found.content_hash,
        seen_at=seen_at,
    )


def _json_len(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    try:
        return len(json.dumps(value, ensure_ascii=False))
    except (ValueError, RecursionError):
        return 1 << 30
