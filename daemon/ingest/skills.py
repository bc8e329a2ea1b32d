"""Which `SKILL.md` a skill name refers to, and what it says about itself.

A skill is a folder with a SKILL.md in the user's `~/.claude/skills`, the project's
`.claude/skills`, or an installed plugin's `skills/` (named `plugin:skill`). When a user and a
project skill share a name, Claude Code runs the user's; so do we. Anything else typed as
`/name` is a command.

A skill's version is the SHA-256 of its SKILL.md: an edit is a new version. Lookups are cached,
but a found file is re-stat'ed on every use so that the first use after an edit already counts
for the new version; names not found are remembered for a few seconds only.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from skilltrack.daemon.ingest.skill_folders import plugin_skills

MISS_TTL_S = 5.0
PLUGIN_INDEX_TTL_S = 30.0
CACHE_MAX = 4096
MAX_SKILL_MD_BYTES = 1 << 20
MAX_DESCRIPTION_CHARS = 1024


@dataclass(frozen=True, slots=True)
class SkillFile:
    """A skill as found on disk. `path` is the SKILL.md itself, unredacted."""

    name: str
    source: str  # user | project | plugin
    path: str
    description: str | None
    content_hash: str  # hex SHA-256 of SKILL.md
    modified: float  # its mtime: a use from before it ran an older version


_K = TypeVar("_K")
_V = TypeVar("_V")

# The file's identity as the kernel sees it: any write changes the size or one of the times.
_Signature = tuple[int, int, int, int]


class SkillLocator:
    def __init__(self, home: Path | None = None) -> None:
        self._home = home or Path.home()
        self._user_skills = str(self._home / ".claude" / "skills")
        self._misses: dict[tuple[str, str | None], float] = {}
        self._files: dict[str, tuple[_Signature, SkillFile]] = {}  # by path
        self._plugins: dict[tuple[str, str], str] = {}  # (plugin, skill) -> SKILL.md path
        self._plugins_until = 0.0

    def resolve(self, name: str, cwd: str | None) -> SkillFile | None:
        """The skill `name` as seen from `cwd`, or None if there is none (or it is unreadable:
        never a reason to lose the event)."""
        key = (name, cwd)
        now = time.monotonic()
        if self._misses.get(key, 0.0) > now:
            return None
        try:
            found = self._find(name, cwd, now)
        except (OSError, ValueError):  # unreadable folder, over-long or NUL-holding name
            found = None
        if found is None:
            _bounded(self._misses)[key] = now + MISS_TTL_S
        return found

    def _find(self, name: str, cwd: str | None, now: float) -> SkillFile | None:
        plugin, sep, skill = name.partition(":")
        if sep:
            path = self._plugin_skills(now).get((plugin, skill))
            return self._load(name, "plugin", path) if path else None
        if "/" in name or name in ("", ".", ".."):
            return None
        # Plain string joins: this runs for every skill event, and pathlib costs ~20 µs here.
        found = self._load(name, "user", f"{self._user_skills}/{name}/SKILL.md")
        if found is None and cwd:
            project = os.path.expanduser(cwd)
            found = self._load(name, "project", f"{project}/.claude/skills/{name}/SKILL.md")
        return found

    def _load(self, name: str, source: str, path: str) -> SkillFile | None:
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        signature = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        cached = self._files.get(path)
        if cached is not None and cached[0] == signature and cached[1].source == source:
            return cached[1]
        with open(path, "rb") as f:
            data = f.read(MAX_SKILL_MD_BYTES)
        import hashlib  # here: `skilltrack report` lists installed skills and hashes none

        found = SkillFile(
            name=name,
            source=source,
            path=path,
            description=description_of(data.decode("utf-8", "replace")),
            content_hash=hashlib.sha256(data).hexdigest(),
            modified=st.st_mtime,
        )
        _bounded(self._files)[path] = (signature, found)
        return found

    def _plugin_skills(self, now: float) -> dict[tuple[str, str], str]:
        """Every plugin skill's SKILL.md by (plugin, skill), looked for again when stale."""
        if now >= self._plugins_until:
            self._plugins = plugin_skills(self._home)
            self._plugins_until = now + PLUGIN_INDEX_TTL_S
        return self._plugins


def _bounded(cache: dict[_K, _V]) -> dict[_K, _V]:
    if len(cache) >= CACHE_MAX:
        cache.clear()  # crude, but refilled in microseconds and never unbounded
    return cache


_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_KEY_LINE = re.compile(r"^([A-Za-z_][\w-]*)[ \t]*:[ \t]*(.*)$")


def description_of(text: str) -> str | None:
    """The `description` of a SKILL.md's YAML front matter, or None.

    Only the subset of YAML that front matter uses: `key: value` lines, quoted values, and
    `>` / `|` block scalars. (A YAML library would be a dependency for one field.)
    """
    match = _FRONT_MATTER.match(text)
    if not match:
        return None
    lines = match.group(1).splitlines()
    for i, line in enumerate(lines):
        key_value = _KEY_LINE.match(line)
        if not key_value or key_value.group(1) != "description":
            continue
        value = key_value.group(2).strip()
        if value[:1] in (">", "|"):
            block = []
            for following in lines[i + 1 :]:
                if following.strip() and not following[:1].isspace():
                    break
                block.append(following.strip())
            joiner = " " if value[:1] == ">" else "\n"
            value = joiner.join(part for part in block if part)
        elif len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        return value[:MAX_DESCRIPTION_CHARS] or None
    return None
