"""A month of made-up usage in a database of its own, for `skilltrack demo`.

One developer's Claude Code sessions over `DAYS` days in a handful of projects: built-in
tools (most uses), MCP tools of a few servers, skills (user, project and plugin ones, most in
two or three versions over the month, used through the Skill tool or typed as `/name`),
subagents (with the tool uses made inside them), typed commands, failures, the API requests
behind each session with their tokens and cost, and teammates' ratings of the skills.

Each event is a hook payload as Claude Code sends it, put through the daemon's own ingest
(`Ingest.parse`: sanitize, validate, classify, cap) and stored with `Store.insert`, so that
the summary tables are filled by the same triggers as real events; requests go in through the
usage task's `TokenStore.save` (the `token_days` trigger), ratings through `rate`. Uses are
stored whole (no spans held open), skill versions are given rather than read from disk.

Deterministic: the same seed and end time make the same events (ids included).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from skilltrack.config import Settings
from skilltrack.daemon.ingest import prices
from skilltrack.daemon.ingest.pipeline import Ingest
from skilltrack.daemon.ingest.skills import SkillLocator
from skilltrack.daemon.ingest.transcripts import Usage
from skilltrack.daemon.store.database import Store
from skilltrack.daemon.store.durations import bucket
from skilltrack.daemon.store.records import Record, SkillVersion
from skilltrack.daemon.store.tokens import Owner, RequestRow, ThreadState, TokenStore
from skilltrack.wire import RawFrame

DAYS = 30
SEED = 1
HOME = "/home/demo"  # the made-up user's home: stored paths show `~`
USER = "you"
TENANT = "demo-team"
BATCH = 2_000  # events per Store.insert

# Built-in tools: name, weight, median ms, failure rate, input.
TOOLS = (
    ("Read", 30, 12, 0.01, {"file_path": "{cwd}/src/app.py"}),
    ("Bash", 22, 900, 0.09, {"command": "pytest -q tests/"}),
    ("Edit", 14, 20, 0.05, {"file_path": "{cwd}/src/app.py", "old_string": "a", "new_string": "b"}),
    ("Grep", 9, 45, 0.01, {"pattern": "def handle", "path": "{cwd}"}),
    ("Glob", 5, 25, 0.0, {"pattern": "**/*.py"}),
    ("Write", 4, 18, 0.02, {"file_path": "{cwd}/docs/notes.md", "content": "..."}),
    ("TodoWrite", 4, 4, 0.0, {"todos": [{"content": "fix the flaky test", "status": "pending"}]}),
    ("WebFetch", 1.5, 2400, 0.12, {"url": "https://docs.python.org/3/library/asyncio.html"}),
    ("WebSearch", 1, 2900, 0.04, {"query": "sqlite wal checkpoint starvation"}),
)  # fmt: skip
MCP = (
    ("mcp__github__create_pull_request", 2, 1300, 0.06), ("mcp__github__get_issue", 3, 400, 0.02),
    ("mcp__github__search_code", 2, 900, 0.05), ("mcp__linear__list_issues", 2, 600, 0.03),
    ("mcp__linear__create_issue", 1, 700, 0.04), ("mcp__postgres__query", 3, 250, 0.11),
    ("mcp__sentry__get_issue_details", 1.5, 800, 0.08),
    ("mcp__playwright__browser_navigate", 1, 1800, 0.15),
    ("mcp__playwright__browser_snapshot", 1, 600, 0.05),
)  # fmt: skip
# Skills: name, source, weight, median ms of its work, failure rate, versions, teammates'
# ratings (stars, comment, hours saved).
Review = tuple[int, str | None, float]
SKILLS: tuple[tuple[str, str, float, float, float, int, list[Review]], ...] = (
    ("pdf-helper", "user", 5, 40_000, 0.03, 3,
     [(5, "fills forms in seconds", 2.0), (4, "misses scanned pages", 1.0)]),
    ("code-review", "user", 8, 90_000, 0.02, 2,
     [(5, "catches what I skim past", 3.0), (5, None, 2.5), (4, "a bit verbose", 1.0)]),
    ("release-notes", "project", 3, 60_000, 0.05, 2, [(4, "good first draft", 1.5)]),
    ("db-migrations", "project", 3, 120_000, 0.12, 3,
     [(3, "v2 forgot the down migration", 0.5), (4, None, 1.0)]),
    ("superpowers:brainstorming", "plugin", 4, 150_000, 0.01, 1, [(5, "better plans", 4.0)]),
    ("superpowers:test-driven-development", "plugin", 6, 300_000, 0.04, 2,
     [(4, "slower, fewer regressions", 2.0), (5, None, 3.0)]),
    ("docs-kit:api-docs", "plugin", 2, 80_000, 0.06, 2, [(2, "outdated examples", 0.0)]),
    ("incident-triage", "user", 1, 200_000, 0.08, 1, [(5, "saved a night on call", 6.0)]),
    ("commit-message", "user", 2, 8_000, 0.0, 1, []),
)  # fmt: skip
AGENTS = (("general-purpose", 4, "claude-sonnet-4-5"), ("Explore", 6, "claude-haiku-4-5"),
          ("Plan", 2, "claude-sonnet-4-5"), ("code-reviewer", 3, "claude-opus-4-5"),
          ("test-runner", 2, "claude-haiku-4-5"))  # fmt: skip
COMMANDS = (("review-pr", 3), ("standup", 2), ("fix-issue", 2), ("deploy-staging", 1),
            ("docs-kit:changelog", 1))  # fmt: skip
PROJECTS = (("shop-api", 5), ("web-frontend", 3), ("data-pipeline", 2), ("infra", 1),
            ("dotfiles", 0.5))  # fmt: skip
TEAMMATES = ("ana", "bo", "chen", "dee")
# Kinds of step in a session, with their weights.
STEPS = {"tool": 70, "mcp": 9, "skill": 8, "agent": 5, "command": 3}


@dataclass
class Demo:
    """What the generator made: events in batches, requests per session, ratings."""

    batches: list[list[Record]] = field(default_factory=list)
    requests: dict[str, list[RequestRow]] = field(default_factory=dict)
    ratings: list[tuple[str, str, int, str | None, float | None]] = field(default_factory=list)
    events: int = 0
    first: float = 0.0
    last: float = 0.0


def generate(seed: int = SEED, end: float = 0.0, days: int = DAYS) -> Demo:
    """`days` of sessions up to `end` (Unix time), made from `seed` alone."""
    rng = random.Random(seed)
    ingest = Ingest(
        Settings.model_validate({"tenant_id": TENANT, "user_id": USER}),
        SkillLocator(Path("/nonexistent-skilltrack-demo")),  # versions are given, not read
        lambda: False,
        HOME,
    )
    maker = _Maker(rng, ingest, end - days * 86400, end)
    demo = Demo()
    pending: list[Record] = []
    for day in range(math.floor(maker.start / 86400), math.floor(end / 86400) + 1):
        weekend = (day + 3) % 7 >= 5  # 1970-01-01 was a Thursday
        for _ in range(rng.randint(0, 2) if weekend else rng.randint(3, 7)):
            records, requests = maker.session(day)
            if records:
                pending += records
                demo.requests[records[0].row.session_id or ""] = requests
    pending.sort(key=lambda r: r.row.client_ts)
    demo.batches = [pending[i : i + BATCH] for i in range(0, len(pending), BATCH)]
    demo.events = len(pending)
    demo.first = pending[0].row.client_ts if pending else end
    demo.last = pending[-1].row.client_ts if pending else end
    used = {r.row.artifact_name for r in pending if r.row.artifact_type == "skill"}
    for name, *_rest, reviews in SKILLS:
        if name not in used:  # a rating is of a skill used (a short demo may not use all)
            continue
        for teammate, (stars, comment, hours) in zip(TEAMMATES, reviews, strict=False):
            demo.ratings.append((teammate, name, stars, comment, hours))
    return demo


@dataclass
class _Session:
    id: str
    cwd: str
    prompt: str = ""
    agent: tuple[str, str] | None = None  # (agent_id, agent_type) inside a subagent


class _Maker:
    def __init__(self, rng: random.Random, ingest: Ingest, start: float, end: float) -> None:
        self.rng, self.ingest, self.start, self.end = rng, ingest, start, end
        # Each skill's versions: (from when, SkillVersion), the first from before the month.
        self.versions: dict[str, list[tuple[float, SkillVersion]]] = {}
        for name, source, _w, _ms, _f, count, _r in SKILLS:
            edits = sorted(rng.uniform(start, end) for _ in range(count - 1))
            self.versions[name] = [
                (since, _version(name, source, k)) for k, since in enumerate([0.0, *edits])
            ]

    def session(self, day: int) -> tuple[list[Record], list[RequestRow]]:
        rng = self.rng
        ts = day * 86400.0 + rng.choice((8, 9, 10, 11, 13, 14, 15, 16, 17, 21)) * 3600
        ts = max(ts + rng.uniform(0, 3600), self.start)
        if ts >= self.end - 600:
            return [], []  # today's, after now: not yet
        project = rng.choices([p for p, _ in PROJECTS], [w for _, w in PROJECTS])[0]
        s = _Session(_uuid(rng), f"{HOME}/work/{project}")
        records = [self.event(s, ts, {"hook_event_name": "SessionStart", "source": "startup"})]
        requests: list[RequestRow] = []
        owner: Owner | None = None
        last = ts
        for _ in range(max(3, int(rng.lognormvariate(math.log(35), 0.7)))):
            ts = last + rng.lognormvariate(math.log(20), 1.0)
            if ts >= self.end - 600:  # room for a subagent's run: nothing after `end`
                break
            if rng.random() < 0.15 or not s.prompt:
                s.prompt, owner = _uuid(rng), None
            kind = rng.choices(list(STEPS), list(STEPS.values()))[0]
            made, ts = getattr(self, kind)(s, ts)
            records += made
            use = made[-1].row
            if kind in ("skill", "command") and use.success:
                owner = Owner(use.event_id, use.artifact_type or "", use.artifact_name or "")
            requests += self.requests(s, use.client_ts, owner, kind, made)
            last = ts
        end: dict[str, object] = {"hook_event_name": "SessionEnd", "reason": "prompt_input_exit"}
        records.append(self.event(s, last + 1, end))
        return records, requests

    def tool(self, s: _Session, ts: float) -> tuple[list[Record], float]:
        name, _w, ms, fail, given = self.rng.choices(TOOLS, [t[1] for t in TOOLS])[0]
        text = json.dumps(given).replace("{cwd}", s.cwd)
        return [self.call(s, ts, name, json.loads(text), ms, fail)], ts

    def mcp(self, s: _Session, ts: float) -> tuple[list[Record], float]:
        name, _w, ms, fail = self.rng.choices(MCP, [m[1] for m in MCP])[0]
        return [self.call(s, ts, name, {"query": "status:open label:bug"}, ms, fail)], ts

    def skill(self, s: _Session, ts: float) -> tuple[list[Record], float]:
        name, _src, _w, ms, fail, _n, _r = self.rng.choices(SKILLS, [k[2] for k in SKILLS])[0]
        version = [v for since, v in self.versions[name] if since <= ts][-1]
        if self.rng.random() < 0.25:  # typed as /name: the user's own choice
            record = self.typed(s, ts, name, "plugin" if ":" in name else "user", ms)
        else:
            record = self.call(s, ts, "Skill", {"skill": name}, ms, fail)
        # As the daemon records it when it finds the skill's SKILL.md (typed ones included).
        row = record.row._replace(
            artifact_type="skill", skill_id=version.skill_id, skill_version=version.version
        )
        return [Record(row, version)], ts

    def command(self, s: _Session, ts: float) -> tuple[list[Record], float]:
        name = self.rng.choices([c for c, _ in COMMANDS], [w for _, w in COMMANDS])[0]
        return [self.typed(s, ts, name, "plugin" if ":" in name else "project", 60_000)], ts

    def typed(self, s: _Session, ts: float, name: str, source: str, median: float) -> Record:
        """A `/name` the user typed, ended (as the daemon ends its span) by the turn's Stop."""
        record = self.event(s, ts, _typed(name, source))
        ms = int(self.rng.lognormvariate(math.log(median), 0.8))
        row = record.row._replace(duration_ms=ms, duration_bucket=bucket(ms), ended_by="Stop")
        return Record(row, record.skill)

    def agent(self, s: _Session, ts: float) -> tuple[list[Record], float]:
        rng = self.rng
        kind = rng.choices([a for a, _w, _m in AGENTS], [w for _a, w, _m in AGENTS])[0]
        began = ts
        s.agent = (f"a{rng.getrandbits(64):016x}", kind)
        inside = []
        for _ in range(rng.randint(2, 12)):
            ts += min(rng.lognormvariate(math.log(4), 0.8), 30.0)
            inside += self.tool(s, ts)[0]
        s.agent = None
        ts += rng.uniform(1, 10)
        ms = (ts - began) * 1000
        call = self.call(s, ts, "Agent", {"subagent_type": kind, "prompt": "look into it"},
                         ms, 0.04, exact=True)  # fmt: skip
        return [*inside, call], ts

    def call(self, s: _Session, ts: float, tool: str, given: dict[str, object], median: float,
             fail: float, *, exact: bool = False) -> Record:  # fmt: skip
        rng = self.rng
        ok = rng.random() >= fail
        ms = int(median if exact else rng.lognormvariate(math.log(median), 0.9))
        fields: dict[str, object] = {
            "tool_name": tool,
            "tool_input": given,
            "duration_ms": ms,
            "tool_use_id": f"toolu_01{rng.getrandbits(88):022x}",
        }
        if ok:
            fields.update(hook_event_name="PostToolUse", tool_response={"ok": True})
        else:
            error = rng.choice(("Exit code 1", "timed out", "permission denied", "not found"))
            fields.update(hook_event_name="PostToolUseFailure", error=error, is_interrupt=False)
        return self.event(s, ts, fields)

    def event(self, s: _Session, ts: float, fields: dict[str, object]) -> Record:
        rng = self.rng
        payload: dict[str, object] = {
            "session_id": s.id,
            "transcript_path": f"{HOME}/.claude/projects/{s.cwd.replace('/', '-')}/{s.id}.jsonl",
            "cwd": s.cwd,
            "prompt_id": s.prompt or None,
            "permission_mode": "default",
            **fields,
        }
        if s.agent is not None:
            payload["agent_id"], payload["agent_type"] = s.agent
        event_id = _event_id(rng, ts)
        raw = RawFrame(event_id, f"{ts:.6f}", "-", json.dumps(payload).encode())
        record = self.ingest.parse(raw)
        # As the daemon got it, a moment later; nothing held open, nothing to replay.
        row = record.row._replace(received_at=round(ts + 0.004, 6))
        return Record(row)

    def requests(self, s: _Session, ts: float, owner: Owner | None, kind: str,
                 made: list[Record]) -> list[RequestRow]:  # fmt: skip
        """The API requests of one step: one in the main thread, more inside a subagent."""
        rng = self.rng
        out = []
        run = None
        model = rng.choices(("claude-sonnet-4-5", "claude-opus-4-5"), (5, 1))[0]
        count = 1
        if kind == "agent":
            call = made[-1].row
            run = Owner(call.event_id, "agent", call.artifact_name or "")
            model = next(m for a, _w, m in AGENTS if a == call.artifact_name)
            count = len(made)
        for i in range(count):
            usage = Usage(
                input_tokens=rng.randint(3, 900),
                output_tokens=int(rng.lognormvariate(math.log(400), 0.9)),
                cache_5m_tokens=rng.randint(0, 6000),
                cache_1h_tokens=0,
                cache_read_tokens=int(rng.lognormvariate(math.log(40_000), 0.6)),
            )
            thread = made[i].row.agent_id or "" if run is not None else ""
            out.append(RequestRow(
                s.id, f"req_{rng.getrandbits(96):024x}", thread, s.prompt or None,
                ts - (count - i), made[-1].row.project, model, usage.input_tokens,
                usage.output_tokens, usage.cache_5m_tokens, usage.cache_1h_tokens,
                usage.cache_read_tokens,
                prices.cost(usage, prices.price_of(model, prices.PRICES), model),
                owner if run is None else None, run,
            ))  # fmt: skip
        return out


