"""An isolated skilltrack state directory with the real hook, a real daemon and the commands.

The hook runs as Claude Code runs it (`python -I -S`, a subprocess); the daemon runs as its
own process on a Unix socket at a short path; the commands run in-process (support.cli) on
the real SQLite file and socket. Every wait is bounded, and a wait that times out fails with
the daemon's log and stderr in its message.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skilltrack import paths as paths_mod
from skilltrack.daemon.server import control, instance
from skilltrack.paths import Paths
from tests.support import cli
from tests.support.cli import BIN

ROOT = Path(__file__).resolve().parent.parent.parent
HOOK = ROOT / "hooks" / "skilltrack_hook.py"

# The longest a hook waits for the daemon's acknowledgement (its default is 60-80 ms): for a
# test that asserts that an event was acknowledged (stored, not spooled), whatever the load.
WAIT_FOR_ACK = {"SKILLTRACK_HOOK_TIMEOUT_MS": "1000"}
WAIT_S = 30.0  # a bound for what takes well under a second on a quiet machine
POLL_S = 0.02
LOG_TAIL = 6000  # characters of the log shown when a wait times out


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

    @property
    def fallback_spool_dir(self) -> Path:
        """Where the hook and the daemon of this home keep what the spool cannot take: under
        this home's runtime directory (XDG_RUNTIME_DIR), not the test process's."""
        saved = os.environ.get("XDG_RUNTIME_DIR")
        os.environ["XDG_RUNTIME_DIR"] = self.env["XDG_RUNTIME_DIR"]
        try:
            return self.paths.fallback_spool_dir
        finally:
            if saved is None:
                del os.environ["XDG_RUNTIME_DIR"]
            else:
                os.environ["XDG_RUNTIME_DIR"] = saved

    def hook(
        self,
        stdin: bytes,
        *,
        extra_env: dict[str, str] | None = None,
        timeout: float = 30,
        python: str = sys.executable,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run the real hook script as Claude Code does (under `python`)."""
        return subprocess.run(
            [python, "-I", "-S", str(HOOK)],
            input=stdin,
            capture_output=True,
            env={**self.env, **(extra_env or {})},
            timeout=timeout,
            check=False,
        )

    def cli(
        self,
        *args: str,
        check: bool = True,
        cwd: Path | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> cli.Result:
        """`skilltrack ARGS`, `skilltrack-daemon ARGS` or `skilltrack-install ARGS` (the
        first arg picks the program), in-process with this home's environment."""
        program, *rest = args
        env = {**self.env, **(extra_env or {})}
        return cli.run(program, *rest, env=env, cwd=cwd, check=check)

    def process(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """The same as a real process: the installed console script. For starting the
        daemon (a detached child of the command, not of the test), running it, and the entry
        points themselves."""
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
        """`skilltrack-daemon status --json`, running or not (its exit status says which)."""
        answer = self.cli("skilltrack-daemon", "status", "--json", check=False)
        result: dict[str, Any] = json.loads(answer.stdout)
        assert answer.returncode == (0 if result["running"] else 3), answer.stderr
        return result

    def live_status(self) -> dict[str, Any] | None:
        """The running daemon's own answer over its socket (None if none answers): counters,
        buffer, store health; without what status reads from disk."""
        return control.query_status(self.paths)

    def wait_for(
        self, predicate: Callable[[], object], timeout: float = WAIT_S, what: str = "condition"
    ) -> None:
        """Return once `predicate()` is true; fail after `timeout` seconds with what the
        daemon logged and wrote to stderr."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout:.0f}s waiting for {what}\n{self.diagnostics()}"
                )
            time.sleep(POLL_S)

    def start_failed_and_gone(self) -> bool:
        """A failed start was recorded and no daemon is left: none in /proc and the instance
        lock free. Both are needed: an exiting process drops its command line (and so leaves
        `daemon_processes`) a moment before it closes its files and so releases the lock."""
        return (
            self.paths.start_failed.exists()
            and not daemon_processes(self)
            and instance.running_pid(self.paths) is None
        )

    def diagnostics(self) -> str:
        """The daemon's log (its end) and the stderr of each daemon the test ran."""
        parts = [_tail("daemon log", self.paths.log)]
        parts += [_tail(f"daemon stderr (pid {d.pid})", d.stderr) for d in self.daemons]
        return "\n".join(parts)

    def kill_daemon(self) -> None:
        """SIGKILL whatever daemon runs for this home (teardown, and tests that crash it)."""
        pid = _pid(self.paths)
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            _wait_gone(pid)

    def stop_all(self) -> None:
        """Teardown: kill every daemon this home has, whoever started it."""
        for daemon in self.daemons:
            if daemon.proc is not None and daemon.proc.poll() is None:
                daemon.kill()
        self.kill_daemon()


@contextlib.contextmanager
def isolated_home() -> Iterator[Home]:
    """A fresh Home in a directory of its own under /tmp (short: a socket path must stay
    under ~100 bytes), with a runtime directory of its own (XDG_RUNTIME_DIR: where the
    fallback folder goes, rather than /dev/shm); its daemons are killed and both directories
    removed when done."""
    directory = Path(tempfile.mkdtemp(prefix="st-", dir="/tmp"))
    runtime = tempfile.mkdtemp(prefix="st-rt-", dir="/tmp")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKILLTRACK_")}
    env["SKILLTRACK_HOME"] = str(directory)
    env["XDG_RUNTIME_DIR"] = runtime
    home = Home(directory, env)
    try:
        yield home
    finally:
        home.stop_all()
        shutil.rmtree(directory, ignore_errors=True)
        shutil.rmtree(runtime, ignore_errors=True)


class DaemonProcess:
    """A daemon run in the foreground (`skilltrack-daemon run`) as a child of the test, its
    stderr kept in a file of the home."""

    def __init__(self, home: Home) -> None:
        self.home = home
        self.proc: subprocess.Popen[bytes] | None = None
        self.stderr = home.dir / f"daemon-{len(home.daemons)}.stderr"

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def start(self) -> DaemonProcess:
        with self.stderr.open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-P", "-m", "skilltrack.daemon", "run"],
                env=self.home.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        self.home.wait_for(self._answers, what=f"the daemon (pid {self.proc.pid}) to answer")
        return self

    def _answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(
                f"the daemon exited with {self.proc.returncode}\n{self.home.diagnostics()}"
            )
        status = self.home.live_status()
        return status is not None and status.get("running") is True

    def terminate(self, timeout: float = 10.0) -> int:
        """SIGTERM, then its exit status (failing with the diagnostics if it hangs)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"the daemon did not exit within {timeout:.0f}s of SIGTERM\n"
                f"{self.home.diagnostics()}"
            ) from None

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)


def exchange(home: Home, data: bytes, *, half_close: bool = True) -> bytes:
    """Send `data` on the daemon's socket and return everything it answers."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(str(home.paths.socket))
        s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := s.recv(4096):
            reply += chunk
        return reply


def daemon_processes(home: Home) -> list[int]:
    """Pids of every skilltrack daemon whose environment selects this home."""
    found = []
    marker = f"SKILLTRACK_HOME={home.dir}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if b"skilltrack" in cmdline and b"run" in cmdline and marker in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def _tail(name: str, path: Path) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return f"--- {name}: no file at {path}"
    cut = f" (its last {LOG_TAIL} characters)" if len(text) > LOG_TAIL else ""
    return f"--- {name}, {path}{cut}:\n{text[-LOG_TAIL:]}"


def _pid(paths: Paths) -> int | None:
    try:
        return int(paths.pid.read_text())
    except (OSError, ValueError):
        return None


def _wait_gone(pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while process_running(pid) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.02)


def process_running(pid: int) -> bool:
    """Whether `pid` still runs: a zombie has ended (a daemon the test did not start is
    init's child, and init may take a second or more to reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
