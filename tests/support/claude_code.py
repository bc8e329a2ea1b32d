"""The real Claude Code in a sandbox: a temporary HOME and project whose settings register our
hook the way users will (by hand, through skilltrack-install, as a plugin directory, or from a
marketplace), and `claude -p` runs in it against a scripted local model (support.model)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.home import HOOK, ROOT, Home

MCP_ECHO = ROOT / "tests" / "e2e" / "mcp_echo.py"
ALLOWED_TOOLS = "Bash Skill Agent mcp__echo__echo"
TOOL_EVENTS = ("PostToolUse", "PostToolUseFailure")  # take a tool-name matcher
HOOKED_EVENTS = (
    *TOOL_EVENTS,
    "UserPromptExpansion",
    "UserPromptSubmit",
    "SubagentStart",
    "SubagentStop",
    "Stop",
    "StopFailure",
    "SessionStart",
    "SessionEnd",
)
CLAUDE_TIMEOUT_S = 180
STORE_TIMEOUT_S = 30  # the hook may spool while the daemon it started comes up; replay is ~1 s


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
    """The stored events once there are `count`; failing with the daemon's log and the
    events stored so far if they are not all there in STORE_TIMEOUT_S."""
    try:
        home.wait_for(
            lambda: len(home.events()) >= count,
            timeout=STORE_TIMEOUT_S,
            what=f"{count} events stored",
        )
    except AssertionError as exc:
        stored = "\n".join(f"{e['hook_event']} {e['artifact_name']}" for e in home.events())
        raise AssertionError(f"{exc}\n--- stored so far:\n{stored}") from None
    return home.events()
