"""Faults the daemon must survive without losing or doubling an event: an unreadable database
at start, a full disk, a database locked by another process for 10 s, repeated SIGKILLs
under load from concurrent hooks, a whole session without a daemon.

The short versions run in CI; `scripts/test -m slow` adds the long ones.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import resource
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skilltrack.daemon.store.database import is_corrupt, quarantine
from skilltrack.wire import encode_frame
from tests.support.events import payload
from tests.support.forwarding import KEY, configure, http_sink, otlp_sink, sink_status
from tests.support.home import WAIT_FOR_ACK, DaemonProcess, Home, daemon_processes
from tests.support.load import HookLoad, kill_daemons, wait_for_a_daemon
from tests.support.receiver import Behaviour, Hang, Reset, Respond, running
from tests.support.secrets import POSITIVES

# -- an unreadable database at start --------------------------------------------------------


def _corrupt_header(db: Path) -> None:
    """Scribble over page 1's b-tree header: SQLite then calls the file malformed."""
    with db.open("r+b") as f:
        f.seek(100)
        f.write(b"\xff" * 60)


@pytest.mark.parametrize("damage", ["not a database", "malformed"])
def test_an_unreadable_database_is_moved_aside_and_a_fresh_one_takes_events(
    home: Home, damage: str
) -> None:
    db = home.paths.db
    if damage == "not a database":
        db.parent.mkdir(parents=True, exist_ok=True)
        db.write_bytes(b"these bytes are not SQLite's " * 400)
    else:
        home.start_daemon()
        assert home.hook(payload()).returncode == 0
        home.wait_for(lambda: len(home.events()) == 1, what="the first event stored")
        home.daemons[0].terminate()
        _corrupt_header(db)
    before = db.read_bytes()
    home.start_daemon()
    store = home.status()["store"]
    assert store["quarantined"] is not None
    moved = Path(store["quarantined"].rsplit("moved to ", 1)[1])
    assert moved.name.startswith("skilltrack.db.corrupt-")
    assert moved.read_bytes() == before  # kept as it was, for a person to look at
    assert home.hook(payload()).returncode == 0
    home.wait_for(lambda: len(home.events()) == 1, what="an event in the fresh database")
    log = home.paths.log.read_text()
    assert f"moved to {moved}; starting a fresh database" in log
    assert "QUARANTINED" in home.cli("skilltrack-daemon", "status").stdout


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_database_deleted_or_replaced_under_the_daemon_loses_no_later_event(
    home: Home, how: str
) -> None:
    db = home.paths.db
    home.start_daemon()
    assert home.hook(payload(tool_name="Read")).returncode == 0
    home.wait_for(lambda: len(home.events()) == 1, what="the first event stored")
    if how == "deleted":  # as `rm` does: the daemon's open file lives on, nameless
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    else:  # another database moved over its name
        other = db.with_name("other.db")
        sqlite3.connect(other).close()
        other.replace(db)
    # Committed into the file that is gone, these must not be acknowledged as stored: the
    # daemon stops, spools them, and the daemon a hook starts next stores them in a new file.
    sent = []
    for _ in range(3):
        stdin = payload()
        sent.append(json.loads(stdin)["tool_use_id"])
        assert home.hook(stdin).returncode == 0
    home.wait_for(
        lambda: (
            {e["tool_use_id"] for e in home.events() if e["artifact_name"] == "Bash"} == set(sent)
        ),
        timeout=60,
        what="every event sent after the database went to be in the new one",
    )
    log = home.paths.log.read_text()
    assert f"{db} was {how} while in use" in log


def test_quarantine_never_replaces_an_earlier_one(tmp_path: Path) -> None:
    db = tmp_path / "skilltrack.db"
    moved = []
    for text in ("first", "second"):
        db.write_text(text)
        Path(f"{db}-wal").write_text(text + " wal")
        moved.append(quarantine(db, now=0.0))  # the same second both times
    assert [p.name for p in moved] == [
        "skilltrack.db.corrupt-19700101T000000Z",
        "skilltrack.db.corrupt-19700101T000000Z-2",
    ]
    assert [p.read_text() for p in moved] == ["first", "second"]
    assert Path(f"{moved[1]}-wal").read_text() == "second wal"
    assert not db.exists()


