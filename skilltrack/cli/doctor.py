"""`skilltrack doctor`: what a user needs to know to trust that tracking works, a line each.

Each check returns a Finding; any `fail` makes the command exit 1.
"""

from __future__ import annotations

import argparse
import json
import stat
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from skilltrack.errors import ConfigError
from skilltrack.paths import Paths

STALE_SPOOL_RECORDS = 1  # with the daemon running, the spool should drain within seconds


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
    missing = [e for e in EVENTS if e not in events] if events != ["(plugin)"] else []
    if missing:
        return [
            Finding(
                "warn",
                "hooks",
                f"registered in {path} but not for {', '.join(missing)}: run skilltrack-install",
            )
        ]
    return [Finding("ok", "hooks", f"registered in {path}")]


def check_daemon(paths: Paths, status: dict[str, Any]) -> list[Finding]:
    if not status["running"]:
        why = status.get("problem", "the next hook starts it, or run skilltrack-daemon start")
        return [Finding("fail", "daemon", f"not running: {why}")]
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

    status = collect_status(paths)
    return [
        *check_hooks(home, cwd),
        *check_config(paths),
        *check_daemon(paths, status),
        *check_permissions(paths),
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
