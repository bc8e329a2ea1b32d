"""Where skills and commands are on disk, as Claude Code 2.1.328 looks for them.

- The user's: `~/.claude/skills/<folder>/SKILL.md` (one level: a SKILL.md deeper down is not
  a skill) and `~/.claude/commands/**.md` (`commands/a/b.md` is `a:b`).
- The project's: the same under `.claude/` in the working directory and each folder above it,
  nearest first, up to the root of the git repository it is in (else up to `/`); the home
  folder's `.claude` is the user's, not a project's.
- Installed plugins' (plugins.py): `plugin:<folder>` and `plugin:a:b`.

Apart from skills.py, which resolves the names events give and reads what it finds, so that
`skilltrack report` lists the installed skills without loading that (nor `dataclasses`, with
inspect, ast, dis, tokenize: ~9 ms of the command's start-up).
"""

from __future__ import annotations

import os
from pathlib import Path

from skilltrack.daemon.ingest.plugins import enabled_plugins

MAX_COMMAND_DEPTH = 8  # folders below commands/: deeper ones are not looked into


class InstalledSkill:
    """A skill found on disk (a plain class: see the module's docstring)."""

    __slots__ = ("name", "path", "source")

    def __init__(self, name: str, source: str, path: str) -> None:
        self.name = name  # as the client names it: `plugin:folder` for a plugin's
        self.source = source  # user | project | plugin
        self.path = path  # its folder

    def __repr__(self) -> str:
        return f"InstalledSkill({self.name!r}, {self.source!r}, {self.path!r})"


def installed_skills(home: Path, cwd: Path | None) -> list[InstalledSkill]:
    """Every skill on disk: the user's, the project's at `cwd`, and enabled plugins'."""
    found = [InstalledSkill(name, "user", folder)
             for name, folder in skill_folders(f"{home}/.claude/skills")]  # fmt: skip
    if cwd is not None:
        for project in project_dirs(str(cwd), str(home)):
            for name, folder in skill_folders(f"{project}/.claude/skills"):
                found.append(InstalledSkill(name, "project", folder))
    for plugin in enabled_plugins(str(home), None if cwd is None else str(cwd)):
        for base in plugin.skill_dirs:
            for name, folder in skill_folders(base):
                found.append(InstalledSkill(f"{plugin.name}:{name}", "plugin", folder))
    return found


def project_dirs(cwd: str, home: str) -> list[str]:
    """The folders whose `.claude` holds the project's skills and commands for a session at
    `cwd`: it and those above it, nearest first, up to its git repository's root."""
    folders = []
    here = os.path.normpath(cwd)
    while True:
        folders.append(here)
        if os.path.lexists(f"{here}/.git"):  # a folder, or a file in a worktree
            break
        parent = os.path.dirname(here)
        if parent == here:
            break
        here = parent
    home = os.path.normpath(home)
    return [f for f in folders if f != home]


def skill_folders(base: str) -> list[tuple[str, str]]:
    """(folder name, folder) of each skill in `base`, sorted."""
    try:
        names = sorted(os.listdir(base))
    except OSError:
        return []
    return [(n, f"{base}/{n}") for n in names if os.path.isfile(f"{base}/{n}/SKILL.md")]


def command_files(base: str) -> list[tuple[str, str]]:
    """(name, path) of each command under `base`: `a/b.md` is `a:b`."""
    found = []
    base = base.rstrip("/")
    for dirpath, dirnames, filenames in os.walk(base):
        relative = dirpath[len(base) + 1 :]
        depth = relative.count("/") + 1 if relative else 0
        if depth >= MAX_COMMAND_DEPTH:
            dirnames.clear()
        dirnames.sort()
        prefix = relative.replace("/", ":") + ":" if relative else ""
        for filename in sorted(filenames):
            if filename.endswith(".md"):
                found.append((prefix + filename[: -len(".md")], f"{dirpath}/{filename}"))
    return found
