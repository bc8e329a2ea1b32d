"""Skills, commands and plugins on disk as Claude Code 2.1.328 lays them out, for tests that
resolve names without running it.

`tests/data/claude_code_2.1.328_artifacts.json` holds what the real client gave: hook payloads
for each case, and the plugin registry files (`installed_plugins.json`,
`known_marketplaces.json`) that `claude plugin marketplace add` / `claude plugin install`
wrote. They were recorded in a temporary folder written `$TMP` there (home `$TMP/home`,
project `$TMP/project`, marketplace `$TMP/dev/market`); `Layout` puts the same tree under a
test's own folder.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent.parent / "data" / "claude_code_2.1.328_artifacts.json"
RECORDED: dict[str, Any] = json.loads(DATA.read_text())
MARKETPLACE = "devmarket"  # the marketplace's name in the recordings


def md(description: str, body: str, name: str | None = None) -> str:
    """A SKILL.md or command file: front matter, then the body."""
    front = f"name: {name}\n" if name else ""
    return f"---\n{front}description: {description}\n---\n\n{body}\n"


class Layout:
    """The recordings' tree under `root`: `home`, `project` and `market` (the marketplace
    folder a developer works in)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.project = root / "project"
        self.market = root / "dev" / "market"
        self.project.mkdir(parents=True, exist_ok=True)
        (self.home / ".claude").mkdir(parents=True, exist_ok=True)

    def here(self, value: Any) -> Any:
        """`value` (JSON-shaped) with the recordings' `$TMP` made this layout's root."""
        return json.loads(json.dumps(value).replace("$TMP", str(self.root)))

    def payload(self, title: str, **changes: Any) -> dict[str, Any]:
        [event] = [e["payload"] for e in RECORDED["events"] if e["title"] == title]
        return {**self.here(event), **changes}

    def write(self, path: Path, text: str) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def skill(self, base: Path, folder: str, body: str, name: str | None = None) -> Path:
        """`base/.claude/skills/<folder>/SKILL.md` (`base`: the home or a project folder)."""
        return self.write(base / ".claude" / "skills" / folder / "SKILL.md", md(folder, body, name))

    def command(self, base: Path, name: str, body: str) -> Path:
        """`base/.claude/commands/<name>.md`; `a/b` for a nested one."""
        return self.write(base / ".claude" / "commands" / f"{name}.md", md(name, body))

    def plugin(
        self,
        root: Path,
        skills: Mapping[str, str | None],
        commands: Iterable[str] = (),
        manifest: Mapping[str, Any] | None = None,
    ) -> None:
        """A plugin's folder: `skills` by folder (with the front-matter name, if any),
        `commands` by path; the bodies say which file they are."""
        name = root.name
        self.write(
            root / ".claude-plugin" / "plugin.json",
            json.dumps(manifest or {"name": name, "version": "1.0.0"}),
        )
        for folder, front_name in skills.items():
            body = f"BODY {root} skill {folder}"
            self.write(root / "skills" / folder / "SKILL.md", md(folder, body, front_name))
        for path in commands:
            self.write(root / "commands" / f"{path}.md", md(path, f"BODY {root} command {path}"))

    def marketplace(self, plugins: Iterable[str]) -> None:
        """`market/.claude-plugin/marketplace.json`, each plugin in `./<name>` beside it."""
        catalog = {
            "name": MARKETPLACE,
            "owner": {"name": "Ann"},
            "plugins": [{"name": p, "source": f"./{p}"} for p in plugins],
        }
        self.write(self.market / ".claude-plugin" / "marketplace.json", json.dumps(catalog))

    def registry(
        self, recorded: str, plugins: Iterable[str] = ("toolbox",), enabled: bool | None = True
    ) -> None:
        """The client's registry files as recorded under the title `recorded`, listing
        `plugins` (each installed as the recording's toolbox was), and `enabledPlugins` in
        the user's settings (None: not mentioned)."""
        files = self.here(RECORDED["registries"][recorded])
        installed = files["installed_plugins.json"]
        [(_, installs)] = installed["plugins"].items()
        installed["plugins"] = {
            f"{p}@{MARKETPLACE}": [
                {**i, "installPath": i["installPath"].replace("/toolbox/", f"/{p}/")}
                for i in installs
            ]
            for p in plugins
        }
        files["installed_plugins.json"] = installed
        for name, data in files.items():
            self.write(self.home / ".claude" / "plugins" / name, json.dumps(data, indent=2))
        if enabled is not None:
            self.enable({f"{p}@{MARKETPLACE}": enabled for p in plugins})

    def enable(self, plugins: Mapping[str, bool], settings: Path | None = None) -> None:
        """`enabledPlugins` entries, in the user's settings.json unless `settings` is given."""
        path = settings or self.home / ".claude" / "settings.json"
        current = json.loads(path.read_text()) if path.exists() else {}
        current.setdefault("enabledPlugins", {}).update(plugins)
        self.write(path, json.dumps(current, indent=2))
