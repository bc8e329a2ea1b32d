"""The real Claude Code, driven by a scripted local model, records its use through our hook.

Two `claude -p` sessions run in a temporary project with a temporary HOME whose settings
register the hook the way users will. The hook gets Claude Code's real payloads and starts the
daemon by itself; the test only reads what the daemon stored.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import HOOK, ROOT, Home
from tests.e2e.model import Conversation, ModelServer, ScriptedModel, ToolCall

MCP_ECHO = Path(__file__).parent / "mcp_echo.py"
ALLOWED_TOOLS = "Bash Skill Agent mcp__echo__echo"
TOOL_EVENTS = ("PostToolUse", "PostToolUseFailure")  # take a tool-name matcher
HOOKED_EVENTS = (*TOOL_EVENTS, "UserPromptExpansion", "SessionStart", "SessionEnd")
CLAUDE_TIMEOUT_S = 180
STORE_TIMEOUT_S = 30  # the hook may spool while the daemon it started comes up; replay is ~1 s

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
        ("PostToolUse", "skill", "pdf-helper", False): 1,
        ("PostToolUseFailure", "tool", "Bash", False): 1,
        ("PostToolUse", "mcp", "mcp__echo__echo", False): 1,
        ("PostToolUse", "agent", "general-purpose", False): 1,
        ("PostToolUse", "skill", "pdf-helper", True): 1,
        ("PostToolUse", "tool", "Bash", True): 1,
        ("UserPromptExpansion", "skill", "pdf-helper", False): 1,
    }
)


@dataclass
class ClaudeRun:
    """One `claude -p` run: its exit code, its stream-json messages and its stderr."""

    returncode: int
    messages: list[dict[str, Any]]
    stdout: str
    stderr: str

    @property
    def results(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == "result"]

    @property
    def session_id(self) -> str:
        [session] = {str(m["session_id"]) for m in self.results}
        return session

    def hook_responses(self) -> list[dict[str, Any]]:
        return [
            m
            for m in self.messages
            if m.get("type") == "system" and m.get("subtype") == "hook_response"
        ]

    def describe(self) -> str:
        return f"exit {self.returncode}\nstderr:\n{self.stderr}\nstdout:\n{self.stdout[-4000:]}"


@dataclass
class Sandbox:
    """The temporary HOME, project and environment the `claude` runs share."""

    home: Path
    project: Path
    mcp_config: Path
    env: dict[str, str]
    claude_args: list[str] = field(default_factory=list)


def make_sandbox(
    tmp: Path, skilltrack: Home, model_url: str, registration: str, claude_binary: Path
) -> Sandbox:
    home, project = tmp / "home", tmp / "project"
    skill = home / ".claude" / "skills" / "pdf-helper"
    skill.mkdir(parents=True)
    project.mkdir()
    (skill / "SKILL.md").write_text(
        "---\nname: pdf-helper\ndescription: Extracts text and tables from PDF files.\n---\n\n"
        "Read the PDF and report what it holds.\n"
    )
    mcp_config = tmp / "mcp.json"
    mcp_config.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "echo": {"type": "stdio", "command": sys.executable, "args": [str(MCP_ECHO)]}
                }
            }
        )
    )
    (tmp / "tmp").mkdir()
    # Nothing of the developer's own Claude Code setup (a real key, a config dir, the markers
    # of an enclosing session) may leak into the run.
    env = {
        k: v
        for k, v in skilltrack.env.items()
        if not k.startswith(("ANTHROPIC_", "CLAUDE", "OTEL_"))
    }
    env.update(
        HOME=str(home),
        TMPDIR=str(tmp / "tmp"),
        ANTHROPIC_BASE_URL=model_url,
        ANTHROPIC_API_KEY="sk-ant-e2e-test",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
    )
    if registration == "marketplace":
        # What a user does: clone, add the clone as a marketplace, install the plugin.
        clone = tmp / "clone"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
        for command in (["marketplace", "add", str(clone)], ["install", "skilltrack@skilltrack"]):
            subprocess.run(
                [str(claude_binary), "plugin", *command],
                env=env,
                cwd=project,
                check=True,
                capture_output=True,
                timeout=120,
            )
        return Sandbox(home, project, mcp_config, env)
    if registration == "plugin":
        # The plugin's hook runs `python3` from PATH and finds skilltrack-daemon there.
        env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
        return Sandbox(home, project, mcp_config, env, ["--plugin-dir", str(ROOT)])
    if registration == "skilltrack-install":
        # The way users turn tracking on: the installer writes ~/.claude/settings.json.
        subprocess.run(
            [
                str(Path(sys.executable).parent / "skilltrack-install"),
                "--scope",
                "user",
                "--no-start",
            ],
            env=env,
            cwd=project,
            check=True,
            capture_output=True,
        )
    else:
        register_by_hand(home)
    return Sandbox(home, project, mcp_config, env)


def register_by_hand(home: Path) -> None:
    """settings.json as the test writes it itself, independent of the installer."""
    command = f"{sys.executable} -I -S {HOOK}"
    hooks: dict[str, Any] = {}
    for event in HOOKED_EVENTS:
        group: dict[str, Any] = {"hooks": [{"type": "command", "command": command, "timeout": 5}]}
        if event in TOOL_EVENTS:
            group["matcher"] = "*"
        hooks[event] = [group]
    (home / ".claude" / "settings.json").write_text(json.dumps({"hooks": hooks}, indent=2))


def run_claude(binary: Path, sandbox: Sandbox, prompt: str, log: Path) -> ClaudeRun:
    # stream-json with hook events is the only output that shows each hook's exit code.
    proc = subprocess.run(
        [
            str(binary), "-p", prompt,
            "--output-format", "stream-json", "--verbose", "--include-hook-events",
            "--mcp-config", str(sandbox.mcp_config),
            "--allowedTools", ALLOWED_TOOLS,
            *sandbox.claude_args,
        ],
        cwd=sandbox.project,
        env=sandbox.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=CLAUDE_TIMEOUT_S,
        check=False,
    )  # fmt: skip
    log.write_text(f"$ claude -p {prompt!r}\nexit {proc.returncode}\n{proc.stderr}\n{proc.stdout}")
    messages = []
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            messages.append(json.loads(line))
    return ClaudeRun(proc.returncode, messages, proc.stdout, proc.stderr)


def hook_trouble(run: ClaudeRun, sandbox: Sandbox) -> list[str]:
    """Every sign that a hook failed, timed out or printed something, in output or transcripts.

    The stream shows only some hooks' responses; the transcripts record every hook that went
    wrong as a `hook_…` attachment. Our hook never prints, so any such attachment is trouble.
    """
    trouble = [
        f"stream: {m}"
        for m in run.hook_responses()
        if m.get("exit_code") != 0 or m.get("outcome") != "success" or m.get("stdout")
    ]
    for transcript in sorted((sandbox.home / ".claude" / "projects").rglob("*.jsonl")):
        for line in transcript.read_text().splitlines():
            attachment = json.loads(line).get("attachment") or {}
            if str(attachment.get("type", "")).startswith("hook_"):
                trouble.append(f"{transcript.name}: {attachment}")
    trouble += [f"stderr: {line}" for line in run.stderr.splitlines() if "hook" in line.lower()]
    return trouble


def wait_for_events(home: Home, count: int) -> list[dict[str, Any]]:
    """The stored events once there are `count` (or whatever is there at the deadline)."""
    deadline = time.monotonic() + STORE_TIMEOUT_S
    while True:
        events = home.events()
        if len(events) >= count or time.monotonic() > deadline:
            return events
        time.sleep(0.1)


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

    inside = [e for e in events if e["agent_type"] is not None]
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
