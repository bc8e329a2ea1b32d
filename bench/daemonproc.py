"""Isolated skilltrack homes and a real daemon run as the benchmark's child process.

Each home is a short directory under /tmp (the socket path must stay under 100 bytes) with
`SKILLTRACK_HOME` pointing at it; the daemon is started exactly as the tests start it
(`python -P -m skilltrack.daemon run`), is ready once its socket accepts and `skilltrack-daemon
status --json` says it runs, and is stopped with SIGTERM.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from skilltrack import paths
from skilltrack.daemon.server import spool
from skilltrack.wire import CONTROL

BIN = Path(sys.executable).parent
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


class BenchError(Exception):
    """The benchmark could not run (not a missed target: something did not work)."""


class Home:
    """An isolated SKILLTRACK_HOME and the environment that selects it."""

    def __init__(self, tag: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=f"stb-{tag}-", dir="/tmp"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("SKILLTRACK_")}
        env["SKILLTRACK_HOME"] = str(self.dir)
        self.env = env
        self.paths = paths.under(self.dir)

    def spooled_records(self) -> int:
        """Records in the live spool and in replay files not yet finished."""
        return spool.backlog(self.paths.spool_dir)[0]

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def home(tag: str) -> Iterator[Home]:
    h = Home(tag)
    try:
        yield h
    finally:
        h.remove()


def count_events(db: Path) -> int:
    """Rows in `events`, read through a read-only connection (0 if there is no database yet)."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.OperationalError:
        return 0
    try:
        row = conn.execute("SELECT count(*) FROM events").fetchone()
        return int(row[0])
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return 0
        raise
    finally:
        conn.close()


def socket_accepts(path: Path) -> bool:
    """Whether a connection to `path` is accepted and answered.

    The probe asks for the daemon's status (a control frame) rather than connecting and
    closing: an empty connection would be counted as a rejected frame.
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(2.0)
        try:
            probe.connect(os.fspath(path))
            probe.sendall(CONTROL + b" status\n")
            probe.shutdown(socket.SHUT_WR)
            return probe.recv(1) != b""
        except OSError:
            return False


class Daemon:
    """A skilltrack daemon in the foreground, as a child of the benchmark."""

    def __init__(self, h: Home) -> None:
        self.home = h
        self.stderr_path = h.dir / "daemon.stderr"
        with self.stderr_path.open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-P", "-m", "skilltrack.daemon", "run"],
                env=h.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        self.started = time.perf_counter()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_socket(self, timeout: float = START_TIMEOUT_S) -> float:
        """Wait until the socket accepts; returns the perf_counter time it first did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            if socket_accepts(self.home.paths.socket):
                return time.perf_counter()
            time.sleep(0.005)
        raise BenchError(f"the daemon's socket did not accept within {timeout:.0f}s")

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        """Wait until the socket accepts and `status --json` says the daemon runs."""
        deadline = time.monotonic() + timeout
        self.wait_socket(timeout)
        while time.monotonic() < deadline:
            self._check_alive()
            if self.status().get("running") is True:
                return
            time.sleep(0.05)
        raise BenchError(f"`skilltrack-daemon status` did not report running within {timeout:.0f}s")

    def status(self) -> dict[str, Any]:
        result = subprocess.run(
            [str(BIN / "skilltrack-daemon"), "status", "--json"],
            env=self.home.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode not in (0, 3):  # 3: not running (yet)
            raise BenchError(f"skilltrack-daemon status failed: {result.stderr.strip()}")
        answer: dict[str, Any] = json.loads(result.stdout)
        return answer

    def rss_kib(self) -> tuple[int, int]:
        """(VmRSS, VmHWM) of the daemon process, in KiB."""
        fields: dict[str, int] = {}
        with open(f"/proc/{self.pid}/status", encoding="ascii") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    fields[key] = int(value.split()[0])
        return fields["VmRSS"], fields["VmHWM"]

    def cpu_seconds(self) -> tuple[float, float]:
        """User + system CPU time used so far: (event-loop thread, all other threads)."""
        main = others = 0.0
        for tid in os.listdir(f"/proc/{self.pid}/task"):
            try:
                used = _cpu_of(f"/proc/{self.pid}/task/{tid}/stat")
            except FileNotFoundError:  # a thread that just ended
                continue
            if int(tid) == self.pid:
                main += used
            else:
                others += used
        return main, others

    def stop(self) -> int:
        """SIGTERM, then wait; returns the exit code (SIGKILL if it does not stop in time)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise BenchError(
                    f"the daemon did not stop within {STOP_TIMEOUT_S:.0f}s of SIGTERM"
                ) from None
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def _check_alive(self) -> None:
        if self.proc.poll() is not None:
            err = self.stderr_path.read_text(errors="replace")[-2000:]
            raise BenchError(f"the daemon exited with {self.proc.returncode}: {err}")


def _cpu_of(stat_path: str) -> float:
    with open(stat_path, encoding="ascii", errors="replace") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2 :].split()
    # Counting from the state (field 3 of proc(5)): utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, stolen): CPU time all processes have used so far over all cores, and the time
    the hypervisor gave the virtual CPUs to someone else (from /proc/stat)."""
    with open("/proc/stat", encoding="ascii") as f:
        user, nice, system, _idle, _iowait, irq, softirq, steal = (
            int(v) for v in f.readline().split()[1:9]
        )
    tck = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / tck, steal / tck


@contextlib.contextmanager
def running_daemon(h: Home) -> Iterator[Daemon]:
    """A ready daemon for `h`, killed on the way out if the benchmark did not stop it."""
    d = Daemon(h)
    try:
        d.wait_ready()
        yield d
    finally:
        d.kill()
