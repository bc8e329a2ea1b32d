"""The stand-in model's script (tests/support/model.py): which reply each request gets, and how
a reply of several calls is streamed. The e2e tests rely on both; a wrong pick would show there
only as a confusing run of the real client."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.model import (
    Conversation,
    Failure,
    Parallel,
    ScriptError,
    ToolCall,
    _events,
    usage_of,
)

ONE = ToolCall("Bash", {"command": "echo one"})
TWO = ToolCall("Bash", {"command": "echo two"})
SKILL = ToolCall("Skill", {"skill": "pdf-helper"})


def results(count: int) -> list[dict[str, Any]]:
    content = [{"type": "tool_result", "tool_use_id": f"toolu_{i}"} for i in range(count)]
    return [{"role": "user", "content": content}] if count else []


def test_a_parallel_step_takes_one_request_and_yields_as_many_results_as_calls() -> None:
    both = Parallel([ONE, TWO])
    conversation = Conversation([SKILL, both, ONE], final="fin")
    assert [conversation.reply(n) for n in (0, 1, 3, 4, 5)] == [SKILL, both, ONE, "fin", "fin"]


def test_a_count_inside_a_parallel_step_is_a_script_error_not_a_guess() -> None:
    conversation = Conversation([SKILL, Parallel([ONE, TWO])])
    with pytest.raises(ScriptError, match="2 tool results"):
        conversation.reply(2)


def test_a_failing_conversation_fails_after_its_steps() -> None:
    assert Conversation([Parallel([ONE, TWO])], fail_with=400).reply(2) == Failure(400)


def test_a_parallel_step_needs_a_call() -> None:
    with pytest.raises(ValueError, match="at least one call"):
        Parallel([])


def test_after_counts_only_the_results_after_the_last_prompt_holding_it() -> None:
    history = [
        {"role": "user", "content": "FIRST: go"},
        *results(2),
        {"role": "user", "content": [{"type": "text", "text": "SECOND: again"}]},
        *results(1),
    ]
    assert Conversation([], after="SECOND:").tool_results(history) == 1
    assert Conversation([]).tool_results(history) == 3
    with pytest.raises(ScriptError, match="THIRD:"):
        Conversation([], after="THIRD:").tool_results(history)


def parse(stream: list[bytes]) -> list[dict[str, Any]]:
    events = []
    for chunk in stream:
        kind, data = chunk.decode().strip().split("\n")
        event = json.loads(data.removeprefix("data: "))
        assert kind == f"event: {event['type']}"
        events.append(event)
    return events


def test_a_parallel_reply_streams_one_message_of_several_tool_use_blocks() -> None:
    events = parse(_events("claude-x", Parallel([ONE, SKILL]), usage_of(7)))
    assert [e["type"] for e in events] == [
        "message_start",
        *["content_block_start", "content_block_delta", "content_block_stop"] * 2,
        "message_delta",
        "message_stop",
    ]
    starts = [e for e in events if e["type"] == "content_block_start"]
    assert [(e["index"], e["content_block"]["name"]) for e in starts] == [(0, "Bash"), (1, "Skill")]
    assert len({e["content_block"]["id"] for e in starts}) == 2
    deltas = [e for e in events if e["type"] == "content_block_delta"]
    assert [json.loads(e["delta"]["partial_json"]) for e in deltas] == [ONE.input, SKILL.input]
    assert events[-2]["delta"]["stop_reason"] == "tool_use"
    assert events[-2]["usage"] == {"output_tokens": 107}
    assert events[0]["message"]["usage"]["input_tokens"] == 1007


def test_a_text_reply_is_one_text_block_ending_the_turn() -> None:
    events = parse(_events("claude-x", "done", usage_of(1)))
    assert [e["type"] for e in events][1:4] == [
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
    ]
    assert events[2]["delta"] == {"type": "text_delta", "text": "done"}
    assert events[-2]["delta"]["stop_reason"] == "end_turn"
