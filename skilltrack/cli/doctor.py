"""`skilltrack doctor`: what a user needs to know to trust that tracking works, a line each.

Each check returns a Finding; any `fail` makes the command exit 1. The `python` check runs
the interpreter each registered form of the hook would run (skilltrack/cli/hookpython.py).
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skilltrack.errors import ConfigError
from skilltrack.paths import Paths, trust_problem

if TYPE_CHECKING:
    from skilltrack.cli.hookpython import Interpreter

STALE_SPOOL_RECORDS = 1  # with the daemon running, the spool should drain within seconds
FALLBACK_NEWS_S = 86400  # a note from the hook's fallback older than a day is history
NEWER_FIRST = "put Python 3.8 or newer first on PATH as python3"


@dataclass(frozen=True)
class Finding:
    level: str  # ok | warn | fail
    check: str
    message: str


def check_hooks(home: Path, cwd: Path) -> list[Finding]:
    from skilltrack.installer.files import plugin_enabled, settings_path
    from skilltrack.installer.settings import EVENTS, installed_events

    places: list[tuple[Path, list[str]]] = []
    for scope in ("user", "project", "local"):
        path = settings_path(scope, cwd, home)
        if any(path == seen for seen, _ in places):
            continue  # run from the home folder, the project's settings are the user's
        try:
            events = installed_events(json.loads(path.read_bytes()))
        except FileNotFoundError:
            continue
        except ValueError:
            return [Finding("fail", "hooks", f"{path} is not valid JSON: Claude Code ignores it")]
        if events:
            places.append((path, events))
    plugin = plugin_enabled(home, cwd)
    if plugin is not None:
        places.append((plugin, ["(plugin)"]))
    if not places:
        return [Finding("fail", "hooks", "not registered anywhere: run skilltrack-install")]
    if len(places) > 1:
        where = ", ".join(str(p) for p, _ in places)
        return [
            Finding("fail", "hooks", f"registered more than once ({where}): events count twice")
        ]
    path, events = places[0]
    if events == ["(plugin)"]:
        return [Finding("ok", "hooks", f"the skilltrack plugin's hook, enabled in {path}")]
    missing = [e for e in EVENTS if e not in events]
    if missing:
        return [
            Finding(
                "warn",
                "hooks",
                f"registered in {path} but not for {', '.join(missing)}: run skilltrack-install",
            )
        ]
    return [Finding("ok", "hooks", f"registered in {path}")]


def check_python(paths: Paths, home: Path, cwd: Path) -> list[Finding]:
    """The interpreter each registered form of the hook runs: it must run and be 3.8 or
    newer; its start-up is what every tool call pays before the hook's own work."""
    import shlex

    from skilltrack.installer.files import plugin_enabled, scope_settings
    from skilltrack.installer.settings import our_commands

    findings = []
    for path, settings in scope_settings(home, cwd):
        for command in our_commands(settings):
            findings.append(_installed_python(shlex.split(command)[0], path))
    if plugin_enabled(home, cwd) is not None:
        findings += _plugin_python(paths)
    return findings


def _installed_python(python: str, settings: Path) -> Finding:
    found = _ask(python)
    if isinstance(found, str):
        return Finding("fail", "python", f"{python} ({settings}) {found}: run skilltrack-install")
    if found.too_old:
        return Finding("fail", "python", f"{python} ({settings}): {_too_old(found)}")
    return Finding("ok", "python", f"the hook runs {_described(found)}")


def _plugin_python(paths: Paths) -> list[Finding]:
    """The plugin's hook runs the interpreter its launcher kept, else python3 from PATH."""
    from skilltrack.cli.hookpython import on_path

    located = on_path()
    on_path_found = _ask(located) if located else f"none on PATH ({os.environ.get('PATH', '')})"
    label = f"python3 on PATH, {located}" if located else "python3"
    kept = _kept_python(paths)
    if kept is None:
        if isinstance(on_path_found, str):
            why = f"{label}: {on_path_found}: the plugin's hook cannot run, and each event is lost"
            return [Finding("fail", "python", why)]
        if on_path_found.too_old:
            why = f"{label}: {_too_old(on_path_found)}; {NEWER_FIRST}"
            return [Finding("fail", "python", why)]
        message = f"the plugin's hook runs python3 from PATH: {_described(on_path_found)}"
        if on_path_found.is_shim:
            message += f"; from its second run on, {_behind(on_path_found)} directly"
        return [Finding("ok", "python", message)]
    found = _ask(kept)
    if isinstance(found, str):
        why = f"{kept} {found}: the plugin's hook fails; delete {paths.hook_python}"
        return [Finding("fail", "python", why)]
    if found.too_old:
        why = f"{kept}, kept in {paths.hook_python}: {_too_old(found)}; its next run forgets it"
        return [Finding("fail", "python", why)]
    message = f"the plugin's hook runs {_described(found)}, kept in {paths.hook_python}"
    if isinstance(on_path_found, str) or on_path_found.too_old:
        why = on_path_found if isinstance(on_path_found, str) else _too_old(on_path_found)
        later = (
            f"{label}: {why}; it runs the hook once {paths.hook_python} "
            f"is gone (a plugin update); {NEWER_FIRST}"
        )
        return [Finding("ok", "python", message), Finding("warn", "python", later)]
    return [Finding("ok", "python", f"{message}; python3 on PATH: {_described(on_path_found)}")]


