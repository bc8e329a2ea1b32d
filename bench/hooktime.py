"""Hook wall time per event, whole process, against `python -I -S -c pass`.

Every run spawns a fresh interpreter (the venv's, `sys.executable`) with `posix_spawn`, the
event's JSON on stdin (a file), stdout and stderr to files, and times spawn → exit with
`perf_counter_ns`. The cases are interleaved: each round runs every case once, in a shuffled
order, so that machine noise falls on all of them alike. Cases:

- `pass`: `python -I -S -c pass`, the floor any Python hook pays;
- `up`: the hook with a ready daemon (frame sent, acknowledgement awaited);
- `down`: the hook with no daemon and `SKILLTRACK_NO_AUTOSTART=1` (it finds no socket and
  spools);
- `wedged`: the hook against a socket that accepts connections but never answers (the
  hook waits out its deadline, then spools).

`measure_loaded` times the hook (beside `pass`) while another process keeps the daemon busy
with a steady rate of other sessions' events.

Afterwards it checks what each case left behind: every `up` event in the database and none in
the spool, every `down` and `wedged` event in its spool, exit code 0 and empty stdout always.
"""

from __future__ import annotations

import collections
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.daemonproc import BenchError, count_events, home, running_daemon
from bench.payloads import post_tool_use
from bench.stats import Summary

ROOT = Path(__file__).resolve().parent.parent
HOOK = ROOT / "hooks" / "skilltrack_hook.py"
CASES = ("pass", "up", "down", "wedged")


@dataclass
class Check:
    """One correctness check of the run: what was expected and what was found."""

    what: str
    expected: int
    found: int

    @property
    def ok(self) -> bool:
        return self.expected == self.found


@dataclass
class HookResult:
    runs: int
    warmups: int
    payload_bytes: int
    ms: dict[str, list[float]]
    checks: list[Check] = field(default_factory=list)

    def summary(self, case: str) -> Summary:
        return Summary.of(self.ms[case])

    def ratio_p50(self, case: str) -> float:
        return self.summary(case).p50 / self.summary("pass").p50

    def over(self, case: str, limit_ms: float) -> int:
        return sum(1 for v in self.ms[case] if v > limit_ms)


class Spawner:
    """Spawns one case's process and times it, with stdin/stdout/stderr as files."""

    def __init__(self, argv: list[str], env: dict[str, str], stdin: Path, out_dir: Path) -> None:
        self.argv = argv
        self.env = env
        self.stdin = os.fspath(stdin)
        self.stdout = os.fspath(out_dir / "stdout")
        self.stderr = os.fspath(out_dir / "stderr")
        out_dir.mkdir(parents=True, exist_ok=True)
        self.failures: list[int] = []
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        self._actions = [
            (os.POSIX_SPAWN_OPEN, 0, self.stdin, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, self.stdout, flags, 0o600),
            (os.POSIX_SPAWN_OPEN, 2, self.stderr, flags, 0o600),
        ]

    def __call__(self) -> float:
        """One run; returns its wall time in milliseconds."""
        t0 = time.perf_counter_ns()
        pid = os.posix_spawn(self.argv[0], self.argv, self.env, file_actions=self._actions)
        _, status = os.waitpid(pid, 0)
        t1 = time.perf_counter_ns()
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            self.failures.append(code)
        return (t1 - t0) / 1e6

    def output_bytes(self) -> tuple[int, int]:
        return os.path.getsize(self.stdout), os.path.getsize(self.stderr)


class _WedgedListener:
    """A socket at the daemon's path that accepts connections and never answers them.

    Connections are held (not read, not answered) for a few seconds, then closed, so the
    accept queue never fills up over a long run.
    """

    HOLD_S = 2.0

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(os.fspath(path))
        self._sock.listen(1024)
        self._sock.settimeout(0.1)
        self._held: collections.deque[tuple[float, socket.socket]] = collections.deque()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="wedged-listener", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
                self._held.append((time.monotonic(), conn))
            except TimeoutError:
                pass
            while self._held and self._held[0][0] < time.monotonic() - self.HOLD_S:
                self._held.popleft()[1].close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for _, conn in self._held:
            conn.close()
        self._sock.close()