def test_a_locked_database_is_not_taken_for_a_corrupt_one(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    with closing(sqlite3.connect(db)) as holder, closing(sqlite3.connect(db, timeout=0)) as other:
        holder.execute("CREATE TABLE t (x)")
        holder.commit()
        holder.execute("BEGIN EXCLUSIVE")
        with pytest.raises(sqlite3.OperationalError) as locked:
            other.execute("SELECT * FROM t")
    assert not is_corrupt(locked.value)
    db.write_bytes(b"garbage" * 1000)
    with closing(sqlite3.connect(db)) as conn, pytest.raises(sqlite3.DatabaseError) as bad:
        conn.execute("SELECT * FROM sqlite_master")
    assert is_corrupt(bad.value)


# -- a full disk ------------------------------------------------------------------------------


@pytest.fixture
def small_disk(home: Home) -> Iterator[Home]:
    """The home on a 4 MiB tmpfs of its own: a disk that can really fill up."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root (CI runs as root)")
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(home.dir)], check=True
    )
    try:
        yield home
    finally:
        home.kill_daemon()
        subprocess.run(["umount", "--lazy", str(home.dir)], check=True)


def _fill(directory: Path) -> Path:
    """Write a file until the filesystem has no byte left."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 1):  # big blocks, then the last few bytes one at a time
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * size):
                    pass
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_delays_events_in_memory_and_loses_none(small_disk: Home) -> None:
    home = small_disk
    home.start_daemon()
    first = home.hook(payload(tool_use_id="toolu_before"))
    assert first.returncode == 0
    home.wait_for(lambda: len(home.events()) == 1, what="the first event stored")
    # A commit after a checkpoint writes over the WAL's old frames, needing no new block: empty
    # the WAL first, so that a full disk really stops commits.
    with closing(sqlite3.connect(home.paths.db)) as db:
        assert db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0  # not busy
    filler = _fill(home.dir)
    sent = []
    for i in range(20):
        result = home.hook(payload(tool_use_id=f"toolu_full_{i}"))
        assert (result.returncode, result.stdout) == (0, b""), result  # never fails a tool call
        sent.append(f"toolu_full_{i}")
    status = home.status()
    assert status["store"]["healthy"] is False, status["store"]
    assert "full" in str(status["store"]["last_error"])
    filler.unlink()  # space again: the daemon recovers by itself
    home.wait_for(
        lambda: sorted(e["tool_use_id"] for e in home.events()) == sorted(["toolu_before", *sent]),
        timeout=30,
        what="every event stored once the disk has room",
    )
    assert home.status()["store"]["healthy"] is True
    assert home.report()[0]["uses"] == 21  # each once, whichever way it came


@pytest.mark.parametrize("fallback", ["usable", "blocked"])
def test_sigterm_on_a_full_disk_keeps_the_buffer_in_memory_backed_storage(
    small_disk: Home, fallback: str
) -> None:
    home = small_disk
    daemon = home.start_daemon()
    with closing(sqlite3.connect(home.paths.db)) as db:  # as above: commits now need blocks
        assert db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
    kept = home.fallback_spool_dir
    if fallback == "blocked":  # a file where the folder would go: nowhere left to keep them
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.write_text("in the way")
    try:
        filler = _fill(home.dir)
        sent = [f"toolu_full_{i}" for i in range(5)]
        for tool_use_id in sent:
            assert home.hook(payload(tool_use_id=tool_use_id)).returncode == 0
        home.wait_for(
            lambda: (home.live_status() or {}).get("buffer", {}).get("pending") == len(sent),
            what="the events held in the daemon's buffer",
        )
        assert daemon.terminate() == 0
        log = home.paths.log.read_text()
        assert f"could not spool {len(sent)} events" in log
        filler.unlink()
        home.start_daemon()
        if fallback == "usable":
            home.wait_for(
                lambda: sorted(e["tool_use_id"] for e in home.events()) == sent,
                what="the kept events stored after the restart",
            )
            assert not (kept / "events.spool").exists()
        else:
            lost = home.status()["store"]["lost_at_last_shutdown"]
            assert f"{len(sent)} events lost at shutdown" in lost
            assert "LOST" in home.cli("skilltrack-daemon", "status").stdout
    finally:
        if kept.is_dir():
            shutil.rmtree(kept)
        else:
            kept.unlink(missing_ok=True)