def _ask(python: str) -> Interpreter | str:
    """What `python` is (or, as a string, why it could not say)."""
    from skilltrack.cli.hookpython import ProbeError, probe

    try:
        return probe(python)
    except ProbeError as exc:
        return str(exc)


def _described(found: Interpreter) -> str:
    text = f"{found.path} (Python {found.version_text}), {found.start_ms:.0f} ms to start"
    return f"{text}, a shim for {found.executable}" if found.is_shim else text


def _behind(shim: Interpreter) -> str:
    behind = _ask(shim.executable)
    if isinstance(behind, str):
        return shim.executable
    return f"{shim.executable} ({behind.start_ms:.0f} ms to start)"


def _too_old(found: Interpreter) -> str:
    return (
        f"Python {found.version_text} is too old for the hook, which needs 3.8 or newer; a "
        "fallback keeps its events in the spool, without the daemon's acknowledgement or start"
    )


def _kept_python(paths: Paths) -> str | None:
    """The interpreter the plugin's launcher runs directly, if it would (hooks/
    skilltrack_hook.sh: an executable file named in run/hook-python)."""
    try:
        kept = paths.hook_python.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return kept if kept and os.access(kept, os.X_OK) else None


def check_fallback(paths: Paths) -> list[Finding]:
    """The hook ran its fallback (a Python too old for it, or a broken install) lately, and
    no interpreter was kept for the plugin's hook since: its note says when, which Python,
    why and in which folder (a project can pick its own python3)."""
    note_file = paths.hook_fallback_note
    try:
        note = json.loads(note_file.read_text())
        written = note_file.stat().st_mtime
    except (OSError, ValueError):
        return []
    try:
        superseded = paths.hook_python.stat().st_mtime > written
    except OSError:
        superseded = False
    age = time.time() - written
    if superseded or age > FALLBACK_NEWS_S or not isinstance(note, dict):
        return []
    message = (
        f"the hook ran its fallback {_ago(age)} ago, under {note.get('executable')} "
        f"(Python {note.get('python')}) in {note.get('cwd')}: {note.get('problem')}; the "
        f"events it kept wait in the spool (delete {note_file} once this is fixed)"
    )
    return [Finding("fail", "fallback", message)]


def hook_interpreters(paths: Paths, home: Path, cwd: Path) -> tuple[str, list[str]] | None:
    """Which form of the hook is registered ("settings" or "plugin") and the interpreters it
    runs, None if none is."""
    import shlex

    from skilltrack.installer.files import plugin_enabled, scope_settings
    from skilltrack.installer.settings import our_commands

    pythons = [
        shlex.split(command)[0]
        for _, settings in scope_settings(home, cwd)
        for command in our_commands(settings)
    ]
    if pythons:
        return "settings", pythons
    if plugin_enabled(home, cwd) is None:
        return None
    from skilltrack.cli.hookpython import on_path

    kept, located = _kept_python(paths), on_path()
    return "plugin", [p for p in (kept, located) if p]


def daemon_for_hook(pythons: list[str]) -> str | None:
    """The skilltrack-daemon a hook run by one of `pythons` would start, as the hook looks
    for it (hooks/skilltrack_hook_core.py: beside its interpreter, else on PATH's absolute
    folders), or None."""
    folders = [os.path.dirname(p) for p in pythons]
    folders += [d for d in os.environ.get("PATH", "").split(":") if d.startswith("/")]
    for folder in folders:
        candidate = os.path.join(folder, "skilltrack-daemon")
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def check_daemon(
    paths: Paths, status: dict[str, Any], hook: tuple[str, list[str]] | None
) -> list[Finding]:
    if not status["running"]:
        if status["tracking"]["paused"] and "problem" not in status:
            # No hook starts it while paused, and none needs it.
            why = "not running; tracking is paused, and the first hook after resuming starts it"
            return [Finding("ok", "daemon", why)]
        return [Finding("fail", "daemon", _not_running(status, hook))]
    findings = [
        Finding("ok", "daemon", f"running (pid {status['pid']}), answering on {paths.socket}")
    ]
    if not status["store"]["healthy"]:
        findings.append(
            Finding("fail", "store", f"failing, retrying: {status['store']['last_error']}")
        )
    dropped = status["counters"]["dropped"]
    if dropped:
        findings.append(Finding("warn", "drops", f"events lost since start: {dropped}"))
    return findings


