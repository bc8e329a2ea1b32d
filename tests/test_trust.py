"""skilltrack trusts nothing another user controls: a state directory someone else owns or
can write to (or read) is refused with the reason, by the daemon, `status` and `doctor`;
no file is opened through a link; the database and its -wal and -shm are 0600 whoever makes
them; the hook sends nothing to a socket another user serves. The hook keeps the event all
the same: in the spool if its directory is safe, else in the private fallback folder, which
the daemon collects once it can start.

Run as root (CI is), with `nobody` as the other user (tests/support/others.py).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from skilltrack.cli import db as cli_db
from skilltrack.daemon.report.queries import ReportStore
from skilltrack.daemon.server import spool
from skilltrack.daemon.store.database import Store
from tests.support.events import payload
from tests.support.home import WAIT_FOR_ACK, Home, daemon_processes
from tests.support.others import (
    NOBODY,
    as_root,
    give_away,
    impostor,
    with_system_python,
)

NO_AUTOSTART = {"SKILLTRACK_NO_AUTOSTART": "1"}


def kept(home: Home) -> list[bytes]:
    """The records waiting in the home's fallback folder."""
    folder = home.fallback_spool_dir
    files = [folder / spool.SPOOL_NAME, *spool.replay_files(folder)]
    return [line for f in files if f.exists() for line in f.read_bytes().splitlines()]


def refused_start(home: Home) -> str:
    """Run the daemon, which must refuse to start: the one line it says why."""
    before = os.path.lexists(home.paths.socket)
    result = home.process("skilltrack-daemon", "run", check=False)
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert os.path.lexists(home.paths.socket) == before  # none made, none taken away
    return result.stderr


def doctor(home: Home) -> dict[str, tuple[str, str]]:
    """doctor's findings: check → (level, message) of the first finding of each check."""
    result = home.cli("skilltrack", "doctor", "--json", check=False)
    found: dict[str, tuple[str, str]] = {}
    for finding in json.loads(result.stdout):
        found.setdefault(finding["check"], (finding["level"], finding["message"]))
    return found


def status(home: Home) -> dict[str, Any]:
    answer: dict[str, Any] = home.status()
    return answer


# -- the state directory ---------------------------------------------------------------------


@as_root
def test_a_home_of_another_user_is_refused_with_the_reason_and_nothing_made_in_it(
    home: Home,
) -> None:
    give_away(home.dir)
    why = f"{home.dir} belongs to uid {NOBODY}, not to you (uid 0)"

    assert why in refused_start(home)

    assert os.listdir(home.dir) == []  # no run directory, log, spool or database
    assert status(home)["problem"] == f"its state is not safe: {why}"
    assert "UNSAFE" not in home.cli("skilltrack-daemon", "status", check=False).stdout  # said once
    level, message = doctor(home)["permissions"]
    assert (level, message.startswith(why)) == ("fail", True)


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o755, 0o1777])
def test_a_home_others_can_write_to_or_read_is_refused_with_the_reason(
    home: Home, mode: int
) -> None:
    home.dir.chmod(mode)
    why = f"{home.dir} is open to other users (mode {mode:o}); run: chmod 700 {home.dir}"

    assert why in refused_start(home)

    assert status(home)["problem"] == f"its state is not safe: {why}"
    assert doctor(home)["permissions"][0] == "fail"
    home.dir.chmod(0o700)  # as the line says: then it starts
    home.start_daemon()


@as_root
def test_a_home_inside_a_folder_of_another_user_is_refused(home: Home) -> None:
    # They could move our folder away and put one of theirs in its place.
    shared = home.dir / "shared"
    shared.mkdir(mode=0o755)
    give_away(shared)
    inside = Home(shared / "state", {**home.env, "SKILLTRACK_HOME": str(shared / "state")})
    (shared / "state").mkdir(mode=0o700)

    line = refused_start(inside)

    assert f"{shared} belongs to uid {NOBODY}: another user could replace what is in it" in line


