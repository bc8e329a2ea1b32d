"""The real hook script, run as Claude Code runs it, with and without a daemon."""

from __future__ import annotations

import _socket
import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time
import types
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from tests.support.events import payload
from tests.support.home import HOOK, WAIT_FOR_ACK, DaemonProcess, Home

NO_AUTOSTART = {"SKILLTRACK_NO_AUTOSTART": "1"}


def spool_lines(home: Home) -> list[bytes]:
    try:
        return home.paths.spool.read_bytes().splitlines()
    except FileNotFoundError:
        return []


def test_hook_with_daemon_stores_the_event_and_prints_nothing(
    home: Home, daemon: DaemonProcess
) -> None:
    # Given the longest deadline: acknowledged (so stored, not spooled) however slow the host.
    result = home.hook(payload("PostToolUse", tool_use_id="toolu_0001"), extra_env=WAIT_FOR_ACK)

    assert result.returncode == 0
    assert result.stdout == b""
    assert result.stderr == b""
    [event] = home.events()
    assert event["tool_use_id"] == "toolu_0001"
    assert event["hook_event"] == "PostToolUse"
    assert event["artifact_type"] == "tool"
    assert event["artifact_name"] == "Bash"
    assert event["success"] is True
    assert event["duration_ms"] == 9
    event_id = uuid.UUID(event["event_id"])
    assert (event_id.version, event_id.variant) == (7, uuid.RFC_4122)
    # Its first 48 bits are the client time in milliseconds: ids sort as the events were made.
    # (The header's %.6f may round the client time up across a millisecond; iso() cuts it.)
    client_ms = datetime.fromisoformat(event["client_time"]).timestamp() * 1000
    assert 0 <= client_ms - (event_id.int >> 80) <= 1
    assert event["client_time"]
    assert event["received_at"]
    assert spool_lines(home) == []


def test_hook_without_daemon_spools_privately_and_replay_stores_it_once(home: Home) -> None:
    result = home.hook(payload(tool_use_id="toolu_spooled"), extra_env=NO_AUTOSTART)

    assert result.returncode == 0
    assert result.stdout == b""
    assert len(spool_lines(home)) == 1
    assert stat.S_IMODE(home.paths.spool.stat().st_mode) == 0o600
    assert stat.S_IMODE(home.paths.spool_dir.stat().st_mode) == 0o700
    assert home.status()["spool"]["records"] == 1

    daemon = home.start_daemon()
    home.wait_for(lambda: len(home.events()) == 1, what="the spooled event to be replayed")
    home.wait_for(lambda: home.status()["spool"]["records"] == 0, what="the spool to empty")
    daemon.terminate()

    # A second start finds nothing left to replay: the event is stored once.
    daemon = home.start_daemon()
    [event] = home.events()
    assert event["tool_use_id"] == "toolu_spooled"
    assert home.status()["counters"]["replayed"] == 0
    daemon.terminate()


def test_spooled_event_keeps_its_event_id_and_client_time(home: Home) -> None:
    home.hook(payload(tool_use_id="toolu_x"), extra_env=NO_AUTOSTART)
    [line] = spool_lines(home)
    _magic, event_id, client_ts, _flags, _b64 = line.split(b" ")

    home.start_daemon()
    home.wait_for(lambda: len(home.events()) == 1, what="the replay")
    [event] = home.events()
    assert event["event_id"] == event_id.decode()
    assert abs(float(client_ts) - _epoch(event["client_time"])) < 0.002


def _epoch(iso_time: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso_time).timestamp()


@pytest.mark.parametrize(
    ("stdin", "reason"),
    [
        (b"", "empty_payload"),
        (b"this is not json {", "invalid_json"),
        (b"\xff\xfe\x00garbage\x80", "invalid_utf8"),
        (b'{"hook_event_name": 5, "tool_name": "Bash"}', "invalid_field"),
        (b'["a", "list"]', "invalid_json"),
        (b'{"no_hook_event_name": true}', "invalid_field"),
        (b"\x00" * (3 * 1024 * 1024), "invalid_field"),  # huge garbage, cut down by the hook
    ],
    ids=["empty", "garbage", "non-utf8", "wrong-type", "not-an-object", "no-event-name", "huge"],
)
def test_bad_stdin_exits_0_silently_and_the_daemon_counts_the_rejection(
    home: Home, daemon: DaemonProcess, stdin: bytes, reason: str
) -> None:
    result = home.hook(stdin, extra_env=WAIT_FOR_ACK)  # the daemon's answer, however slow

    assert result.returncode == 0
    assert result.stdout == b""
    assert home.status()["counters"]["rejected"] == {reason: 1}
    assert home.events() == []
    assert spool_lines(home) == []  # refused for good: spooling it would only refuse it again

    # The daemon keeps serving.
    home.hook(payload())
    home.wait_for(lambda: len(home.events()) == 1, what="the next event stored")


