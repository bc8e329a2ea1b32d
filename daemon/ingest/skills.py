"""Which file a skill or command name stands for, as Claude Code resolves it, and its version.

Claude Code's `Skill` tool runs user, project and plugin skills *and commands*, by any name the
client accepts for them; a typed `/name` reports the canonical name and where it came from
(`command_source`). Here "skill" is meant as the client means it: whatever `Skill` runs. The
rules, seen with Claude Code 2.1.328 (where the files are: skill_folders.py, plugins.py):

1. An exact name wins over any alias, and among exact names the first in this order: user
   skills, project skills (nearest folder first), user commands, project commands, then each
   enabled plugin's commands and skills (`plugin:name`). A skill's name is its folder's; a
   command's is its path under `commands/`, with `:` for `/`.
2. Else the first alias: a skill's front-matter `name` where it differs from the folder's, and
   for a plugin's skill with a front-matter `name`, `plugin:<name>` and that name bare
   (`lint-fix` runs `toolbox:lint-fix`; with no `name:` there is no bare name). A bare plugin
   name that several entries could mean (two plugins' skills, or any name ending in
   `:lint-fix`) is refused by the client: it resolves to nothing here. An entry whose name an
   earlier one took is hidden, with its aliases.
3. A typed `/name` (canonical already) is looked for in its `command_source` first.

A version is the SHA-256 of the SKILL.md or of the command's .md: an edit is a new version.
Lookups are cached, but a found file is re-stat'ed on every use, so that the first use after an
edit already counts for the new version; names not found are remembered for a few seconds only.
Which plugins load is read again as soon as one of the client's registry files changes, and at
least every PLUGIN_INDEX_TTL_S; aliases (which need every SKILL.md's front matter) are read
again when a skills folder's listing changes, and at least every ALIAS_TTL_S.
"""

from __future__ import annotations

import os
import re
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, TypeVar

from skilltrack.daemon.ingest.plugins import Plugin, enabled_plugins, registry_files
from skilltrack.daemon.ingest.skill_folders import command_files, project_dirs, skill_folders

MISS_TTL_S = 5.0
PLUGIN_INDEX_TTL_S = 30.0
ALIAS_TTL_S = 30.0
CACHE_MAX = 4096
MAX_SKILL_MD_BYTES = 1 << 20
FRONT_MATTER_BYTES = 16 << 10  # read of each SKILL.md to learn its front-matter name
MAX_DESCRIPTION_CHARS = 1024
# What a typed `/name`'s `command_source` says about where it came from.
SOURCES = {"userSettings": "user", "projectSettings": "project", "plugin": "plugin"}


@dataclass(frozen=True, slots=True)
class SkillFile:
    """A skill or command as found on disk. `path` is its SKILL.md or .md, unredacted."""

    name: str  # the client's canonical name: `fmt-check`, `frontend:build`, `toolbox:lint-fix`
    kind: str  # skill | command
    source: str  # user | project | plugin
    path: str
    description: str | None
    content_hash: str  # hex SHA-256 of the file
    modified: float  # its mtime: a use from before it ran an older version
    plugin: str | None = None  # the plugin's name, for a plugin's
    plugin_id: str | None = None  # `plugin@marketplace`


class _Entry(NamedTuple):
    """A skill or command as the alias table lists it, in the client's order."""

    name: str
    kind: str
    source: str
    path: str
    plugin: Plugin | None
    aliases: tuple[str, ...]


_K = TypeVar("_K")
_V = TypeVar("_V")

# A file's identity as the kernel sees it: any write changes the size or one of the times.
_Signature = tuple[int, int, int, int]
_Aliases = dict[str, _Entry | None]  # None: ambiguous, the client refuses the name


