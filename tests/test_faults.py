"""Faults the daemon must survive without losing or doubling an event: an unreadable database
at start, a full disk, repeated SIGKILLs under load from concurrent hooks, a whole session
without a daemon.

The short versions run in CI; `scripts/test -m slow` adds the long ones.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from skilltrack.daemon.store import is_corrupt, quarantine
from tests.conftest import Home, payload
from tests.test_crash_and_autostart import daemon_processes

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
    seeded random moments; the hooks restart it each time. Every event whose hook exited is
    stored exactly once in the end."""
    rng = random.Random(kills)
    home.cli("skilltrack-daemon", "start")
    stop = threading.Event()
    sent: list[str] = []
    bad: list[subprocess.CompletedProcess[bytes]] = []
    lock = threading.Lock()

    def sender(worker: int) -> None:
        n = 0
        while not stop.is_set():
            tool_use_id = f"toolu_{worker:02d}_{n:05d}"
            result = home.hook(payload(tool_use_id=tool_use_id))
            with lock:
                if result.returncode != 0 or result.stdout:
                    bad.append(result)
                sent.append(tool_use_id)
            n += 1

    threads = [threading.Thread(target=sender, args=(w,)) for w in range(senders)]
    for t in threads:
        t.start()
    moments = [round(rng.uniform(0.1, 0.8), 3) for _ in range(kills)]
    killed = 0
    try:
        for wait in moments:
            time.sleep(wait)
            for pid in daemon_processes(home):  # none, if the last one is not back yet
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                    killed += 1
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert bad == [], bad[:3]
    assert killed >= kills // 2, f"only {killed} daemons were running to kill"
    if not daemon_processes(home):
        home.cli("skilltrack-daemon", "start")

    def settled() -> bool:
        return home.status()["spool"]["records"] == 0 and len(home.events(10**6)) >= len(sent)

    home.wait_for(settled, timeout=90, what=f"the {len(sent)} events sent to be stored")
    stored = [e["tool_use_id"] for e in home.events(10**6)]
    lost = sorted(set(sent) - set(stored))
    doubled = sorted(t for t in set(stored) if stored.count(t) > 1)
    assert (lost, doubled) == ([], []), (
        f"kills at {moments}: lost {lost[:5]}, doubled {doubled[:5]}"
    )
    assert len(stored) == len(sent)
