"""How long the real Claude Code's subagents and skills ran, as skilltrack stores it.

One `claude -p` session, its model scripted to take time: a skill, then a background subagent
that succeeds, a foreground one, and a background one whose API requests fail. Each subagent's
replies are delayed, so its run cannot be shorter than the delays; what the client reported
of the call itself (`call_ms`) is what skilltrack once took for the whole run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.claude_code import hook_trouble, make_sandbox, run_claude, wait_for_events
from tests.support.home import Home
from tests.support.model import Conversation, ModelServer, ScriptedModel, ToolCall

DELAY_S = {"BG:": 1.0, "FG:": 0.5, "FAIL:": 0.2}
# Replies each subagent waits for: its calls, then its final text (or the error it gets).
REPLIES = {"BG:": 3, "FG:": 2, "FAIL:": 2}
BACKGROUND = Conversation(
    [ToolCall("Bash", {"command": "echo one"}), ToolCall("Bash", {"command": "echo two"})],
    marker="BG:",
    delay_s=DELAY_S["BG:"],
)
FOREGROUND = Conversation(
    [ToolCall("Bash", {"command": "echo fg"})], marker="FG:", delay_s=DELAY_S["FG:"]
)
FAILING = Conversation(
    [ToolCall("Bash", {"command": "echo fail"})],
    marker="FAIL:",
    delay_s=DELAY_S["FAIL:"],
    fail_with=400,
)


def agent(prompt: str, description: str, **more: Any) -> ToolCall:
    return ToolCall(
        "Agent",
        {"description": description, "prompt": prompt, "subagent_type": "general-purpose", **more},
    )


MAIN = Conversation(
    [
        ToolCall("Skill", {"skill": "pdf-helper"}),
        agent("BG: work in the background", "background"),
        agent("FG: work in the foreground", "foreground", run_in_background=False),
        agent("FAIL: break", "failing"),
    ]
)


def at_ms(event: dict[str, Any]) -> float:
    """An event's client time in ms (from `events --json`'s ISO time, to the ms)."""
    from datetime import datetime

    return datetime.fromisoformat(event["client_time"]).timestamp() * 1000


@pytest.mark.e2e
def test_subagent_runs_and_skill_work_last_as_long_as_the_client_ran_them(
    claude_binary: Path, home: Home, tmp_path: Path
) -> None:
    model = ScriptedModel(MAIN, [BACKGROUND, FOREGROUND, FAILING])
    with ModelServer(model) as server:
        sandbox = make_sandbox(tmp_path, home, server.url, "skilltrack-install", claude_binary)
        run = run_claude(claude_binary, sandbox, "go", tmp_path / "claude.log")
    conversation = f"model requests:\n{model.summary()}"
    assert run.returncode == 0, f"{run.describe()}\n{conversation}"
    assert hook_trouble(run, sandbox) == []

    # Every hook run ends up stored once the daemon has it; the uses once their spans end.
    ran = sum(1 for _ in run.hook_responses())
    events = wait_for_events(home, ran)
    stored = home.json("skilltrack", "events", "--payload", "--limit", "1000")["events"]
    by_tool_use = {e["tool_use_id"]: e for e in stored if e["tool_use_id"]}
    agents = [e for e in events if e["artifact_type"] == "agent"]
    assert len(agents) == 3, f"{[(e['hook_event'], e['ended_by']) for e in events]}"
    runs = {e["payload"]["tool_input"]["prompt"].split()[0]: e for e in
            (by_tool_use[a["tool_use_id"]] for a in agents)}  # fmt: skip
    assert set(runs) == set(DELAY_S)

    ends = {e["agent_id"]: e for e in stored if e["hook_event"] in ("SubagentStop", "StopFailure")}
    for marker, use in runs.items():
        floor_ms = DELAY_S[marker] * REPLIES[marker] * 1000
        assert use["duration_ms"] >= floor_ms, (marker, use, conversation)
        if marker == "FG:":  # returns when the subagent has ended: the client's own duration
            assert (use["ended_by"], use["success"]) == (None, True)
            assert use["duration_ms"] == use["payload"]["duration_ms"]
            continue
        # Launched in the background: the call returned at once, the run went on.
        launched = use["payload"]["tool_response"]
        assert launched["status"] == "async_launched"
        assert use["call_ms"] < floor_ms
        end = ends[launched["agentId"]]
        if marker == "BG:":
            assert (use["ended_by"], use["success"]) == ("SubagentStop", True)
        else:
            assert end["hook_event"] == "StopFailure"
            # Its task notification says 'failed' too; whichever the client's clock put first
            # ended it (their hooks run side by side).
            assert use["ended_by"] in ("StopFailure", "UserPromptSubmit")
            assert use["success"] is False
            if use["ended_by"] == "UserPromptSubmit":
                [end] = [e for e in stored if e["hook_event"] == "UserPromptSubmit"
                         and e["tool_use_id"] == use["tool_use_id"]]  # fmt: skip
        started = at_ms(use) - use["call_ms"]
        assert use["duration_ms"] == pytest.approx(at_ms(end) - started, abs=2)

    # The skill's work lasted until its turn ended, the foreground subagent's run within it.
    [skill] = [e for e in events if e["artifact_type"] == "skill"]
    assert (skill["artifact_name"], skill["ended_by"], skill["success"]) == (
        "pdf-helper", "Stop", True
    )  # fmt: skip
    assert skill["duration_ms"] > runs["FG:"]["duration_ms"]
    assert skill["call_ms"] < runs["FG:"]["duration_ms"]

    report = {a["artifact_name"]: a for a in home.report()}
    assert (report["general-purpose"]["uses"], report["general-purpose"]["failures"]) == (3, 1)
    status = home.status()
    assert status["counters"]["rejected"] == {}, status
    assert home.json("skilltrack", "stats")["rows"]["spans"] == 0  # nothing left open
