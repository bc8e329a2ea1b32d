"""Which skill or command use owns each API request of a thread. A pure function.

A thread is one transcript file: the main thread's, or one subagent's (whose run owns every
request in it; that is the caller's). Within a thread, in file order:

- a skill or command called with `Skill` owns the requests after the one that issued the call,
  in the same prompt, up to the request that issues the next such call, or the prompt's end;
- a typed `/skill` or `/command` (main thread) owns its prompt's requests from the first;
- the rest belong to no use: the session's own (or the subagent run's alone).

Only calls the hooks reported as successful skill or command uses (`calls`) switch the owner:
a `Skill` call the client refused fires no hook and ends nothing. This is what Claude Code
2.1.328 marks with `attributionSkill` on the main thread, and, unlike that field, it also
segments a subagent's own skills.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from skilltrack.daemon.ingest.transcripts import Request

Use = TypeVar("Use", bound=Hashable)  # whatever names a use: the store's Owner


@dataclass(frozen=True, slots=True)
class Cursor(Generic[Use]):
    """Where a thread's segmentation stands between two passes over its file."""

    prompt_id: str | None = None  # the prompt of the last request attributed
    owner: Use | None = None  # who owns the thread's requests now


def attribute(
    requests: Iterable[Request],
    cursor: Cursor[Use],
    calls: Mapping[str, Use],
    typed: Mapping[str, Use],
) -> tuple[list[tuple[Request, Use | None]], Cursor[Use]]:
    """Each request with its owner, and the cursor after them.

    `calls`: the thread's successful skill and command uses by their `tool_use_id`; `typed`:
    typed uses by `prompt_id` (empty for a subagent's thread)."""
    owned: list[tuple[Request, Use | None]] = []
    prompt, owner = cursor.prompt_id, cursor.owner
    for request in requests:
        if request.prompt_id != prompt:
            prompt = request.prompt_id
            owner = typed.get(prompt) if prompt is not None else None
        owned.append((request, owner))
        for call in request.tool_use_ids:
            owner = calls.get(call, owner)
    return owned, Cursor(prompt, owner)
