"""Make skilltrack-45b8c24.db: a database written by skilltrack's code at commit 45b8c24, the
last before its twelve migrations were squashed into one baseline (tests/test_schema.py opens
it with today's code). Run it with that commit's code installed, from this checkout:

    git worktree add /tmp/old 45b8c24
    (cd /tmp/old && python3 -m venv .venv && .venv/bin/pip install -e .)
    /tmp/old/.venv/bin/python tests/data/make_45b8c24_db.py tests/data/skilltrack-45b8c24.db

Everything goes through that code's own store: 300 uses of skills (two versions of one, a
plugin's), subagents (and what ran inside them), MCP tools, commands and built-in tools over
ten days in three projects, stored in an order that is not time's, with a resent event and
snippets; two sinks (one for skill events only) with delivered, dead-lettered, retried and
trimmed events; ratings; and a prune that deletes the two session events before the first use.
The old modules are imported by name at run time: this checkout's modules have moved since.
"""

from __future__ import annotations

import asyncio
import importlib
import random
import sys
import uuid
from pathlib import Path
from typing import Any

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z
DAY_S = 86400.0
SEED = 45
ARTIFACTS = [
    ("skill", "pdf", None, None),
    ("skill", "tools:fmt", "tools", None),
    ("agent", "Explore", None, None),
    ("mcp", "mcp__github__search", None, "github"),
    ("command", "deploy", None, None),
    ("tool", "Bash", None, None),
    ("tool", "Read", None, None),
]
CWDS = ["~/work/app", "~/work/site", "~/app"]


def main(out: Path) -> None:
    if out.exists():
        sys.exit(f"{out} exists: remove it first")
    asyncio.run(_write(out))


async def _write(out: Path) -> None:
    store = importlib.import_module("skilltrack.daemon.store")
    outbox = importlib.import_module("skilltrack.daemon.outbox")
    reports = importlib.import_module("skilltrack.daemon.reports")
    records = _records(store)
    db = await outbox.ForwardStore.open(out)
    try:
        team, market = (
            outbox.SinkSpec("team", "http", None),
            outbox.SinkSpec("market", "everyskill", ("skill",)),
        )
        await db.configure_sinks([team, market])
        for i in range(0, len(records), 40):
            await db.insert(records[i : i + 40])
        await db.insert(records[100:103])  # a resend: stored and counted once
        head = await db.head("team", 8, 0)  # the two session events first: left for prune
        dead = outbox.DeadLetter(head[6].ref, 400, "HTTP 400")
        await db.settle("team", [e.ref for e in head[2:6]], [dead])
        await db.record_error("team", "HTTP 503", retried=True)
        await db.trim("market", 20)
        await db.configure_sinks([team])  # market: no longer configured, keeps its backlog
    finally:
        await db.close()
    db = await reports.ReportStore.open(out)
    try:
        await db.rate("ann", "pdf", 4, "saves me time", 1.5)
        await db.rate("bob", "pdf", 2)
        await db.rate("bob", "pdf", 3, "better now")  # replaces bob's
        await db.prune(START)  # the two session events of the day before
    finally:
        await db.close()


def _records(store: Any) -> list[Any]:
    durations = importlib.import_module("skilltrack.daemon.durations")
    projects = importlib.import_module("skilltrack.daemon.projects")
    rng = random.Random(SEED)
    versions = [
        store.SkillVersion(
            "sk-pdf", v, "pdf", "user", "~/.claude/skills/pdf", f"pdf {v}", v * 8, at
        )
        for v, at in (("aaaa", START), ("bbbb", START + 5 * DAY_S))
    ]

    def row(ts: float, **fields: Any) -> Any:
        cwd = fields.pop("cwd", rng.choice(CWDS))
        base: dict[str, Any] = dict(
            event_id=str(uuid.uuid4()), hook_event="PostToolUse", client_ts=ts,
            received_at=ts + 0.02, session_id=rng.choice(["s1", "s2", "s3"]), prompt_id=None,
            tool_use_id=None,
            tool_name=None, artifact_type=None, artifact_name=None, plugin=None, mcp_server=None,
            agent_id=None, agent_type=None, success=None, duration_ms=None, cwd=cwd,
            truncated=False, payload='{"hook_event_name":"PostToolUse"}', tenant_id="acme",
            user_id="ann", project=projects.project_of(cwd),
        )  # fmt: skip
        base.update(fields)
        if base["duration_ms"] is not None:
            base["duration_bucket"] = durations.bucket(base["duration_ms"])
        return store.EventRow(**base)

    out = [
        store.Record(row(START - DAY_S + i, hook_event="SessionStart", payload="{}"))
        for i in range(2)
    ]
    for _ in range(300):
        kind, name, plugin, server = rng.choice(ARTIFACTS)
        ts = START + rng.uniform(0, 10 * DAY_S)
        ms = None if rng.random() < 0.1 else int(rng.lognormvariate(5, 1.5))
        fields: dict[str, Any] = dict(
            tool_name={"skill": "Skill", "agent": "Agent", "command": None}.get(kind, name),
            artifact_type=kind, artifact_name=name, plugin=plugin, mcp_server=server,
            success=rng.random() > 0.2, duration_ms=ms,
        )  # fmt: skip
        if kind == "command":
            fields["hook_event"] = "UserPromptExpansion"
        if kind == "tool" and rng.random() < 0.3:
            fields.update(agent_id="a1", agent_type=rng.choice(["Explore", "Plan"]))
        skill = example = None
        if name == "pdf":
            skill = versions[0 if ts < START + 5 * DAY_S else 1]
            fields.update(skill_id=skill.skill_id, skill_version=skill.version)
        r = row(ts, **fields)
        if name == "pdf" and rng.random() < 0.3:
            example = store.TrainingExample(
                r.event_id, ts, "acme", "ann", kind, name, r.skill_id, r.skill_version,
                "make a pdf of ~/notes.md", "wrote ~/notes.pdf",
            )  # fmt: skip
        out.append(store.Record(r, skill, example))
    return out


if __name__ == "__main__":
    main(Path(sys.argv[1]))
