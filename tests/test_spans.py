"""Uses that end after their event: background subagent runs and the work of skills and
commands, from Claude Code 2.1.328's payloads through enrichment into a real SQLite store.

Each test sends events with the client times it names (seconds from T0) and reads back what
the store holds: the use appears in events once its end is seen, whatever order the events
arrive in, with the span as its duration.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from skilltrack import config
from skilltrack.daemon.ingest.pipeline import Ingest
from skilltrack.daemon.ingest.skills import SkillLocator
from skilltrack.daemon.store import spans
from skilltrack.daemon.store.database import Store
from skilltrack.daemon.store.records import Record
from skilltrack.wire import RawFrame
from tests.support.events import real

T0 = 1_780_000_000.0  # a past time: the daemon takes a client time ahead of its own as its own
AGENT_ID = "ad9efd887f8677e85"  # the subagent of the recorded Agent call
PROMPT = "3037ca87-25fc-4c40-afe6-f2ebf5821d90"  # the recorded turn's prompt_id
SESSION = "8350fdb2-23dd-490c-a332-ff6a54b6b4af"  # the recorded session's
COLUMNS = ("type", "name", "success", "ms", "ended_by", "call_ms", "at", "id")


class Client:
    """Sends events as the hook would, each with its event id and client time."""

    def __init__(self, ingest: Ingest, store: Store) -> None:
        self.ingest, self.store = ingest, store
        self.sent: dict[str, Record] = {}

    def record(self, at: float, event: dict[str, Any], name: str | None = None) -> Record:
        raw = RawFrame(str(uuid.uuid4()), f"{T0 + at:.6f}", "-", json.dumps(event).encode())
        record = self.ingest.parse(raw)
        self.sent[name or event.get("tool_use_id") or event["hook_event_name"]] = record
        return record

    async def send(self, at: float, event: dict[str, Any], name: str | None = None) -> Record:
        record = self.record(at, event, name)
        await self.store.insert([record])
        return record

    async def uses(self) -> dict[str, dict[str, Any]]:
        """The stored uses by artifact name (one each in these tests)."""
        rows = await self.store._db.execute_fetchall(
            "SELECT artifact_type, artifact_name, success, duration_ms, ended_by, call_ms, "
            "client_ts, tool_use_id FROM events WHERE artifact_type IS NOT NULL"
        )
        return {r[1]: dict(zip(COLUMNS, r, strict=True)) for r in rows}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    ingest = Ingest(
        config.Settings(tenant_id="acme", user_id="ann"),
        SkillLocator(home=tmp_path / "home"),
        lambda: False,
        home="/home/ann",
    )
    store = await Store.open(tmp_path / "s.db")
    try:
        yield Client(ingest, store)
    finally:
        await store.close()


def launched(**changes: Any) -> dict[str, Any]:
    """PostToolUse of a background Agent call (async_launched, 12 ms), as recorded."""
    return real("PostToolUse — Agent", **changes)


def subagent_stop(**changes: Any) -> dict[str, Any]:
    return real("SubagentStop — inside a subagent", **changes)


def stop_failure(**changes: Any) -> dict[str, Any]:
    # As claude-code-transcripts.md records it for a subagent whose API requests failed.
    event = real("Stop", hook_event_name="StopFailure", error="unknown")
    event.pop("stop_hook_active")
    event.update(last_assistant_message="API Error: 400 secret-ish text", **changes)
    return event


def notification(tool_use_id: str, status: str, **changes: Any) -> dict[str, Any]:
    prompt = (
        f"<task-notification>\n<task-id>{AGENT_ID}</task-id>\n<tool-use-id>{tool_use_id}"
        f'</tool-use-id>\n<status>{status}</status>\n<summary>Agent "explore" {status}: '
        "the file holds AKIA-LIKE-PRIVATE-TEXT</summary>\n</task-notification>"
    )
    return real("UserPromptSubmit", prompt=prompt, **changes)


def skill(
    name: str = "pdf-helper", tool_use_id: str = "toolu_s1", **changes: Any
) -> dict[str, Any]:
    return real("PostToolUse — Skill", tool_input={"skill": name}, tool_use_id=tool_use_id,
                **changes)  # fmt: skip


def bash(tool_use_id: str, **changes: Any) -> dict[str, Any]:
    return real("PostToolUse — Bash — inside a subagent", tool_use_id=tool_use_id, **changes)


def main_bash(tool_use_id: str) -> dict[str, Any]:
    event = bash(tool_use_id)
    del event["agent_id"], event["agent_type"]
    return event


# -- background subagents ---------------------------------------------------------------


async def test_a_background_agent_lasts_from_its_launch_to_its_subagents_end(
    client: Client,
) -> None:
    await client.send(0.0, launched())
    assert await client.uses() == {}  # launched: its run has not ended
    assert await client.store.count_open_spans() == 1
    await client.send(0.01, real("SubagentStart — inside a subagent"))
    await client.send(40.0, bash("toolu_b1"))
    await client.send(107.0, subagent_stop())
    agent = (await client.uses())["general-purpose"]
    # From the call's start (its event less its 12 ms) to SubagentStop.
    assert agent["ms"] == 107_012
    assert (agent["success"], agent["ended_by"], agent["call_ms"]) == (1, "SubagentStop", 12)
    assert agent["at"] == T0  # counted on the day and at the time it was launched
    assert await client.store.count_open_spans() == 0
    [summary] = [s for s in await client.store.artifact_summary() if s["artifact_type"] == "agent"]
    assert (summary["uses"], summary["failures"], summary["total_duration_ms"]) == (1, 0, 107_012)


async def test_an_end_that_arrives_before_its_launch_still_ends_it(client: Client) -> None:
    # A spooled event replayed after a later one: the client's times decide, not arrival.
    await client.send(107.0, subagent_stop())
    await client.send(0.0, launched())
    agent = (await client.uses())["general-purpose"]
    assert (agent["ms"], agent["success"], agent["ended_by"]) == (107_012, 1, "SubagentStop")


async def test_both_in_one_group_end_it(client: Client) -> None:
    records = [client.record(0.0, launched()), client.record(5.0, subagent_stop())]
    assert await client.store.insert(records) == 2
    assert (await client.uses())["general-purpose"]["ms"] == 5_012


async def test_a_subagent_that_ends_in_an_error_is_a_failed_use(client: Client) -> None:
    await client.send(0.0, launched())
    await client.send(30.0, stop_failure(agent_id=AGENT_ID, agent_type="general-purpose"))
    agent = (await client.uses())["general-purpose"]
    assert (agent["ms"], agent["success"], agent["ended_by"]) == (30_012, 0, "StopFailure")


async def test_a_failed_task_notification_ends_it_as_a_failure(client: Client) -> None:
    await client.send(0.0, launched())
    await client.send(20.0, notification("toolu_0004", "failed", prompt_id="p2"))
    await client.send(21.0, stop_failure(agent_id=AGENT_ID))  # later: changes nothing
    agent = (await client.uses())["general-purpose"]
    assert (agent["ms"], agent["success"], agent["ended_by"]) == (20_012, 0, "UserPromptSubmit")


async def test_a_foreground_agent_is_complete_at_its_post_tool_use(client: Client) -> None:
    response = {"status": "completed", "agentId": AGENT_ID, "totalDurationMs": 95_000}
    await client.send(95.0, launched(tool_response=response, duration_ms=95_120))
    agent = (await client.uses())["general-purpose"]
    assert (agent["ms"], agent["success"], agent["ended_by"]) == (95_120, 1, None)
    assert await client.store.count_open_spans() == 0


async def test_an_agent_still_running_when_its_session_ends_failed_at_its_last_event(
    client: Client,
) -> None:
    await client.send(0.0, launched())
    await client.send(50.0, bash("toolu_b1"))
    await client.send(300.0, real("SessionEnd"))
    agent = (await client.uses())["general-purpose"]
    assert (agent["ms"], agent["success"], agent["ended_by"]) == (50_012, 0, "SessionEnd")


# -- skills and commands ----------------------------------------------------------------


async def test_a_skill_lasts_until_its_turn_ends(client: Client) -> None:
    await client.send(0.0, skill())
    await client.send(10.0, main_bash("toolu_m1"))
    assert await client.uses() == {"Bash": (await client.uses())["Bash"]}
    await client.send(30.0, real("Stop"))
    pdf = (await client.uses())["pdf-helper"]
    # From the call's start (its event less its 9 ms) to Stop; the load alone is call_ms.
    assert (pdf["ms"], pdf["success"], pdf["ended_by"], pdf["call_ms"]) == (30_009, 1, "Stop", 9)


async def test_the_next_skill_in_the_thread_ends_the_one_before(client: Client) -> None:
    await client.send(0.0, skill("pdf-helper", "toolu_s1"))
    await client.send(12.0, skill("xlsx", "toolu_s2"))
    await client.send(20.0, real("Stop"))
    uses = await client.uses()
    assert (uses["pdf-helper"]["ms"], uses["pdf-helper"]["ended_by"]) == (12_000, "next_use")
    assert (uses["xlsx"]["ms"], uses["xlsx"]["ended_by"]) == (8_009, "Stop")


async def test_a_typed_command_lasts_from_its_expansion_to_its_turns_end(client: Client) -> None:
    expansion = real(
        "UserPromptExpansion", command_name="deploy-notes", session_id=SESSION, prompt_id=PROMPT
    )
    await client.send(0.0, expansion)
    await client.send(45.5, real("Stop"))
    notes = (await client.uses())["deploy-notes"]
    assert (notes["type"], notes["ms"], notes["ended_by"]) == ("command", 45_500, "Stop")


async def test_a_skill_inside_a_subagent_lasts_until_the_subagent_ends(client: Client) -> None:
    await client.send(0.0, launched())
    inner = real("PostToolUse — Skill — inside a subagent", tool_input={"skill": "xlsx"})
    await client.send(5.0, inner)
    await client.send(8.0, real("Stop"))  # the main thread's turn: not the subagent's
    assert "xlsx" not in await client.uses()
    await client.send(60.0, subagent_stop())
    uses = await client.uses()
    # From its call's start (5 s less the call's own duration) to SubagentStop at 60 s.
    expected = 55_000 + inner["duration_ms"]
    assert (uses["xlsx"]["ms"], uses["xlsx"]["ended_by"]) == (expected, "SubagentStop")
    assert uses["general-purpose"]["ms"] == 60_012


async def test_a_turn_that_ends_in_an_error_fails_the_skills_work(client: Client) -> None:
    await client.send(0.0, skill())
    failure = stop_failure()
    failure.pop("agent_id", None)
    await client.send(7.0, failure)
    pdf = (await client.uses())["pdf-helper"]
    assert (pdf["success"], pdf["ended_by"]) == (0, "StopFailure")


async def test_an_interrupted_turn_ends_its_skill_at_its_last_event(client: Client) -> None:
    # No Stop after an interrupt: the next prompt shows the turn is over, and the skill's
    # work ended with the last event of its own prompt.
    await client.send(0.0, skill())
    await client.send(20.0, main_bash("toolu_m1"))
    await client.send(600.0, real("UserPromptSubmit", prompt="next", prompt_id="p2"))
    pdf = (await client.uses())["pdf-helper"]
    assert (pdf["ms"], pdf["ended_by"]) == (20_009, "UserPromptSubmit")


async def test_a_use_whose_end_never_comes_is_ended_by_the_sweep(client: Client) -> None:
    await client.send(0.0, skill())
    await client.send(3.0, main_bash("toolu_m1"))
    await client.send(4.0, launched())
    await client.send(9.0, bash("toolu_b1"))
    assert await client.store.end_stale_spans(T0 + 60) == 0  # not yet past the timeout
    assert await client.store.end_stale_spans(T0 + spans.SPAN_TIMEOUT_S + 5) == 2
    uses = await client.uses()
    assert (uses["pdf-helper"]["ms"], uses["pdf-helper"]["ended_by"]) == (3_009, "timeout")
    assert uses["pdf-helper"]["success"] == 1
    agent = uses["general-purpose"]
    assert (agent["ms"], agent["success"], agent["ended_by"]) == (5_012, None, "timeout")


async def test_a_failed_skill_call_is_complete_at_once(client: Client) -> None:
    failed = real("PostToolUseFailure — Bash", tool_name="Skill", tool_input={"skill": "gone"})
    await client.send(0.0, failed)
    gone = (await client.uses())["gone"]
    assert (gone["success"], gone["ended_by"]) == (0, None)
    assert await client.store.count_open_spans() == 0


# -- exactly once, and nothing of the conversation ----------------------------------------


async def test_resent_events_count_a_span_once(client: Client) -> None:
    opener = client.record(0.0, launched())
    end = client.record(10.0, subagent_stop())
    assert await client.store.insert([opener]) == 1
    assert await client.store.insert([opener]) == 0  # held already
    assert await client.store.insert([end]) == 1
    assert await client.store.insert([opener, end]) == 0  # ended already
    assert await client.store.count_open_spans() == 0
    [summary] = [s for s in await client.store.artifact_summary() if s["artifact_type"] == "agent"]
    assert summary["uses"] == 1


async def test_no_prompt_or_reply_text_is_stored(client: Client) -> None:
    await client.send(0.0, launched())
    await client.send(1.0, real("UserPromptSubmit", prompt="my password is hunter2"))
    await client.send(20.0, notification("toolu_0004", "completed"))
    await client.send(21.0, stop_failure(agent_id="other"))
    await client.send(22.0, real("Stop", last_assistant_message="the reply hunter2"))
    stored = await client.store._db.execute_fetchall("SELECT payload FROM events")
    text = "\n".join(r[0] for r in stored)
    for private in ("hunter2", "AKIA-LIKE-PRIVATE-TEXT", "secret-ish", "the reply"):
        assert private not in text
    told = [json.loads(r[0]) for r in stored if "task_notification" in r[0]]
    assert [t["task_notification"] for t in told] == [
        {"tool_use_id": "toolu_0004", "status": "completed"}
    ]
    agent = (await client.uses())["general-purpose"]
    assert (agent["success"], agent["ended_by"]) == (1, "UserPromptSubmit")
