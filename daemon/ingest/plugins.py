"""The plugins Claude Code loads, and the folders their skills and commands are read from.

Read from the client's own registry, as Claude Code 2.1.328 does (seen with the real binary;
the recordings are described in docs/skills-and-commands.md):

- `~/.claude/plugins/installed_plugins.json` lists each installed `plugin@marketplace` with its
  installs (`scope`, `installPath` in `~/.claude/plugins/cache`, `projectPath` for a project's);
  `known_marketplaces.json` says where each marketplace came from (`source`) and lives
  (`installLocation`).
- A plugin loads only where `enabledPlugins` has it `true`: the project's
  `.claude/settings.local.json` over its `.claude/settings.json` over `~/.claude/settings.json`.
- From a `directory` or `file` marketplace, a plugin whose `source` in the marketplace's
  `marketplace.json` is a relative path is read from the marketplace folder itself
  (`installLocation/<source>`): that is how plugins are developed, and an edit there shows at
  the next session, with no update. Every other plugin is read from its install's
  `installPath`, the copy in the cache.
- Its skills are `skills/<folder>/SKILL.md` and its commands `commands/**.md`, plus the folders
  its `.claude-plugin/plugin.json` names under `"skills"` and `"commands"`.

A file that is missing, unreadable or not what is expected counts as empty: never an error.
Plain classes and the standard library only, not even `typing`, as skill_folders.py explains.
"""

from __future__ import annotations

import json
import os

MAX_JSON_BYTES = 4 << 20
FOLDER_SOURCES = ("directory", "file")  # marketplaces whose relative plugins are read in place


class Plugin:
    """An enabled plugin: its name (the prefix of its skills' names), its id, and where its
    skills and commands are read from."""

    __slots__ = ("command_dirs", "name", "plugin_id", "root", "skill_dirs")

    def __init__(
        self, plugin_id: str, root: str, skill_dirs: list[str], command_dirs: list[str]
    ) -> None:
        self.plugin_id = plugin_id  # `plugin@marketplace`
        self.name = plugin_id.rpartition("@")[0] or plugin_id
        self.root = root
        self.skill_dirs = skill_dirs
        self.command_dirs = command_dirs

    def __repr__(self) -> str:
        return f"Plugin({self.plugin_id!r}, {self.root!r})"


def registry_files(home: str, project: str | None) -> list[str]:
    """The files that say which plugins load and from where: any change to them is a reason to
    read the registry again."""
    plugins = f"{home}/.claude/plugins"
    files = [
        f"{plugins}/installed_plugins.json",
        f"{plugins}/known_marketplaces.json",
        f"{home}/.claude/settings.json",
    ]
    if project:
        files += [f"{project}/.claude/settings.json", f"{project}/.claude/settings.local.json"]
    return files


def enabled_plugins(home: str, project: str | None) -> list[Plugin]:
    """The plugins loaded in a session started at `project` (None: the user's alone), in the
    order `installed_plugins.json` lists them."""
    installed = _object(read_json(f"{home}/.claude/plugins/installed_plugins.json").get("plugins"))
    marketplaces = read_json(f"{home}/.claude/plugins/known_marketplaces.json")
    enabled: dict[str, object] = {}
    settings = [f"{home}/.claude/settings.json"]
    if project:
        settings += [f"{project}/.claude/settings.json", f"{project}/.claude/settings.local.json"]
    for path in settings:  # the later, the stronger
        enabled.update(_object(read_json(path).get("enabledPlugins")))
    found = []
    for plugin_id, installs in installed.items():
        if enabled.get(plugin_id) is not True:
            continue
        install = _install_for(installs, project)
        name, _, marketplace = plugin_id.rpartition("@")
        root = _read_in_place(_object(marketplaces.get(marketplace)), name)
        if root is None and install is not None:
            root = _string(install.get("installPath"))
        if root:
            found.append(_with_folders(plugin_id, root))
    return found


def read_json(path: str) -> dict[str, object]:
    """The JSON object in `path`, or an empty one."""
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read(MAX_JSON_BYTES))
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _install_for(installs: object, project: str | None) -> dict[str, object] | None:
    """The install a session at `project` uses: one made for that project (or a folder above
    it), else the user's."""
    # Version 2 of the file lists the installs; an older one held a single install.
    entries = [i for i in (installs if isinstance(installs, list) else [installs])
               if isinstance(i, dict)]  # fmt: skip
    if project:
        for entry in entries:
            where = _string(entry.get("projectPath"))
            if where and (project == where or project.startswith(where.rstrip("/") + "/")):
                return entry
    for entry in entries:
        if entry.get("scope", "user") == "user" and not entry.get("projectPath"):
            return entry
    return None


def _read_in_place(marketplace: dict[str, object], plugin: str) -> str | None:
    """The folder a directory or file marketplace's plugin is read from, if it is one."""
    source = _object(marketplace.get("source"))
    location = _string(marketplace.get("installLocation"))
    if source.get("source") not in FOLDER_SOURCES or not location:
        return None
    manifest = _string(source.get("path")) if source.get("source") == "file" else None
    catalog = read_json(manifest or f"{location}/.claude-plugin/marketplace.json")
    entries = catalog.get("plugins")
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and entry.get("name") == plugin:
            relative = entry.get("source")
            if isinstance(relative, str) and relative:
                return os.path.normpath(os.path.join(location, relative))
            return None  # a git or URL source: read from the cache
    return None


def _with_folders(plugin_id: str, root: str) -> Plugin:
    manifest = read_json(f"{root}/.claude-plugin/plugin.json")
    folders = {}
    for kind in ("skills", "commands"):
        declared = manifest.get(kind)
        extra = [declared] if isinstance(declared, str) else declared
        paths = [f"{root}/{kind}"]
        for path in extra if isinstance(extra, list) else []:
            if isinstance(path, str) and path:
                full = os.path.normpath(os.path.join(root, path))
                if full not in paths:
                    paths.append(full)
        folders[kind] = paths
    return Plugin(plugin_id, root, folders["skills"], folders["commands"])


def _object(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


def _string(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
