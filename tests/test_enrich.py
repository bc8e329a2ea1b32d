"""Enrichment on real Claude Code payloads: classification, skill versions, identity, caps.

`tests/data/claude_code_2.1.328_events.json` holds the payloads of shared/claude-code-events.md
as Claude Code 2.1.328 sent them; older shapes are derived from them by removing what older
versions did not send. The skill files are real files in a temporary home.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from skilltrack import config
from skilltrack.daemon.ingest.enrich import cap_payload, shrink, snippet
from skilltrack.daemon.ingest.pipeline import Ingest, raw_cwd
from skilltrack.daemon.ingest.skills import SkillLocator, description_of
from skilltrack.daemon.store.records import Record
from skilltrack.wire import RawFrame
from tests.support.events import REAL, real

SKILL_MD = (
    "---\nname: pdf-helper\ndescription: Extract text and tables from PDF files.\n---\n\nDo it.\n"
)


def without(event: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k not in keys}


def frame(event: dict[str, Any], n: int = 1) -> RawFrame:
    return RawFrame(
        f"00000000-0000-4000-8000-{n:012d}", f"{time.time():.6f}", "-", json.dumps(event).encode()
    )


def make_ingest(
    tmp_path: Path, settings: config.Settings | None = None, consent: bool = False
) -> Ingest:
    """Skills under tmp_path/home; the events' own home, /home/ann, redacted as `~`."""
    return Ingest(
        settings or config.Settings(tenant_id="acme", user_id="ann"),
        SkillLocator(home=tmp_path / "home"),
        lambda: consent,
        home="/home/ann",
    )


def write_skill(root: Path, name: str, text: str = SKILL_MD) -> Path:
    path = root / ".claude" / "skills" / name / "SKILL.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# title -> (artifact type, name, success, duration, agent type); None: not a use
EXPECTED: dict[str, tuple[str, str, bool, int | None, str | None] | None] = {
    "SessionStart": None,
    "UserPromptSubmit": None,
    "PreToolUse — Skill": None,
    "PostToolUse — Skill": ("skill", "pdf-helper", True, 9, None),
    "PostToolBatch": None,
    "PreToolUse — Bash": None,
    "PostToolUseFailure — Bash": ("tool", "Bash", False, 24, None),
    "PreToolUse — mcp__echo__echo": None,
    "PostToolUse — mcp__echo__echo": ("mcp", "mcp__echo__echo", True, 11, None),
    "PreToolUse — Agent": None,
    "SubagentStart — inside a subagent": None,
    "PostToolUse — Agent": ("agent", "general-purpose", True, 12, None),
    "PreToolUse — Skill — inside a subagent": None,
    "Stop": None,
    "PostToolUse — Skill — inside a subagent": (
        "skill", "pdf-helper", True, 8, "general-purpose",
    ),
    "PostToolBatch — inside a subagent": None,
    "PreToolUse — Bash — inside a subagent": None,
    "PostToolUse — Bash — inside a subagent": ("tool", "Bash", True, 9, "general-purpose"),
    "SubagentStop — inside a subagent": None,
    "SessionEnd": None,
    "UserPromptExpansion": ("skill", "pdf-helper", True, None, None),
}  # fmt: skip


def test_every_recorded_event_has_an_expectation() -> None:
    assert set(EXPECTED) == set(REAL)


@pytest.mark.parametrize("title", list(EXPECTED), ids=lambda t: t.replace(" — ", "-"))
def test_real_payloads_are_classified_and_enriched(tmp_path: Path, title: str) -> None:
    write_skill(tmp_path / "home", "pdf-helper")
    record = make_ingest(tmp_path).parse(frame(REAL[title]))
    row = record.row
    assert row.hook_event == REAL[title]["hook_event_name"]
    assert (row.tenant_id, row.user_id) == ("acme", "ann")
    assert row.session_id == REAL[title]["session_id"]
    assert row.received_at >= row.client_ts - 5
    assert row.cwd == "~/proj"
    assert "/home/ann" not in row.payload
    assert "-home-ann" not in row.payload  # the transcript folder's mangled home, too
    expected = EXPECTED[title]
    if expected is None:
        assert (row.artifact_type, row.artifact_name, row.skill_id) == (None, None, None)
        return
    kind, name, success, duration, agent_type = expected
    assert (row.artifact_type, row.artifact_name) == (kind, name)
    assert (row.success, row.duration_ms, row.agent_type) == (success, duration, agent_type)
    if kind == "skill":
        assert record.skill is not None
        assert record.skill.source == "user"
        assert record.skill.description == "Extract text and tables from PDF files."
        assert row.skill_id == record.skill.skill_id
        assert row.skill_version == record.skill.version
    else:
        assert record.skill is None