def test_the_commands_refuse_a_database_in_a_folder_others_can_reach(home: Home) -> None:
    home.start_daemon().terminate()
    home.dir.chmod(0o755)

    result = home.cli("skilltrack", "report", check=False)

    assert result.returncode == 1
    assert result.stderr == (
        f"skilltrack: not safe to use: {home.dir} is open to other users (mode 755); "
        f"run: chmod 700 {home.dir}\n"
    )


# -- the hook keeps the event privately, and starts nothing there ----------------------------


@as_root
def test_a_hook_keeps_the_event_in_the_fallback_folder_when_the_home_is_another_users(
    home: Home,
) -> None:
    give_away(home.dir)

    result = home.hook(payload(tool_use_id="toolu_kept"))  # autostart allowed

    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
    assert os.listdir(home.dir) == []  # no spool, and no run directory: no daemon started
    folder = home.fallback_spool_dir
    assert folder.parent == Path(home.env["XDG_RUNTIME_DIR"])
    assert len(kept(home)) == 1
    assert (folder.stat().st_uid, stat.S_IMODE(folder.stat().st_mode)) == (0, 0o700)
    assert stat.S_IMODE((folder / spool.SPOOL_NAME).stat().st_mode) == 0o600
    assert status(home)["spool"]["fallback_records"] == 1
    assert "1 events kept in" in doctor(home)["spool"][1]

    os.chown(home.dir, 0, 0)  # the home is ours again: the daemon starts and collects it
    home.start_daemon()
    home.wait_for(lambda: len(home.events()) == 1, what="the kept event stored")
    assert home.events()[0]["tool_use_id"] == "toolu_kept"
    assert kept(home) == []


@pytest.mark.parametrize("mode", [0o777, 0o770])
def test_a_hook_writes_nothing_into_a_home_others_can_write_to(home: Home, mode: int) -> None:
    home.dir.chmod(mode)

    assert home.hook(payload()).returncode == 0

    assert os.listdir(home.dir) == []
    assert len(kept(home)) == 1
    assert daemon_processes(home) == []


def test_a_hook_whose_fallback_folder_is_another_users_keeps_nothing_there(home: Home) -> None:
    # Made before us by someone else (its name can be guessed): not ours to write into.
    home.dir.chmod(0o777)
    folder = home.fallback_spool_dir
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)

    assert home.hook(payload(), extra_env=NO_AUTOSTART).returncode == 0

    assert os.listdir(folder) == []
    assert os.listdir(home.dir) == []


# -- no link is followed ---------------------------------------------------------------------


@pytest.fixture
def elsewhere() -> Iterator[Path]:
    """A folder away from the state directory, where a planted link points."""
    folder = Path(tempfile.mkdtemp(prefix="st-away-", dir="/tmp"))
    if os.geteuid() == 0:
        give_away(folder)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("planted", ["log", "database", "lock", "pid", "wal"])
def test_a_link_planted_at_a_daemon_file_refuses_the_start_and_writes_nothing_through_it(
    home: Home, elsewhere: Path, planted: str
) -> None:
    home.paths.run_dir.mkdir(mode=0o700)
    path = {
        "log": home.paths.log,
        "database": home.paths.db,
        "lock": home.paths.lock,
        "pid": home.paths.pid,
        "wal": Path(f"{home.paths.db}-wal"),
    }[planted]
    target = elsewhere / "target"
    path.symlink_to(target)

    line = refused_start(home)

    assert f"{path} is a symbolic link; skilltrack never follows one" in line
    assert os.listdir(elsewhere) == []
    assert "is a symbolic link" in status(home)["problem"]