def test_valid_json_that_pydantic_refuses_and_fields_of_the_wrong_type_are_stored(
    home: Home, daemon: DaemonProcess
) -> None:
    # Lost before: Node's JSON.stringify writes a lone surrogate for a string cut inside an
    # emoji, tools answer with deeply nested JSON, and an odd duration is no reason to lose
    # the use.
    cut = payload(tool_response={"stdout": "x"}).replace(b'"x"', b'"\\ud83d"')
    deep = payload(tool_response={"stdout": "x"}).replace(b'"x"', b"[" * 300 + b"]" * 300)
    odd = payload(duration_ms="fast")
    for stdin in (cut, deep, odd):
        assert home.hook(stdin, extra_env=WAIT_FOR_ACK).returncode == 0  # acknowledged
    events = home.events()
    assert len(events) == 3
    assert home.status()["counters"]["rejected"] == {}
    assert {e["artifact_name"] for e in events} == {"Bash"}
    assert spool_lines(home) == []


def test_huge_event_is_cut_down_to_a_marked_valid_event(home: Home, daemon: DaemonProcess) -> None:
    big = "x" * (5 * 1024 * 1024)
    stdin = payload(
        "PostToolUse",
        tool_name="Skill",
        tool_input={"skill": "pdf-helper"},
        tool_response={"content": big},
        tool_use_id="toolu_big",
        duration_ms=1234,
    )

    result = home.hook(stdin)

    assert result.returncode == 0
    assert result.stdout == b""
    home.hook(payload("Stop"))  # a skill's use is stored once its turn has ended
    home.wait_for(lambda: len(home.events()) == 2, what="the event stored")
    events = home.json("skilltrack", "events", "--payload")["events"]
    [event] = [e for e in events if e["hook_event"] == "PostToolUse"]
    assert event["truncated"] is True
    assert event["artifact_type"] == "skill"
    assert event["artifact_name"] == "pdf-helper"
    assert event["tool_use_id"] == "toolu_big"
    assert event["call_ms"] == 1234
    assert event["duration_ms"] >= 1234
    assert event["payload"]["skilltrack_truncated"]["original_bytes"] == len(stdin)
    assert len(json.dumps(event["payload"])) < 64 * 1024


def test_hook_exits_0_silently_when_its_state_directory_is_unusable(home: Home) -> None:
    not_a_dir = home.dir / "file"
    not_a_dir.write_text("x")

    result = home.hook(payload(), extra_env={"SKILLTRACK_HOME": str(not_a_dir)})

    assert result.returncode == 0
    assert result.stdout == b""
    assert result.stderr == b""


@pytest.fixture
def wedged_socket(home: Home) -> Iterator[socket.socket]:
    """Something listening on the daemon's socket that accepts and never answers."""
    home.paths.run_dir.mkdir(mode=0o700, parents=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(home.paths.socket))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()


def test_silent_daemon_makes_the_hook_spool_and_not_start_another(
    home: Home, wedged_socket: socket.socket
) -> None:
    result = home.hook(payload(tool_use_id="toolu_wedged"))

    assert result.returncode == 0
    assert result.stdout == b""
    assert len(spool_lines(home)) == 1
    # The socket exists, so this was a wedged daemon, not a missing one: no start attempt.
    assert not home.paths.pid.exists()


