"""Tokens with the real Claude Code: parallel calls, a skill inside a subagent, `--resume`.

The stand-in model streams request n's usage as the API does, with a `request-id` header
(tests/support/model.py), so its log says what each request consumed and which conversation
sent it. Every request stored must carry the owners the attribution rules give it
(docs/tokens.md), each owner's figures must equal the sum of its requests in the log, and the
session's totals the client's last `cost-state`, token for token.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from tests.support.claude_code import (
    ClaudeRun,
    Sandbox,
    hook_trouble,
    make_sandbox,
    run_claude,
    wait_for_events,
)
from tests.support.home import Home
from tests.support.model import (
    Conversation,
    ModelServer,
    Parallel,
    Request,
    ScriptedModel,
    ToolCall,
)

FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
)
COST_STATE = {
    "input_tokens": "inputTokens",
    "output_tokens": "outputTokens",
    "cache_creation_input_tokens": "cacheCreationInputTokens",
    "cache_read_input_tokens": "cacheReadInputTokens",
}
Owners = tuple[str | None, str | None]  # (the skill use's name, the subagent run's type)


def bash(command: str) -> ToolCall:
    return ToolCall("Bash", {"command": command})


def skill(name: str) -> ToolCall:
    return ToolCall("Skill", {"skill": name})


def add_skill(sandbox: Sandbox, name: str) -> None:
    folder = sandbox.home / ".claude" / "skills" / name
    folder.mkdir(parents=True)
    (folder / "SKILL.md").write_text(
        f"---\nname: {name}\ndescription: Checks the figures it is given.\n---\n\nCheck them.\n"
    )


def summed(requests: Iterable[Request]) -> dict[str, int]:
    usages = [r.usage for r in requests if r.usage is not None]
    return {f: sum(u[f] for u in usages) for f in FIELDS}


def figures(row: dict[str, Any]) -> dict[str, int]:
    return {f: row[f] for f in FIELDS}


def main_transcript(sandbox: Sandbox, session: str) -> Path:
    [path] = (sandbox.home / ".claude" / "projects").rglob(f"{session}.jsonl")
    return path


def transcript_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def last_cost_state(path: Path) -> dict[str, Any]:
    """The client's own totals for the session: the last cost-state line of its transcript."""
    states = [e for e in transcript_lines(path) if e.get("type") == "cost-state"]
    assert states, f"no cost-state line in {path}"
    return states[-1]


def client_tokens(state: dict[str, Any]) -> dict[str, int]:
    usage = state["modelUsage"]
    return {ours: sum(m[theirs] for m in usage.values()) for ours, theirs in COST_STATE.items()}


def stored_owners(home: Home, session: str) -> dict[str, Owners]:
    """Each stored request's owners, by its request id (read-only, beside the daemon); each
    stored once, and all of `session`."""
    uri = f"file:{home.paths.db}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as db:
        rows = db.execute(
            "SELECT session_id, request_id, use_name, run_name FROM requests"
        ).fetchall()
    assert {row[0] for row in rows} == {session}, rows
    owners = {request_id: (use, run) for _, request_id, use, run in rows}
    assert len(owners) == len(rows), rows
    return owners


def report(home: Home) -> dict[str, Any]:
    result: dict[str, Any] = home.json("skilltrack", "report")
    return result


def check_run(run: ClaudeRun, sandbox: Sandbox, home: Home, model: ScriptedModel) -> None:
    conversation = f"model requests:\n{model.summary()}"
    assert run.returncode == 0, f"{run.describe()}\n{conversation}"
    assert not [r for r in model.requests if r.error], conversation
    assert hook_trouble(run, sandbox) == []
    wait_for_events(home, sum(1 for _ in run.hook_responses()))


def wait_for_requests(home: Home, model: ScriptedModel) -> dict[str, Any]:
    streamed = [r for r in model.requests if r.usage is not None]
    home.wait_for(
        lambda: report(home)["totals"]["requests"] == len(streamed),
        what=f"{len(streamed)} requests read from the transcripts",
    )
    return report(home)