OLDER_SHAPES = [
    # Before tool_use_id and duration_ms existed.
    (
        without(real("PostToolUse — Bash — inside a subagent"), "tool_use_id", "duration_ms"),
        ("tool", "Bash", True, None),
    ),
    (
        without(real("PostToolUseFailure — Bash"), "tool_use_id", "duration_ms", "is_interrupt"),
        ("tool", "Bash", False, None),
    ),
    # `Task` was the subagent tool's name before `Agent`.
    (
        without(real("PostToolUse — Agent", tool_name="Task"), "duration_ms"),
        ("agent", "general-purpose", True, None),
    ),
    (
        real(
            "PostToolUse — Agent",
            tool_name="Task",
            tool_input={"description": "x", "prompt": "y", "subagent_type": "code-reviewer"},
        ),
        ("agent", "code-reviewer", True, 12),
    ),
    # No subagent_type: Claude Code ran its general-purpose agent.
    (
        real("PostToolUse — Agent", tool_input={"description": "x", "prompt": "y"}),
        ("agent", "general-purpose", True, 12),
    ),
    # No prompt_id, no agent fields, no cwd.
    (
        without(real("PostToolUse — Skill"), "prompt_id", "cwd", "duration_ms"),
        ("skill", "pdf-helper", True, None),
    ),
    # A plugin skill, model-invoked.
    (
        real("PostToolUse — Skill", tool_input={"skill": "docs:pdf-helper"}),
        ("skill", "docs:pdf-helper", True, 9),
    ),
]


@pytest.mark.parametrize(("event", "expected"), OLDER_SHAPES)
def test_older_and_variant_shapes(
    tmp_path: Path, event: dict[str, Any], expected: tuple[str, str, bool, int | None]
) -> None:
    row = make_ingest(tmp_path).parse(frame(event)).row
    assert (row.artifact_type, row.artifact_name, row.success, row.duration_ms) == expected


def test_project_skill_is_found_from_the_events_cwd(tmp_path: Path) -> None:
    project = tmp_path / "work" / "proj"
    write_skill(project, "deploy", "---\ndescription: >\n  Ship it\n  safely.\n---\n")
    event = real("PostToolUse — Skill", cwd=str(project), tool_input={"skill": "deploy"})
    record = make_ingest(tmp_path).parse(frame(event))
    assert record.skill is not None
    assert (record.skill.source, record.skill.description) == ("project", "Ship it safely.")
    assert record.skill.location == f"{project}/.claude/skills/deploy"