class SkillLocator:
    def __init__(self, home: Path | None = None) -> None:
        self._home = os.path.normpath(home or Path.home())
        self._user = f"{self._home}/.claude"
        self._misses: dict[tuple[str, str | None, str | None], float] = {}
        self._files: dict[str, tuple[_Signature, SkillFile]] = {}  # by path
        self._projects: dict[str | None, tuple[float, list[str]]] = {}
        # By working directory: (registry files' signature, until, generation, plugins by name).
        self._plugins: dict[str | None, tuple[object, float, int, dict[str, Plugin]]] = {}
        self._generation = 0  # of plugin indexes: an alias table is valid for one
        self._aliases: dict[str | None, tuple[object, float, _Aliases]] = {}

    def resolve(self, name: str, cwd: str | None, source: str | None = None) -> SkillFile | None:
        """What `name` runs in a session at `cwd` (`source`: a typed name's `command_source`),
        or None if nothing (or it is unreadable: never a reason to lose the event)."""
        key = (name, cwd, source)
        now = time.monotonic()
        if self._misses.get(key, 0.0) > now:
            return None
        try:
            found = self._find(name, None if cwd is None else os.path.expanduser(cwd), source)
        except (OSError, ValueError):  # unreadable folder, over-long or NUL-holding name
            found = None
        if found is None:
            _bounded(self._misses)[key] = now + MISS_TTL_S
        return found

    def _find(self, name: str, cwd: str | None, source: str | None) -> SkillFile | None:
        parts = name.split(":")
        if any(p in ("", ".", "..") or "/" in p for p in parts):
            return None
        wanted = SOURCES.get(source or "")
        if wanted is not None:
            found = self._exact(name, parts, cwd, wanted)
            if found is not None:
                return found
        return self._exact(name, parts, cwd, None) or self._by_alias(name, cwd)

    def _exact(
        self, name: str, parts: list[str], cwd: str | None, wanted: str | None
    ) -> SkillFile | None:
        """The first entry named `name` exactly, in the client's order (from `wanted` only)."""
        # Plain string joins: this runs for every skill event, and pathlib costs ~20 µs here.
        projects = self._project_dirs(cwd) if wanted in (None, "project") else []
        if len(parts) == 1:
            if wanted in (None, "user"):
                found = self._load(name, "skill", "user", f"{self._user}/skills/{name}/SKILL.md")
                if found is not None:
                    return found
            for project in projects:
                path = f"{project}/.claude/skills/{name}/SKILL.md"
                found = self._load(name, "skill", "project", path)
                if found is not None:
                    return found
        relative = "/".join(parts)
        if wanted in (None, "user"):
            found = self._load(name, "command", "user", f"{self._user}/commands/{relative}.md")
            if found is not None:
                return found
        for project in projects:
            path = f"{project}/.claude/commands/{relative}.md"
            found = self._load(name, "command", "project", path)
            if found is not None:
                return found
        plugin = self._plugin_index(cwd)[1].get(parts[0]) if len(parts) > 1 else None
        if plugin is None or wanted not in (None, "plugin"):
            return None
        inside = "/".join(parts[1:])
        for base in plugin.command_dirs:
            found = self._load(name, "command", "plugin", f"{base}/{inside}.md", plugin)
            if found is not None:
                return found
        if len(parts) == 2:
            for base in plugin.skill_dirs:
                found = self._load(name, "skill", "plugin", f"{base}/{inside}/SKILL.md", plugin)
                if found is not None:
                    return found
        return None

    def _by_alias(self, name: str, cwd: str | None) -> SkillFile | None:
        entry = self._alias_table(cwd).get(name)
        if entry is None:
            return None
        return self._load(entry.name, entry.kind, entry.source, entry.path, entry.plugin)

    def _load(
        self, name: str, kind: str, source: str, path: str, plugin: Plugin | None = None
    ) -> SkillFile | None:
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        signature = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        plugin_id = None if plugin is None else plugin.plugin_id
        cached = self._files.get(path)
        if cached is not None and cached[0] == signature:
            known = cached[1]
            if (known.name, known.kind, known.source, known.plugin_id) == (
                name, kind, source, plugin_id,
            ):  # fmt: skip
                return known
        with open(path, "rb") as f:
            data = f.read(MAX_SKILL_MD_BYTES)
        import hashlib  # here: `skilltrack report` lists installed skills and hashes none

        found = SkillFile(
            name=name,
            kind=kind,
            source=source,
            path=path,
            description=description_of(data.decode("utf-8", "replace")),
            content_hash=hashlib.sha256(data).hexdigest(),
            modified=st.st_mtime,
            plugin=None if plugin is None else plugin.name,
            plugin_id=plugin_id,
        )
        _bounded(self._files)[path] = (signature, found)
        return found

    def _project_dirs(self, cwd: str | None) -> list[str]:
        """The folders above `cwd` (nearest first) that have a `.claude`: a project skill or
        command can only be in one of those."""
        if cwd is None:
            return []
        now = time.monotonic()
        cached = self._projects.get(cwd)
        if cached is not None and cached[0] > now:
            return cached[1]
        found = [d for d in project_dirs(cwd, self._home) if os.path.isdir(f"{d}/.claude")]
        _bounded(self._projects)[cwd] = (now + MISS_TTL_S, found)
        return found

    def _plugin_index(self, cwd: str | None) -> tuple[int, dict[str, Plugin]]:
        """The plugins loaded at `cwd` by name, and the index's generation; read again when a
        registry file changed."""
        now = time.monotonic()
        signature = _signatures(registry_files(self._home, cwd))
        cached = self._plugins.get(cwd)
        if cached is not None and cached[0] == signature and cached[1] > now:
            return cached[2], cached[3]
        index: dict[str, Plugin] = {}
        for plugin in enabled_plugins(self._home, cwd):
            index.setdefault(plugin.name, plugin)
        self._generation += 1
        until = now + PLUGIN_INDEX_TTL_S
        _bounded(self._plugins)[cwd] = (signature, until, self._generation, index)
        return self._generation, index

    def _alias_table(self, cwd: str | None) -> _Aliases:
        generation, plugins = self._plugin_index(cwd)
        folders = [f"{self._user}/skills"]
        folders += [f"{p}/.claude/skills" for p in self._project_dirs(cwd)]
        folders += [base for plugin in plugins.values() for base in plugin.skill_dirs]
        validity = (generation, _signatures(folders))
        now = time.monotonic()
        cached = self._aliases.get(cwd)
        if cached is not None and cached[0] == validity and cached[1] > now:
            return cached[2]
        table = _aliases(self._entries(cwd, plugins))
        _bounded(self._aliases)[cwd] = (validity, now + ALIAS_TTL_S, table)
        return table

    def _entries(self, cwd: str | None, plugins: dict[str, Plugin]) -> list[_Entry]:
        """Every skill and command a session at `cwd` has, in the client's order."""
        entries = []
        aliases: tuple[str, ...]
        skill_bases = [("user", f"{self._user}/skills")]
        skill_bases += [("project", f"{p}/.claude/skills") for p in self._project_dirs(cwd)]
        for source, base in skill_bases:
            for folder, path in skill_folders(base):
                named = _front_matter_name(f"{path}/SKILL.md")
                aliases = (named,) if named and named != folder else ()
                entries.append(_Entry(folder, "skill", source, f"{path}/SKILL.md", None, aliases))
        command_bases = [("user", f"{self._user}/commands")]
        command_bases += [("project", f"{p}/.claude/commands") for p in self._project_dirs(cwd)]
        for source, base in command_bases:
            for name, path in command_files(base):
                entries.append(_Entry(name, "command", source, path, None, ()))
        for plugin in plugins.values():
            prefix = f"{plugin.name}:"
            for base in plugin.command_dirs:
                for name, path in command_files(base):
                    entries.append(_Entry(prefix + name, "command", "plugin", path, plugin, ()))
            for base in plugin.skill_dirs:
                for folder, path in skill_folders(base):
                    named = _front_matter_name(f"{path}/SKILL.md")
                    aliases = (prefix + named, named) if named else ()
                    entries.append(
                        _Entry(prefix + folder, "skill", "plugin", f"{path}/SKILL.md", plugin,
                               aliases)
                    )  # fmt: skip
        return entries


