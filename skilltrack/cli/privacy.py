"""`skilltrack consent | snippets | config`: what is kept, and the user's say in it."""

from __future__ import annotations

import argparse
import contextlib
import json
from typing import TYPE_CHECKING, Any

from skilltrack.cli import db
from skilltrack.cli.parsing import UsageError
from skilltrack.format import iso, listing
from skilltrack.paths import Paths

if TYPE_CHECKING:
    from skilltrack.config import Settings
    from skilltrack.consent import Consent


def capture_state(settings: Settings, mine: Consent) -> dict[str, Any]:
    """Whether snippets are captured, and which of the two keys is missing if not."""
    policy = settings.capture.snippets
    return {
        "capturing": policy and mine.granted,
        "team_policy_allows": policy,
        "user_consent": mine.granted,
        "user_consent_changed_at": iso(mine.changed_at),
        "artifact_types": list(settings.capture.artifact_types) if policy else [],
        "snippet_chars": settings.capture.snippet_chars,
    }


def consent_command(args: argparse.Namespace, paths: Paths) -> int:
    settings = _settings(paths)
    if args.delete and args.action != "revoke":
        raise UsageError("--delete goes with `consent revoke`")
    from skilltrack import consent

    if args.action == "status":
        mine = consent.read(paths.consent)
    else:
        mine = consent.write(paths.consent, granted=args.action == "grant")
    state = capture_state(settings, mine)
    if args.delete:
        state["deleted_snippets"] = _delete_snippets(paths)
    if args.json:
        print(json.dumps(state, indent=2))
        return 0
    if args.action != "status":
        print(f"consent {'granted' if mine.granted else 'revoked'}; in effect from the next event")
    if state["capturing"]:
        kinds = ", ".join(state["artifact_types"])
        print(f"snippets ARE captured (uses of: {kinds}; at most {state['snippet_chars']} chars)")
    else:
        keys = (
            ("your team's policy (capture.snippets in the config)", "team_policy_allows"),
            ("your consent (skilltrack consent grant)", "user_consent"),
        )
        missing = [reason for reason, key in keys if not state[key]]
        print("snippets are NOT captured: off in " + " and ".join(missing))
    if args.delete:
        print(f"deleted {state['deleted_snippets']} captured snippets")
    return 0


def snippets_command(args: argparse.Namespace, paths: Paths) -> int:
    _settings(paths)  # a broken configuration file stops it, as it stops consent
    if args.action == "delete":
        deleted = _delete_snippets(paths)
        if args.json:
            print(json.dumps({"deleted": deleted}))
        else:
            print(f"deleted {deleted} captured snippets")
        return 0
    return listing(
        "snippets",
        _list_snippets(paths, args.limit),
        as_json=args.json,
        empty="no snippets captured",
        headers=["CAPTURED", "TYPE", "NAME", "STATUS", "INPUT", "OUTPUT"],
        row=lambda e: (
            e["created_at"],
            e["artifact_type"],
            e["artifact_name"],
            e["status"],
            _short(e["input_snippet"]),
            _short(e["output_snippet"]),
        ),
    )


def _short(text: str | None, width: int = 40) -> str | None:
    if text is None:
        return None
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _list_snippets(paths: Paths, limit: int) -> list[dict[str, Any]]:
    from skilltrack.daemon.store.database import Store

    rows = db.read_rows(paths, Store, lambda store: store.training_examples(limit))
    for row in rows:
        row["created_at"] = iso(row["created_at"])
    return rows


def _delete_snippets(paths: Paths) -> int:
    from skilltrack.daemon.store.database import Store

    return db.write(paths, Store, lambda store: store.delete_training_examples(), 0)


def config_command(args: argparse.Namespace, paths: Paths) -> int:
    settings = _settings(paths)
    _apply_enabled(paths, settings.enabled)
    data = settings.model_dump(mode="json")
    source = str(paths.config) if paths.config.exists() else None
    if args.json:
        print(json.dumps({"file": source, "settings": data}, indent=2))
        return 0
    print(f"# {source or f'no file at {paths.config}; the defaults'}")
    _print_toml(data)
    return 0


def _apply_enabled(paths: Paths, enabled: bool) -> None:
    """Put the hooks' pause marker in step with `enabled` (skilltrack/pause.py): they cannot
    read this file. Where the run directory is not safe, status and doctor say so."""
    from skilltrack import pause
    from skilltrack.paths import InsecurePathError

    with contextlib.suppress(OSError, InsecurePathError):
        pause.sync(paths, enabled)


def _settings(paths: Paths) -> Settings:
    from skilltrack import config  # pydantic: only the commands that read the file pay for it

    return config.load(paths.config)


def _print_toml(data: dict[str, Any], prefix: str = "") -> None:
    """`data` as TOML: plain keys first, then each table (nested ones as `[a.b]`); keys whose
    value is null (unset, TOML has no null) are left out."""
    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    for key, value in data.items():
        if key not in tables and value is not None:
            print(f"{key} = {json.dumps(value)}")
    for name, table in tables.items():
        if any(not isinstance(v, dict) for v in table.values()) or not table:
            print(f"\n[{prefix}{name}]")
        _print_toml(table, f"{prefix}{name}.")
