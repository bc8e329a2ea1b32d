"""`skilltrack-install [--scope user|project|local] [--dry-run] [--uninstall] [--no-start]`.

Edits a file people also edit by hand and other tools patch, so: it refuses what it cannot
parse (changing nothing), backs the file up once before its first change, writes atomically
(a temporary file in the same folder, then a rename) keeping the file's permissions, and on
uninstall gives back the backup's exact bytes when nothing else has changed since.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from skilltrack.installer.settings import (
    SettingsShapeError,
    hook_command,
    install,
    installed_events,
    same_as_before_us,
    uninstall,
)

BACKUP_SUFFIX = ".skilltrack-backup"
PLUGIN_NAME = "skilltrack"


class InstallError(Exception):
    """A one-line reason to change nothing."""


def settings_path(scope: str, cwd: Path, home: Path) -> Path:
    if scope == "user":
        return home / ".claude" / "settings.json"
    if scope == "project":
        return cwd / ".claude" / "settings.json"
    return cwd / ".claude" / "settings.local.json"


def hook_script() -> Path:
    """The installed hook script (resolved: an editable install points into the checkout)."""
    return Path(str(resources.files("skilltrack.hook") / "skilltrack_hook.py")).resolve()


def read_settings(path: Path) -> tuple[Any, bytes | None]:
    """(parsed settings, the file's bytes), an empty object if there is no file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}, None
    try:
        return json.loads(raw), raw
    except (ValueError, UnicodeDecodeError) as exc:
        raise InstallError(
            f"{path} is not valid JSON ({exc}); comments and trailing commas are not "
            "JSON either; fix it or remove it, nothing was changed"
        ) from None


def render(settings: Any, like: bytes | None) -> bytes:
    """JSON text for `settings`, indented like the file it replaces (two spaces if new)."""
    indent = _indent_of(like) if like else 2
    text = json.dumps(settings, indent=indent, ensure_ascii=False)
    return (text + "\n").encode()


def _indent_of(raw: bytes) -> int | str:
    for line in raw.decode("utf-8", "replace").splitlines()[1:]:
        stripped = line.lstrip(" \t")
        if stripped and len(stripped) < len(line):
            lead = line[: len(line) - len(stripped)]
            return "\t" if lead.startswith("\t") else len(lead)
    return 2


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode: int | None = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def plugin_enabled(home: Path, cwd: Path) -> Path | None:
    """The settings file that enables the skilltrack plugin, if any does."""
    for scope in ("user", "project", "local"):
        path = settings_path(scope, cwd, home)
        try:
            enabled = json.loads(path.read_bytes()).get("enabledPlugins", {})
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(enabled, dict) and any(
            on and str(name).split("@")[0] == PLUGIN_NAME for name, on in enabled.items()
        ):
            return path
    return None


def run(args: argparse.Namespace, home: Path, cwd: Path) -> int:
    path = settings_path(args.scope, cwd, home)
    current, raw = read_settings(path)
    try:
        if args.uninstall:
            wanted = uninstall(current)
        else:
            plugin = plugin_enabled(home, cwd)
            if plugin is not None:
                raise InstallError(
                    f"the skilltrack plugin is enabled in {plugin}; its hooks already track "
                    "events, and registering them here too would count each one twice"
                )
            command = hook_command(sys.executable, str(hook_script()))
            wanted = install(current, command)
    except SettingsShapeError as exc:
        raise InstallError(f"{path}: {exc}; nothing was changed") from None
    if wanted == current and (raw is not None or args.uninstall):
        print(f"{path}: nothing to change")
        return _after(args)
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    new = render(wanted, raw)
    if args.uninstall and backup.exists():
        original = backup.read_bytes()
        if same_as_before_us(json.loads(original), wanted):
            new = original  # nothing else changed since: the exact original bytes
    if args.dry_run:
        old_text = (raw or b"").decode("utf-8", "replace").splitlines(keepends=True)
        diff = difflib.unified_diff(
            old_text, new.decode().splitlines(keepends=True), str(path), f"{path} (new)"
        )
        sys.stdout.writelines(diff)
        return 0
    if raw is not None and not backup.exists() and not args.uninstall:
        write_atomically(backup, raw)
    if args.uninstall and wanted == {} and not backup.exists():
        path.unlink()  # no backup: the file did not exist before we made it
        print(f"removed {path}, which skilltrack had created")
        return 0
    write_atomically(path, new)
    if args.uninstall:
        print(f"removed skilltrack's hooks from {path}")
        return 0
    events = ", ".join(installed_events(wanted))
    print(f"registered skilltrack's hook in {path} for {events}")
    if raw is not None:
        print(f"  backup of the original: {backup}")
    return _after(args)


def _after(args: argparse.Namespace) -> int:
    if args.uninstall or args.dry_run or args.no_start:
        return 0
    from skilltrack import paths
    from skilltrack.daemon.cli import start

    return start(paths.resolve())


def main_with(argv: Sequence[str] | None, *, home: Path, cwd: Path) -> int:
    parser = argparse.ArgumentParser(
        prog="skilltrack-install",
        description="Register skilltrack's hook in Claude Code's settings.json (or remove it).",
    )
    parser.add_argument(
        "--scope",
        choices=["user", "project", "local"],
        default="user",
        help="user: ~/.claude/settings.json (default); project: ./.claude/settings.json; "
        "local: ./.claude/settings.local.json",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the change, write nothing")
    parser.add_argument("--uninstall", action="store_true", help="remove exactly our entries")
    parser.add_argument("--no-start", action="store_true", help="do not start the daemon")
    args = parser.parse_args(argv)
    try:
        return run(args, home, cwd)
    except (InstallError, OSError) as exc:
        print(f"skilltrack-install: {exc}", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    return main_with(argv, home=Path.home(), cwd=Path.cwd())
