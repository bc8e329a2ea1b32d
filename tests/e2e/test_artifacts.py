"""Skills and commands counted as the real Claude Code ran them, whatever name it was given.

- A plugin installed with `claude plugin marketplace add DIR` / `claude plugin install` from a
  local folder, as plugins are developed: its skill called by its full name and by its bare
  name, then edited in that folder between two sessions (Claude Code reads it there, not from
  its cache copy), then typed by its bare name; and its command.
- A user command called by the model through `Skill` and typed by the user: one command.
- A skill whose front matter names it other than its folder, called and typed by that name.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections import Counter
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
from tests.support.model import Conversation, ModelServer, ScriptedModel, ToolCall

TYPED = Conversation([])  # the user typed the name; the model only answers
PLUGIN_SKILL = "---\nname: lint-fix\ndescription: Fixes lint.\n---\n\nRun the linter, fix.\n"
PLUGIN_COMMAND = "---\ndescription: Writes release notes.\n---\n\nSummarise the log.\n"
MARKETPLACE = """{"name": "devmarket", "owner": {"name": "Ann"},
 "plugins": [{"name": "toolbox", "source": "./toolbox", "version": "1.0.0"}]}"""


def skill_calls(*names: str) -> Conversation:
    return Conversation([ToolCall("Skill", {"skill": name}) for name in names])


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def plugin_command(binary: Path, sandbox: Sandbox, *args: str) -> None:
    subprocess.run(
        [str(binary), "plugin", *args],
        env=sandbox.env,
        cwd=sandbox.project,
        check=True,
        capture_output=True,
        timeout=120,
    )


def check_runs(runs: list[ClaudeRun], sandbox: Sandbox, model: ScriptedModel) -> None:
    for run in runs:
        assert run.returncode == 0, f"{run.describe()}\nmodel requests:\n{model.summary()}"
        assert hook_trouble(run, sandbox) == []


def uses(events: list[dict[str, Any]]) -> Counter[tuple[str, str, str | None, str | None]]:
    """(type, name, plugin, version) of every counted use."""
    return Counter(
        (e["artifact_type"], e["artifact_name"], e["plugin"], e["skill_version"])
        for e in events
        if e["artifact_type"] is not None
    )


@pytest.mark.e2e
def test_a_plugin_from_a_local_folder_counts_its_edits_and_its_bare_name(
    claude_binary: Path, home: Home, tmp_path: Path
) -> None:
    market = tmp_path / "dev" / "market"
    (market / ".claude-plugin").mkdir(parents=True)
    (market / ".claude-plugin" / "marketplace.json").write_text(MARKETPLACE)
    plugin = market / "toolbox"
    (plugin / ".claude-plugin").mkdir(parents=True)
    (plugin / ".claude-plugin" / "plugin.json").write_text('{"name": "toolbox"}')
    skill_md = plugin / "skills" / "lint-fix" / "SKILL.md"
    skill_md.parent.mkdir(parents=True)
    skill_md.write_text(PLUGIN_SKILL)
    command_md = plugin / "commands" / "notes.md"
    command_md.parent.mkdir(parents=True)
    command_md.write_text(PLUGIN_COMMAND)

    model = ScriptedModel(skill_calls("toolbox:lint-fix", "lint-fix", "toolbox:notes"))
    with ModelServer(model) as server:
        sandbox = make_sandbox(tmp_path, home, server.url, "by-hand", claude_binary)
        plugin_command(claude_binary, sandbox, "marketplace", "add", str(market))
        plugin_command(claude_binary, sandbox, "install", "toolbox@devmarket")
        runs = [run_claude(claude_binary, sandbox, "lint", tmp_path / "c1.log")]
        v1 = sha(skill_md)
        skill_md.write_text(PLUGIN_SKILL + "\nThen fix the imports too.\n")  # the author's edit
        v2 = sha(skill_md)
        model.main = skill_calls("toolbox:lint-fix")
        runs.append(run_claude(claude_binary, sandbox, "lint again", tmp_path / "c2.log"))
        model.main = TYPED
        runs.append(run_claude(claude_binary, sandbox, "/lint-fix src", tmp_path / "c3.log"))
    check_runs(runs, sandbox, model)

    events = wait_for_events(home, 3 * 2 + 5)  # 3 sessions' start and end, 5 uses
    assert uses(events) == Counter(
        {
            ("skill", "toolbox:lint-fix", "toolbox", v1): 2,  # by full and by bare name
            ("skill", "toolbox:lint-fix", "toolbox", v2): 2,  # after the edit; typed bare
            ("command", "toolbox:notes", "toolbox", sha(command_md)): 1,
        }
    )
    report = {(a["artifact_type"], a["artifact_name"]): a["uses"] for a in home.report()}
    assert report == {("skill", "toolbox:lint-fix"): 4, ("command", "toolbox:notes"): 1}
    skills = {s["name"]: s for s in home.json("skilltrack", "skills")["skills"]}
    lint = skills["toolbox:lint-fix"]
    assert (lint["source"], lint["location"]) == ("plugin", str(skill_md.parent))
    assert [(v["version"], v["uses"]) for v in lint["versions"]] == [(v2, 2), (v1, 2)]


@pytest.mark.e2e
def test_a_command_both_ways_and_a_front_matter_name_are_one_artifact_each(
    claude_binary: Path, home: Home, tmp_path: Path
) -> None:
    model = ScriptedModel(skill_calls("deploy-notes", "format-checker"))
    with ModelServer(model) as server:
        sandbox = make_sandbox(tmp_path, home, server.url, "by-hand", claude_binary)
        command_md = sandbox.home / ".claude" / "commands" / "deploy-notes.md"
        command_md.parent.mkdir(parents=True)
        command_md.write_text("---\ndescription: Writes deploy notes.\n---\n\nList changes.\n")
        skill_md = sandbox.home / ".claude" / "skills" / "fmt-check" / "SKILL.md"
        skill_md.parent.mkdir(parents=True)
        skill_md.write_text("---\nname: format-checker\ndescription: Checks.\n---\n\nCheck.\n")
        runs = [run_claude(claude_binary, sandbox, "ship it", tmp_path / "c1.log")]
        model.main = TYPED
        for n, prompt in enumerate(("/deploy-notes v1.2", "/format-checker src"), start=2):
            runs.append(run_claude(claude_binary, sandbox, prompt, tmp_path / f"c{n}.log"))
    check_runs(runs, sandbox, model)

    events = wait_for_events(home, 3 * 2 + 4)
    assert uses(events) == Counter(
        {
            ("command", "deploy-notes", None, sha(command_md)): 2,
            ("skill", "fmt-check", None, sha(skill_md)): 2,
        }
    )
    report = {(a["artifact_type"], a["artifact_name"]): a["uses"] for a in home.report()}
    assert report == {("command", "deploy-notes"): 2, ("skill", "fmt-check"): 2}
    located = {s["name"]: s["location"] for s in home.json("skilltrack", "skills")["skills"]}
    assert located == {
        "deploy-notes": "~/.claude/commands/deploy-notes.md",
        "fmt-check": "~/.claude/skills/fmt-check",
    }
