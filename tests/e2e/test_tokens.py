"""Tokens per skill, subagent and session from the real Claude Code's transcripts.

One `claude -p` session against the stand-in model, which streams request n's usage the way
the API does (input and cache figures in `message_start`, the final output in
`message_delta`) with a `request-id` header: the main thread calls a skill, then a
foreground subagent, then Bash. skilltrack's figures must equal the stand-in's own log, per
owner, and the session's totals the client's `cost-state`, token for token; so must what it
forwards (an `http` sink's usage records, an `everyskill` sink's skill use).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.claude_code import (
    ClaudeRun,
    hook_trouble,
    make_sandbox,
    run_claude,
    wait_for_events,
)
from tests.support.forwarding import KEY, configure, everyskill_sink, http_sink
from tests.support.home import Home
from tests.support.model import Conversation, ModelServer, ScriptedModel, ToolCall
from tests.support.receiver import Receiver, running

SUBAGENT = Conversation([ToolCall("Bash", {"command": "echo fg"})], marker="FG:")
MAIN = Conversation(
    [
        ToolCall("Skill", {"skill": "pdf-helper"}),
        ToolCall(
            "Agent",
            {
                "description": "helper",
                "prompt": "FG: help",
                "subagent_type": "general-purpose",
                "run_in_background": False,
            },
        ),
        ToolCall("Bash", {"command": "echo main"}),
    ]
)
FIELDS = {
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "cache_creation_input_tokens": "cache_creation_input_tokens",
    "cache_read_input_tokens": "cache_read_input_tokens",
}
COST_STATE = {
    "input_tokens": "inputTokens",
    "output_tokens": "outputTokens",
    "cache_creation_input_tokens": "cacheCreationInputTokens",
    "cache_read_input_tokens": "cacheReadInputTokens",
}


def summed(usages: list[dict[str, int]]) -> dict[str, int]:
    return {field: sum(u[field] for u in usages) for field in FIELDS}


def last_cost_state(home: Path) -> dict[str, Any]:
    """The client's own totals for the session: the last cost-state line of its transcript."""
    [main] = [p for p in (home / ".claude" / "projects").rglob("*.jsonl") if "subagents" not in
              p.parts]  # fmt: skip
    states = [json.loads(line) for line in main.read_text().splitlines() if '"cost-state"' in line]
    state: dict[str, Any] = states[-1]
    return state


def cost_state(home: Path) -> dict[str, int]:
    """The session's tokens as the client counted them."""
    usage = last_cost_state(home)["modelUsage"]
    return {ours: sum(m[theirs] for m in usage.values()) for ours, theirs in COST_STATE.items()}


def client_cost(home: Path) -> float:
    """The session's cost as the client figured it."""
    cost: float = last_cost_state(home)["totalCostUSD"]
    assert cost > 0
    return cost


@pytest.mark.e2e
def test_tokens_per_skill_subagent_and_session_match_the_model_and_the_client(
    claude_binary: Path, home: Home, tmp_path: Path
) -> None:
    with running(KEY) as receiver:
        configure(home, collector=http_sink(receiver), marketplace=everyskill_sink(receiver))
        model = ScriptedModel(MAIN, [SUBAGENT])
        with ModelServer(model) as server:
            sandbox = make_sandbox(tmp_path, home, server.url, "skilltrack-install", claude_binary)
            run = run_claude(claude_binary, sandbox, "go", tmp_path / "claude.log")
        assert run.returncode == 0, f"{run.describe()}\nmodel requests:\n{model.summary()}"
        assert hook_trouble(run, sandbox) == []
        check_the_session(home, model, run, sandbox.home, receiver)


