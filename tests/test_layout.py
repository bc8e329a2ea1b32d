"""Imports go one way: command line → daemon and installer libraries → shared core.

Read from the source (no import runs), so that a newcomer's shortcut back up the layers fails
here with the module and the line, not later as an import cycle or a slow command.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Folder → the package it is installed as (pyproject's package-dir).
FOLDERS = {
    "skilltrack": "skilltrack",
    "daemon": "skilltrack.daemon",
    "installer": "skilltrack.installer",
}
CORE = {
    "skilltrack",
    *(
        f"skilltrack.{m}"
        for m in ("paths", "config", "consent", "errors", "wire", "format", "pause")
    ),
}
# Within the daemon: which sub-packages each may use (besides itself and the shared core).
DAEMON_USES = {
    "store": set(),
    "ingest": {"store"},
    "forward": {"store"},
    "report": {"store", "ingest"},
    "server": {"store", "ingest", "forward", "report"},
    "demo": {"store", "ingest", "report"},
}


def modules() -> Iterator[tuple[str, Path]]:
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            yield ".".join([package, *parts]), path


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for each skilltrack module `path` imports, `from x import y` as x.y."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if name == "skilltrack" or name.startswith("skilltrack."):
                yield node.lineno, name


def layer(module: str) -> str:
    if module in CORE or any(module.startswith(c + ".") for c in CORE - {"skilltrack"}):
        return "core"
    for top in ("cli", "installer", "hook"):
        if module.startswith(f"skilltrack.{top}"):
            return top
    if module.startswith("skilltrack.daemon"):
        parts = module.split(".")
        return f"daemon.{parts[2]}" if len(parts) > 2 else "daemon"
    return "core"  # skilltrack.__version__ and the like


def allowed(source: str, target: str) -> bool:
    if target == "core" or source == target:
        return True
    if source == "cli":
        return True  # the top: it may use everything below it
    if source == "installer":
        return False
    if source.startswith("daemon.") and target.startswith("daemon."):
        src, dst = source.split(".")[1], target.split(".")[1]
        # A module at the daemon's top (backoff) serves every sub-package.
        return dst in DAEMON_USES.get(src, set()) or dst not in DAEMON_USES
    return False


def test_every_import_goes_down_the_layers() -> None:
    wrong = []
    for module, path in modules():
        if module.endswith(".__main__"):
            continue  # an entry point, like the console scripts: it may start the command line
        source = layer(module)
        for line, target in imports(path):
            if not allowed(source, layer(target)):
                wrong.append(f"{path.relative_to(ROOT)}:{line} ({source}) imports {target}")
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


@pytest.mark.parametrize(
    ("source", "target", "ok"),
    [
        ("skilltrack.cli.report", "skilltrack.daemon.report.build", True),
        ("skilltrack.daemon.report.build", "skilltrack.cli.report", False),
        ("skilltrack.paths", "skilltrack.daemon.store.database", False),
        ("skilltrack.daemon.store.database", "skilltrack.daemon.ingest.projects", False),
        ("skilltrack.daemon.server.writer", "skilltrack.daemon.backoff", True),
        ("skilltrack.installer.files", "skilltrack.cli.install", False),
    ],
)
def test_the_rule_itself_tells_up_from_down(source: str, target: str, ok: bool) -> None:
    assert allowed(layer(source), layer(target)) is ok


def test_pyproject_installs_every_package_folder() -> None:
    # The list is written out (package-dir maps daemon/ and installer/ into the namespace):
    # a sub-package missing from it would be missing from the wheel and the strict editable
    # install, and only an import at run time would tell.
    import tomllib

    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {
        **{package: folder for folder, package in FOLDERS.items()},
        "skilltrack.hook": "hooks",
    }
    assert setuptools["package-dir"] == folders
    found = set()
    for package, folder in folders.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join([package, *parts]))
    assert sorted(setuptools["packages"]) == sorted(found)
