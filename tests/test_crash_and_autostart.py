"""No event lost, none counted twice: SIGKILL under load, and many hooks with no daemon."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.support.events import payload
from tests.support.home import Home, daemon_processes
from tests.support.load import HookLoad, kill_daemons, wait_for_a_daemon


def test_fifty_hooks_at_once_start_exactly_one_daemon_and_all_events_are_stored(
    home: Home,
) -> None:
    ids = [f"toolu_{i:03d}" for i in range(50)]
    barrier = threading.Barrier(50)

    session_secrets = {"ANTHROPIC_API_KEY": "sk-ant-not-for-the-daemon", "CLAUDECODE": "1"}

    def fire(tool_use_id: str) -> int:
        barrier.wait()
        return home.hook(payload(tool_use_id=tool_use_id), extra_env=session_secrets).returncode

    with ThreadPoolExecutor(50) as pool:
        assert set(pool.map(fire, ids)) == {0}

    def all_stored() -> bool:
        return sorted(e["tool_use_id"] for e in home.events()) == ids

    home.wait_for(all_stored, timeout=60, what="all 50 events")
    [pid] = daemon_processes(home)
    # The daemon outlives the session that started it: none of the session's secrets, and
    # no hold on its working directory.
    environ = Path(f"/proc/{pid}/environ").read_bytes()
    assert b"sk-ant-not-for-the-daemon" not in environ
    assert b"CLAUDECODE" not in environ
    assert os.readlink(f"/proc/{pid}/cwd") == "/"
    log = home.paths.log.read_text()
    assert log.count("listening on") == 1, log
    assert "not starting" not in log  # no second daemon was even tried
    [bash] = home.report()
    assert bash["uses"] == 50


def test_sigkill_under_load_from_20_hooks_loses_and_duplicates_nothing(home: Home) -> None:
    """20 concurrent hook processes send events while the daemon is SIGKILLed three times.

    Killed daemons are restarted by the hooks themselves (stale socket → autostart). Every
    event whose hook exited must be stored exactly once in the end.
    """
    home.process("skilltrack-daemon", "start")
    with HookLoad(home, 20) as load:
        for _ in range(3):
            wait_for_a_daemon(home, "the hooks to start a daemon again")
            load.wait_for_more(40)  # under load: the 20 hooks at work meanwhile
            assert kill_daemons(home), "no daemon running to kill"
        load.wait_for_more(40)
    sent = load.sent
    assert load.bad == [], load.bad[:3]
    # Whatever is still spooled is replayed by the daemon the hooks started last.
    if not daemon_processes(home):
        home.process("skilltrack-daemon", "start")

    def settled() -> bool:
        return home.status()["spool"]["records"] == 0 and len(home.events(10**6)) >= len(sent)

    home.wait_for(settled, timeout=60, what="every sent event to be stored")
    stored = [e["tool_use_id"] for e in home.events(10**6)]
    assert sorted(stored) == sorted(sent)  # each exactly once
    [bash] = home.report()
    assert bash["uses"] == len(sent)