# -- a database locked by another process ----------------------------------------------------

# Another program (a backup, `sqlite3` in a terminal) takes the write lock and sits on it,
# here until the test has it let go.
_LOCKER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
db.execute("ROLLBACK")
print("released", flush=True)
"""
LOCK_HELD_S = 10.0
SENT_UNDER_LOCK = 20


def test_a_database_locked_by_another_process_for_10_s_delays_and_loses_nothing(
    home: Home, daemon: DaemonProcess
) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", _LOCKER, str(home.paths.db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    ) as locker:
        assert locker.stdin is not None
        assert locker.stdout is not None
        try:
            assert locker.stdout.readline() == b"locked\n"
            started = time.monotonic()
            sent: list[str] = []
            unhealthy = None
            # Hooks keep coming for as long as the lock is held: 10 s, and 20 events at least
            # however slowly they come.
            while time.monotonic() - started < LOCK_HELD_S or len(sent) < SENT_UNDER_LOCK:
                tool_use_id = f"toolu_locked_{len(sent)}"
                result = home.hook(payload(tool_use_id=tool_use_id))
                assert (result.returncode, result.stdout) == (0, b""), result
                sent.append(tool_use_id)
                if len(sent) == 5:
                    home.wait_for(
                        lambda: home.status()["store"]["healthy"] is False,
                        what="the store to be reported unhealthy while the lock is held",
                    )
                    unhealthy = home.status()["store"]
            locker.stdin.write(b"let go\n")
            locker.stdin.flush()
            assert locker.stdout.readline() == b"released\n"
        finally:
            locker.kill()
    assert unhealthy is not None
    assert "locked" in str(unhealthy["last_error"]), unhealthy

    # The daemon recovers by itself: every event stored once, whether its own buffered copy
    # or the hook's spooled one got there first.
    home.wait_for(
        lambda: sorted(e["tool_use_id"] for e in home.events()) == sorted(sent),
        timeout=30,
        what="every event sent during the lock",
    )
    home.wait_for(lambda: home.status()["spool"]["records"] == 0, what="the spool to drain")
    status = home.status()
    assert status["store"]["healthy"] is True
    assert status["counters"]["store_retries"] > 0
    assert status["counters"]["stored"] == len(sent)
    assert home.report()[0]["uses"] == len(sent)


# -- SIGKILL at random moments under load -------------------------------------------------


@pytest.mark.parametrize(
    ("kills", "senders"),
    [
        pytest.param(20, 8, id="20-kills"),
        pytest.param(60, 20, id="60-kills", marks=pytest.mark.slow),
    ],
)
def test_sigkill_at_random_moments_under_load_loses_and_doubles_nothing(
    home: Home, kills: int, senders: int
) -> None:
    """Concurrent real hooks send events while the daemon is SIGKILLed again and again, at
    seeded random moments of its life (counted in events sent since it appeared, none to 25:
    from its start-up on); the hooks restart it each time. Every event whose hook exited is
    stored exactly once in the end."""
    rng = random.Random(kills)
    home.process("skilltrack-daemon", "start")
    moments = [rng.randint(0, 25) for _ in range(kills)]
    with HookLoad(home, senders) as load:
        for events in moments:
            wait_for_a_daemon(home, "the hooks to start a daemon again")
            load.wait_for_more(events)
            assert kill_daemons(home)
        load.wait_for_more(20)
    sent = load.sent
    assert load.bad == [], load.bad[:3]
    if not daemon_processes(home):
        home.process("skilltrack-daemon", "start")

    def settled() -> bool:
        return home.status()["spool"]["records"] == 0 and len(home.events(10**6)) >= len(sent)

    home.wait_for(settled, timeout=90, what=f"the {len(sent)} events sent to be stored")
    stored = [e["tool_use_id"] for e in home.events(10**6)]
    lost = sorted(set(sent) - set(stored))
    doubled = sorted(t for t in set(stored) if stored.count(t) > 1)
    assert (lost, doubled) == ([], []), (
        f"kills after {moments} events: lost {lost[:5]}, doubled {doubled[:5]}"
    )
    assert len(stored) == len(sent)


# -- a whole session without a daemon -----------------------------------------------------


def test_a_whole_session_without_a_daemon_is_spooled_then_stored_once(home: Home) -> None:
    """A session's worth of events of every kind while no daemon runs (and none may start):
    all spooled; the next daemon stores each once, and the one after replays nothing."""
    session = str(uuid.uuid4())
    events = [payload("SessionStart", session_id=session, source="startup")]
    for i in range(150):
        kind = ("PostToolUse", "PostToolUse", "PostToolUseFailure")[i % 3]
        events.append(payload(kind, session_id=session, tool_use_id=f"toolu_{i:03d}"))
    events.append(payload("SessionEnd", session_id=session, reason="exit"))
    for stdin in events:
        result = home.hook(stdin, extra_env={"SKILLTRACK_NO_AUTOSTART": "1"})
        assert (result.returncode, result.stdout) == (0, b""), result
    assert home.status()["spool"]["records"] == len(events)
    assert not home.paths.db.exists()  # nothing ran to create it
    daemon = home.start_daemon()
    home.wait_for(lambda: home.status()["spool"]["records"] == 0, what="the spool replayed")
    stored = home.events()
    assert len(stored) == len(events)
    assert {e["session_id"] for e in stored} == {session}
    assert len({e["event_id"] for e in stored}) == len(events)
    assert home.status()["counters"]["replayed"] == len(events)
    daemon.terminate()
    home.start_daemon()
    assert home.status()["counters"]["replayed"] == 0
    assert len(home.events()) == len(events)


# -- hostile input on the socket ------------------------------------------------------------

REPLY = re.compile(rb"^(OK|SPOOLED|ERR [a-z0-9_]+|BUSY [a-z0-9_]+)\n$")


def _exchange(home: Home, data: bytes, timeout: float = 10.0) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(home.paths.socket))
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        reply = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := s.recv(4096):
                reply += chunk
        return reply


def _rss_kib(home: Home) -> int:
    pid = home.status()["pid"]
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _valid_frame(payload_bytes: bytes) -> bytes:
    return encode_frame(str(uuid.uuid4()), time.time(), payload_bytes)


def _nested(depth: int) -> bytes:
    return b'{"hook_event_name": "PostToolUse", "session_id": "s", "tool_input": ' + (
        b"[" * depth + b"]" * depth + b"}"
    )


_FIELDS = ["session_id", "tool_name", "tool_input", "tool_use_id", "cwd", "duration_ms",
           "agent_type", "tool_response"]  # fmt: skip
_WRONG = st.one_of(
    st.integers(),
    st.lists(st.integers(), max_size=3),
    st.booleans(),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


def _frame_of(fields: dict[str, object]) -> bytes:
    return _valid_frame(json.dumps({"hook_event_name": "PostToolUse", **fields}).encode())


frames = st.one_of(
    st.binary(max_size=2048),  # anything at all
    st.builds(  # a valid frame, cut short or with bytes flipped
        lambda p, cut, flips: _mutate(_valid_frame(p), cut, flips),
        st.just(payload()),
        st.integers(0, 400),
        st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=5),
    ),
    st.builds(  # a well-formed header around JSON of any shape
        lambda v: _valid_frame(json.dumps(v).encode()),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
            lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=10), kids),
            max_leaves=20,
        ),
    ),
    st.builds(  # known fields with the wrong types
        _frame_of, st.dictionaries(st.sampled_from(_FIELDS), _WRONG)
    ),
    st.builds(lambda b: _valid_frame(b"\xff\xfe" + b), st.binary(max_size=64)),  # not UTF-8
    st.integers(1000, 200_000).map(lambda d: _valid_frame(_nested(d))),  # deep nesting
)


def _mutate(frame: bytes, cut: int, flips: list[tuple[int, int]]) -> bytes:
    data = bytearray(frame[: len(frame) - min(cut, len(frame))])
    for at, value in flips:
        if data:
            data[at % len(data)] = value
    return bytes(data)


def test_fuzzed_frames_are_each_answered_or_counted_and_the_daemon_keeps_serving(
    home: Home, daemon: DaemonProcess
) -> None:
    """Hypothesis's frames over the real socket to one daemon: each gets one reply line; what
    was acknowledged is stored, what was refused is counted under a reason; and afterwards
    the daemon still stores a real hook's event, its memory not grown."""
    replies: list[bytes] = []

    @settings(
        max_examples=300,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(frames)
    def one(data: bytes) -> None:
        reply = _exchange(home, data)
        assert REPLY.match(reply), (data[:200], reply)
        replies.append(reply)

    rss_before = _rss_kib(home)
    one()
    acknowledged = sum(1 for r in replies if r == b"OK\n")
    refused = len(replies) - acknowledged
    counters = home.status()["counters"]
    assert len(home.events(10**6)) == acknowledged
    assert sum(counters["rejected"].values()) == refused, counters["rejected"]
    assert home.hook(payload(tool_use_id="toolu_after_fuzz")).returncode == 0
    home.wait_for(
        lambda: "toolu_after_fuzz" in {e["tool_use_id"] for e in home.events(10**6)},
        what="the event sent after the fuzzing",
    )
    assert _rss_kib(home) < rss_before + 64 * 1024, "the daemon's memory grew by 64 MiB+"


def test_a_100_mb_frame_is_refused_without_being_held(home: Home, daemon: DaemonProcess) -> None:
    rss_before = _rss_kib(home)
    header = b"ST1 " + str(uuid.uuid4()).encode() + b" 1.0 -\n"
    reply = b""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(30)
        s.connect(str(home.paths.socket))
        chunk = b"x" * (1 << 20)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            s.sendall(header)
            for _ in range(100):
                s.sendall(chunk)
        with contextlib.suppress(ConnectionResetError):
            while data := s.recv(4096):
                reply += data
    assert reply == b"ERR too_large\n"
    assert home.status()["counters"]["rejected"] == {"too_large": 1}
    assert _rss_kib(home) < rss_before + 32 * 1024  # refused as it came, not buffered


def test_a_thousand_idle_connections_do_not_stop_a_hook(home: Home, daemon: DaemonProcess) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(2048, hard), hard))
    idle = []
    try:
        for i in range(1000):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            idle.append(s)
            s.connect(str(home.paths.socket))
            if i % 3 == 0:
                s.sendall(_valid_frame(payload())[:40])  # half a frame, then silence
        # Given the longest deadline a hook takes (1 s), the hook spools the event unless the
        # daemon acknowledges it in time: nothing spooled is the proof that it was served.
        result = home.hook(payload(tool_use_id="toolu_beside_1000"), extra_env=WAIT_FOR_ACK)
        assert result.returncode == 0
        assert "toolu_beside_1000" in {e["tool_use_id"] for e in home.events()}
        status = home.status()
        assert (status["spool"]["records"], status["counters"]["replayed"]) == (0, 0), status
        assert status["connections"] >= 1000
    finally:
        for s in idle:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    # The stalled ones are timed out (BUSY timeout, counted) or closed by us: none linger.
    home.wait_for(lambda: home.status()["connections"] == 1, timeout=15, what="idle ones gone")


