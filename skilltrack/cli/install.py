"""`skilltrack-install [--scope user|project|local] [--dry-run] [--uninstall] [--no-start]`.

Edits a file people also edit by hand and other tools patch, so: it refuses what it cannot
parse or could not write back as Claude Code (Node's JSON.parse) reads it, changing nothing;
writes atomically (a temporary file in the same folder, then a rename) keeping the file's
permissions, through a symlink to its target so that the link stays; and checks the daemon's
configuration before it changes anything, so that a failed install leaves nothing behind.

The backup (`settings.json.skilltrack-backup`, beside the name the user knows) is the file as
it was just before the install that added our entries, with the file's permission bits:
written by an install that finds none of our entries (a first install, or one after an
uninstall: an older backup is replaced, or, if there is no file now, renamed `.old`) or finds
no backup (entries of an older install: they are in it, and never given back), kept by later
ones. On uninstall, when nothing else has changed since, the file gets the backup's exact
bytes back and the backup goes; when the file has changed, the backup is kept (and said so)
for the user to compare, until the next install replaces it.
"""

from __future__ import annotations

import argparse
import difflib
import stat
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from skilltrack.cli import parsing
from skilltrack.errors import ConfigError
from skilltrack.installer.files import (
    BACKUP_SUFFIX,
    InstallError,
    check_config,
    hook_script,
    parse,
    plugin_enabled,
    read_settings,
    registered_elsewhere,
    render,
    settings_path,
    settings_target,
    write_atomically,
)
from skilltrack.installer.settings import (
    Settings,
    SettingsShapeError,
    hook_command,
    install,
    installed_events,
    nothing_else_changed,
    same_as_before_us,
    uninstall,
)

PROG = "skilltrack-install"


def run(args: argparse.Namespace, home: Path, cwd: Path) -> int:
    path = settings_path(args.scope, cwd, home)
    target = settings_target(path)
    current, raw = read_settings(target)
    wanted = _wanted(args, current, path, home, cwd)
    if not (args.uninstall or args.dry_run or args.no_start):
        check_config()
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    if wanted == current and (raw is not None or args.uninstall):
        print(f"{path}: nothing to change")
        if args.uninstall and not args.dry_run:
            _drop_backup_if_redundant(backup, wanted)
        return _after(args)
    new = render(wanted, raw)
    original = _backup_if_given_back(backup, wanted) if args.uninstall else None
    if original is not None:
        new = original  # nothing else changed since: the exact original bytes
    if args.dry_run:
        old_text = (raw or b"").decode("utf-8", "replace").splitlines(keepends=True)
        diff = difflib.unified_diff(
            old_text, new.decode().splitlines(keepends=True), str(path), f"{path} (new)"
        )
        sys.stdout.writelines(diff)
        return 0
    if args.uninstall:
        return _write_uninstalled(path, target, backup, wanted, new)
    if not installed_events(current) or not backup.exists():
        _refresh_backup(backup, target, raw)
    write_atomically(target, new)
    events = ", ".join(installed_events(wanted))
    print(f"registered skilltrack's hook in {path} for {events}")
    if backup.exists():
        print(f"  backup of the original: {backup}")
    return _after(args)


def _wanted(args: argparse.Namespace, current: Any, path: Path, home: Path, cwd: Path) -> Settings:
    """The settings as they should be, or an InstallError saying why we will not edit them."""
    try:
        if args.uninstall:
            return uninstall(current)
        plugin = plugin_enabled(home, cwd)
        if plugin is not None:
            raise InstallError(
                f"the skilltrack plugin is enabled in {plugin}; its hooks already track "
                "events, and registering them here too would count each one twice"
            )
        elsewhere = registered_elsewhere(args.scope, home, cwd)
        if elsewhere is not None:
            scope, other = elsewhere
            raise InstallError(
                f"skilltrack's hook is already registered in {other}; registering it here "
                "too would count each event twice (to move it, first run "
                f"`skilltrack-install --uninstall --scope {scope}`)"
            )
        return install(current, hook_command(sys.executable, str(hook_script())))
    except SettingsShapeError as exc:
        raise InstallError(f"{path}: {exc}; nothing was changed") from None


