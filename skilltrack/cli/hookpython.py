"""Which Python runs the hook, what version it is and what it costs to start, asked of the
interpreter itself: for `skilltrack doctor`'s `python` check.

skilltrack-install names an interpreter in settings.json. The plugin runs the one its
launcher cached (`run/hook-python`, hooks/skilltrack_hook.sh) and otherwise `python3` from
PATH, the user's (Claude Code hands its environment to the hooks), which may be a version
manager's shim: asked for `sys.executable`, a shim answers with the interpreter behind it.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from dataclasses import dataclass

MIN_VERSION = (3, 8)  # = MIN_PYTHON in hooks/skilltrack_hook.py
STARTS = 5  # timed starts; the median is reported
TIMEOUT_S = 10.0
# Every Python's `-c` understands this, 2.7 included; -E -s -S, since 2.7 has no -I.
_ASK = (
    "import sys; sys.stdout.write('%s\\n%d.%d.%d' % "
    "((sys.executable,) + tuple(sys.version_info[:3])))"
)


@dataclass(frozen=True)
class Interpreter:
    path: str  # as named, or as found on PATH
    executable: str  # its own sys.executable: behind a shim, the interpreter it runs
    version: tuple[int, int, int]
    start_ms: float  # median wall time of `-I -S -c pass`, from spawn to exit

    @property
    def too_old(self) -> bool:
        return self.version[:2] < MIN_VERSION

    @property
    def is_shim(self) -> bool:
        """Something else runs the interpreter: its sys.executable is another file."""
        return os.path.realpath(self.executable) != os.path.realpath(self.path)

    @property
    def version_text(self) -> str:
        return ".".join(map(str, self.version))


class ProbeError(Exception):
    """The interpreter could not be run or did not answer: the message says how."""


def probe(path: str, starts: int = STARTS) -> Interpreter:
    """Run `path` to ask its version and sys.executable, then time `starts` bare starts."""
    try:
        answer = subprocess.run(
            [path, "-E", "-s", "-S", "-c", _ASK],
            capture_output=True, text=True, timeout=TIMEOUT_S, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ProbeError(f"cannot be run ({exc})") from None
    try:
        executable, version = answer.stdout.split("\n")
        major, minor, micro = (int(part) for part in version.split("."))
    except ValueError:
        why = answer.stderr.strip().splitlines()[-1:] or [f"exit status {answer.returncode}"]
        raise ProbeError(f"does not run ({why[0]})") from None
    # -I came with 3.4; for a script, -E -s is what it means before.
    flags = ["-I", "-S"] if (major, minor) >= (3, 4) else ["-E", "-s", "-S"]
    times = []
    for _ in range(starts):
        began = time.perf_counter()
        subprocess.run([path, *flags, "-c", "pass"], capture_output=True, timeout=TIMEOUT_S)
        times.append((time.perf_counter() - began) * 1000)
    return Interpreter(path, executable, (major, minor, micro), statistics.median(times))


def on_path(name: str = "python3") -> str | None:
    """What `/bin/sh -c name` would run: the first executable `name` in PATH's folders."""
    import shutil

    return shutil.which(name, path=os.environ.get("PATH", os.defpath))
