"""Is a user-typed `/name` a skill? Looked up on disk, cached for a short while.

A skill is a folder with a SKILL.md in the project's `.claude/skills`, the user's
`~/.claude/skills`, or an installed plugin's `skills/` (named `plugin:skill`). Anything else
typed as `/name` is a command.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

CACHE_TTL_S = 30.0
PLUGIN_SEARCH_DEPTH = 6
CACHE_MAX = 4096


class SkillLocator:
    def __init__(self, home: Path | None = None, ttl: float = CACHE_TTL_S) -> None:
        self._home = home or Path.home()
        self._ttl = ttl
        self._cache: dict[tuple[str, str | None], tuple[float, bool]] = {}

    def is_skill(self, name: str, cwd: str | None) -> bool:
        key = (name, cwd)
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit and hit[0] > now:
            return hit[1]
        try:
            found = self._find(name, cwd)
        except OSError:  # unreadable folder, over-long name: "not a skill", never a lost event
            found = False
        if len(self._cache) >= CACHE_MAX:
            self._cache.clear()  # a crude bound, enough for a cache refilled in microseconds
        self._cache[key] = (now + self._ttl, found)
        return found

    def _find(self, name: str, cwd: str | None) -> bool:
        plugin, sep, skill = name.partition(":")
        if sep:
            return self._in_plugin(plugin, skill)
        roots = [self._home / ".claude" / "skills"]
        if cwd:  # stored with the home folder as "~"
            roots.insert(0, Path(cwd).expanduser() / ".claude" / "skills")
        return any((root / name / "SKILL.md").is_file() for root in roots)

    def _in_plugin(self, plugin: str, skill: str) -> bool:
        base = self._home / ".claude" / "plugins"
        for dirpath, dirnames, _ in os.walk(base):
            depth = len(Path(dirpath).relative_to(base).parts)
            if depth >= PLUGIN_SEARCH_DEPTH:
                dirnames.clear()
            parts = Path(dirpath).parts
            if (
                parts[-1] == "skills"
                and plugin in parts
                and Path(dirpath, skill, "SKILL.md").is_file()
            ):
                return True
        return False