def _typed(name: str, source: str) -> dict[str, object]:
    return {"hook_event_name": "UserPromptExpansion", "expansion_type": "slash_command",
            "command_name": name, "command_args": "", "command_source": source}  # fmt: skip


def _version(name: str, source: str, k: int) -> SkillVersion:
    if source == "plugin":
        plugin, _, short = name.partition(":")
        location = f"~/.claude/plugins/cache/{plugin}/skills/{short}"
    elif source == "project":
        location = f"~/work/shop-api/.claude/skills/{name}"
    else:
        location = f"~/.claude/skills/{name}"
    skill_id = hashlib.sha256(f"{source}\n{location}\n{name}".encode()).hexdigest()[:16]
    content = hashlib.sha256(f"{name} version {k + 1}".encode()).hexdigest()
    description = f"{name.partition(':')[2] or name}: made-up skill for the demo (v{k + 1})"
    return SkillVersion(skill_id, content[:12], name, source, location, description, content, 0.0)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _event_id(rng: random.Random, ts: float) -> str:
    """A UUID version 7 of `ts`, as the hook makes ids, its random bits from `rng`."""
    bits = int(ts * 1000) << 80 | 7 << 76 | rng.getrandbits(12) << 64 | 0b10 << 62
    return str(uuid.UUID(int=bits | rng.getrandbits(62)))


async def write(demo: Demo, db: Path) -> None:
    """Store `demo` in a new database at `db` (through the daemon's own stores)."""
    from skilltrack.daemon.report.queries import ReportStore

    store = await Store.open(db)
    try:
        for batch in demo.batches:
            await store.insert(batch)
    finally:
        await store.close()
    tokens = await TokenStore.open(db)
    try:
        for session, rows in demo.requests.items():
            for thread in sorted({r.thread for r in rows}):
                mine = [r for r in rows if r.thread == thread]
                await tokens.save(session, thread, mine, ThreadState(offset=len(mine)))
    finally:
        await tokens.close()
    ratings = await ReportStore.open(db)
    try:
        for user, skill, stars, comment, hours in demo.ratings:
            await ratings.rate(user, skill, stars, comment, hours)
    finally:
        await ratings.close()
