"""Shared fixtures: an isolated SKILLTRACK_HOME, the real hook as a subprocess, a real daemon.

Everything runs for real: the hook script under `python -I -S`, the daemon as its own process
on a Unix socket at a short path, the commands as subprocesses reading the real SQLite file.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from skilltrack import paths as paths_mod
from skilltrack.paths import Paths

ROOT = Path(__file__).resolve().parent.parent
HOOK = ROOT / "hooks" / "skilltrack_hook.py"
BIN = Path(sys.executable).parent


def payload(hook_event: str = "PostToolUse", **fields: Any) -> bytes:
    """A hook event's stdin, shaped like Claude Code 2.1.328's (shared/claude-code-events.md)."""
    event: dict[str, Any] = {
        "session_id": fields.pop("session_id", "8350fdb2-23dd-490c-a332-ff6a54b6b4af"),
        "transcript_path": "/home/ann/.claude/projects/-home-ann-proj/s.jsonl",
        "cwd": fields.pop("cwd", "/home/ann/proj"),
        "hook_event_name": hook_event,
    }
    if hook_event.startswith("PostToolUse"):
        event.update(
            tool_name="Bash",
            tool_input={"command": "echo hi"},
            tool_use_id=f"toolu_{uuid.uuid4().hex[:12]}",
            duration_ms=9,
        )
        if hook_event == "PostToolUse":
            event["tool_response"] = {"stdout": "hi", "stderr": "", "interrupted": False}
        else:
            event.update(error="Exit code 3", is_interrupt=False)
    event.update(fields)
    return json.dumps(event).encode()


@dataclass
class Home:
    """An isolated skilltrack state directory and the environment that selects it."""

    dir: Path
    env: dict[str, str] = field(default_factory=dict)
    daemons: list[DaemonProcess] = field(default_factory=list)

    def start_daemon(self) -> DaemonProcess:
        """Run a daemon in the foreground as the test's child (stopped at teardown)."""
        daemon = DaemonProcess(self)
        self.daemons.append(daemon)
        return daemon.start()

    @property
    def paths(self) -> Paths:
        return paths_mod.under(self.dir)

    def hook(
        self, stdin: bytes, *, extra_env: dict[str, str] | None = None, timeout: float = 30
    ) -> subprocess.CompletedProcess[bytes]:
        """Run the real hook script as Claude Code does."""
        return subprocess.run(
            [sys.executable, "-I", "-S", str(HOOK)],
            input=stdin,
            capture_output=True,
            env={**self.env, **(extra_env or {})},
            timeout=timeout,
            check=False,
        )

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run `skilltrack ARGS` or `skilltrack-daemon ARGS` (first arg picks the program)."""
        program, *rest = args
        return subprocess.run(
            [str(BIN / program), *rest],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=60,
            check=check,
        )

    def json(self, *args: str) -> Any:
        return json.loads(self.cli(*args, "--json").stdout)

    def events(self, limit: int = 100_000) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.json("skilltrack", "events", "--limit", str(limit))[
            "events"
        ]
        return result

    def report(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.json("skilltrack", "report")["artifacts"]
        return result

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = self.json("skilltrack-daemon", "status")
        return result

    def wait_for(self, predicate: Any, timeout: float = 20.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}")

    def kill_daemon(self) -> None:
        """SIGKILL whatever daemon runs for this home (teardown, and tests that crash it)."""
        pid = _pid(self.paths)
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            _wait_gone(pid)


def _pid(paths: Paths) -> int | None:
    try:
        return int(paths.pid.read_text())
    except (OSError, ValueError):
        return None


def _wait_gone(pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.02)


@pytest.fixture
def home() -> Iterator[Home]:
    # A short path under /tmp: the socket path must stay under ~100 bytes.
    d = Path(tempfile.mkdtemp(prefix="st-", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKILLTRACK_")}
    env["SKILLTRACK_HOME"] = str(d)
    h = Home(d, env)
    try:
        yield h
    finally:
        for daemon in h.daemons:
            if daemon.proc is not None and daemon.proc.poll() is None:
                daemon.kill()
        h.kill_daemon()
        shutil.rmtree(d, ignore_errors=True)


class DaemonProcess:
    """A daemon run in the foreground as a child of the test."""

    def __init__(self, home: Home) -> None:
        self.home = home
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> DaemonProcess:
        self.stderr = self.home.dir / "daemon.stderr"
        with self.stderr.open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-P", "-m", "skilltrack.daemon", "run"],
                env=self.home.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        self.home.wait_for(self._answers, what="the daemon to answer")
        return self

    def _answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            err = self.stderr.read_text()
            raise AssertionError(f"daemon exited with {self.proc.returncode}: {err}")
        return self.home.paths.socket.exists() and self.home.status().get("running") is True

    def terminate(self, timeout: float = 10.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def daemon(home: Home) -> DaemonProcess:
    return home.start_daemon()
