"""Paths out of text: home becomes `~`, or only the project folder's name is kept.

Pure functions over an event's JSON text, applied before secrets are looked for (see
sanitize.py). No match starts on the letter of a JSON escape, so JSON text stays valid.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache


def home_redactor(home: str) -> Callable[[str], str]:
    """A function that writes `home` (and paths under it) as `~`, and Claude Code's mangled
    form of it too: the project folder of `/home/ann/proj` is `~/.claude/projects/-home-ann-proj`
    (every character but a letter or digit made `-`), written `~/.claude/projects/~-proj`."""
    home = home.rstrip("/")
    if not home:
        return lambda text: text
    path = re.escape(home)
    # Not after a backslash: in `\/home/ann` the slash is the letter of an escape.
    whole = re.compile(rf"{path}(?<!\\{path})(?=[/\"'\s\\]|$)")
    mangled = re.compile(re.escape(re.sub(r"[^A-Za-z0-9]", "-", home)) + r"(?=[-/\"'\s\\]|$)")

    def redact(text: str) -> str:
        return mangled.sub("~", whole.sub("~", text))

    return redact


@lru_cache(maxsize=64)
def parent_remover(cwd: str, home: str) -> Callable[[str], str] | None:
    """The function that removes `<parent of cwd>/` from a text, None if there is none to
    remove. Cached: every event of a session has the same cwd."""
    cwd = cwd.rstrip("/")
    if not cwd.startswith("/") or any(c in '"\\' or c < " " for c in cwd):
        # Such a cwd appears escaped in JSON text; matching its escaped form is not worth it.
        return None
    parent = cwd.rpartition("/")[0]
    if not parent or (parent != home and (home + "/").startswith(parent + "/")):
        # No parent, or one above home: removing `/home/` would leave `ann/x` of `/home/ann/x`.
        return None
    piece = parent + "/"
    pattern = re.compile(rf"{re.escape(piece)}(?<!\\{re.escape(piece)})")
    # With the project in home itself, `~/.claude/skills/x` stays that, not `.claude/skills/x`
    # (which reads like a project's own `.claude`).
    hidden = re.compile(pattern.pattern + r"(?=\.)") if parent == home else None

    def remove(text: str) -> str:
        if hidden is not None:
            text = hidden.sub("~/", text)
        removed = pattern.sub("", text)
        if len(removed) != len(text) and pattern.search(removed):
            # A removal joined two parts into a new piece (`/home/ann/wo` + piece + `rk/`).
            return _remove_all(text, piece)
        return removed

    return remove


def _remove_all(text: str, piece: str) -> str:
    """`text` with `piece` (when not after a backslash) removed until none is left, in one
    pass and linear time: a stack of what is kept, with the string-search state after each
    character, so that a removal resumes the search where the kept text ends."""
    fail = [0] * len(piece)  # the longest proper prefix of piece[:i + 1] that is its suffix
    k = 0
    for i in range(1, len(piece)):
        while k and piece[i] != piece[k]:
            k = fail[k - 1]
        if piece[i] == piece[k]:
            k += 1
        fail[i] = k
    kept: list[str] = []
    states = [0]
    for char in text:
        k = states[-1]
        if k == len(piece):
            k = fail[k - 1]
        while k and piece[k] != char:
            k = fail[k - 1]
        if piece[k] == char:
            k += 1
        kept.append(char)
        states.append(k)
        if k == len(piece):
            start = len(kept) - len(piece)
            if not (start and kept[start - 1] == "\\"):
                del kept[start:]
                del states[start + 1 :]
    return "".join(kept)