def _not_running(status: dict[str, Any], hook: tuple[str, list[str]] | None) -> str:
    """Why the daemon is not running, and whether the next hook will start it."""
    if "problem" in status:
        return f"not running: {status['problem']}"
    if hook is None:
        return "not running, and no hook is registered to start it: run skilltrack-install"
    form, pythons = hook
    found = daemon_for_hook(pythons)
    if found is not None:
        return f"not running: the next hook starts it ({found}), or run skilltrack-daemon start"
    where = f"beside {pythons[0]} or on PATH" if pythons else "on PATH"
    owner = "the plugin's hook" if form == "plugin" else "the hook"
    fix = "scripts/install --commands-only" if form == "plugin" else "skilltrack-install"
    return (
        f"not running, and {owner} cannot start it: no skilltrack-daemon {where}; "
        f"events wait in the spool until you run {fix}"
    )


def check_tracking(paths: Paths, status: dict[str, Any]) -> list[Finding]:
    """Whether hooks keep events; paused (a choice, so a warning), with how to resume."""
    from skilltrack.cli.daemon import tracking_line

    line = tracking_line(status["tracking"], paths)
    return [Finding("ok" if line == "on" else "warn", "tracking", line)]


def check_config(paths: Paths) -> list[Finding]:
    from skilltrack import config, consent

    try:
        settings = config.load(paths.config)
    except ConfigError as exc:
        return [Finding("fail", "config", f"{exc}: the daemon will not start until it is fixed")]
    where = str(paths.config) if paths.config.exists() else "no file, the defaults"
    mine = consent.read(paths.consent)
    capture = (
        "snippets captured"
        if settings.capture.snippets and mine.granted
        else "no snippets captured"
    )
    return [
        Finding(
            "ok",
            "config",
            f"{where} (tenant {settings.tenant_id}, user {settings.user_id}; {capture})",
        )
    ]


def check_permissions(paths: Paths) -> list[Finding]:
    unsafe = trust_problem(paths)
    if unsafe is not None:
        why = (
            f"{unsafe}; nothing is stored there until it is fixed (hooks keep events "
            "privately meanwhile)"
        )
        return [Finding("fail", "permissions", why)]
    findings = []
    for path, private_mode in (
        (paths.run_dir, 0o700),
        (paths.socket, 0o600),
        (paths.db, 0o600),
        (paths.spool_dir, 0o700),
        (paths.consent, 0o600),
    ):
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            findings.append(
                Finding(
                    "fail",
                    "permissions",
                    f"{path} is open to other users (mode {mode:o}); "
                    f"run: chmod {private_mode:o} {path}",
                )
            )
    return findings or [Finding("ok", "permissions", "socket, database and spool are yours alone")]


def check_data(status: dict[str, Any]) -> list[Finding]:
    db, spool = status["database"], status["spool"]
    findings = []
    if "error" in db:
        findings.append(Finding("fail", "database", f"unreadable: {db['error']}"))
    elif db["last_event_at"] is None:
        findings.append(
            Finding("warn", "events", "none received yet: use Claude Code, then look again")
        )
    else:
        ago = time.time() - datetime.fromisoformat(db["last_event_at"]).timestamp()
        findings.append(
            Finding(
                "ok",
                "events",
                f"{db['events']} stored, the last {_ago(ago)} ago ({db['last_event_at']})",
            )
        )
    if spool["fallback_records"]:
        where = status["paths"]["fallback"]
        findings.append(
            Finding(
                "fail",
                "spool",
                f"{spool['fallback_records']} events kept in {where}, memory-backed: stored "
                "once the daemon runs; lost if the machine restarts first",
            )
        )
    if spool["records"] >= STALE_SPOOL_RECORDS:
        level = "warn" if status["running"] else "fail"
        findings.append(
            Finding(
                level, "spool", f"{spool['records']} events waiting in {status['paths']['spool']}"
            )
        )
    else:
        findings.append(Finding("ok", "spool", "empty"))
    return findings


def doctor_command(args: argparse.Namespace, paths: Paths) -> int:
    return report(diagnose(paths, Path.home(), Path.cwd()), as_json=args.json)


def diagnose(paths: Paths, home: Path, cwd: Path) -> list[Finding]:
    from skilltrack.daemon.server.control import collect_status

    # Before status, which opens the database: that makes a database open to others private.
    permissions = check_permissions(paths)
    status = collect_status(paths)
    return [
        *check_hooks(home, cwd),
        *check_python(paths, home, cwd),
        *check_fallback(paths),
        *check_config(paths),
        *check_tracking(paths, status),
        *check_daemon(paths, status, hook_interpreters(paths, home, cwd)),
        *permissions,
        *check_data(status),
    ]


def report(findings: list[Finding], *, as_json: bool) -> int:
    if as_json:
        print(json.dumps([asdict(f) for f in findings], indent=2))
    else:
        for f in findings:
            print(f"{f.level.upper():<5} {f.check:<12} {f.message}")
    return 1 if any(f.level == "fail" for f in findings) else 0


def _ago(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{max(seconds, 0):.0f}s"