def _aliases(entries: list[_Entry]) -> _Aliases:
    """Each alias's entry, as the client picks it (see the module's docstring, rule 2)."""
    listed, taken = [], set()
    for entry in entries:
        if entry.name not in taken:  # the first of a name hides the others, aliases and all
            taken.add(entry.name)
            listed.append(entry)
    table: _Aliases = {}
    for entry in listed:
        for alias in entry.aliases:
            if alias in table or alias in taken:
                continue
            if entry.source == "plugin" and entry.kind == "skill":
                meaning = [e for e in listed
                           if (e.source == "plugin" and e.kind == "skill" and alias in e.aliases)
                           or e.name.endswith(f":{alias}")]  # fmt: skip
                if len(meaning) > 1:
                    table[alias] = None
                    continue
            table[alias] = entry
    return table


def _signatures(paths: list[str]) -> tuple[tuple[int, int] | None, ...]:
    out: list[tuple[int, int] | None] = []
    for path in paths:
        try:
            st = os.stat(path)
        except (OSError, ValueError):
            out.append(None)
        else:
            out.append((st.st_mtime_ns, st.st_size))
    return tuple(out)


def _bounded(cache: dict[_K, _V]) -> dict[_K, _V]:
    if len(cache) >= CACHE_MAX:
        cache.clear()  # crude, but refilled in microseconds and never unbounded
    return cache


def _front_matter_name(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            head = f.read(FRONT_MATTER_BYTES)
    except OSError:
        return None
    return front_matter_value(head.decode("utf-8", "replace"), "name")


_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_KEY_LINE = re.compile(r"^([A-Za-z_][\w-]*)[ \t]*:[ \t]*(.*)$")


def description_of(text: str) -> str | None:
    """The `description` of a SKILL.md's (or command's) YAML front matter, or None."""
    value = front_matter_value(text, "description")
    return None if value is None else value[:MAX_DESCRIPTION_CHARS] or None


def front_matter_value(text: str, key: str) -> str | None:
    """The value of `key` in a file's YAML front matter, or None.

    Only the subset of YAML that front matter uses: `key: value` lines, quoted values, and
    `>` / `|` block scalars. (A YAML library would be a dependency for two fields.)
    """
    match = _FRONT_MATTER.match(text)
    if not match:
        return None
    lines = match.group(1).splitlines()
    for i, line in enumerate(lines):
        key_value = _KEY_LINE.match(line)
        if not key_value or key_value.group(1) != key:
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
        return value or None
    return None