def check_session_totals(
    home: Home, full: dict[str, Any], model: ScriptedModel, transcript: Path
) -> None:
    """Totals = the stand-in's log = the client's last cost-state; cost within 1 %; each
    request read once and nothing the reader could not understand."""
    streamed = [r for r in model.requests if r.usage is not None]
    totals = figures(full["totals"])
    assert totals == summed(streamed), model.summary()
    state = last_cost_state(transcript)
    assert totals == client_tokens(state)
    assert full["totals"]["requests"] == len(streamed)
    assert full["totals"]["cost_usd"] == pytest.approx(state["totalCostUSD"], rel=0.01)
    status = home.status()
    assert status["counters"]["rejected"] == {}, status
    assert status["transcripts"] == {"requests": len(streamed), "pending": 0}, status


SUBAGENT = Conversation(
    [skill("beta-skill"), Parallel([bash("echo sub one"), bash("echo sub two")])], marker="FG:"
)
MAIN = Conversation(
    [
        # The skill is the second call of three in one reply: its line is not the reply's first.
        Parallel([bash("echo one"), skill("pdf-helper"), bash("echo two")]),
        ToolCall(
            "Agent",
            {
                "description": "helper",
                "prompt": "FG: help",
                "subagent_type": "general-purpose",
                "run_in_background": False,
            },
        ),
        bash("echo main"),
    ]
)


@pytest.mark.e2e
def test_parallel_calls_and_a_skill_inside_a_subagent_are_charged_per_request(
    claude_binary: Path, home: Home, tmp_path: Path
) -> None:
    model = ScriptedModel(MAIN, [SUBAGENT])
    with ModelServer(model) as server:
        sandbox = make_sandbox(tmp_path, home, server.url, "skilltrack-install", claude_binary)
        add_skill(sandbox, "beta-skill")
        run = run_claude(claude_binary, sandbox, "go", tmp_path / "claude.log")
    check_run(run, sandbox, home, model)
    conversation = f"model requests:\n{model.summary()}"
    streamed = [r for r in model.requests if r.usage is not None]
    main = [r for r in streamed if r.conversation == "main"]
    helper = [r for r in streamed if r.conversation == "FG:"]
    assert [type(r.answer).__name__ for r in main] == [
        "Parallel", "ToolCall", "ToolCall", "str",
    ], conversation  # fmt: skip
    assert [type(r.answer).__name__ for r in helper] == ["ToolCall", "Parallel", "str"]

    # The client writes a reply of three calls as three lines with one requestId and the
    # same usage: what the reader must count once.
    transcript = main_transcript(sandbox, run.session_id)
    parallel = main[0].request_id
    lines = [
        e for e in transcript_lines(transcript)
        if e.get("type") == "assistant" and e.get("requestId") == parallel
    ]  # fmt: skip
    assert [b["name"] for e in lines for b in e["message"]["content"]] == ["Bash", "Skill", "Bash"]
    assert {json.dumps(e["message"]["usage"], sort_keys=True) for e in lines} == {
        json.dumps(lines[0]["message"]["usage"], sort_keys=True)
    }
    assert lines[0]["message"]["usage"]["input_tokens"] == (main[0].usage or {})["input_tokens"]

    full = wait_for_requests(home, model)
    check_session_totals(home, full, model, transcript)
    # The client marks the same main-thread requests with its own attributionSkill.
    marked = {
        e["requestId"] for e in transcript_lines(transcript)
        if e.get("type") == "assistant" and e.get("attributionSkill") == "pdf-helper"
    }  # fmt: skip
    assert marked == {r.request_id for r in main[1:]}
    # Per request: the main thread's skill owns what follows its call, the subagent run
    # owns its whole file, and the subagent's own skill what follows its call there too.
    expected: dict[str, Owners] = {main[0].request_id or "": (None, None)}
    expected |= {r.request_id or "": ("pdf-helper", None) for r in main[1:]}
    expected[helper[0].request_id or ""] = (None, "general-purpose")
    expected |= {r.request_id or "": ("beta-skill", "general-purpose") for r in helper[1:]}
    assert stored_owners(home, run.session_id) == expected, conversation

    rows = {(a["artifact_type"], a["artifact_name"]): a for a in full["artifacts"]}
    assert figures(rows["skill", "pdf-helper"]) == summed(main[1:])
    assert figures(rows["skill", "beta-skill"]) == summed(helper[1:])
    assert figures(rows["agent", "general-purpose"]) == summed(helper)
    [agent] = [a for a in full["subagents"] if a["agent_type"] == "general-purpose"]
    assert figures(agent) == summed(helper)
    assert rows["tool", "Bash"]["input_tokens"] == 0  # tools own none
    # The session's own: what neither the main skill nor the subagent run owns.
    own = {
        f: full["totals"][f] - rows["skill", "pdf-helper"][f] - rows["agent", "general-purpose"][f]
        for f in FIELDS
    }
    assert own == summed(main[:1])


