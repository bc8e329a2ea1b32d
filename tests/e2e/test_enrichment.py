"""Enrichment with the real Claude Code: skill sources, descriptions and versions; secrets out.

One skill lives in `~/.claude/skills`, one in the project's `.claude/skills`; each is invoked
by the model (`Skill`) and typed by the user (`/name`). Then the user skill's SKILL.md is
edited, and its next use must count for a new version. A Bash command carrying a fake AWS key
and a fake GitHub token must be stored with both redacted, in every byte of the database.
"""

from __future__ import annotations

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

AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
GITHUB_TOKEN = "ghp_" + "0123456789abcdefghijABCDEFGHIJ012345"
PROJECT_SKILL_MD = (
    "---\nname: release-notes\ndescription: >\n  Drafts release notes\n  from the git log.\n"
    "---\n\nSummarise the log.\n"
)

SESSION_1 = Conversation(
    [
        ToolCall("Skill", {"skill": "pdf-helper"}),
        ToolCall("Skill", {"skill": "release-notes"}),
        ToolCall(
            "Bash",
            {"command": f"AWS_ACCESS_KEY_ID={AWS_KEY} GH_TOKEN={GITHUB_TOKEN} echo deployed"},
        ),
    ]
)
SESSION_3 = Conversation([ToolCall("Skill", {"skill": "pdf-helper"})])
TYPED = Conversation([])  # the user typed the skill; the model only answers


def skills_by_name(home: Home) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in home.json("skilltrack", "skills")["skills"]}


@pytest.mark.e2e
def test_skills_are_attributed_to_source_and_version_and_secrets_never_stored(
    claude_binary: Path, home: Home, tmp_path: Path
) -> None:
    model = ScriptedModel(SESSION_1)
    with ModelServer(model) as server:
        sandbox = make_sandbox(tmp_path, home, server.url, "by-hand", claude_binary)
        project_skill = sandbox.project / ".claude" / "skills" / "release-notes" / "SKILL.md"
        project_skill.parent.mkdir(parents=True)
        project_skill.write_text(PROJECT_SKILL_MD)
        user_skill = sandbox.home / ".claude" / "skills" / "pdf-helper" / "SKILL.md"

        runs = [run_claude(claude_binary, sandbox, "do it", tmp_path / "claude-1.log")]
        model.main = TYPED
        for n, prompt in enumerate(("/release-notes since v1", "/pdf-helper a.pdf"), start=2):
            runs.append(run_claude(claude_binary, sandbox, prompt, tmp_path / f"claude-{n}.log"))
        # The author edits the skill: the next uses are of a new version.
        user_skill.write_text(user_skill.read_text() + "\nAlso read scanned pages.\n")
        model.main = SESSION_3
        runs.append(run_claude(claude_binary, sandbox, "again", tmp_path / "claude-4.log"))
        model.main = TYPED
        runs.append(run_claude(claude_binary, sandbox, "/pdf-helper b.pdf", tmp_path / "c5.log"))
    conversation = f"model requests:\n{model.summary()}"
    for run in runs:
        assert run.returncode == 0, f"{run.describe()}\n{conversation}"
        assert hook_trouble(run, sandbox) == []

    # 5 sessions x (start, end) + 3 model-invoked skills + 3 typed + 1 Bash.
    events = wait_for_events(home, 10 + 7)
    skill_events = [e for e in events if e["artifact_type"] == "skill"]
    assert len(skill_events) == 6, events
    assert all(e["skill_id"] and e["skill_version"] for e in skill_events), skill_events

    skills = skills_by_name(home)
    assert set(skills) == {"pdf-helper", "release-notes"}
    pdf, notes = skills["pdf-helper"], skills["release-notes"]
    assert (pdf["source"], pdf["location"]) == ("user", "~/.claude/skills/pdf-helper")
    assert pdf["description"] == "Extracts text and tables from PDF files."
    assert notes["source"] == "project"
    assert notes["location"] == f"{sandbox.project}/.claude/skills/release-notes"
    assert notes["description"] == "Drafts release notes from the git log."
    # release-notes: one version, used twice (once each way).
    assert [(v["uses"], v["failures"]) for v in notes["versions"]] == [(2, 0)]
    # pdf-helper: the edit made a second version; two uses before it, two after.
    new, old = pdf["versions"]
    assert (old["uses"], new["uses"]) == (2, 2)
    assert new["version"] != old["version"]
    assert new["first_seen"] >= old["last_seen"]
    assert pdf["current_version"] == new["version"]
    by_session: dict[str, set[str]] = {}
    for e in skill_events:
        if e["artifact_name"] == "pdf-helper":
            by_session.setdefault(e["session_id"], set()).add(e["skill_version"])
    assert sorted(map(sorted, by_session.values())) == sorted(
        [[old["version"]], [old["version"]], [new["version"]], [new["version"]]]
    )

    stored = home.json("skilltrack", "events", "--payload", "--limit", "1000")["events"]
    (bash,) = [e for e in stored if e["tool_name"] == "Bash"]
    command = bash["payload"]["tool_input"]["command"]
    assert "[REDACTED:aws_access_key]" in command
    assert "[REDACTED:github_token]" in command
    assert command.endswith("echo deployed")
    home.process("skilltrack-daemon", "stop")  # checkpointed and closed: the files are final
    for path in home.dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert AWS_KEY.encode() not in data, path
            assert GITHUB_TOKEN.encode() not in data, path