# -- secrets: never in the database, the log, or what is forwarded ----------------------------


def test_no_secret_of_the_corpus_reaches_the_database_log_or_a_receiver(home: Home) -> None:
    """Every secret of the sanitizer's corpus, in a tool's input, output and error, with
    snippet capture on (policy and consent) and an http and an otlp sink: the bytes of the
    database, its WAL, the daemon's log and every body the receiver got hold none of them;
    the marker beside each is found, so the search does look where the secret would be."""
    with running(KEY) as receiver:
        configure(home, collector=http_sink(receiver), otel=otlp_sink(receiver))
        with home.paths.config.open("a") as f:
            f.write('[capture]\nsnippets = true\nartifact_types = ["tool"]\n')
        home.cli("skilltrack", "consent", "grant")
        home.start_daemon()
        for i, (_kind, text, _secret) in enumerate(POSITIVES):
            fields: dict[str, Any] = {
                "tool_input": {"command": f"MARK{i:03d}in {text}"},
                "tool_use_id": f"toolu_secret_{i:03d}",
            }
            if i % 2:
                result = home.hook(payload("PostToolUseFailure", error=f"MARK{i:03d}err {text}",
                                           **fields))  # fmt: skip
            else:
                result = home.hook(payload(tool_response={"stdout": f"MARK{i:03d}out {text}"},
                                           **fields))  # fmt: skip
            assert result.returncode == 0
        n = len(POSITIVES)
        home.wait_for(lambda: len(home.events()) == n, what="every event stored")
        stored_ids = {e["event_id"] for e in home.events()}
        home.wait_for(
            lambda: (
                receiver.ids("/ingest") == stored_ids and receiver.ids("/v1/logs") >= stored_ids
            ),
            timeout=30,
            what="every event delivered to both sinks",
        )
        bodies = b"\n".join(r.body for r in receiver.requests)
    database = b"".join(p.read_bytes() for p in home.dir.glob("skilltrack.db*") if p.is_file())
    log = home.paths.log.read_bytes()
    for i, (kind, _text, secret) in enumerate(POSITIVES):
        forms = {secret.encode(), json.dumps(secret)[1:-1].encode()}  # as is, and JSON-escaped
        for where, data in (("database", database), ("log", log), ("forwarded", bodies)):
            assert not any(form in data for form in forms), f"{kind} #{i} leaked into {where}"
        assert f"MARK{i:03d}in".encode() in database
        assert f"MARK{i:03d}in".encode() in bodies  # the input snippet, forwarded


