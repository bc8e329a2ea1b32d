"""The daemon's lifecycle, its socket's safety, and its behaviour when the store fails."""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
import sqlite3
import stat
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from skilltrack.daemon.server import connection, spool
from skilltrack.wire import MAX_FRAME, RawFrame, encode_spool_record
from tests.support.cli import BIN
from tests.support.events import frame, payload
from tests.support.home import DaemonProcess, Home, exchange


def test_status_when_nothing_runs_says_so(home: Home) -> None:
    status = home.status()
    assert status["running"] is False
    assert status["pid"] is None
    assert status["database"]["events"] == 0
    human = home.cli("skilltrack-daemon", "status", check=False)
    assert "not running" in human.stdout
    assert human.returncode == 3  # as an init script's status: scripts can test it


def test_start_stop_and_start_again(home: Home) -> None:
    started = home.process("skilltrack-daemon", "start")
    assert "started" in started.stdout
    status = home.status()
    assert status["running"] is True
    pid = status["pid"]

    again = home.process("skilltrack-daemon", "start")
    assert f"already running (pid {pid})" in again.stdout

    stopped = home.process("skilltrack-daemon", "stop")
    assert "stopped" in stopped.stdout
    assert home.status()["running"] is False
    assert not home.paths.socket.exists()
    assert not home.paths.pid.exists()
    assert "not running" in home.process("skilltrack-daemon", "stop").stdout


def test_state_files_are_private(home: Home, daemon: DaemonProcess) -> None:
    home.hook(payload())
    paths = home.paths
    assert stat.S_IMODE(paths.run_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(paths.socket.stat().st_mode) == 0o600
    for path in (paths.db, paths.log, paths.lock, paths.pid):
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path


def test_second_daemon_refuses_to_run(home: Home, daemon: DaemonProcess) -> None:
    second = home.process("skilltrack-daemon", "run", check=False)
    assert second.returncode == 1
    assert "already runs" in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1


def test_stale_socket_is_replaced(home: Home) -> None:
    home.paths.run_dir.mkdir(mode=0o700, parents=True)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(home.paths.socket))
    stale.close()  # the file stays, nobody listens: what a SIGKILLed daemon leaves

    home.start_daemon()
    home.hook(payload())
    home.wait_for(lambda: len(home.events()) == 1, what="the event stored")


def test_a_file_at_the_socket_path_is_refused_not_replaced(home: Home) -> None:
    home.paths.run_dir.mkdir(mode=0o700, parents=True)
    home.paths.socket.write_text("precious")

    result = home.process("skilltrack-daemon", "run", check=False)

    assert result.returncode == 1
    assert "is not a socket" in result.stderr
    assert home.paths.socket.read_text() == "precious"


def test_an_insecure_run_directory_is_refused(home: Home) -> None:
    home.paths.run_dir.mkdir(mode=0o755, parents=True)
    os.chmod(home.paths.run_dir, 0o755)

    result = home.process("skilltrack-daemon", "run", check=False)

    assert result.returncode == 1
    assert "open to other users" in result.stderr
    assert not home.paths.socket.exists()