def measure(runs: int, warmups: int, log: Callable[[str], None], seed: int = 1) -> HookResult:
    """Time `runs` interleaved rounds of every case (after `warmups` untimed ones)."""
    exe = sys.executable
    payload = post_tool_use()
    with home("hook-up") as up, home("hook-down") as down, home("hook-wedged") as wedged:
        stdin = up.dir / "event.json"
        stdin.write_bytes(payload)
        for h in (up, down, wedged):
            h.env["SKILLTRACK_NO_AUTOSTART"] = "1"  # never let a hook start a stray daemon
        hook = [exe, "-I", "-S", os.fspath(HOOK)]
        spawners = {
            "pass": Spawner([exe, "-I", "-S", "-c", "pass"], up.env, stdin, up.dir / "out-pass"),
            "up": Spawner(hook, up.env, stdin, up.dir / "out-hook"),
            "down": Spawner(hook, down.env, stdin, down.dir / "out-hook"),
            "wedged": Spawner(hook, wedged.env, stdin, wedged.dir / "out-hook"),
        }
        listener = _WedgedListener(wedged.paths.socket)
        try:
            with running_daemon(up) as daemon:
                log(f"hook: {warmups} warm-up rounds, then {runs} timed rounds of {CASES}")
                rng = random.Random(seed)
                order = list(CASES)
                for _ in range(warmups):
                    for case in order:
                        spawners[case]()
                ms: dict[str, list[float]] = {case: [] for case in CASES}
                for i in range(runs):
                    rng.shuffle(order)
                    for case in order:
                        ms[case].append(spawners[case]())
                    if (i + 1) % max(1, runs // 5) == 0:
                        log(f"hook: {i + 1}/{runs} rounds")
                total = runs + warmups
                checks = [
                    Check("daemon up: events in the database", total, count_events(up.paths.db)),
                    Check("daemon up: events left in the spool", 0, up.spooled_records()),
                    Check("daemon down: events in the spool", total, down.spooled_records()),
                    Check("daemon wedged: events in the spool", total, wedged.spooled_records()),
                ]
                if daemon.stop() != 0:
                    raise BenchError("the daemon did not exit 0 on SIGTERM")
        finally:
            listener.close()
        for case, spawner in spawners.items():
            out, err = spawner.output_bytes()
            checks.append(Check(f"{case}: runs that exited non-zero", 0, len(spawner.failures)))
            checks.append(Check(f"{case}: bytes written to stdout", 0, out))
            if case != "pass":
                checks.append(Check(f"{case}: bytes written to stderr", 0, err))
    return HookResult(runs, warmups, len(payload), ms, checks)


@dataclass
class LoadedResult:
    """The hook timed while other sessions' events keep the daemon busy."""

    rate: float  # background events per second asked of the load process
    load: dict[str, float]  # what it did: sent, ok, errors, seconds
    runs: int
    ms: dict[str, list[float]]  # "pass" and "loaded", interleaved under the same load
    checks: list[Check] = field(default_factory=list)
    warmups: int = 0
    # Hook runs that gave up waiting and spooled their event (replayed since, or still in
    # the spool): a deadline too short for the daemon's latency under this load.
    spooled: int = 0

    @property
    def achieved(self) -> float:
        """Background events acknowledged per second."""
        return self.load["ok"] / self.load["seconds"] if self.load["seconds"] else 0.0

    def summary(self, case: str) -> Summary:
        return Summary.of(self.ms[case])

    def ratio_p50(self) -> float:
        return self.summary("loaded").p50 / self.summary("pass").p50


def measure_loaded(
    runs: int, warmups: int, rate: float, log: Callable[[str], None], seed: int = 2
) -> LoadedResult:
    """Time the hook against a daemon taking `rate` events a second from another process
    (bench/pacedload.py), interleaved with `python -I -S -c pass` under the same load."""
    exe = sys.executable
    payload = post_tool_use()
    with home("hook-loaded") as h:
        stdin = h.dir / "event.json"
        stdin.write_bytes(payload)
        h.env["SKILLTRACK_NO_AUTOSTART"] = "1"
        spawners = {
            "pass": Spawner([exe, "-I", "-S", "-c", "pass"], h.env, stdin, h.dir / "out-pass"),
            "loaded": Spawner([exe, "-I", "-S", os.fspath(HOOK)], h.env, stdin, h.dir / "out"),
        }
        with running_daemon(h) as daemon:
            load = subprocess.Popen(
                [exe, os.fspath(ROOT / "bench" / "pacedload.py"), os.fspath(h.paths.socket),
                 str(rate)],
                stdout=subprocess.PIPE, env=h.env,
            )  # fmt: skip
            try:
                time.sleep(1.0)  # the load reaches its pace first
                log(f"hook under load: {rate:,.0f} events/s in the background, {runs} rounds")
                rng = random.Random(seed)
                order = list(spawners)
                ms: dict[str, list[float]] = {case: [] for case in spawners}
                for i in range(warmups + runs):
                    rng.shuffle(order)
                    for case in order:
                        took = spawners[case]()
                        if i >= warmups:
                            ms[case].append(took)
            finally:
                load.send_signal(signal.SIGTERM)
                out, _ = load.communicate(timeout=60)
            if load.returncode != 0:
                raise BenchError(f"the background load exited with {load.returncode}")
            counts = json.loads(out)
            stored = count_events(h.paths.db)
            # The load process never spools: whatever is replayed came from a hook. Waited
            # for (the daemon replays every second), so that no record counts in both.
            settle = time.monotonic() + 10
            while h.spooled_records() and time.monotonic() < settle:
                time.sleep(0.1)
            spooled = int(daemon.status()["counters"]["replayed"]) + h.spooled_records()
            if daemon.stop() != 0:
                raise BenchError("the daemon did not exit 0 on SIGTERM")
        checks = [
            Check(
                "under load: events in the database (hook runs + acknowledged background)",
                warmups + runs + int(counts["ok"]),
                stored,
            ),
            Check("under load: background events not acknowledged", 0, int(counts["errors"])),
            Check(
                "under load: hook runs that exited non-zero", 0, len(spawners["loaded"].failures)
            ),
            Check(
                "under load: hook bytes written to stdout", 0, spawners["loaded"].output_bytes()[0]
            ),
        ]
    return LoadedResult(rate, counts, runs, ms, checks, warmups, spooled)
