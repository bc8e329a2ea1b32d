"""Whether tracking is paused: one marker file, `paused` in the run directory.

The hook cannot parse TOML and is timed on every tool call, so it learns of a pause from one
`lstat` of this file: a regular file of this user's (not a link, not another user's) means
paused, and the hook exits at once, keeping nothing (no socket, no spool, no daemon start).
Two things put the marker there:

- `skilltrack pause` (`by = "command"`); `skilltrack resume` removes it;
- `enabled = false` in config.toml (`by = "config"`): the hook cannot read the file, so the
  daemon at its start, and `skilltrack config`, `pause` and `resume`, keep the marker in step
  with it (`sync`). `resume` refuses while the file says false.

Events spooled before the pause are still replayed when a daemon runs. The marker is JSON
(`by`, `since`) for status and doctor; the hook reads none of it, only that it is there.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import time
from dataclasses import dataclass

from skilltrack.paths import Paths, ensure_private_dir, write_private

BY_COMMAND = "command"
BY_CONFIG = "config"


@dataclass(frozen=True)
class Pause:
    by: str  # BY_COMMAND or BY_CONFIG
    since: float  # Unix time


def read(paths: Paths) -> Pause | None:
    """The pause in effect, or None: as the hook judges it, a marker counts only if it is a
    regular file of this user's (one another user planted, or a link, is ignored)."""
    try:
        st = os.lstat(paths.paused)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid():
        return None
    try:
        fd = os.open(paths.paused, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with open(fd, "rb") as f:
            data = json.loads(f.read())
        by, since = data["by"], float(data["since"])
    except (OSError, ValueError, TypeError, KeyError):  # an empty or hand-made marker
        return Pause(BY_COMMAND, st.st_mtime)
    return Pause(by if by in (BY_COMMAND, BY_CONFIG) else BY_COMMAND, since)


def pause(paths: Paths, by: str) -> Pause:
    """Put the marker in place (in a run directory of this user's alone, made if missing);
    an existing pause keeps its start time."""
    current = read(paths)
    since = current.since if current is not None else time.time()
    ensure_private_dir(paths.run_dir.parent)
    ensure_private_dir(paths.run_dir)
    # Written aside and renamed: a hook never sees a half-made marker (it would count anyway,
    # but status would not know who made it).
    temporary = paths.run_dir / f".paused.{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    write_private(temporary, json.dumps({"by": by, "since": since}).encode() + b"\n")
    os.replace(temporary, paths.paused)
    return Pause(by, since)


def resume(paths: Paths) -> Pause | None:
    """Remove the marker: the pause that was in effect, or None."""
    current = read(paths)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(paths.paused)
    return current


def sync(paths: Paths, enabled: bool) -> Pause | None:
    """Keep the marker in step with the config file's `enabled`: paused by the config while
    it says false; a pause the config made is lifted once it no longer does. A pause by
    `skilltrack pause` is the user's, left as it is. The pause now in effect, or None."""
    current = read(paths)
    if not enabled and current is None:
        return pause(paths, BY_CONFIG)
    if enabled and current is not None and current.by == BY_CONFIG:
        resume(paths)
        return None
    return current


def describe(found: Pause | None) -> dict[str, object]:
    """The pause as status and doctor give it in `--json`."""
    from skilltrack.format import iso

    if found is None:
        return {"paused": False, "by": None, "since": None}
    return {"paused": True, "by": found.by, "since": iso(found.since)}