def check_the_session(
    home: Home, model: ScriptedModel, run: ClaudeRun, client_home: Path, receiver: Receiver
) -> None:
    """What skilltrack read and forwarded of the session, against the model's own log."""
    conversation = f"model requests:\n{model.summary()}"
    wait_for_events(home, sum(1 for _ in run.hook_responses()))

    streamed = [r for r in model.requests if r.usage is not None]
    main = [r for r in streamed if r.conversation == "main"]
    helper = [r for r in streamed if r.conversation == "FG:"]
    assert len(main) == 4, conversation
    assert len(helper) == 2, conversation

    def report() -> dict[str, Any]:
        result: dict[str, Any] = home.json("skilltrack", "report")
        return result

    home.wait_for(
        lambda: report()["totals"]["requests"] == len(streamed),
        what=f"{len(streamed)} requests read from the transcripts",
    )
    full = report()
    expected = summed([dict(r.usage) for r in streamed if r.usage])
    totals = {field: full["totals"][field] for field in FIELDS}
    assert totals == expected, conversation
    assert totals == cost_state(client_home)
    rows = {(a["artifact_type"], a["artifact_name"]): a for a in full["artifacts"]}
    # The skill owns the main thread's requests after the one that called it.
    skill = rows["skill", "pdf-helper"]
    assert {f: skill[f] for f in FIELDS} == summed([dict(r.usage) for r in main[1:] if r.usage])
    agent = rows["agent", "general-purpose"]
    assert {f: agent[f] for f in FIELDS} == summed([dict(r.usage) for r in helper if r.usage])
    assert rows["tool", "Bash"]["input_tokens"] == 0  # tools own none
    # The shipped prices are the client's own: the session costs what its cost-state says.
    assert full["totals"]["cost_usd"] == pytest.approx(client_cost(client_home), rel=0.01)
    status = home.status()
    assert status["counters"]["rejected"] == {}, status
    assert status["transcripts"] == {"requests": len(streamed), "pending": 0}, status
    assert (
        f"usage      {len(streamed)} requests read"
        in home.cli("skilltrack-daemon", "status").stdout
    )

    # Forwarded: each request once, as a usage record charged as the report charges it.
    def usage_records() -> list[dict[str, Any]]:
        return [
            doc
            for r in receiver.requests
            if r.answered == 200 and r.path == "/ingest"
            for doc in json.loads(r.body)["events"]
            if doc["kind"] == "usage"
        ]

    home.wait_for(lambda: len(usage_records()) >= len(streamed), what="the usage records")
    records = usage_records()
    assert len(records) == len(streamed)
    assert summed(records) == expected
    uses = {e["artifact_name"]: e["event_id"] for e in home.events() if e["hook_event"] ==
            "PostToolUse" and e["artifact_type"] in ("skill", "agent")}  # fmt: skip
    in_skill = [r for r in records if r["use_event_id"] == uses["pdf-helper"]]
    assert summed(in_skill) == summed([dict(r.usage) for r in main[1:] if r.usage])
    in_run = [r for r in records if r["run_event_id"] == uses["general-purpose"]]
    assert summed(in_run) == summed([dict(r.usage) for r in helper if r.usage])
    # The marketplace: the skill's one use, in one POST, with its tokens.
    home.wait_for(
        lambda: any(r.path == "/api/track" and r.answered == 200 for r in receiver.requests),
        what="the skill use sent to the marketplace",
    )
    (tracked,) = [json.loads(r.body) for r in receiver.requests if r.path == "/api/track"]
    skill_figures = summed([dict(r.usage) for r in main[1:] if r.usage])
    assert tracked["output_tokens"] == skill_figures["output_tokens"]
    assert tracked["input_tokens"] == sum(skill_figures[f] for f in FIELDS if f != "output_tokens")
    assert tracked["model_name"] == main[1].body["model"]
    assert receiver.duplicates == 0


BACKGROUND = Conversation([ToolCall("Bash", {"command": "echo bg"})], marker="BG:", delay_s=0.3)
TYPED = Conversation(
    [
        ToolCall(
            "Agent",
            {"description": "bg", "prompt": "BG: help", "subagent_type": "general-purpose"},
        ),
        ToolCall("Bash", {"command": "echo main"}),
    ]
)


def client_attribution(home: Path, skill: str) -> dict[str, int]:
    """What the client's own `attributionSkill` charges `skill` on the main thread: the sum
    over its requests (once per requestId) that carry it."""
    [main] = [p for p in (home / ".claude" / "projects").rglob("*.jsonl") if "subagents" not in
              p.parts]  # fmt: skip
    usages: dict[str, dict[str, int]] = {}
    for line in main.read_text().splitlines():
        entry = json.loads(line)
        if entry.get("type") == "assistant" and entry.get("attributionSkill") == skill:
            usages[entry["requestId"]] = entry["message"]["usage"]
    return summed(list(usages.values()))


@pytest.mark.e2e
def test_a_typed_skill_and_a_background_subagent_are_charged_as_the_client_charges_them(
    claude_binary: Path, home: Home, tmp_path: Path
) -> None:
    model = ScriptedModel(TYPED, [BACKGROUND])
    with ModelServer(model) as server:
        sandbox = make_sandbox(tmp_path, home, server.url, "skilltrack-install", claude_binary)
        run = run_claude(claude_binary, sandbox, "/pdf-helper go", tmp_path / "claude.log")
    conversation = f"model requests:\n{model.summary()}"
    assert run.returncode == 0, f"{run.describe()}\n{conversation}"
    assert hook_trouble(run, sandbox) == []
    wait_for_events(home, sum(1 for _ in run.hook_responses()))
    streamed = [r for r in model.requests if r.usage is not None]
    helper = [dict(r.usage) for r in streamed if r.conversation == "BG:" and r.usage]
    assert len(helper) == 2, conversation

    def report() -> dict[str, Any]:
        result: dict[str, Any] = home.json("skilltrack", "report")
        return result

    home.wait_for(
        lambda: report()["totals"]["requests"] == len(streamed),
        what=f"{len(streamed)} requests read from the transcripts",
    )
    full = report()
    totals = {field: full["totals"][field] for field in FIELDS}
    assert totals == summed([dict(r.usage) for r in streamed if r.usage]), conversation
    assert totals == cost_state(sandbox.home)
    rows = {(a["artifact_type"], a["artifact_name"]): a for a in full["artifacts"]}
    skill = rows["skill", "pdf-helper"]
    charged = client_attribution(sandbox.home, "pdf-helper")
    assert charged["input_tokens"] > 0
    assert {f: skill[f] for f in FIELDS} == charged
    agent = rows["agent", "general-purpose"]
    assert {f: agent[f] for f in FIELDS} == summed(helper)
