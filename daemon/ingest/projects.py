"""Which project an event belongs to: a pure function of its (sanitized) working directory."""

from __future__ import annotations


def project_of(cwd: str | None) -> str | None:
    """The project a working directory stands for: its last folder (`~/work/app` → `app`)."""
    if not cwd:
        return None
    return cwd.rstrip("/").rpartition("/")[2] or cwd
