"""Where skilltrack keeps its state.

`SKILLTRACK_HOME` puts everything under one directory (tests and isolated runs use it);
otherwise the platform's per-user directories: platformdirs', worked out here on Linux (the
XDG base directories; tests/test_paths.py checks they are platformdirs' own).

The hook (`hooks/skilltrack_hook.py`) runs with `python3 -I -S` and cannot import this
module or platformdirs, so it computes the run directory and the spool path itself; a test
proves the two agree. Keep `run_dir` and `spool` derivable from `$SKILLTRACK_HOME`,
`$XDG_STATE_HOME` and the home directory alone. (The socket lives under the state dir rather
than platformdirs' runtime dir: the latter's fallbacks are too involved to mirror in the
hook, and a state dir path is short enough for a socket.)
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

APP = "skilltrack"
HOME_ENV = "SKILLTRACK_HOME"
ON_LINUX = sys.platform.startswith("linux")
# sun_path is 108 bytes on Linux and 104 on macOS, including the terminating NUL.
MAX_SOCKET_PATH = 100


class Paths:
    """Every file the hook, the daemon and the commands read or write.

    A plain class, not a dataclass: every command imports this module, and `dataclasses`
    (with inspect, ast, dis, tokenize) would cost each one's start-up ~9 ms."""

    __slots__ = ("config", "data_dir", "log", "run_dir", "spool_dir")

    def __init__(
        self, *, run_dir: Path, spool_dir: Path, data_dir: Path, config: Path, log: Path
    ) -> None:
        self.run_dir = run_dir  # 0700: socket, lock, pid
        self.spool_dir = spool_dir
        self.data_dir = data_dir
        self.config = config
        self.log = log

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"Paths({fields})"

    def _fields(self) -> tuple[Path, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:  # by value, as the dataclass it was
        return isinstance(other, Paths) and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def private_dirs(self) -> tuple[Path, ...]:
        """The directories skilltrack makes for its state, each before those inside it: the
        state directory (the run directory's parent), the run, spool and data directories
        and the log's. Each must be the user's alone (dir_problem)."""
        dirs = (self.run_dir.parent, self.run_dir, self.spool_dir, self.data_dir, self.log.parent)
        return tuple(dict.fromkeys(dirs))

    def private_files(self) -> tuple[Path, ...]:
        """The files skilltrack writes in those directories that must be the user's own."""
        db = str(self.db)
        return (
            self.socket, self.lock, self.pid, self.spool, self.db, Path(db + "-wal"),
            Path(db + "-shm"), self.log, self.consent, self.start_failed, self.lost_note,
            self.paused,
        )  # fmt: skip

    @property
    def socket(self) -> Path:
        return self.run_dir / "daemon.sock"

    @property
    def lock(self) -> Path:
        return self.run_dir / "daemon.lock"

    @property
    def pid(self) -> Path:
        return self.run_dir / "daemon.pid"

    @property
    def start_failed(self) -> Path:
        """Why the last start failed; hooks hold off restarting for a minute while it is new."""
        return self.run_dir / "start-failed"

    @property
    def paused(self) -> Path:
        """There (a file of the user's own), tracking is paused: hooks keep nothing
        (skilltrack/pause.py; the hooks look for the same name)."""
        return self.run_dir / "paused"

    @property
    def hook_fallback_note(self) -> Path:
        """Why the hook last ran its fallback (hooks/skilltrack_hook_fallback.py), and under
        which Python; `skilltrack doctor` reports it."""
        return self.run_dir / "hook-fallback"

    @property
    def hook_python(self) -> Path:
        """The interpreter the plugin's hook runs directly (hooks/skilltrack_hook.sh)."""
        return self.run_dir / "hook-python"

    @property
    def fallback_spool_dir(self) -> Path:
        """Where the daemon keeps, at shutdown, what the spool's disk takes no more of (full):
        memory-backed and the user's own (the runtime directory, else /dev/shm), a folder
        per state directory. Also where a hook spools when the spool directory is not safe
        (hooks/skilltrack_hook_core.py computes the same path). Collected into the spool at
        each start, and while the daemon runs."""
        import zlib  # here: only the daemon's shutdown and start look

        runtime = os.environ.get("XDG_RUNTIME_DIR", "")
        base = os.path.normpath(runtime) if runtime.startswith("/") else "/dev/shm"
        tag = zlib.crc32(os.fsencode(self.spool_dir))
        return Path(base) / f"skilltrack-{os.getuid()}-{tag:08x}"

    @property
    def lost_note(self) -> Path:
        """What a shutdown could keep nowhere, said for status and doctor until the next
        start that reads it."""
        return self.run_dir / "lost-events"

    @property
    def spool(self) -> Path:
        return self.spool_dir / "events.spool"

    @property
    def db(self) -> Path:
        return self.data_dir / "skilltrack.db"

    def db_bytes(self) -> int:
        """The database's size on disk, as `stats` and `status` both say it: the file and its
        write-ahead log (`-wal`: committed events not yet copied into the file), which
        together are the data. (`-shm` is only the log's index.)"""
        total = 0
        for name in (self.db.name, self.db.name + "-wal"):
            try:
                total += self.db.with_name(name).stat().st_size
            except FileNotFoundError:
                pass
        return total

    @property
    def consent(self) -> Path:
        """The user's own consent to snippet capture (see `skilltrack.consent`)."""
        return self.data_dir / "consent.json"


def resolve() -> Paths:
    """Paths from the environment: `$SKILLTRACK_HOME`, else the platform's user dirs."""
    home = os.environ.get(HOME_ENV)
    if home:
        return under(Path(os.path.abspath(home)))
    if ON_LINUX:
        return _xdg()
    import platformdirs  # here: with $SKILLTRACK_HOME or on Linux, start-up needs none of it

    dirs = platformdirs.PlatformDirs(APP, appauthor=False)
    state = Path(dirs.user_state_dir)
    return Paths(
        run_dir=state / "run",
        spool_dir=state / "spool",
        data_dir=Path(dirs.user_data_dir),
        config=Path(dirs.user_config_dir) / "config.toml",
        log=Path(dirs.user_log_dir) / "daemon.log",
    )


def _xdg() -> Paths:
    """platformdirs' directories on Linux (the XDG base directories), worked out here: the
    platformdirs module imports tempfile, with shutil and random, a good part of every
    command's start-up. tests/test_paths.py proves the two agree, as it does the hook's."""
    user = _user_home()

    def base(variable: str, default: str) -> Path:
        value = os.environ.get(variable, "")
        return Path(value if os.path.isabs(value) else os.path.join(user, default)) / APP

    state = base("XDG_STATE_HOME", ".local/state")
    return Paths(
        run_dir=state / "run",
        spool_dir=state / "spool",
        data_dir=base("XDG_DATA_HOME", ".local/share"),
        config=base("XDG_CONFIG_HOME", ".config") / "config.toml",
        log=state / "log" / "daemon.log",
    )


def _user_home() -> str:
    """$HOME if it is absolute, else the account's (as platformdirs and the hook take it)."""
    home = os.environ.get("HOME", "")
    if not home.startswith("/"):
        import pwd

        home = pwd.getpwuid(os.getuid()).pw_dir
    return home.rstrip("/") or "/"


def under(base: Path) -> Paths:
    """Everything in one directory, as `SKILLTRACK_HOME=base` selects."""
    return Paths(
        run_dir=base / "run",
        spool_dir=base / "spool",
        data_dir=base,
        config=base / "config.toml",
        log=base / "daemon.log",
    )


def ensure_private_dir(path: Path) -> None:
    """Create `path` (0700) if needed; refuse one that others can reach, that is not ours,
    or that someone else could move or replace (see dir_problem)."""
    problem = chain_problem(path.parent)  # before making anything where others could
    if problem is not None:
        raise InsecurePathError(problem)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    check_private_dir(path)


def check_private_dir(path: Path) -> None:
    """Raise InsecurePathError if `path` is not the user's alone (dir_problem says why)."""
    problem = dir_problem(path)
    if problem is not None:
        raise InsecurePathError(problem)


def ensure_private_dirs(paths: Paths) -> None:
    """Make every directory skilltrack keeps state in, each checked before anything is made
    inside it: InsecurePathError names the first that another user could reach or change."""
    for path in paths.private_dirs():
        ensure_private_dir(path)


def trust_problem(paths: Paths) -> str | None:
    """Why skilltrack's state is not the user's alone, or None; nothing is made or changed
    (status and doctor ask it). Directories not made yet are no problem."""
    for path in paths.private_dirs():
        if os.path.lexists(path):
            problem = dir_problem(path)
            if problem is not None:
                return problem
    for path in paths.private_files():
        problem = file_problem(path)
        if problem is not None:
            return problem
    return None


def file_problem(path: Path) -> str | None:
    """Why the file at `path` is not one skilltrack may use (a link, someone else's), or
    None; no file is no problem."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(st.st_mode):
        return f"{path} is a symbolic link; skilltrack never follows one"
    if st.st_uid != os.getuid():
        return f"{path} belongs to uid {st.st_uid}, not to you (uid {os.getuid()})"
    return None


def dir_problem(path: Path) -> str | None:
    """Why `path` is not a directory of the user's alone, or None. It must be a directory
    (not a symbolic link) the user owns with no permission for anyone else, and every
    directory above it must belong to the user or root and be writable by no one else, unless
    sticky (as /tmp): else another user could read what is in it, or move it away and put a
    directory of their own in its place."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return f"{path} does not exist"
    uid = os.getuid()
    if stat.S_ISLNK(st.st_mode):
        return f"{path} is a symbolic link; skilltrack keeps its state in real directories"
    if not stat.S_ISDIR(st.st_mode):
        return f"{path} is not a directory"
    if st.st_uid != uid:
        return f"{path} belongs to uid {st.st_uid}, not to you (uid {uid})"
    if st.st_mode & 0o077:
        mode = stat.S_IMODE(st.st_mode)
        return f"{path} is open to other users (mode {mode:o}); run: chmod 700 {path}"
    return chain_problem(path.parent)


def chain_problem(path: Path, _depth: int = 0) -> str | None:
    """Why a user other than this one (or root) could move or replace `path` or a directory
    above it, or None. A symbolic link on the way is followed, and the path it leads to
    checked in turn; what does not exist yet is no problem (it is made by the user)."""
    uid = os.getuid()
    current = Path("/")
    for part in Path(os.path.abspath(path)).parts[1:]:
        current = current / part
        try:
            st = current.lstat()
        except FileNotFoundError:
            return None
        if st.st_uid not in (0, uid):
            return f"{current} belongs to uid {st.st_uid}: another user could replace what is in it"
        if stat.S_ISLNK(st.st_mode):
            if _depth >= MAX_LINKS:
                return f"{current}: too many symbolic links"
            current = Path(os.path.realpath(current))
            problem = chain_problem(current, _depth + 1)
            if problem is not None:
                return problem
        elif st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX:
            mode = stat.S_IMODE(st.st_mode)
            return (
                f"{current} is writable by other users (mode {mode:o}): they could replace "
                "what is in it"
            )
    return None


MAX_LINKS = 8


def open_private(path: str | os.PathLike[str], flags: int) -> int:
    """os.open that never follows a symbolic link at `path` (it fails with ELOOP instead) and
    creates the file 0600."""
    return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)


def write_private(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace the contents of the file at `path` (made 0600; never through a link)."""
    fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


class InsecurePathError(Exception):
    """A directory skilltrack must keep private is shared or owned by someone else."""
