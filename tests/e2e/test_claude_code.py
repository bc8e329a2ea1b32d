"""The real Claude Code, driven by a scripted local model, records its use through our hook.

Two `claude -p` sessions run in a temporary project with a temporary HOME whose settings
register the hook the way users will. The hook gets Claude Code's real payloads and starts the
daemon by itself; the test only reads what the daemon stored.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.support.claude_code import (
    hook_trouble,
    make_sandbox,
    run_claude,
    wait_for_events,
)
from tests.support.home import Home
from tests.support.model import Conversation, ModelServer, ScriptedModel, ToolCall

SUBAGENT = Conversation(
    [ToolCall("Skill", {"skill": "pdf-helper"}), ToolCall("Bash", {"command": "echo sub"})],
    marker="SUBAGENT:",
)
SESSION_1 = Conversation(
    [
        ToolCall("Skill", {"skill": "pdf-helper"}),
        ToolCall("Bash", {"command": "exit 3"}),
        ToolCall("mcp__echo__echo", {"text": "hello"}),
        ToolCall(
            "Agent",
            {
                "description": "explore",
                "prompt": "SUBAGENT: list files",
                "subagent_type": "general-purpose",
            },
        ),
    ]
)
SESSION_2 = Conversation([])  # the user typed the skill; the model only answers

# What the two sessions must leave in the store: (hook event, type, name, inside a subagent).
EXPECTED_EVENTS = Counter(
    {
        ("SessionStart", None, None, False): 2,
        ("SessionEnd", None, None, False): 2,
        # "do it", the background subagent's task notification, the typed skill.
        ("UserPromptSubmit", None, None, False): 3,
        # The turn that launched the subagent, the notification's, the typed skill's.
        ("Stop", None, None, False): 3,
        ("SubagentStart", None, None, True): 1,
        ("SubagentStop", None, None, True): 1,
        ("PostToolUse", "skill", "pdf-helper", False): 1,
        ("PostToolUseFailure", "tool", "Bash", False): 1,
        ("PostToolUse", "mcp", "mcp__echo__echo", False): 1,
        ("PostToolUse", "agent", "general-purpose", False): 1,
        ("PostToolUse", "skill", "pdf-helper", True): 1,
        ("PostToolUse", "tool", "Bash", True): 1,
        ("UserPromptExpansion", "skill", "pdf-helper", False): 1,
    }
)


def signature(event: dict[str, Any]) -> tuple[str, str | None, str | None, bool]:
    return (
        event["hook_event"],
        event["artifact_type"],
        event["artifact_name"],
        event["agent_type"] is not None,
    )


@pytest.mark.e2e
@pytest.mark.parametrize("registration", ["by-hand", "skilltrack-install", "plugin", "marketplace"])
def test_real_claude_code_sessions_are_recorded_through_the_hook(
    claude_binary: Path, home: Home, tmp_path: Path, registration: str
) -> None:
    model = ScriptedModel(SESSION_1, [SUBAGENT])
    with ModelServer(model) as server:
        sandbox = make_sandbox(tmp_path, home, server.url, registration, claude_binary)
        first = run_claude(claude_binary, sandbox, "do it", tmp_path / "claude-1.log")
        model.main = SESSION_2
        second = run_claude(
            claude_binary, sandbox, "/pdf-helper extract report.pdf", tmp_path / "claude-2.log"
        )
    conversation = f"model requests:\n{model.summary()}"

    for run in (first, second):
        assert run.returncode == 0, f"{run.describe()}\n{conversation}"
        assert run.results, f"no result message\n{run.describe()}"
        assert all(r.get("is_error") is False for r in run.results), run.describe()
        assert hook_trouble(run, sandbox) == []
    assert first.session_id != second.session_id

    events = wait_for_events(home, sum(EXPECTED_EVENTS.values()))
    listing = "\n".join(map(str, map(signature, reversed(events))))
    assert Counter(map(signature, events)) == EXPECTED_EVENTS, f"stored:\n{listing}\n{conversation}"
    assert len({e["event_id"] for e in events}) == len(events)
    assert {e["session_id"] for e in events} == {first.session_id, second.session_id}
    assert all(e["cwd"] == str(sandbox.project) for e in events)
    # Every hook run Claude Code reports became exactly one stored event. The stream reports all
    # of them but SessionEnd's, which runs after the stream has ended.
    for run in (first, second):
        ran = Counter(m["hook_event"] for m in run.hook_responses())
        stored = Counter(
            e["hook_event"]
            for e in events
            if e["session_id"] == run.session_id and e["hook_event"] != "SessionEnd"
        )
        assert ran == stored, f"{run.describe()}\nstored:\n{listing}"

    by_event = {e["hook_event"]: e for e in events if e["agent_type"] is None}
    failure = by_event["PostToolUseFailure"]
    assert (failure["tool_name"], failure["success"]) == ("Bash", False)
    assert failure["tool_use_id"]
    assert failure["duration_ms"] is not None
    expansion = by_event["UserPromptExpansion"]
    assert (expansion["artifact_type"], expansion["artifact_name"]) == ("skill", "pdf-helper")
    assert expansion["session_id"] == second.session_id
    assert expansion["success"] is True
    assert all(
        e["artifact_type"] is None and e["success"] is None
        for e in events
        if e["hook_event"] in ("SessionStart", "SessionEnd")
    )

    inside = [e for e in events if e["agent_type"] is not None and e["tool_name"]]
    assert {e["tool_name"] for e in inside} == {"Skill", "Bash"}
    assert {e["agent_type"] for e in inside} == {"general-purpose"}
    [agent_id] = {e["agent_id"] for e in inside}
    stored = home.json("skilltrack", "events", "--payload", "--limit", "1000")["events"]
    [launch] = [e["payload"] for e in stored if e["tool_name"] == "Agent"]
    assert agent_id == launch["tool_response"]["agentId"]  # the subagent that Agent launched
    assert all(e["session_id"] == first.session_id and e["success"] for e in inside)

    report = {(a["artifact_type"], a["artifact_name"]): a for a in home.report()}
    assert set(report) == {
        ("skill", "pdf-helper"),
        ("tool", "Bash"),
        ("mcp", "mcp__echo__echo"),
        ("agent", "general-purpose"),
    }
    uses = {key: (row["uses"], row["failures"]) for key, row in report.items()}
    assert uses == {
        ("skill", "pdf-helper"): (3, 0),
        ("tool", "Bash"): (2, 1),
        ("mcp", "mcp__echo__echo"): (1, 0),
        ("agent", "general-purpose"): (1, 0),
    }
    assert report[("mcp", "mcp__echo__echo")]["mcp_server"] == "echo"

    status = home.status()
    assert status["running"] is True, status
    assert status["counters"]["rejected"] == {}, status
    assert status["counters"]["dropped"] == {}, status
    assert status["spool"]["records"] == 0, status
    assert status["database"]["events"] == len(events), status
