"""Another user on this machine, `nobody`, for the tests of what skilltrack must not trust.

The tests run as root, as CI does: root gives a file or folder to another user (os.chown) and
runs a process as them (subprocess's `user=`). A test that needs it is skipped, saying so,
when not run as root.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

NOBODY = 65534
# `nobody` cannot reach the tests' virtualenv under /root: what runs as them runs this.
SYSTEM_PYTHON = "/usr/bin/python3"

as_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root, to give files to another user and run as them"
)
with_system_python = pytest.mark.skipif(
    not os.access(SYSTEM_PYTHON, os.X_OK), reason=f"needs {SYSTEM_PYTHON} to run as nobody"
)


def give_away(path: Path) -> None:
    """Make `path` (not what a link there points to) nobody's."""
    os.chown(path, NOBODY, NOBODY, follow_symlinks=False)


# Listens on a Unix socket as whoever runs it, and appends all that each connection sends to
# the file `heard` beside the socket, answering OK as the daemon does.
_SERVER = """
import os, socket, sys
folder = sys.argv[1]
s = socket.socket(socket.AF_UNIX)
s.bind(os.path.join(folder, "sock"))
s.listen(16)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    c.settimeout(5)
    data = b""
    try:
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            data += chunk
        c.sendall(b"OK\\n")
    except OSError:
        pass
    c.close()
    with open(os.path.join(folder, "heard"), "ab") as f:
        f.write(data)
        f.write(b"<end>")
"""


@dataclass
class Impostor:
    """A server another user runs at a socket path of ours: what it was sent."""

    folder: Path

    @property
    def heard(self) -> list[bytes]:
        """What each connection sent it, one entry per connection."""
        try:
            data = (self.folder / "heard").read_bytes()
        except FileNotFoundError:
            return []
        return data.split(b"<end>")[:-1]


@contextlib.contextmanager
def impostor(socket_path: Path) -> Iterator[Impostor]:
    """A server run as nobody listening at `socket_path`: bound in a folder of nobody's,
    then moved to `socket_path` by root (nobody cannot enter our run directory), as someone
    who controls a state directory would put it there."""
    folder = Path(tempfile.mkdtemp(prefix="st-other-", dir="/tmp"))
    give_away(folder)
    server = subprocess.Popen(
        [SYSTEM_PYTHON, "-I", "-c", _SERVER, str(folder)],
        stdout=subprocess.PIPE,
        user=NOBODY,
        group=NOBODY,
        extra_groups=[],
    )
    try:
        assert server.stdout is not None
        assert server.stdout.readline() == b"ready\n"
        os.rename(folder / "sock", socket_path)
        yield Impostor(folder)
    finally:
        server.kill()
        server.wait(10)
        if server.stdout is not None:
            server.stdout.close()
        shutil.rmtree(folder, ignore_errors=True)
