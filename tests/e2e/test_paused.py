"""The real Claude Code with tracking paused: every hook runs cleanly and keeps nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.claude_code import hook_trouble, make_sandbox, run_claude
from tests.support.home import Home, daemon_processes
from tests.support.model import Conversation, ModelServer, ScriptedModel, ToolCall

SESSION = Conversation(
    [ToolCall("Skill", {"skill": "pdf-helper"}), ToolCall("Bash", {"command": "exit 3"})]
)


@pytest.mark.e2e
@pytest.mark.parametrize("registration", ["skilltrack-install", "plugin"])
def test_a_paused_session_runs_its_hooks_cleanly_and_keeps_nothing(
    claude_binary: Path, home: Home, tmp_path: Path, registration: str
) -> None:
    home.cli("skilltrack", "pause")
    with ModelServer(ScriptedModel(SESSION, [])) as server:
        sandbox = make_sandbox(tmp_path, home, server.url, registration, claude_binary)
        run = run_claude(claude_binary, sandbox, "do it", tmp_path / "claude.log")

    assert run.returncode == 0, run.describe()
    assert hook_trouble(run, sandbox) == []
    # Claude Code ran the hooks (the stream shows them), and they kept nothing.
    assert {"PostToolUse", "PostToolUseFailure"} <= {m["hook_event"] for m in run.hook_responses()}
    p = home.paths
    assert not any(x.exists() for x in (p.spool, p.socket, p.lock, p.db))
    assert daemon_processes(home) == []