FIRST = Conversation([skill("pdf-helper"), bash("echo first")])
SECOND = Conversation(
    [Parallel([bash("echo a"), bash("echo b")]), skill("beta-skill"), bash("echo second")],
    after="SECOND:",
)


@pytest.mark.e2e
def test_a_resumed_session_adds_its_new_requests_once(
    claude_binary: Path, home: Home, tmp_path: Path
) -> None:
    model = ScriptedModel(FIRST)
    with ModelServer(model) as server:
        sandbox = make_sandbox(tmp_path, home, server.url, "skilltrack-install", claude_binary)
        add_skill(sandbox, "beta-skill")
        first = run_claude(claude_binary, sandbox, "FIRST: go", tmp_path / "first.log")
        check_run(first, sandbox, home, model)
        session = first.session_id
        before = wait_for_requests(home, model)
        transcript = main_transcript(sandbox, session)
        check_session_totals(home, before, model, transcript)
        first_requests = [r for r in model.requests if r.usage is not None]

        model.main = SECOND
        resumed = dataclasses.replace(
            sandbox, claude_args=[*sandbox.claude_args, "--resume", session]
        )
        second = run_claude(claude_binary, resumed, "SECOND: again", tmp_path / "second.log")
        check_run(second, sandbox, home, model)
    conversation = f"model requests:\n{model.summary()}"
    streamed = [r for r in model.requests if r.usage is not None]
    added = streamed[len(first_requests) :]
    assert [type(r.answer).__name__ for r in added] == [
        "Parallel", "ToolCall", "ToolCall", "str",
    ], conversation  # fmt: skip

    full = wait_for_requests(home, model)
    # The resumed run goes on in the same transcript, whose last cost-state counts both runs.
    assert second.session_id == session
    states = [e for e in transcript_lines(transcript) if e.get("type") == "cost-state"]
    assert len(states) == 2  # one per run: the last is the session's, both runs in it
    check_session_totals(home, full, model, transcript)
    # The same from the requests themselves (a --session report) as from the daily totals.
    alone = home.json("skilltrack", "report", "--session", session)
    assert figures(alone["totals"]) == figures(full["totals"])
    expected: dict[str, Owners] = {first_requests[0].request_id or "": (None, None)}
    expected |= {r.request_id or "": ("pdf-helper", None) for r in first_requests[1:]}
    # A new prompt starts with no skill: the earlier run's pdf-helper ends with its prompt.
    expected |= {r.request_id or "": (None, None) for r in added[:2]}
    expected |= {r.request_id or "": ("beta-skill", None) for r in added[2:]}
    assert stored_owners(home, session) == expected, conversation
    rows = {(a["artifact_type"], a["artifact_name"]): a for a in full["artifacts"]}
    assert figures(rows["skill", "pdf-helper"]) == summed(first_requests[1:])
    assert figures(rows["skill", "beta-skill"]) == summed(added[2:])
