"""The database's files on disk: the user's alone, whoever opens them first.

SQLite opens (and creates) the database file and its -wal and -shm companions itself,
following links and giving the companions the database file's mode. So before any connection,
`own_files` makes or checks the three files; the store's `open` and `open_readonly` call it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from skilltrack.paths import InsecurePathError, open_private


def own_files(path: Path, *, create: bool) -> None:
    """Make sure that the database at `path`, with its -wal and -shm files, is the user's
    alone, whichever process opens it first (the daemon, or a command such as `rate`).

    SQLite creates the -wal and -shm files with the database file's mode (a reader too may
    create the -shm), and the database file itself 0644 less the umask: so the file is
    created here first, 0600 (with `create`, for a writer), and one open to others is made
    0600 (it is ours, in a folder no one else can change). A link at any of the three paths,
    or a file of another user's, is refused (InsecurePathError): SQLite would follow the
    link, and the other user could read or replace the file. (The folder is the caller's to
    check: the daemon's start and the commands check theirs.)
    """
    if create:
        try:
            os.close(open_private(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            pass
    uid = os.getuid()
    for name in (str(path), f"{path}-wal", f"{path}-shm"):
        # lstat, not open: closing a descriptor of the file would drop the locks SQLite holds
        # on it for every connection of this process (POSIX locks are per process).
        try:
            st = os.lstat(name)
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(st.st_mode):
            raise InsecurePathError(f"{name} is a symbolic link; skilltrack never follows one")
        if not stat.S_ISREG(st.st_mode):
            continue  # SQLite says what it says of a folder (it cannot open it)
        if st.st_uid != uid:
            raise InsecurePathError(f"{name} belongs to uid {st.st_uid}, not to you (uid {uid})")
        if st.st_mode & 0o077:
            os.chmod(name, 0o600)  # a file of ours, in a folder no one else can change
