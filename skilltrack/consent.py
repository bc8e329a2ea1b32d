"""The user's own consent to snippet capture, kept in a small file of its own.

Snippets are captured only when the team's policy (`capture.snippets` in the config) *and* this
consent allow it. The file is the user's, not the team's: `skilltrack consent grant | revoke`
writes it, and the daemon re-reads it whenever it changes, so a revocation holds from the next
event on. No file, or one that cannot be read, means no consent.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Consent:
    granted: bool
    changed_at: float | None  # when it was last granted or revoked; None if never


NO_CONSENT = Consent(False, None)


def read(path: Path) -> Consent:
    try:
        # Never through a link: it would be someone else's say.
        with open(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC), "rb") as f:
            data = json.loads(f.read())
    except (OSError, ValueError):
        return NO_CONSENT
    if not isinstance(data, dict) or data.get("snippet_capture") is not True:
        return Consent(False, _time(data))
    return Consent(True, _time(data))


def write(path: Path, granted: bool) -> Consent:
    """Record the user's decision, atomically (a reader sees the old or the new file)."""
    consent = Consent(granted, time.time())
    body = json.dumps({"snippet_capture": granted, "changed_at": consent.changed_at}) + "\n"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".consent.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return consent


def _time(data: object) -> float | None:
    value = data.get("changed_at") if isinstance(data, dict) else None
    return float(value) if isinstance(value, int | float) else None


class ConsentWatch:
    """The current consent, re-read only when the file changes (one stat per question)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._signature: tuple[int, int, int] | None = None
        self._consent = NO_CONSENT

    def granted(self) -> bool:
        try:
            st = os.stat(self._path)
        except OSError:
            self._signature, self._consent = None, NO_CONSENT
            return False
        signature = (st.st_ino, st.st_size, st.st_mtime_ns)
        if signature != self._signature:
            self._signature, self._consent = signature, read(self._path)
        return self._consent.granted
