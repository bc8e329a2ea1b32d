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
import json
import math
import os
import re
import stat
import sys
import tempfile
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from skilltrack.errors import ConfigError
from skilltrack.installer.settings import (
    Settings,
    SettingsShapeError,
    check_shape,
    hook_command,
    install,
    installed_events,
    nothing_else_changed,
    same_as_before_us,
    uninstall,
)

BACKUP_SUFFIX = ".skilltrack-backup"
PLUGIN_NAME = "skilltrack"


class InstallError(Exception):
    """A one-line reason to change nothing."""


class NumberOutOfRangeError(ValueError):
    """A JSON number too large for a double: read as infinity, it could not be written back."""


def settings_path(scope: str, cwd: Path, home: Path) -> Path:
    if scope == "user":
        return home / ".claude" / "settings.json"
    if scope == "project":
        return cwd / ".claude" / "settings.json"
    return cwd / ".claude" / "settings.local.json"


def hook_script() -> Path:
    """The installed hook script (resolved: an editable install points into the checkout)."""
    return Path(str(resources.files("skilltrack.hook") / "skilltrack_hook.py")).resolve()


def settings_target(path: Path) -> Path:
    """The file that holds `path`'s settings: a symlink's target (a dotfiles setup), so that
    writing replaces the target and the link stays. A link that leads nowhere is refused:
    writing there would silently replace the user's link with a file."""
    if not path.is_symlink():
        return path
    try:
        return Path(os.path.realpath(path, strict=True))
    except OSError as exc:
        raise InstallError(
            f"{path} is a symlink to {os.readlink(path)}, which cannot be read "
            f"({exc.strerror}); fix or remove the link, nothing was changed"
        ) from None


def parse(raw: bytes) -> Any:
    """The JSON in `raw`, refusing (ValueError) what we could not write back unchanged for
    Node's JSON.parse: NaN and Infinity are not JSON, and a number beyond a double's range
    would come back as Infinity."""
    return json.loads(raw, parse_constant=_not_json, parse_float=_finite_float)


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise NumberOutOfRangeError(f"the number {text} is too large for a JSON reader")
    return value


def read_settings(path: Path) -> tuple[Any, bytes | None]:
    """(parsed settings, the file's bytes), an empty object if there is no file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}, None
    try:
        return parse(raw), raw
    except NumberOutOfRangeError as exc:
        raise InstallError(
            f"{path}: {exc} (it would be written back as Infinity, which is not JSON); "
            "fix it, nothing was changed"
        ) from None
    except RecursionError:
        raise InstallError(
            f"{path} is nested too deeply to edit safely; nothing was changed"
        ) from None
    except ValueError as exc:  # UnicodeDecodeError is one too
        raise InstallError(
            f"{path} is not valid JSON ({exc}); comments and trailing commas are not "
            "JSON either; fix it or remove it, nothing was changed"
        ) from None


def render(settings: Any, like: bytes | None) -> bytes:
    """JSON text for `settings`, indented like the file it replaces (two spaces if new)."""
    indent = _indent_of(like) if like else 2
    # allow_nan=False: never write a literal that JSON.parse refuses (parse() keeps them out).
    text = json.dumps(settings, indent=indent, ensure_ascii=False, allow_nan=False)
    return (_escape_lone_surrogates(text) + "\n").encode()


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape_lone_surrogates(text: str) -> str:
    """`text` with each lone surrogate written as the escape it was read from.

    Only an escape such as `\\ud83d` puts one in a parsed string (UTF-8 cannot hold one, and
    a valid pair is read as one character); it cannot be encoded as UTF-8, and written back
    as an escape it is exactly what the file held. It can only be inside a string literal.
    """
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _indent_of(raw: bytes) -> int | str:
    for line in raw.decode("utf-8", "replace").splitlines()[1:]:
        stripped = line.lstrip(" \t")
        if stripped and len(stripped) < len(line):
            lead = line[: len(line) - len(stripped)]
            return "\t" if lead.startswith("\t") else len(lead)
    return 2


def write_atomically(path: Path, data: bytes, mode: int | None = None) -> None:
    """Replace `path` with `data` in one rename, with `mode`, else the mode `path` has, else
    the umask's default. The temporary file is created private (mkstemp: 0600) and given its
    mode before it takes the name, so the file never appears more readable than that."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_config() -> None:
    """Refuse, before anything is written, a configuration file the daemon would not start
    with: otherwise the hooks would be registered for a daemon that cannot run. (Not the
    sinks' keys from the environment: a daemon the hook starts has Claude Code's.)"""
    from skilltrack import config, paths

    try:
        config.load(paths.resolve().config)
    except ConfigError as exc:
        raise InstallError(
            f"{exc}; the daemon cannot start with it (check with: skilltrack config), "
            "nothing was changed"
        ) from None


def _every_scope(home: Path, cwd: Path) -> Iterator[tuple[str, Path, Any]]:
    """Each scope, its settings file and what it holds, for the files that read as JSON:
    Claude Code runs the hooks and plugins of all of them."""
    for scope in ("user", "project", "local"):
        path = settings_path(scope, cwd, home)
        try:
            settings = json.loads(path.read_bytes())
        except (OSError, ValueError):
            continue
        yield scope, path, settings


def plugin_enabled(home: Path, cwd: Path) -> Path | None:
    """The settings file that enables the skilltrack plugin, if any does."""
    for _, path, settings in _every_scope(home, cwd):
        enabled = settings.get("enabledPlugins", {}) if isinstance(settings, dict) else {}
        if isinstance(enabled, dict) and any(
            on and str(name).split("@")[0] == PLUGIN_NAME for name, on in enabled.items()
        ):
            return path
    return None


def registered_elsewhere(scope: str, home: Path, cwd: Path) -> tuple[str, Path] | None:
    """Another scope (and its settings file) that already registers skilltrack's hook, if
    any: each event would be counted twice."""
    here = settings_path(scope, cwd, home).resolve()
    for other, path, settings in _every_scope(home, cwd):
        if path.resolve() == here:  # this scope, or the same file (cwd is home)
            continue
        try:
            check_shape(settings)
        except SettingsShapeError:
            continue  # not ours to judge: its own install would refuse it
        if installed_events(settings):
            return other, path
    return None


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
        return start(paths.resolve())
    except ConfigError as exc:  # a sink's key not in this environment, say
        raise InstallError(
            f"{exc}; the hook is registered, but the daemon was not started here (a hook "
            "starts it, with Claude Code's environment)"
        ) from None


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