class _SocketClock:
    """The hook core's clock in this test: it moves only when a wait on the socket times out,
    by the timeout the hook gave that wait. What it reads at the end is how long the hook
    chose to wait for the daemon, whatever the machine's load made of the real waits."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def module(self) -> types.SimpleNamespace:
        """A stand-in for `_socket` whose sockets are real but tell this clock of timeouts."""
        clock = self

        class TimedSocket:
            def __init__(self, family: int, kind: int) -> None:
                self._socket = _socket.socket(family, kind)
                self._timeout = 0.0

            def settimeout(self, timeout: float) -> None:
                self._timeout = timeout
                self._socket.settimeout(timeout)

            def recv(self, size: int) -> bytes:
                try:
                    return self._socket.recv(size)
                except TimeoutError:
                    clock.now += self._timeout
                    raise

            def __getattr__(self, name: str) -> Any:
                return getattr(self._socket, name)

        return types.SimpleNamespace(
            socket=TimedSocket,
            AF_UNIX=_socket.AF_UNIX,
            SOCK_STREAM=_socket.SOCK_STREAM,
            SOL_SOCKET=_socket.SOL_SOCKET,
            SO_PEERCRED=_socket.SO_PEERCRED,
            SHUT_WR=_socket.SHUT_WR,
            timeout=_socket.timeout,
        )


@pytest.mark.parametrize(
    ("age_bound", "age", "waited"),
    [
        (True, 10.0, 0.030),  # started long ago: gives up after its least wait (MIN_WAIT_S)
        (True, 0.0, 0.100),  # just started: its quick wait (20 ms), then until it is 80 ms old
        (True, None, 1.5),  # no /proc to ask: the whole deadline
        (False, 10.0, 1.5),  # a deadline from the environment: waited out whole
    ],
)
def test_a_hook_stops_waiting_for_a_silent_daemon_by_its_age_unless_told_otherwise(
    home: Home,
    wedged_socket: socket.socket,
    monkeypatch: pytest.MonkeyPatch,
    age_bound: bool,
    age: float | None,
    waited: float,
) -> None:
    from skilltrack.hook import skilltrack_hook_core as core

    monkeypatch.setattr(core, "DEADLINE_S", 1.5)
    monkeypatch.setattr(core, "DEADLINE_SET", not age_bound)
    monkeypatch.setattr(core, "process_age_s", lambda: age)
    clock = _SocketClock()
    monkeypatch.setattr(core, "time", clock)
    monkeypatch.setitem(sys.modules, "_socket", clock.module())

    acknowledged, nobody = core.send(str(home.paths.socket), b"frame that nobody answers\n")

    assert (acknowledged, nobody) == (False, False)
    assert clock.now - 1000.0 == pytest.approx(waited, abs=1e-9)


@pytest.mark.parametrize(
    ("now", "prefix"),
    [
        (1_700_000_000.123, "018bcfe5-687b-7"),  # 1700000000123 ms, then the version
        (0.0, "00000000-0000-7"),
        # Clocks 48 bits cannot hold give time 0, and the event still goes out.
        (-5.0, "00000000-0000-7"),
        (1e300, "00000000-0000-7"),
        (float("nan"), "00000000-0000-7"),
    ],
)
def test_event_ids_begin_with_the_client_time_in_milliseconds(now: float, prefix: str) -> None:
    from skilltrack.hook.skilltrack_hook_core import new_event_id

    first, second = new_event_id(now), new_event_id(now)
    assert first.startswith(prefix)
    assert second.startswith(prefix)
    assert first != second  # 74 random bits
    assert uuid.UUID(first).variant == uuid.RFC_4122


def test_process_age_counts_from_the_start_of_the_process() -> None:
    probe = (
        "import sys, time; sys.path.insert(0, sys.argv[1]); time.sleep(0.3);"
        "import skilltrack_hook_core as h; print(h.process_age_s())"
    )
    start = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", probe, str(HOOK.parent)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    elapsed = time.monotonic() - start
    # Overstated by less than a clock tick (10 ms) at most.
    assert 0.3 <= float(out) <= elapsed + 0.011


def test_stdin_that_never_closes_still_ends_in_exit_0(home: Home) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-I", "-S", str(HOOK)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**home.env, **NO_AUTOSTART},
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write(payload()[:40])
    proc.stdin.flush()
    try:
        returncode = proc.wait(timeout=30)  # stdin stays open; the hook gives it 3 s
    finally:
        proc.stdin.close()
    assert returncode == 0
    assert proc.stdout.read() == b""
    proc.stdout.close()
    assert proc.stderr is not None
    proc.stderr.close()
    assert len(spool_lines(home)) == 1  # what came is spooled; the daemon will judge it


def test_a_corrupt_spool_line_is_counted_and_the_rest_replayed(home: Home) -> None:
    home.hook(payload(tool_use_id="toolu_before"), extra_env=NO_AUTOSTART)
    with home.paths.spool.open("ab") as f:
        f.write(b"not a record at all\n")
        f.write(b"ST1 a-record-cut-short-by-a-full-disk")  # no newline: the next must not join it
    home.hook(payload(tool_use_id="toolu_after"), extra_env=NO_AUTOSTART)

    home.start_daemon()
    home.wait_for(lambda: len(home.events()) == 2, what="the valid records")
    assert sorted(e["tool_use_id"] for e in home.events()) == ["toolu_after", "toolu_before"]
    assert home.status()["counters"]["rejected"] == {"spool_corrupt": 2}


@pytest.mark.parametrize("value", ["soon", "-5", "nan", "1e9"])
def test_a_bad_timeout_setting_still_delivers_the_event(
    home: Home, daemon: DaemonProcess, value: str
) -> None:
    result = home.hook(payload(), extra_env={"SKILLTRACK_HOOK_TIMEOUT_MS": value})
    assert result.returncode == 0
    assert result.stdout == b""
    home.wait_for(lambda: len(home.events()) == 1, what="the event")


SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.mark.skipif(not os.access(SYSTEM_PYTHON, os.X_OK), reason=f"needs {SYSTEM_PYTHON}")
def test_plugin_hook_without_skilltrack_installed_is_silent_and_keeps_the_event(
    home: Home,
) -> None:
    # The plugin form runs `python3` from PATH; where no skilltrack-daemon can be found it
    # must neither fail nor print, and keep the event for a daemon installed later.
    result = subprocess.run(
        [SYSTEM_PYTHON, "-I", "-S", str(HOOK)],
        input=payload(),
        capture_output=True,
        env={**home.env, "PATH": "/usr/bin:/bin"},
        timeout=30,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout == b""
    assert result.stderr == b""
    assert len(spool_lines(home)) == 1
    assert not home.paths.pid.exists()


def test_secrets_and_home_paths_never_reach_the_database_file(
    home: Home, daemon: DaemonProcess
) -> None:
    aws, github = "AKIAIOSFODNN7EXAMPLE", "ghp_" + "0123456789abcdefghijABCDEFGHIJ012345"
    user_home = os.environ["HOME"].rstrip("/")
    command = f"AWS_ACCESS_KEY_ID={aws} git push https://{github}@github.com/o/r.git"
    home.hook(
        payload(
            tool_input={"command": command},
            cwd=f"{user_home}/proj",
            tool_response={"stdout": f"wrote {user_home}/proj/out.txt"},
        )
    )
    home.wait_for(lambda: len(home.events()) == 1, what="the event stored")

    [event] = home.json("skilltrack", "events", "--payload")["events"]
    assert event["cwd"] == "~/proj"
    stored = event["payload"]["tool_input"]["command"]
    assert "[REDACTED:aws_access_key]" in stored
    assert "[REDACTED:github_token]" in stored
    raw = b"".join(
        p.read_bytes() for p in home.dir.glob("skilltrack.db*") if p.is_file()
    )  # the database, its WAL and shared memory: wherever SQLite put the bytes
    for secret in (aws, github, f"{user_home}/proj"):
        assert secret.encode() not in raw


def test_a_spool_locked_for_long_gets_the_event_in_a_file_of_its_own(home: Home) -> None:
    # A peer that holds the spool's lock (a replay renaming it, a stuck writer): the hook does
    # not wait on it, nor append without it (its write could land in a file a replay has just
    # read and deleted), but leaves the record in a replay file of its own.
    import fcntl

    home.paths.spool_dir.mkdir(mode=0o700, parents=True)
    fd = os.open(home.paths.spool, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        result = home.hook(payload(tool_use_id="toolu_alone"), extra_env=NO_AUTOSTART)
        assert (result.returncode, result.stdout) == (0, b"")
        assert spool_lines(home) == []  # nothing written to the locked file
        [alone] = home.paths.spool_dir.glob("events.spool.replay-*")
        assert stat.S_IMODE(alone.stat().st_mode) == 0o600
        assert not list(home.paths.spool_dir.glob(".partial-*"))
        home.start_daemon()
        home.wait_for(lambda: len(home.events()) == 1, what="the event replayed from its file")
    finally:
        os.close(fd)
    assert home.events()[0]["tool_use_id"] == "toolu_alone"
    assert not alone.exists()