def test_a_link_planted_at_the_spool_keeps_the_event_in_the_fallback_folder(
    home: Home, elsewhere: Path
) -> None:
    home.paths.spool_dir.mkdir(mode=0o700)
    target = elsewhere / "target"
    target.write_bytes(b"")
    home.paths.spool.symlink_to(target)

    assert home.hook(payload(tool_use_id="toolu_link"), extra_env=NO_AUTOSTART).returncode == 0

    assert target.read_bytes() == b""
    assert len(kept(home)) == 1


def test_a_link_planted_at_a_spool_replay_file_is_not_read(home: Home, elsewhere: Path) -> None:
    home.paths.spool_dir.mkdir(mode=0o700)
    target = elsewhere / "records"
    target.write_bytes(b"planted\n")
    planted = home.paths.spool_dir / f"{spool.REPLAY_PREFIX}1"
    planted.symlink_to(target)

    with pytest.raises(OSError, match="Too many levels of symbolic links"):
        list(spool.records(planted))


# -- the database, and its -wal and -shm -----------------------------------------------------


def modes(db: Path) -> dict[str, int]:
    return {
        suffix or "db": stat.S_IMODE(os.stat(f"{db}{suffix}").st_mode)
        for suffix in ("", "-wal", "-shm")
    }


@pytest.fixture
def umask_0() -> Iterator[None]:
    """A process umask that takes nothing away (as a shell may have): modes are skilltrack's."""
    old = os.umask(0)
    yield
    os.umask(old)


async def test_a_new_database_and_its_wal_and_shm_are_0600_whatever_the_umask(
    home: Home, umask_0: None
) -> None:
    home.dir.chmod(0o700)
    store = await Store.open(home.paths.db)
    try:
        assert modes(home.paths.db) == {"db": 0o600, "-wal": 0o600, "-shm": 0o600}
    finally:
        await store.close()


def test_a_command_writing_a_database_others_could_read_makes_it_and_its_wal_and_shm_0600(
    home: Home, umask_0: None
) -> None:
    # A database restored from a copy, say, left readable by all.
    home.start_daemon().terminate()
    home.paths.db.chmod(0o666)

    async def seen(store: ReportStore) -> dict[str, int]:
        await store.count_events()  # a WAL database read: its -wal and -shm are made
        return modes(home.paths.db)

    # What `skilltrack rate` opens the database through.
    found = cli_db.write(home.paths, ReportStore, seen, None)

    assert found == {"db": 0o600, "-wal": 0o600, "-shm": 0o600}


def test_the_running_daemon_s_database_wal_and_shm_are_0600(home: Home) -> None:
    home.start_daemon()
    home.hook(payload(), extra_env=WAIT_FOR_ACK)
    home.wait_for(lambda: len(home.events()) == 1, what="the event stored")

    assert modes(home.paths.db) == {"db": 0o600, "-wal": 0o600, "-shm": 0o600}


@as_root
def test_a_database_of_another_user_is_refused(home: Home) -> None:
    home.start_daemon().terminate()
    give_away(home.paths.db)

    line = refused_start(home)

    assert f"{home.paths.db} belongs to uid {NOBODY}, not to you (uid 0)" in line


# -- the socket ------------------------------------------------------------------------------


@as_root
@with_system_python
def test_a_hook_sends_nothing_to_a_socket_another_user_serves_and_keeps_the_event(
    home: Home,
) -> None:
    home.paths.run_dir.mkdir(mode=0o700)
    with impostor(home.paths.socket) as other:
        result = home.hook(payload(tool_use_id="toolu_secret"))  # autostart allowed

        assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
        assert other.heard == [b""]  # it was connected to, and told nothing
        assert len(home.paths.spool.read_bytes().splitlines()) == 1
        assert not home.paths.lock.exists()  # no daemon started against it
        why = f"{home.paths.socket} belongs to uid {NOBODY}, not to you (uid 0)"
        assert status(home)["problem"] == f"its state is not safe: {why}"
        assert set(other.heard) == {b""}  # status told it nothing either
        assert doctor(home)["permissions"][0] == "fail"
        assert why in refused_start(home)