def test_user_skill_wins_over_a_project_skill_of_the_same_name(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    write_skill(project, "pdf-helper", "---\ndescription: project one\n---\n")
    write_skill(tmp_path / "home", "pdf-helper", "---\ndescription: user one\n---\n")
    event = real("PostToolUse — Skill", cwd=str(project))
    record = make_ingest(tmp_path).parse(frame(event))
    assert record.skill is not None
    assert (record.skill.source, record.skill.description) == ("user", "user one")


def test_editing_skill_md_makes_a_new_version_at_the_next_use(tmp_path: Path) -> None:
    path = write_skill(tmp_path / "home", "pdf-helper")
    ingest = make_ingest(tmp_path)
    first = ingest.parse(frame(REAL["PostToolUse — Skill"], 1)).skill
    same = ingest.parse(frame(REAL["PostToolUse — Skill"], 2)).skill
    path.write_text(SKILL_MD + "\nAlso handle scanned pages.\n")
    edited = ingest.parse(frame(REAL["PostToolUse — Skill"], 3)).skill
    assert first is not None
    assert same is not None
    assert edited is not None
    assert first.version == same.version != edited.version
    assert first.skill_id == edited.skill_id  # the same skill, a new version


def test_a_use_from_before_the_last_edit_gets_no_version(tmp_path: Path) -> None:
    """An event replayed from the spool after its SKILL.md was edited: the version it ran is
    gone, so it is counted as a use of the skill with no version, not of the new one."""
    write_skill(tmp_path / "home", "pdf-helper")
    event = REAL["PostToolUse — Skill"]
    hour_ago = RawFrame(
        "00000000-0000-4000-8000-000000000001", f"{time.time() - 3600:.6f}", "-",
        json.dumps(event).encode(),
    )  # fmt: skip
    old = make_ingest(tmp_path).parse(hour_ago)
    assert (old.row.artifact_type, old.row.artifact_name) == ("skill", "pdf-helper")
    assert (old.skill, old.row.skill_id, old.row.skill_version) == (None, None, None)
    assert make_ingest(tmp_path).parse(frame(event, 2)).skill is not None  # a use from now


def test_missing_or_unparseable_skill_is_stored_with_what_is_known(tmp_path: Path) -> None:
    ingest = make_ingest(tmp_path)
    missing = ingest.parse(frame(real("PostToolUse — Skill", tool_input={"skill": "gone"})))
    assert (missing.row.artifact_type, missing.row.artifact_name) == ("skill", "gone")
    assert missing.skill is None
    assert missing.row.skill_id is None
    write_skill(tmp_path / "home", "broken", "\xff\xfe not front matter: [unclosed\n")
    (tmp_path / "home" / ".claude" / "skills" / "broken" / "SKILL.md").write_bytes(b"\xff\x00--")
    broken = ingest.parse(frame(real("PostToolUse — Skill", tool_input={"skill": "broken"})))
    assert broken.skill is not None
    assert broken.skill.description is None
    assert broken.row.skill_version == broken.skill.version


def test_unreadable_skill_folder_never_loses_the_event(tmp_path: Path) -> None:
    skills = tmp_path / "home" / ".claude" / "skills"
    write_skill(tmp_path / "home", "locked")
    (skills / "locked" / "SKILL.md").chmod(0)
    try:
        event = real("PostToolUse — Skill", tool_input={"skill": "locked"})
        record = make_ingest(tmp_path).parse(frame(event))
    finally:
        (skills / "locked" / "SKILL.md").chmod(0o644)
    assert record.row.artifact_name == "locked"


def test_user_typed_name_that_is_no_skill_is_a_command(tmp_path: Path) -> None:
    event = real("UserPromptExpansion", command_name="review", prompt="/review")
    row = make_ingest(tmp_path).parse(frame(event)).row
    assert (row.artifact_type, row.artifact_name, row.skill_id) == ("command", "review", None)


@pytest.mark.parametrize(
    ("text", "description"),
    [
        ("---\nname: x\ndescription: Plain words\n---\nbody", "Plain words"),
        ('---\ndescription: "Quoted: with colon"\n---\n', "Quoted: with colon"),
        ("---\ndescription: |\n  line one\n  line two\nname: x\n---\n", "line one\nline two"),
        ("\ufeff---\r\ndescription: windows\r\n---\r\n", "windows"),
        ("no front matter\ndescription: nope\n", None),
        ("---\nname: x\n---\n", None),
        ("---\ndescription: never closed\n", None),
    ],
)
def test_description_from_front_matter(text: str, description: str | None) -> None:
    assert description_of(text) == description


def test_project_path_mode_keeps_only_the_project_name(tmp_path: Path) -> None:
    settings = config.parse({"privacy": {"paths": "project"}})
    event = real(
        "PostToolUse — Bash — inside a subagent",
        cwd="/home/ann/work/proj",
        tool_input={"command": "cat /home/ann/work/proj/src/a.py /home/ann/notes.txt"},
    )
    row = make_ingest(tmp_path, settings).parse(frame(event)).row
    assert row.cwd == "proj"
    stored = json.loads(row.payload)
    assert stored["tool_input"]["command"] == "cat proj/src/a.py ~/notes.txt"


# -- size caps --------------------------------------------------------------------------


def test_caps_cut_outputs_with_a_marker_and_keep_attribution(tmp_path: Path) -> None:
    settings = config.parse({"privacy": {"max_input_chars": 100, "max_output_chars": 200}})
    event = real(
        "PostToolUse — Bash — inside a subagent",
        tool_input={"command": "x" * 5000},
        tool_response={"stdout": "y" * 50_000, "stderr": ""},
    )
    row = make_ingest(tmp_path, settings).parse(frame(event)).row
    stored = json.loads(row.payload)
    # The budget counts keys as well as values: 100 - len("command") characters are kept.
    assert stored["tool_input"]["command"] == "x" * 93 + " [TRUNCATED:4907 chars]"
    assert stored["tool_response"]["stdout"] == "y" * 194 + " [TRUNCATED:49806 chars]"
    assert row.truncated
    assert (row.artifact_type, row.artifact_name, row.success, row.duration_ms) == (
        "tool", "Bash", True, 9,
    )  # fmt: skip
    assert (stored["tool_use_id"], stored["session_id"]) == (
        REAL["PostToolUse — Bash — inside a subagent"]["tool_use_id"],
        REAL["PostToolUse — Bash — inside a subagent"]["session_id"],
    )


def test_payloads_under_the_caps_are_kept_byte_for_byte() -> None:
    text = json.dumps(REAL["PostToolUse — Skill"])
    assert cap_payload(text, 4096, 4096) == (text, False)


@pytest.mark.parametrize(
    "value",
    [
        ["a" * 10] * 1000,
        {f"k{i}": "v" * 50 for i in range(500)},
        [[[["deep" * 100]]]] * 50,
        list(range(100_000)),
    ],
)
def test_shrink_bounds_any_shape(value: Any) -> None:
    small = shrink(value, 300)
    assert len(json.dumps(small)) < 1200
    assert "TRUNCATED" in json.dumps(small)


def test_snippet_is_capped_with_a_marker() -> None:
    assert snippet({"a": 1}, 100) == '{"a": 1}'
    assert snippet("z" * 30, 10) == "z" * 10 + " [TRUNCATED:20 chars]"
    assert snippet(None, 10) is None


@pytest.mark.parametrize(
    ("text", "cwd"),
    [
        ('{"cwd": "/home/ann/proj", "tool_input": {"cwd": "/elsewhere"}}', "/home/ann/proj"),
        ('{"cwd":"/a \\"q\\" b"}', '/a "q" b'),
        ('{"hook_event_name": "Stop"}', None),
    ],
)
def test_raw_cwd(text: str, cwd: str | None) -> None:
    assert raw_cwd(text) == cwd


def test_record_spools_the_frame_as_received(tmp_path: Path) -> None:
    event = real("PostToolUse — Skill", cwd="/home/ann/work/proj")
    raw = frame(event)
    record: Record = make_ingest(tmp_path).parse(raw)
    assert record.raw == raw  # replayed later, it is enriched again from what was sent
