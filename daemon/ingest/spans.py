"""Which uses go on after their event, and what the events that end them say. Pure functions.

Claude Code reports two kinds of use before the work they stand for is done:

- A background subagent (how 2.1.328 runs an `Agent` call by default): the call's
  `PostToolUse` answers `status: "async_launched"` at once, with the launched `agentId`. The
  run ends with `SubagentStop` (it finished) or `StopFailure` (an error ended it), both with
  that `agent_id`, and a `<task-notification>` prompt then tells the main thread its status.
  A foreground run's `PostToolUse` comes at the run's end and is complete as it is.
- A skill or command: the `Skill` call (or the typed `/name`) ends when its text is loaded,
  and the work it drives follows: until the next skill or command in the same thread, or the
  end of the turn (`Stop`, `StopFailure`), of its subagent (`SubagentStop`) or of the session.

Such a use opens a span (`Opening`); the store holds it until its end is seen and then stores
the use with the whole span as its duration (skilltrack.daemon.store.spans).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from skilltrack.daemon.ingest.classify import Usage
from skilltrack.daemon.ingest.models import HookPayload
from skilltrack.daemon.store.records import Opening
from skilltrack.daemon.store.spans import AGENT, MAIN_THREAD, WORK

# What a task notification says of a background task, in the prompt Claude Code submits.
_NOTIFICATION = "<task-notification>"
_TOOL_USE_ID = re.compile(r"<tool-use-id>\s*([^<\s]+)\s*</tool-use-id>")
_STATUS = re.compile(r"<status>\s*([^<\s]+)\s*</status>")
COMPLETED = "completed"


@dataclass(frozen=True, slots=True)
class Notification:
    """A `<task-notification>`: how the background task of an `Agent` call ended."""

    tool_use_id: str  # the Agent call's
    status: str  # completed, failed, ...

    @property
    def success(self) -> bool:
        return self.status == COMPLETED


def opening(event: HookPayload, usage: Usage, client_ts: float) -> Opening | None:
    """The span `event`'s use opens, if its work goes on after it (see the module's doc)."""
    if usage.success is not True:
        return None  # a failed call drove no work: it is complete as it is
    thread = event.agent_id or MAIN_THREAD
    started_at = client_ts - (usage.duration_ms or 0) / 1000
    if usage.artifact_type in ("skill", "command"):
        return Opening(WORK, thread, None, started_at)
    if usage.artifact_type == "agent" and event.hook_event_name == "PostToolUse":
        launched = launched_agent(event.tool_response)
        if launched is not None:
            return Opening(AGENT, thread, launched, started_at)
    return None


def launched_agent(response: object) -> str | None:
    """The agent id of a subagent an `Agent` call launched in the background, or None if it
    ran in the foreground (and so has ended)."""
    if not isinstance(response, Mapping) or response.get("status") != "async_launched":
        return None
    agent = response.get("agentId")
    return agent if isinstance(agent, str) and agent else None


def task_notification(prompt: object) -> Notification | None:
    """What a submitted prompt reports of a background task, if it is a task notification."""
    if not isinstance(prompt, str) or _NOTIFICATION not in prompt:
        return None
    tool_use, status = _TOOL_USE_ID.search(prompt), _STATUS.search(prompt)
    if tool_use is None or status is None:
        return None
    return Notification(tool_use.group(1), status.group(1).lower())