# The client runs as `nobody`, who cannot reach the test's venv under /root: a system Python.
SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to connect as another uid")
@pytest.mark.skipif(not os.access(SYSTEM_PYTHON, os.X_OK), reason=f"needs {SYSTEM_PYTHON}")
def test_another_uid_is_refused_at_the_socket(home: Home, daemon: DaemonProcess) -> None:
    # Open the directory and socket up so that only the daemon's peer check stands between
    # the other user and the daemon.
    os.chmod(home.dir, 0o755)
    os.chmod(home.paths.run_dir, 0o755)
    os.chmod(home.paths.socket, 0o666)
    client = (
        "import socket,sys\n"
        "s=socket.socket(socket.AF_UNIX)\n"
        "s.connect(sys.argv[1]); print('connected')\n"
        "try:\n"
        "    s.sendall(sys.stdin.buffer.read()); s.shutdown(socket.SHUT_WR)\n"
        "    print('reply', repr(s.recv(100)))\n"
        "except OSError as e:\n"
        "    print('error', e)\n"
    )
    result = subprocess.run(
        [SYSTEM_PYTHON, "-I", "-c", client, str(home.paths.socket)],
        input=frame(),
        capture_output=True,
        user=65534,
        timeout=30,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    # It got through the file permissions; the daemon's peer check turned it away.
    assert result.stdout.startswith(b"connected\n"), result.stdout
    assert b"OK" not in result.stdout, result.stdout
    os.chmod(home.dir, 0o700)  # private again: the commands refuse a home others can reach
    os.chmod(home.paths.run_dir, 0o700)
    assert home.events() == []
    assert home.status()["counters"]["rejected"] == {"peer_uid": 1}


@pytest.mark.skipif(not hasattr(socket, "SO_PEERCRED"), reason="SO_PEERCRED is Linux's")
def test_the_fast_peer_check_reads_what_the_socket_module_reads() -> None:
    assert connection._PEERCRED is not None  # loaded on Linux, or every connection pays more
    a, b = socket.socketpair(socket.AF_UNIX)
    with a, b:
        slow = struct.unpack("3i", a.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
        assert connection._PEERCRED(a.fileno()) == slow[1] == os.getuid()
    with pytest.raises(OSError, match="Bad file descriptor"):
        connection._PEERCRED(a.fileno())  # closed: an error, never a uid that passes


def test_oversized_frame_is_refused_and_counted(home: Home, daemon: DaemonProcess) -> None:
    reply = exchange(home, b"ST1 " + b"x" * (MAX_FRAME + 10))
    assert reply == b"ERR too_large\n"
    assert home.status()["counters"]["rejected"] == {"too_large": 1}


def test_idle_and_half_sent_connections_do_not_stop_others(
    home: Home, daemon: DaemonProcess
) -> None:
    idle = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(50)]
    try:
        for i, s in enumerate(idle):
            s.connect(str(home.paths.socket))
            if i % 2:
                s.sendall(frame()[:30])  # half a frame, then nothing
        result = home.hook(payload(tool_use_id="toolu_live"))
        assert result.returncode == 0
        home.wait_for(lambda: home.events(), what="the live event stored")
        assert [e["tool_use_id"] for e in home.events()] == ["toolu_live"]
    finally:
        for s in idle:
            s.close()


def test_sigterm_commits_everything_acknowledged_and_exits(home: Home) -> None:
    daemon = home.start_daemon()
    with ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(lambda _: exchange(home, frame()), range(200)))
    assert set(replies) == {b"OK\n"}

    assert daemon.terminate(timeout=10) == 0
    assert not home.paths.socket.exists()
    assert len(home.events(limit=1000)) == 200


