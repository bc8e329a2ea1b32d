"""Load from real hooks: threads that each run the hook again and again, as concurrent tool
calls of busy sessions do, and the daemons of a home killed under it.

Progress is counted in events sent, not in seconds: "30 more events" means the same load on
a quiet machine and on a loaded one.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from types import TracebackType

from tests.support.events import payload
from tests.support.home import Home, daemon_processes, process_running


class HookLoad:
    """`senders` threads sending PostToolUse events through the real hook until the block
    ends; each event's tool_use_id is recorded once its hook has exited."""

    def __init__(self, home: Home, senders: int, *, pause_s: float = 0.0) -> None:
        self.home = home
        self.pause_s = pause_s
        self.bad: list[subprocess.CompletedProcess[bytes]] = []  # exit status or output
        self._sent: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._send, args=(w,)) for w in range(senders)]

    def __enter__(self) -> HookLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    @property
    def sent(self) -> list[str]:
        """The tool_use_ids of the events whose hook has exited, so far."""
        with self._lock:
            return list(self._sent)

    def wait_for_more(self, count: int) -> None:
        """Return once `count` more events have been sent (a bounded wait, as every wait)."""
        with self._lock:
            target = len(self._sent) + count
        self.home.wait_for(lambda: len(self.sent) >= target, what=f"{count} more events sent")

    def _send(self, worker: int) -> None:
        n = 0
        while not self._stop.is_set():
            tool_use_id = f"toolu_{worker:02d}_{n:05d}"
            result = self.home.hook(payload(tool_use_id=tool_use_id))
            with self._lock:
                if result.returncode != 0 or result.stdout:
                    self.bad.append(result)
                self._sent.append(tool_use_id)
            n += 1
            if self.pause_s:
                time.sleep(self.pause_s)


def kill_daemons(home: Home) -> list[int]:
    """SIGKILL every daemon running for `home`; their pids, once all are gone."""
    pids = daemon_processes(home)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    # Gone from /proc's command lines is not enough: a dying process drops its command line
    # before it closes its files (the instance lock), so wait until each has ended.
    home.wait_for(
        lambda: not any(process_running(pid) for pid in pids), what=f"the daemons {pids} to die"
    )
    return pids


def wait_for_a_daemon(home: Home, what: str = "a daemon to run") -> None:
    """Return once a daemon runs for `home` (one the hooks started, after a kill)."""
    home.wait_for(lambda: bool(daemon_processes(home)), what=what)