# -- receiver chaos -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "events"),
    [
        pytest.param(30, 150, id="30-answers"),
        pytest.param(
            700, 5000, id="700-answers", marks=[pytest.mark.slow, pytest.mark.timeout(1800)]
        ),
    ],
)
def test_a_chaotic_receiver_under_load_gets_every_stored_event(
    home: Home, answers: int, events: int
) -> None:
    """The http sink's receiver answers at random (seeded): 502, 503, 504, 429 with and
    without Retry-After, 408, hangs past the sink's timeout, resets, and 200s so slow that the
    sink gives up on them although the receiver took the batch; while real hooks keep
    sending, until it has given `answers` such answers and `events` were sent. At the end
    every stored event was received, duplicates come only from the slow 200s (whose answer was
    lost), and nothing is left waiting or dead."""
    rng = random.Random(answers)
    chaos: list[Behaviour] = [
        Respond(502), Respond(503), Respond(504), Respond(429), Respond(408),
        Respond(429, headers={"Retry-After": "0"}), Hang(), Reset(),
        Respond(200, delay_s=0.8),  # taken, but answered after the sink's 0.4 s timeout
        Respond(200), Respond(200),
    ]  # fmt: skip

    def chaotic(served: list[int | None]) -> int:
        return sum(1 for status in served if status != 200)

    with running(KEY) as receiver:
        configure(home, collector=http_sink(receiver, timeout_s=0.4, batch_events=20))
        home.start_daemon()
        script = [rng.choice(chaos) for _ in range(4 * answers)]
        receiver.then(*script)
        with HookLoad(home, 4, pause_s=0.02) as load:
            home.wait_for(
                lambda: chaotic(receiver.answered()) >= answers and len(load.sent) >= events,
                timeout=max(120, answers * 2),
                what=f"{answers} chaotic answers and {events} events sent",
            )
        assert load.bad == [], load.bad[:3]
        stored = {e["event_id"] for e in home.events(10**6)}
        receiver.calm()  # the chaos ends; what is left must now arrive
        home.wait_for(
            lambda: receiver.ids() >= stored and sink_status(home, "collector")["backlog"] == 0,
            timeout=60,
            what=f"all {len(stored)} stored events received",
        )
        sink = sink_status(home, "collector")
        served = receiver.answered()
    assert receiver.ids() == stored  # nothing received that was not stored either
    assert sink["counters"]["dead"] == 0
    assert sink["counters"]["delivered"] >= len(stored)
    slow_200s = script[: len(served)].count(Respond(200, delay_s=0.8))
    # A batch the receiver took but whose answer came too late is sent again: at most a
    # batch (20 events) of duplicates for each such answer, and they are counted.
    assert receiver.duplicates <= 20 * slow_200s, (receiver.duplicates, slow_200s)
