"""The Python interpreters on this machine other than the test's own, for running the hook
under old versions.

Found where version managers and this project put them (pyenv, asdf, mise, uv), on PATH as
`pythonX.Y`, and in .cache/ (scripts/install-old-python: Debian's CPython 3.9). Each is asked
its version; the tests pick the oldest that the hook supports, and every one too old for it.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
HOOK_MIN = (3, 8)  # = MIN_PYTHON in hooks/skilltrack_hook.py

# Every version's `-c` understands this, Python 2 included.
_ASK_VERSION = "import sys; sys.stdout.write('%d.%d.%d' % tuple(sys.version_info[:3]))"


@dataclass(frozen=True)
class Python:
    path: str
    version: tuple[int, int, int]

    @property
    def label(self) -> str:
        """The test id: its version, and where it came from."""
        return f"python{'.'.join(map(str, self.version))}:{_origin(self.path)}"


@functools.cache
def found() -> tuple[Python, ...]:
    """Every interpreter found, oldest first (one per version)."""
    by_version: dict[tuple[int, int, int], Python] = {}
    for path in _candidates():
        version = _version(path)
        if version is not None and version not in by_version:
            by_version[version] = Python(path, version)
    return tuple(by_version[v] for v in sorted(by_version))


def this_one() -> Python:
    return Python(sys.executable, tuple(sys.version_info[:3]))  # type: ignore[arg-type]


def oldest_supported() -> Python:
    """The oldest interpreter the hook supports: 3.8 where one is found, else the oldest
    found, else the test's own."""
    supported = [p for p in found() if p.version[:2] >= HOOK_MIN]
    return supported[0] if supported else this_one()


def too_old() -> tuple[Python, ...]:
    """Every interpreter found that is older than the hook supports (2.7, 3.6, 3.7, …)."""
    return tuple(p for p in found() if p.version[:2] < HOOK_MIN)


def _candidates() -> list[str]:
    home = Path.home()
    roots = [
        Path(os.environ.get("PYENV_ROOT", home / ".pyenv")) / "versions",
        home / ".asdf" / "installs" / "python",
        home / ".local" / "share" / "mise" / "installs" / "python",
        home / ".local" / "share" / "uv" / "python",
    ]
    out = [str(p) for p in sorted((ROOT / ".cache" / "old-python").glob("*/usr/bin/python*.*"))]
    for root in roots:
        for version_dir in sorted(root.glob("*")):
            out += [str(p) for p in sorted(version_dir.glob("bin/python[23].*")) if _plain(p)]
    for d in os.environ.get("PATH", "").split(os.pathsep):
        if d.startswith("/") and "shims" not in d:  # a shim picks a version by itself
            out += [str(p) for p in sorted(Path(d).glob("python[23].*")) if _plain(p)]
    return [p for p in out if os.access(p, os.X_OK)]


def _plain(path: Path) -> bool:
    """python3.8, not python3.8-config or python3.8m-gdb.py."""
    return path.name.replace("python", "", 1).replace(".", "").isdigit()


def _version(path: str) -> tuple[int, int, int] | None:
    try:
        out = subprocess.run(
            [path, "-E", "-s", "-S", "-c", _ASK_VERSION],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout  # fmt: skip
        major, minor, micro = (int(part) for part in out.split("."))
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return major, minor, micro


def _origin(path: str) -> str:
    if str(ROOT / ".cache") in path:
        return "debian-bullseye"
    for name in ("pyenv", "asdf", "mise", "uv"):
        if f"/{name}/" in path or f"/.{name}/" in path:
            return name
    return path
