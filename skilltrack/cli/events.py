"""`skilltrack events` and `skilltrack skills`: what was stored, for people and programs."""

from __future__ import annotations

import argparse
import json
from typing import Any

from skilltrack.cli import db
from skilltrack.fields import event_fields
from skilltrack.format import iso, listing
from skilltrack.paths import Paths


def events_command(args: argparse.Namespace, paths: Paths) -> int:
    from skilltrack.daemon.store.database import Store

    rows = db.read_rows(
        paths, Store, lambda s: s.recent_events(args.limit, with_payload=args.payload)
    )
    return listing(
        "events",
        [event_json(r) for r in rows],
        as_json=args.json,
        empty="no events stored yet",
        headers=["TIME", "EVENT", "TYPE", "NAME", "RESULT", "MS", "SUBAGENT"],
        row=lambda e: (
            e["client_time"],
            e["hook_event"],
            e["artifact_type"],
            e["artifact_name"] or e["tool_name"],
            {True: "ok", False: "FAIL", None: None}[e["success"]],
            e["duration_ms"],
            e["agent_type"],
        ),
    )


def skills_command(args: argparse.Namespace, paths: Paths) -> int:
    from skilltrack.daemon.store.database import Store

    found = db.read_rows(paths, Store, lambda s: s.skills())
    return listing(
        "skills",
        [skill_json(r) for r in found],
        as_json=args.json,
        empty="no skill used yet",
        headers=["SKILL", "SOURCE", "VERSION", "VERSIONS", "USES", "LAST USED", "WHERE"],
        row=lambda s: (
            s["name"],
            s["source"],
            s["current_version"],
            len(s["versions"]),
            s["uses"],
            s["last_seen"],
            s["location"],
        ),
    )


def event_json(row: dict[str, Any]) -> dict[str, Any]:
    """An `events` row as `events --json` shows it."""
    event = event_fields(row)
    if "payload" in event:
        event["payload"] = json.loads(event["payload"])
    return event


def skill_json(row: dict[str, Any]) -> dict[str, Any]:
    """A skill with its versions, newest first, as `skills --json` shows it."""
    skill = dict(row)
    skill["first_seen"], skill["last_seen"] = iso(row["first_seen"]), iso(row["last_seen"])
    versions = []
    for v in row["versions"]:
        version = dict(v)
        version["first_seen"], version["last_seen"] = iso(v["first_seen"]), iso(v["last_seen"])
        versions.append(version)
    skill["versions"] = versions
    skill["current_version"] = versions[0]["version"] if versions else None
    skill["uses"] = sum(v["uses"] for v in versions)
    return skill
