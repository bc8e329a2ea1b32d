"""Where skills are on disk: the user's `~/.claude/skills`, a project's `.claude/skills`, and
installed plugins' `skills/` folders, each skill a folder with a SKILL.md.

Apart from skills.py, which resolves the names events give and reads what it finds, so that
`skilltrack report` lists the installed skills without loading that (nor `dataclasses`, with
inspect, ast, dis, tokenize: ~9 ms of the command's start-up).
"""

from __future__ import annotations

import os
from pathlib import Path

PLUGIN_SEARCH_DEPTH = 7


class InstalledSkill:
    """A skill found on disk (a plain class: see the module's docstring)."""

    __slots__ = ("name", "path", "source")

    def __init__(self, name: str, source: str, path: str) -> None:
        self.name = name  # as events name it: `plugin:skill` for a plugin's
        self.source = source  # user | project | plugin
        self.path = path  # its folder

    def __repr__(self) -> str:
        return f"InstalledSkill({self.name!r}, {self.source!r}, {self.path!r})"


def installed_skills(home: Path, cwd: Path | None) -> list[InstalledSkill]:
    """Every skill on disk: the user's, the project's at `cwd`, and installed plugins'."""
    found = []
    for source, base in (("user", home / ".claude" / "skills"),
                         ("project", cwd / ".claude" / "skills" if cwd else None)):  # fmt: skip
        if base is None or not base.is_dir():
            continue
        for folder in sorted(base.iterdir()):
            if (folder / "SKILL.md").is_file():
                found.append(InstalledSkill(folder.name, source, str(folder)))
    seen: set[Path] = set()
    for (plugin, skill), skill_md in sorted(plugin_skills(home).items()):
        skill_dir = Path(skill_md).parent
        parts = skill_dir.parts
        # `…/<plugin>/skills/<skill>`, or `…/<plugin>/<version>/skills/<skill>` in the cache;
        # the index holds both folders above `skills/` as plugin names: keep the real one.
        owner = parts[-4] if parts[-3][:1].isdigit() else parts[-3]
        if skill_dir not in seen and plugin == owner:
            seen.add(skill_dir)
            found.append(InstalledSkill(f"{plugin}:{skill}", "plugin", str(skill_dir)))
    return found


def plugin_skills(home: Path) -> dict[tuple[str, str], str]:
    """Every plugin skill under `~/.claude/plugins`: its SKILL.md by (plugin, skill)."""
    index: dict[tuple[str, str], str] = {}
    base = home / ".claude" / "plugins"
    for dirpath, dirnames, _ in os.walk(base):
        here = Path(dirpath)
        if len(here.relative_to(base).parts) >= PLUGIN_SEARCH_DEPTH:
            dirnames.clear()
        if here.name != "skills":
            continue
        dirnames.clear()  # a skills folder holds skills, not more plugins
        for skill in os.listdir(here):
            skill_md = here / skill / "SKILL.md"
            if skill_md.is_file():
                # The plugin is the folder holding `skills/`, or above it a version folder
                # (`cache/<marketplace>/<plugin>/<version>/skills`): index under both.
                for plugin in here.parts[-3:-1]:
                    index.setdefault((plugin, skill), str(skill_md))
    return index
