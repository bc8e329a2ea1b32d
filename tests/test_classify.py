"""Classification of real Claude Code 2.1.328 payloads (shared/claude-code-events.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from skilltrack.daemon.ingest.classify import Usage, classify
from skilltrack.daemon.ingest.models import (
    CLIENT_AHEAD_S,
    CLIENT_PAST_S,
    Frame,
    HookPayload,
    parse_frame,
)
from skilltrack.daemon.ingest.skills import SkillFile, SkillLocator
from skilltrack.wire import FLAG_TRUNCATED, FrameError, RawFrame

SESSION = {"session_id": "8350fdb2", "cwd": "/home/ann/proj", "prompt_id": "3037ca87"}
SUBAGENT = {"agent_id": "ad9efd887f8677e85", "agent_type": "general-purpose"}


def event(hook: str, **fields: Any) -> HookPayload:
    return HookPayload.model_validate({**SESSION, "hook_event_name": hook, **fields})


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            event(
                "PostToolUse",
                tool_name="Skill",
                tool_input={"skill": "pdf-helper"},
                tool_response={"success": True, "commandName": "pdf-helper"},
                tool_use_id="toolu_0001",
                duration_ms=9,
            ),
            Usage("skill", "pdf-helper", success=True, duration_ms=9),
        ),
        (
            event(
                "PostToolUse",
                tool_name="Skill",
                tool_input={"skill": "docs:pdf-helper"},
                duration_ms=3,
            ),
            Usage("skill", "docs:pdf-helper", plugin="docs", success=True, duration_ms=3),
        ),
        (
            event(
                "PostToolUseFailure",
                tool_name="Bash",
                tool_input={"command": "exit 3"},
                error="Exit code 3",
                is_interrupt=False,
                duration_ms=24,
            ),
            Usage("tool", "Bash", success=False, duration_ms=24),
        ),
        (
            event(
                "PostToolUse",
                tool_name="mcp__echo__echo",
                tool_input={"text": "hello"},
                tool_response=[{"type": "text", "text": "hello"}],
                duration_ms=11,
                mcp_server={"name": "echo", "source": "dynamic"},
            ),
            Usage("mcp", "mcp__echo__echo", mcp_server="echo", success=True, duration_ms=11),
        ),
        (
            event(
                "PostToolUse",
                tool_name="Agent",
                tool_input={"prompt": "x", "subagent_type": "general-purpose"},
                tool_response={"status": "async_launched"},
                duration_ms=12,
            ),
            Usage("agent", "general-purpose", success=True, duration_ms=12),
        ),
        (
            event("PostToolUse", tool_name="Task", tool_input={"prompt": "x"}, duration_ms=1),
            Usage("agent", "general-purpose", success=True, duration_ms=1),
        ),
        (
            event(
                "PostToolUse",
                tool_name="Skill",
                tool_input={"skill": "pdf-helper"},
                duration_ms=8,
                **SUBAGENT,
            ),
            Usage("skill", "pdf-helper", success=True, duration_ms=8),
        ),
        (
            event("PostToolUse", tool_name="Skill", tool_response={"success": False}),
            Usage("tool", "Skill", success=False),
        ),
        (event("SessionStart", source="startup"), Usage(None, None)),
        (event("SubagentStart", **SUBAGENT), Usage(None, None)),
        (event("PreToolUse", tool_name="Bash", tool_input={"command": "ls"}), Usage(None, None)),
        (event("PostToolUse"), Usage(None, None)),
    ],
    ids=[
        "skill",
        "plugin-skill",
        "failed-bash",
        "mcp",
        "agent",
        "task-default-subagent",
        "skill-in-subagent",
        "skill-without-name-reporting-failure",
        "session-start",
        "subagent-start",
        "pre-tool-use",
        "no-tool-name",
    ],
)
def test_tool_events_are_classified(payload: HookPayload, expected: Usage) -> None:
    assert classify(payload) == expected


def test_user_typed_slash_name_is_a_skill_when_one_is_installed() -> None:
    typed = event(
        "UserPromptExpansion",
        expansion_type="slash_command",
        command_name="pdf-helper",
        command_args="extract report.pdf",
        command_source="userSettings",
        prompt="/pdf-helper extract report.pdf",
    )
    found = SkillFile("pdf-helper", "skill", "user", "/s/SKILL.md", None, "0" * 64, 0.0)
    assert classify(typed, found) == Usage("skill", "pdf-helper", success=True)
    assert classify(typed, None) == Usage("command", "pdf-helper", success=True)


def test_unknown_fields_are_kept_in_the_stored_text_not_parsed() -> None:
    text = json.dumps({"hook_event_name": "PostToolUse", "brand_new_field": {"x": 1}})
    raw = RawFrame("0b1f6c1e-8d3a-4f0e-9a57-3c2d1e0f4a5b", "1700000000.5", "-", text.encode())
    frame = parse_frame(raw, text)
    assert frame.raw == text
    assert frame.payload.model_extra is None


def test_skill_lookup_failure_means_not_a_skill_never_an_error(tmp_path: Path) -> None:
    (tmp_path / ".claude" / "skills" / "pdf-helper").mkdir(parents=True)
    (tmp_path / ".claude" / "skills" / "pdf-helper" / "SKILL.md").write_text("---\n---\n")
    locator = SkillLocator(home=tmp_path)
    assert locator.resolve("pdf-helper", None) is not None
    assert locator.resolve("x" * 300, str(tmp_path)) is None  # ENAMETOOLONG on lookup
    assert locator.resolve("docs:pdf-helper", None) is None


@pytest.mark.parametrize(
    ("event_id", "client_ts", "reason"),
    [
        ("0B1F6C1E-8D3A-4F0E-9A57-3C2D1E0F4A5B", "1700000000.5", "bad_header"),
        ("not-a-uuid", "1700000000.5", "bad_header"),
        ("0b1f6c1e-8d3a-4f0e-9a57-3c2d1e0f4a5b", "soon", "bad_header"),
        ("0b1f6c1e-8d3a-4f0e-9a57-3c2d1e0f4a5b", "nan", "bad_header"),
        ("0b1f6c1e-8d3a-4f0e-9a57-3c2d1e0f4a5b", "inf", "bad_header"),
        ("0b1f6c1e-8d3a-4f0e-9a57-3c2d1e0f4a5b", "-1", "bad_header"),
        ("0b1f6c1e-8d3a-4f0e-9a57-3c2d1e0f4a5b", "0", "bad_header"),
    ],
)
def test_a_bad_header_is_refused_with_its_reason(
    event_id: str, client_ts: str, reason: str
) -> None:
    text = '{"hook_event_name": "PostToolUse"}'
    with pytest.raises(FrameError) as refused:
        parse_frame(RawFrame(event_id, client_ts, "-", text.encode()), text)
    assert refused.value.reason == reason


NOW = 1_780_000_000.0


@pytest.mark.parametrize(
    ("client_ts", "stored"),
    [
        ("1780000000.25", 1_780_000_000.25),  # the daemon's own time
        (f"{NOW - 30 * 86400}", NOW - 30 * 86400),  # a month old: spooled, replayed late
        (f"{NOW + 3600}", NOW + 3600),  # a clock an hour ahead: within the window
        (f"{NOW - CLIENT_PAST_S - 1}", NOW),  # before the window
        (f"{NOW + CLIENT_AHEAD_S + 1}", NOW),  # after it
        ("1e13", NOW),  # year 318857
        ("1", NOW),  # 1970
    ],
)
def test_a_client_time_far_off_the_daemons_clock_becomes_the_daemons(
    client_ts: str, stored: float
) -> None:
    text = '{"hook_event_name": "PostToolUse"}'
    raw = RawFrame("0b1f6c1e-8d3a-4f0e-9a57-3c2d1e0f4a5b", client_ts, "-", text.encode())
    assert parse_frame(raw, text, now=NOW).client_ts == stored


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("  ", "empty_payload"),
        ("{", "invalid_json"),
        ("[1, 2]", "invalid_json"),
        ('{"hook_event_name": 7}', "invalid_field"),
        ('{"hook_event_name": "PostToolUse", "tool_response": "\\ud83d', "invalid_json"),
        ("[" * 2000 + "]" * 2000, "invalid_json"),  # deeper than any parser here goes
    ],
)
def test_a_bad_payload_is_refused_with_its_reason(text: str, reason: str) -> None:
    raw = RawFrame("0b1f6c1e-8d3a-4f0e-9a57-3c2d1e0f4a5b", "1700000000.5", "-", text.encode())
    with pytest.raises(FrameError) as refused:
        parse_frame(raw, text)
    assert refused.value.reason == reason


def _frame(text: str) -> Frame:
    return parse_frame(
        RawFrame("0b1f6c1e-8d3a-4f0e-9a57-3c2d1e0f4a5b", "1700000000.5", "-", text.encode()), text
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [("duration_ms", -5), ("duration_ms", "fast"), ("duration_ms", 1e308), ("tool_name", 5),
     ("session_id", ["a"]), ("is_interrupt", "maybe")],
)  # fmt: skip
def test_a_field_of_the_wrong_type_is_read_as_absent_and_kept_in_the_text(
    field: str, value: object
) -> None:
    # The use still counts; what was sent stays in the stored text.
    text = json.dumps({"hook_event_name": "PostToolUse", "tool_use_id": "toolu_1", field: value})
    frame = _frame(text)
    assert getattr(frame.payload, field) is None
    assert (frame.payload.tool_use_id, frame.raw) == ("toolu_1", text)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ('"\\ud83d"', '"\\ufffd"'),  # a string cut inside an emoji by JSON.stringify
        ('"a\\udc00b"', '"a\\ufffdb"'),  # a low half alone
        ('"\\ud83d\\ude00 \\ud83d"', '"\\ud83d\\ude00 \\ufffd"'),  # a pair stays
        ('"\\\\ud83d"', '"\\\\ud83d"'),  # an escaped backslash, then text
    ],
)
def test_a_lone_surrogate_escape_is_stored_as_the_replacement_character(
    given: str, kept: str
) -> None:
    text = '{"hook_event_name": "PostToolUse", "tool_response": {"stdout": ' + given + "}}"
    frame = _frame(text)
    assert frame.raw == text.replace(given, kept)
    json.loads(frame.raw)["tool_response"]["stdout"].encode("utf-8")  # no lone surrogate left


def test_json_nested_deeper_than_pydantic_reads_is_read_by_the_standard_library() -> None:
    deep = "[" * 300 + "]" * 300
    text = '{"hook_event_name": "PostToolUse", "tool_name": "Bash", "tool_response": ' + deep + "}"
    frame = _frame(text)
    assert (frame.payload.tool_name, frame.raw) == ("Bash", text)


def test_the_truncated_flag_and_client_time_are_read_from_the_header() -> None:
    text = '{"hook_event_name": "PostToolUse"}'
    raw = RawFrame(
        "0b1f6c1e-8d3a-4f0e-9a57-3c2d1e0f4a5b", "1700000000.25", FLAG_TRUNCATED, text.encode()
    )
    frame = parse_frame(raw, text)
    assert (frame.client_ts, frame.truncated) == (1700000000.25, True)