def test_a_locked_store_delays_but_loses_nothing(home: Home, daemon: DaemonProcess) -> None:
    lock = sqlite3.connect(home.paths.db, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")  # another process holds the database: the daemon must wait
    sent: list[str] = []
    try:
        for i in range(20):
            result = home.hook(payload(tool_use_id=f"toolu_{i}"))
            assert result.returncode == 0
            sent.append(f"toolu_{i}")
        # Still locked: the writer has failed, and keeps retrying.
        home.wait_for(
            lambda: home.status()["counters"]["store_retries"] > 0, what="the store's retries"
        )
        assert home.status()["store"]["healthy"] is False
    finally:
        lock.execute("ROLLBACK")
        lock.close()

    def all_stored() -> bool:
        return sorted(e["tool_use_id"] for e in home.events()) == sorted(sent)

    home.wait_for(all_stored, timeout=30, what="the buffered and spooled events")
    home.wait_for(lambda: home.status()["spool"]["records"] == 0, what="the spool to drain")
    assert home.status()["store"]["healthy"] is True
    [bash] = home.report()
    assert bash["uses"] == 20  # each stored once, whether it came from the buffer or the spool


def test_spool_written_while_running_is_replayed(home: Home, daemon: DaemonProcess) -> None:
    # Hooks spool while the daemon runs when it is slow to answer; it must pick those up too.
    # These events never reach it live: only the replay can store them.
    records = [ingest_frame_record(f"toolu_{i}") for i in range(5)]
    spool.append(home.paths.spool_dir, records)

    home.wait_for(lambda: len(home.events()) == 5, what="the spooled events")
    home.wait_for(lambda: home.status()["spool"]["records"] == 0, what="the spool to drain")
    counters = home.status()["counters"]
    assert (counters["replayed"], counters["stored"], counters["duplicates"]) == (5, 5, 0)


def _partial(spool_dir: Path, data: bytes, age_s: float) -> Path:
    """A `.partial-` file as a writer leaves it, last written `age_s` ago."""
    spool_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    name = f"{spool.REPLAY_PREFIX}{time.time_ns()}-{os.getpid()}"
    path = spool_dir / f"{spool.PARTIAL_PREFIX}{name}"
    path.write_bytes(data)
    path.chmod(0o600)
    os.utime(path, (time.time() - age_s, time.time() - age_s))
    return path


def test_partial_spool_files_whose_writer_died_are_replayed_and_removed(home: Home) -> None:
    # Hooks killed mid-write left these: one with two whole records and a third cut short,
    # one with nothing whole; and one written a moment ago, whose writer may still be at it.
    whole = [ingest_frame_record(f"toolu_dead_{i}") for i in range(2)]
    cut = ingest_frame_record("toolu_cut")[:40]
    spool_dir = home.paths.spool_dir
    stale_s = spool.PARTIAL_STALE_S + 60
    dead = _partial(spool_dir, b"".join(whole) + cut, stale_s)
    empty = _partial(spool_dir, cut, stale_s)
    fresh = _partial(spool_dir, ingest_frame_record("toolu_fresh"), 1)

    home.start_daemon()
    home.wait_for(lambda: not dead.exists() and not empty.exists(), what="stale partials taken")
    home.wait_for(lambda: home.status()["spool"]["records"] == 0, what="the spool to drain")
    stored = sorted(e["tool_use_id"] for e in home.events())
    assert stored == ["toolu_dead_0", "toolu_dead_1"]
    assert fresh.exists()
    assert [p.name for p in spool_dir.iterdir() if p.name.startswith(".partial-")] == [fresh.name]
    counters = home.status()["counters"]
    assert (counters["replayed"], counters["stored"]) == (2, 2)  # the cut record dropped


def test_a_fallback_folder_holding_only_a_dead_writers_partial_is_collected(home: Home) -> None:
    whole = ingest_frame_record("toolu_fallback_dead")
    dead = _partial(home.fallback_spool_dir, whole, spool.PARTIAL_STALE_S + 60)
    home.start_daemon()
    home.wait_for(lambda: not dead.exists(), what="the stale partial taken")
    home.wait_for(lambda: len(home.events()) == 1, what="its event stored")
    assert [e["tool_use_id"] for e in home.events()] == ["toolu_fallback_dead"]


def ingest_frame_record(tool_use_id: str) -> bytes:
    import uuid

    raw = RawFrame(str(uuid.uuid4()), f"{time.time():.6f}", "-", payload(tool_use_id=tool_use_id))
    return encode_spool_record(raw)


def test_start_keeps_the_log_and_state_private(home: Home) -> None:
    home.process("skilltrack-daemon", "start")
    home.hook(payload())
    for path in (home.paths.log, home.paths.db, home.paths.spool_dir, home.paths.run_dir):
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path


def test_bad_control_command_is_refused(home: Home, daemon: DaemonProcess) -> None:
    assert exchange(home, b"CTL reboot\n") == b"ERR bad_control\n"


def test_sigterm_with_a_locked_store_spools_the_buffer_and_nothing_is_lost(home: Home) -> None:
    daemon = home.start_daemon()
    lock = sqlite3.connect(home.paths.db, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        # Hooks give up waiting and spool too; the daemon holds its copy in the buffer.
        for i in range(5):
            home.hook(payload(tool_use_id=f"toolu_{i}"))
        # At least 5: until its first commit fails, the daemon may also replay a hook's
        # spooled copy into the buffer, which then holds that event twice.
        home.wait_for(lambda: home.status()["buffer"]["pending"] >= 5, what="5 buffered events")
        assert daemon.terminate(timeout=10) == 0
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    spooled = home.status()["spool"]["records"]
    assert spooled >= 10  # the hooks' copies and the daemon's whole buffer

    home.start_daemon()
    home.wait_for(lambda: home.status()["spool"]["records"] == 0, what="the replay")
    assert sorted(e["tool_use_id"] for e in home.events()) == [f"toolu_{i}" for i in range(5)]
    assert home.status()["counters"]["duplicates"] == spooled - 5


def test_a_frame_without_a_valid_header_is_refused_and_counted(
    home: Home, daemon: DaemonProcess
) -> None:
    assert exchange(home, b"HELLO there\n{}") == b"ERR bad_header\n"
    assert exchange(home, b"") == b"ERR empty_frame\n"
    assert home.status()["counters"]["rejected"] == {"bad_header": 1, "empty_frame": 1}


PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h


@contextlib.contextmanager
def adopting_orphans() -> Iterator[Callable[[], list[str]]]:
    """This process as the reaper of its orphaned descendants while the block runs (Linux's
    PR_SET_CHILD_SUBREAPER): a process that a hook starts detached becomes the test's child
    when the hook exits, not init's. Yields a function that waits for such children to end
    and returns their command names."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        pytest.skip(f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(ctypes.get_errno())}")

    def children() -> set[int]:
        return {
            int(pid)
            for listed in Path("/proc/self/task").glob("*/children")
            for pid in listed.read_text().split()
        }

    already = children()

    def adopted() -> list[str]:
        pids = sorted(children() - already)
        # Named by their own file (the daemon's script): a zombie keeps its name, not its
        # command line. The test's own children (hooks) have all been waited for.
        names = [Path(f"/proc/{pid}/stat").read_text().split(" (")[1].split(")")[0] for pid in pids]
        for pid in pids:
            deadline = time.monotonic() + 30
            while os.waitpid(pid, os.WNOHANG) == (0, 0) and time.monotonic() < deadline:
                time.sleep(0.02)
        return names

    try:
        yield adopted
    finally:
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


def test_a_failed_start_is_shown_and_hooks_do_not_retry_it_at_once(home: Home) -> None:
    home.paths.run_dir.mkdir(mode=0o700, parents=True)
    home.paths.socket.write_text("not a socket")  # makes every start fail

    home.hook(payload())
    home.wait_for(
        home.start_failed_and_gone,
        what="the failed start to be recorded and the daemon to have exited",
    )
    starts = home.paths.log.read_text().count("not starting")
    with adopting_orphans() as adopted:
        for _ in range(3):
            assert home.hook(payload()).returncode == 0
        started = adopted()  # whatever a hook started, detached, before it exited

    assert started == []
    assert home.paths.log.read_text().count("not starting") == starts == 1
    status = home.status()
    assert status["running"] is False
    assert "is not a socket" in status["problem"]
    assert home.status()["spool"]["records"] == 4  # nothing lost meanwhile


def test_on_an_sqlite_too_old_the_daemon_refuses_to_start_and_says_why(home: Home) -> None:
    # `skilltrack-daemon run` on a Python whose sqlite3 module says it has SQLite 3.31.1.
    program = (
        "import sqlite3, sys; sqlite3.sqlite_version_info = (3, 31, 1);"
        "from skilltrack.cli.daemon import main; sys.exit(main(['run']))"
    )
    result = subprocess.run(
        [sys.executable, "-P", "-c", program],
        env=home.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    why = "SQLite 3.35 or later is needed; this Python's sqlite3 module has 3.31.1"
    assert (result.returncode, result.stderr) == (1, f"skilltrack-daemon: {why}\n")
    assert f"not starting: {why}" in home.paths.log.read_text()
    assert home.paths.start_failed.read_text() == f"{why}\n"
    assert not home.paths.socket.exists()


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """`path` read-only to this user: its mode for anyone else; for root, whom no mode stops,
    a read-only bind mount of the file over itself."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        yield
        return
    subprocess.run(["mount", "--bind", str(path), str(path)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], check=True)
        yield
    finally:
        subprocess.run(["umount", str(path)], check=True)


@pytest.mark.parametrize("database", ["read-only", "a folder"])
def test_a_database_it_cannot_use_fails_the_start_at_once_and_says_why(
    home: Home, database: str
) -> None:
    # A start that fails after the store is open (the read-only file opens, and the first
    # write fails) used to leave its connection's thread running: the process never exited,
    # and every hook started another.
    home.paths.run_dir.mkdir(mode=0o700, parents=True)
    held: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
    if database == "a folder":
        home.paths.db.mkdir()
        why = "unable to open database file"
    else:
        home.start_daemon().terminate()  # a database of the current schema
        held = read_only(home.paths.db)
        why = "attempt to write a readonly database"
    with held:
        result = subprocess.run(
            [str(BIN / "skilltrack-daemon"), "run"],
            env=home.env,
            capture_output=True,
            text=True,
            timeout=60,  # a bound for a hang, not a measure: it exits as soon as it has failed
            check=False,
        )
        assert result.returncode == 1, result.stderr
        assert result.stderr.count("\n") == 1, result.stderr
        assert why in result.stderr
        assert why in home.paths.start_failed.read_text()
        status = home.status()
        assert status["running"] is False
        assert why in status["problem"]
        # A hook meanwhile keeps its event, and does not start the daemon again at once.
        assert home.hook(payload()).returncode == 0
        assert home.status()["spool"]["records"] == 1


def test_the_daemons_spool_append_never_writes_without_the_lock(tmp_path: Path) -> None:
    import fcntl

    record = encode_spool_record(RawFrame("0b1f6c1e-8d3a-4f0e-9a57-3c2d1e0f4a5b", "1", "-", b"{}"))
    tmp_path.chmod(0o700)
    fd = os.open(tmp_path / spool.SPOOL_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as a peer holds it
        spool.append(tmp_path, [record, record])
        assert (tmp_path / spool.SPOOL_NAME).read_bytes() == b""
        [alone] = spool.replay_files(tmp_path)
        assert list(spool.records(alone)) == [record, record]
        assert spool.backlog(tmp_path) == (2, 2 * len(record))
    finally:
        os.close(fd)


def test_a_frame_cut_short_by_a_slow_sender_is_counted_as_slow(
    home: Home, daemon: DaemonProcess
) -> None:
    # The hook gives up on a send that does not finish by its deadline (a loaded machine, a
    # large event) and spools the event: what reached the daemon is not bad JSON.
    body = payload()
    header = f"ST1 0b1f6c1e-8d3a-4f0e-9a57-3c2d1e0f4a5b {time.time():.6f} -n{len(body)}\n"
    assert exchange(home, header.encode() + body[: len(body) // 2]) == b"BUSY slow\n"
    assert exchange(home, header.encode() + body) == b"OK\n"
    assert home.status()["counters"]["rejected"] == {"slow": 1}
    assert len(home.events()) == 1