def _refresh_backup(backup: Path, target: Path, raw: bytes | None) -> None:
    """Make the backup the file as it is before this install (none if there is no file), with
    the file's permission bits: it may hold API keys in `env`."""
    if raw is None:
        # No file to back up, so uninstall will remove the file this install makes. A backup
        # of an earlier install's file may be the only copy of the user's settings: renamed
        # aside, not deleted.
        if backup.exists():
            older = backup.with_name(backup.name + ".old")
            backup.replace(older)
            print(f"  kept the backup of an earlier {target.name} as {older}")
        return
    write_atomically(backup, raw, mode=stat.S_IMODE(target.stat().st_mode) & 0o777)


def _backup_if_given_back(backup: Path, settings: Settings) -> bytes | None:
    """The backup's bytes if `settings` (ours removed) is what it holds, else None."""
    try:
        original = backup.read_bytes()
        return original if same_as_before_us(parse(original), settings) else None
    except FileNotFoundError:
        return None
    except (ValueError, RecursionError):
        return None  # edited by hand into something we cannot read: not ours to give back


def _drop_backup_if_redundant(backup: Path, settings: Settings) -> None:
    """Remove the backup once the file holds all it held but our entries; keep it (and say
    so) when the file has changed since, as it may hold what the user wants back."""
    try:
        original = parse(backup.read_bytes())
    except FileNotFoundError:
        return
    except (ValueError, RecursionError):
        original = None  # edited by hand into something we cannot read: theirs now
    if original is not None and nothing_else_changed(original, settings):
        backup.unlink()
    else:
        print(f"  kept {backup}, the file before skilltrack was installed: it has changed since")


def _write_uninstalled(path: Path, target: Path, backup: Path, wanted: Settings, new: bytes) -> int:
    if wanted == {} and not backup.exists() and target == path:
        # No backup: the file did not exist before we made it. (Through a symlink the
        # user made since, the link's target is emptied instead: the link stays theirs.)
        path.unlink()
        print(f"removed {path}, which skilltrack had created")
    else:
        write_atomically(target, new)
        print(f"removed skilltrack's hooks from {path}")
        _drop_backup_if_redundant(backup, wanted)
    _mention_the_daemon()
    return 0


def _mention_the_daemon() -> None:
    """Say so if the daemon still runs: uninstalling stops new events, not the daemon (its
    reports and dashboard still answer), which a user may take for something left behind."""
    from skilltrack import paths
    from skilltrack.daemon.server.instance import running_pid

    try:
        running = running_pid(paths.resolve()) is not None
    except OSError:
        return  # cannot tell: nothing worth failing an uninstall for
    if running:
        print("  the daemon still runs (reports still work): stop it with skilltrack-daemon stop")


def _after(args: argparse.Namespace) -> int:
    if args.uninstall or args.dry_run or args.no_start:
        return 0
    from skilltrack import paths
    from skilltrack.cli.daemon import start

    try:
        return start(paths.resolve())  # a ControlError is said in the daemon's name
    except ConfigError as exc:  # a sink's key not in this environment, say
        raise InstallError(
            f"{exc}; the hook is registered, but the daemon was not started here (a hook "
            "starts it, with Claude Code's environment)"
        ) from None


def main(argv: Sequence[str] | None = None) -> int:
    return main_with(argv, home=Path.home(), cwd=Path.cwd())


def main_with(argv: Sequence[str] | None, *, home: Path, cwd: Path) -> int:
    args = parser().parse_args(argv)

    def failure(exc: Exception) -> str | None:
        return str(exc) if isinstance(exc, InstallError | OSError) else None

    return parsing.run(PROG, lambda: run(args, home, cwd), failure)


def parser() -> argparse.ArgumentParser:
    top = parsing.Parser(
        prog=PROG,
        description="Register skilltrack's hook in Claude Code's settings.json (or remove it).",
    )
    top.add_argument(
        "--scope",
        choices=["user", "project", "local"],
        default="user",
        help="user: ~/.claude/settings.json (default); project: ./.claude/settings.json; "
        "local: ./.claude/settings.local.json",
    )
    top.add_argument("--dry-run", action="store_true", help="print the change, write nothing")
    top.add_argument("--uninstall", action="store_true", help="remove exactly our entries")
    top.add_argument("--no-start", action="store_true", help="do not start the daemon")
    parsing.add_version(top)
    return top
