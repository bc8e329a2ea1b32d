"""A database of N events of realistic shape, written through the daemon's own store.

What the reports benchmark reads: ~90 days (UTC days up to now) of one heavy user's Claude
Code sessions in a few dozen projects, each session a SessionStart, a run of uses and a
SessionEnd. About 380 artifacts: built-in tools (most of the uses), MCP tools of a dozen
servers, skills (user, project and plugin ones, each in one to four versions over the
period, used through the Skill tool or typed as `/name`), subagents (the tool uses that
follow one carry its `agent_id` and `agent_type`), and typed commands. Popularity within each
kind is Zipf-like; failure rates and durations (log-normal) differ per artifact; weekends
and nights are quieter, and use grows over the period.

Every event is an `EventRow` as the daemon's enrichment makes it: the payload is the compact
JSON text Claude Code sends, with home paths already shortened to `~` and tool inputs and
outputs cut to the default 4,096-character caps (with the daemon's truncation marker); the
duration bucket and project are computed by the daemon's own functions. Rows go in through
`Store.insert` (5,000 per transaction) on a database made by `Store.open`, so the real
migrations' triggers fill every summary table (artifact_summary, artifact_running,
artifact_durations, daily_uses, skills, skill_versions) as the daemon's commits would. The
generator also counts what the reports should answer (uses per kind, session, project and
since a cutoff), for the checks.

With the events, the API requests Claude Code's transcripts would hold (docs/tokens.md): one
per tool call (the request that issued it) and each prompt's and subagent run's last answer,
owned as the usage task owns them: a successful Skill call owns its thread's later requests in
the prompt, a typed `/name` its prompt's from the first, a subagent run every request of its
thread (and a skill called inside it its share of them), the rest being the session's own.
Each session has a model (a few, one in a provider's spelling; some subagent types on Haiku)
and a thread's cache reads grow with its context; cost is the shipped prices'. They are stored
after their batch of events through the usage task's own INSERT on `requests`, so its triggers
fill token_days, token_versions and token_sessions (tests/test_bench_requests.py checks that
this equals a pass per thread through `TokenStore.save`), and counted for the checks (tokens in
all, since the cutoff, per session, project and skill version).
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import hashlib
import json
import math
import multiprocessing
import random
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from skilltrack.daemon.ingest import prices
from skilltrack.daemon.ingest.enrich import truncation_marker
from skilltrack.daemon.ingest.projects import project_of
from skilltrack.daemon.ingest.transcripts import Usage
from skilltrack.daemon.store import durations, tokens
from skilltrack.daemon.store.records import EventRow, Record, SkillVersion
from skilltrack.daemon.store.tokens import Owner, RequestRow, TokenStore

DAYS = 90
BATCH = 5_000  # events per Store.insert (one transaction)
AHEAD_DAYS = 2  # days drawn ahead of the one being inserted
CAP = 4096  # the default max_input_chars / max_output_chars
SEED = 20261201
USER = "ann"
SHARES = {"tool": 0.64, "mcp": 0.16, "skill": 0.10, "agent": 0.05, "command": 0.05}
# Built-in tools: (name, weight, median ms, failure rate, input chars, output chars).
TOOLS = (
    ("Read", 25, 15, 0.02, 60, 2600), ("Bash", 22, 400, 0.10, 90, 700),
    ("Edit", 12, 25, 0.05, 700, 900), ("Grep", 8, 60, 0.01, 80, 500),
    ("Glob", 5, 30, 0.01, 50, 400), ("TodoWrite", 5, 5, 0.0, 600, 100),
    ("Write", 4, 20, 0.02, 1800, 120), ("MultiEdit", 2, 30, 0.06, 1200, 900),
    ("WebFetch", 1, 2500, 0.12, 120, 2500), ("WebSearch", 1, 3000, 0.05, 80, 2000),
    ("BashOutput", 1, 20, 0.03, 40, 900), ("LS", 1, 10, 0.01, 50, 600),
    ("NotebookEdit", 0.2, 40, 0.05, 500, 200), ("KillShell", 0.2, 10, 0.02, 40, 60),
    ("ExitPlanMode", 0.3, 5, 0.0, 900, 60), ("SlashCommand", 0.3, 10, 0.02, 40, 80),
)  # fmt: skip
MCP_SERVERS = ("github", "linear", "slack", "postgres", "sentry", "notion", "playwright",
               "filesystem", "jira", "figma", "datadog", "stripe")  # fmt: skip
VERBS = ("get", "list", "search", "create", "update", "query", "describe", "fetch")
NOUNS = ("issue", "pull_request", "comment", "file", "table", "event", "page", "user",
         "project", "run", "alert", "message")  # fmt: skip
WORDS = ("pdf", "review", "deploy", "release", "test", "lint", "docs", "schema", "api",
         "infra", "data", "sql", "triage", "bench", "perf", "audit", "ui", "auth", "cache",
         "notes", "plan", "style", "types", "ci", "helm", "k8s", "migrate", "spec", "prompt",
         "debug")  # fmt: skip
PLUGINS = ("acme-tools", "superpowers", "docs-kit", "data-eng", "frontend", "secops",
           "release-kit", "ml-ops", "qa-suite", "writing")  # fmt: skip
AGENTS = ("general-purpose", "Explore", "Plan", "code-reviewer", "test-runner", "debugger",
          "security-auditor", "doc-writer", "refactorer", "migrator", "perf-analyst",
          "api-designer", "db-expert", "frontend-dev", "release-manager", "triager",
          "researcher", "data-analyst", "ops-oncall", "style-checker")  # fmt: skip
PROJECTS = 40
CORPUS_CHARS = 1 << 18
# A session's model (the API's names; one Bedrock spelling): (name, weight). Subagents of
# these types run on Haiku, the others on their session's model.
MODELS = (
    ("claude-opus-4-5-20251101", 40), ("claude-sonnet-4-5-20250929", 30),
    ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", 5), ("claude-opus-4-1-20250805", 5),
    ("claude-sonnet-4-20250514", 5), ("claude-haiku-4-5-20251001", 15),
)  # fmt: skip
HAIKU = "claude-haiku-4-5-20251001"
HAIKU_AGENTS = frozenset({"Explore", "triager", "style-checker"})
PROMPT_CONTEXT = 18_000  # tokens of a thread's first request (system prompt, tools): written
AGENT_CONTEXT = 9_000
COMPACT_AT = 160_000  # a thread's context past this is compacted back to its start
ONE_HOUR_SHARE = 0.2  # sessions whose cache writes are kept an hour
Sums = list[float]  # as the report's: requests, input, output, cache writes, reads, cost, unpriced


@dataclass(frozen=True)
class Artifact:
    kind: str
    name: str
    weight: float
    median_ms: float | None  # None: no duration (a typed /command)
    fail_rate: float
    in_chars: int
    out_chars: int
    tool_name: str | None = None  # what Claude Code names the tool (Skill, Task, mcp__…)
    plugin: str | None = None
    mcp_server: str | None = None
    versions: tuple[tuple[float, SkillVersion], ...] = ()  # (from when, version) for skills


@dataclass
class Built:
    """What was written, and what the reports should find in it."""

    path: Path
    events: int = 0
    uses: int = 0  # events that are a use of an artifact (every report counts these)
    build_s: float = 0.0
    payload_chars: int = 0
    artifacts: set[tuple[str, str]] = field(default_factory=set)  # used ones
    skill_versions: set[tuple[str, str]] = field(default_factory=set)  # used ones
    first_ts: float = 0.0
    last_ts: float = 0.0
    since: float = 0.0  # a cutoff 30 days (rounded to the minute) before the end
    uses_since: int = 0
    by_kind: collections.Counter[str] = field(default_factory=collections.Counter)
    by_session: collections.Counter[str] = field(default_factory=collections.Counter)
    by_project: collections.Counter[str] = field(default_factory=collections.Counter)
    installed: list[str] = field(default_factory=list)  # user skills to install on disk
    requests: int = 0
    in_runs: int = 0  # requests of a subagent run
    models: set[str] = field(default_factory=set)
    tokens: Sums = field(default_factory=lambda: [0.0] * 7)  # every request
    tokens_since: Sums = field(default_factory=lambda: [0.0] * 7)  # from `since` on
    owned_by: collections.Counter[str] = field(default_factory=collections.Counter)  # kind
    tokens_by_session: dict[str, Sums] = field(default_factory=dict)
    tokens_by_project: dict[str, Sums] = field(default_factory=dict)
    sessions_by_project: dict[str, set[str]] = field(default_factory=dict)  # with requests
    tokens_by_version: dict[tuple[str, str], Sums] = field(default_factory=dict)
    version_of: dict[str, tuple[str, str]] = field(default_factory=dict)  # use event -> version

    @property
    def sessions(self) -> int:
        return len(self.by_session)


def _event_id(rng: random.Random, ts: float) -> str:
    """An id laid out as the hook makes it (a UUID version 7 of the client time: see
    `new_event_id` in hooks/skilltrack_hook_core.py), its random bits drawn from `rng`."""
    ms = int(ts * 1000)
    bits = ms << 80 | 7 << 76 | rng.getrandbits(12) << 64 | 0b10 << 62 | rng.getrandbits(62)
    return str(uuid.UUID(int=bits))


def _zipf(n: int, s: float = 1.1) -> list[float]:
    return [1 / (k + 1) ** s for k in range(n)]


def _version(skill_id: str, name: str, source: str, location: str, k: int) -> SkillVersion:
    content = hashlib.sha256(f"{skill_id}:{k}".encode()).hexdigest()
    return SkillVersion(skill_id, content[:12], name, source, location,
                        f"{name.replace('-', ' ')}: what it does and when to use it (v{k + 1})",
                        content, 0.0)  # fmt: skip


def artifacts(rng: random.Random, start: float, end: float) -> list[Artifact]:
    """The population, each artifact's weight its share of all uses."""
    out: list[Artifact] = []

    def add(kind: str, items: list[Artifact]) -> None:
        total = sum(a.weight for a in items)
        for a in items:
            out.append(dataclasses.replace(a, weight=SHARES[kind] * a.weight / total))

    add("tool", [Artifact("tool", n, w, ms, f, i, o, tool_name=n) for n, w, ms, f, i, o in TOOLS])
    mcp = [
        (server, f"mcp__{server}__{verb}_{noun}")
        for server in MCP_SERVERS
        for verb, noun in rng.sample([(v, n) for v in VERBS for n in NOUNS], rng.randint(6, 18))
    ]
    rng.shuffle(mcp)
    add("mcp", [
        Artifact("mcp", name, w, rng.lognormvariate(math.log(600), 0.8),
                 rng.uniform(0.01, 0.15), 150, 1200, tool_name=name, mcp_server=server)
        for (server, name), w in zip(mcp, _zipf(len(mcp)), strict=True)
    ])  # fmt: skip
    pairs = [f"{a}-{b}" for a in WORDS for b in WORDS if a != b]
    rng.shuffle(pairs)
    skills = []
    for i, w in enumerate(_zipf(160)):
        name = pairs[i]
        if i % 8 < 3:
            source, location = "user", f"~/.claude/skills/{name}"
        elif i % 8 < 5:
            source, location = "project", f"~/work/project-{i % PROJECTS:02d}/.claude/skills/{name}"
        else:
            plugin = PLUGINS[i % len(PLUGINS)]
            name = f"{plugin}:{name}"
            source = "plugin"
            location = f"~/.claude/plugins/cache/{plugin}/skills/{name.partition(':')[2]}"
        skill_id = hashlib.sha256(f"{source}\n{location}\n{name}".encode()).hexdigest()[:16]
        edits = sorted(rng.uniform(start, end) for _ in range(rng.choice((0, 0, 0, 1, 1, 2, 3))))
        versions = tuple(
            (since, _version(skill_id, name, source, location, k))
            for k, since in enumerate([-math.inf, *edits])
        )
        skills.append(Artifact("skill", name, w, rng.lognormvariate(math.log(40), 0.6),
                               rng.uniform(0.0, 0.06), 30, 80, tool_name="Skill",
                               plugin=name.partition(":")[0] if source == "plugin" else None,
                               versions=versions))  # fmt: skip
    add("skill", skills)
    agents = [f"{PLUGINS[i % 3]}:{a}" if i % 5 == 4 else a for i, a in enumerate(AGENTS)]
    add("agent", [
        Artifact("agent", a, w, rng.lognormvariate(math.log(45_000), 0.7),
                 rng.uniform(0.01, 0.08), 700, 1800, tool_name="Task",
                 plugin=a.partition(":")[0] if ":" in a else None)
        for a, w in zip(agents, _zipf(len(agents)), strict=True)
    ])  # fmt: skip
    commands = [f"{w}-{v}" for w, v in zip(WORDS, reversed(WORDS), strict=True)]
    commands += [f"{p}:{w}" for p, w in zip(PLUGINS, WORDS[3:], strict=False)]
    add("command", [
        Artifact("command", c, w, None, 0.0, 40, 0,
                 plugin=c.partition(":")[0] if ":" in c else None)
        for c, w in zip(commands, _zipf(len(commands)), strict=True)
    ])  # fmt: skip
    return out


class _Payloads:
    """The stored payload's JSON text, built from a fixed corpus of source-like text."""

    def __init__(self, rng: random.Random) -> None:
        vocab = [*WORDS, *NOUNS, *VERBS, "def", "return", "self", "=", "(", ")", "{", "}",
                 "if", "for", "in", "import", "from", "None", "True"]  # fmt: skip
        parts: list[str] = []
        size = 0
        while size < CORPUS_CHARS:
            line = " " * rng.choice((0, 4, 8)) + " ".join(rng.choices(vocab, k=rng.randint(2, 12)))
            parts.append(line)
            size += len(line) + 1
        self.corpus = "\n".join(parts)
        self.rng = rng

    def text(self, median: int) -> tuple[str, bool]:
        """Text of a log-normal length around `median`, cut to the cap as the daemon cuts it."""
        n = max(1, int(self.rng.lognormvariate(math.log(median), 0.9))) if median else 0
        at = self.rng.randrange(0, CORPUS_CHARS - CAP)
        if n <= CAP:
            return self.corpus[at : at + n], False
        return self.corpus[at : at + CAP] + truncation_marker(n - CAP, "chars"), True


class _Generator:
    """The population and the days; each day's events drawn from a seed of its own, so that
    any process can make any day's (the same ones)."""

    def __init__(self, events: int, end: float, seed: int) -> None:
        rng = random.Random(seed)
        self.seed = seed
        self.rng = rng
        first_day = math.floor((end - DAYS * 86400) / 86400)
        self.days = list(range(first_day, math.floor(end / 86400) + 1))
        self.start, self.end = first_day * 86400.0, end
        self.population = artifacts(rng, self.start, end)
        self.weights = [a.weight for a in self.population]
        self.payloads = _Payloads(rng)
        self.projects = [f"project-{i:02d}" for i in range(PROJECTS)]
        self.project_weights = _zipf(PROJECTS, 0.9)
        self.total = events

    def day_weight(self, day: int) -> float:
        weekday = (day + 3) % 7  # 1970-01-01 was a Thursday: 0 is Monday
        growth = 0.7 + 0.6 * (day - self.days[0]) / len(self.days)
        share = min(1.0, (self.end - day * 86400) / 86400)  # today: the part gone by
        return (0.25 if weekday >= 5 else 1.0) * growth * share

    def quotas(self) -> list[tuple[int, int]]:
        """(day, events) for every day, the events summing to the total."""
        weights = [self.day_weight(d) for d in self.days]
        out, target, made = [], 0.0, 0
        for day, w in zip(self.days, weights, strict=True):
            target += self.total * w / sum(weights)
            out.append((day, round(target) - made))
            made = round(target)
        return out

    def day(self, day: int, quota: int) -> list[Drawn]:
        """The day's events, oldest first (its sessions interleaved), each with the requests
        read by its time (those before it, and after the use that owns them)."""
        self.rng = self.payloads.rng = random.Random(self.seed * 100_000 + day)
        events: list[Drawn] = []
        while len(events) < quota:
            events += self.session(day, quota - len(events))
        events.sort(key=lambda d: d[0].row.client_ts)
        return events

    def session(self, day: int, most: int) -> list[Drawn]:
        rng = self.rng
        hour = rng.choice((9, 10, 10, 11, 11, 13, 14, 14, 15, 15, 16, 17, 20, 22))
        ts = day * 86400.0 + hour * 3600 + rng.uniform(0, 3600)
        limit = min(self.end, (day + 1) * 86400.0) - 1
        if ts >= limit:
            ts = rng.uniform(day * 86400.0, limit)
        n = min(most, max(2, int(rng.lognormvariate(math.log(150), 1.0))))
        session = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        project = rng.choices(self.projects, self.project_weights)[0]
        model = rng.choices([m for m, _ in MODELS], [w for _, w in MODELS])[0]
        ctx = _Session(session, f"~/work/{project}", project, model,
                       one_hour=rng.random() < ONE_HOUR_SHARE)  # fmt: skip
        out = [self.event(ctx, ts, None)]
        picks = rng.choices(self.population, self.weights, k=max(0, n - 2))
        for artifact in picks:
            ts += rng.lognormvariate(math.log(6), 1.2)
            if ts >= limit:
                break
            out.append(self.event(ctx, ts, artifact))
        if len(out) < most:
            out.append(self.event(ctx, min(ts + 1, limit), None))
        return out

    def request(self, s: _Session, at: float, t: _Thread, closing: bool = False) -> None:
        """A request of thread `t` at `at`, owned as the usage task would own it; kept in
        `s.read` until the session's next event."""
        rng = self.rng
        if t.context == 0:
            write = t.start
        else:
            write = min(40_000, int(rng.lognormvariate(math.log(600), 1.2)))
        usage = Usage(
            input_tokens=rng.randint(1, 12),
            output_tokens=max(1, int(rng.lognormvariate(math.log(450 if closing else 180), 1.0))),
            cache_5m_tokens=0 if s.one_hour else write,
            cache_1h_tokens=write if s.one_hour else 0,
            cache_read_tokens=t.context,
        )
        t.context = t.start if t.context + write > COMPACT_AT else t.context + write
        model = t.model
        s.read.append(RequestRow(
            session_id=s.id, request_id=f"req_011C{rng.getrandbits(110):028x}",
            thread=t.id, prompt_id=s.prompt, at=at, project=s.project_key, model=model,
            input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
            cache_5m_tokens=usage.cache_5m_tokens, cache_1h_tokens=usage.cache_1h_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cost_usd=prices.cost(usage, prices.price_of(model, prices.PRICES), model),
            use=t.owner, run=t.run,
        ))  # fmt: skip

    def end_run(self, s: _Session, until: float) -> None:
        """The subagent run's last request (its answer), once its tool uses are done."""
        if s.run is not None:
            at = min(until, s.last_ts + self.rng.uniform(0.5, 3))
            self.request(s, at, s.run, closing=True)
            s.run = None
        s.agent_left = 0

    def end_prompt(self, s: _Session, at: float) -> None:
        """The prompt's last request (the answer), then no owner until a call or /name."""
        self.end_run(s, at)
        self.request(s, max(s.last_ts, at), s.main, closing=True)
        s.main.owner = None

    def event(self, s: _Session, ts: float, a: Artifact | None) -> Drawn:
        rng = self.rng
        typed = a is not None and (
            a.tool_name is None or (a.kind == "skill" and rng.random() < 0.15)
        )
        if s.run is not None and s.agent_left <= 0:
            self.end_run(s, ts)
        if rng.random() < 0.08 or s.prompt is None or typed:
            if s.prompt is not None:
                self.end_prompt(s, ts - rng.uniform(2, 20))
            s.prompt = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        fields: dict[str, object] = {
            "session_id": s.id,
            "transcript_path": f"~/.claude/projects/-home-{USER}-work-{s.project}/{s.id}.jsonl",
            "cwd": s.cwd, "prompt_id": s.prompt, "permission_mode": "default",
        }  # fmt: skip
        skill: SkillVersion | None = None
        ok: bool | None = None
        ms: int | None = None
        truncated = False
        tool_use_id = None
        if a is None:
            hook = "SessionStart" if s.started is None else "SessionEnd"
            if s.started is not None:
                self.end_prompt(s, ts - rng.uniform(1, 10))
            s.started = ts
            fields["hook_event_name"] = hook
            fields["source" if hook == "SessionStart" else "reason"] = (
                "startup" if hook == "SessionStart" else "prompt_input_exit"
            )
        elif typed:
            hook, ok = "UserPromptExpansion", True  # a typed /name: no duration
            fields.update(hook_event_name=hook, expansion_type="slash_command",
                          command_name=a.name, command_args=self.payloads.text(30)[0],
                          command_source="plugin" if a.plugin else "user")  # fmt: skip
        else:
            ok = rng.random() >= a.fail_rate
            hook = "PostToolUse" if ok else "PostToolUseFailure"
            assert a.median_ms is not None
            ms = (
                None if rng.random() < 0.02 else int(rng.lognormvariate(math.log(a.median_ms), 1.1))
            )
            given, cut_in = self.payloads.text(a.in_chars)
            tool_use_id = f"toolu_01{rng.getrandbits(88):022x}"
            fields.update(hook_event_name=hook, tool_name=a.tool_name,
                          tool_input=self._input(a, given))  # fmt: skip
            if ok:
                answer, cut_out = self.payloads.text(a.out_chars)
                fields["tool_response"] = self._response(a, answer)
            else:
                answer, cut_out = self.payloads.text(120)
                fields.update(error=f"Error: {answer}", is_interrupt=rng.random() < 0.1)
            truncated = cut_in or cut_out
            fields["tool_use_id"] = tool_use_id
            if ms is not None:
                fields["duration_ms"] = ms
        if a is not None and a.kind == "skill":
            skill = next(v for since, v in reversed(a.versions) if since <= ts)
        agent_id, agent_type = s.agent if s.agent_left > 0 else (None, None)
        if a is not None and not typed and agent_id is not None:
            s.agent_left -= 1
            fields.update(agent_id=agent_id, agent_type=agent_type)
        else:
            agent_id = agent_type = None
        event_id = _event_id(rng, ts)
        thread = s.run if agent_id is not None and s.run is not None else s.main
        if a is not None and not typed:
            # The request that issued the call, owned by what owned the thread until then.
            issued = ts - (ms or 0) / 1000 - rng.uniform(0.3, 2)
            self.request(s, max(s.last_ts, issued), thread)
        if a is not None and a.kind == "agent":
            self.end_run(s, ts)
            s.agent = (f"a{rng.getrandbits(64):016x}", a.name)
            s.agent_left = int(rng.lognormvariate(math.log(12), 0.8))
            model = HAIKU if a.name in HAIKU_AGENTS else s.model
            s.run = _Thread(s.agent[0], model, AGENT_CONTEXT,
                            run=Owner(event_id, "agent", a.name))  # fmt: skip
        elif a is not None and a.kind in ("skill", "command") and (typed or hook == "PostToolUse"):
            # A /name owns its prompt's requests; a successful call, those after it.
            (s.main if typed else thread).owner = Owner(event_id, a.kind, a.name)
        s.last_ts = ts
        read, s.read = s.read, []
        payload = json.dumps(fields, separators=(",", ":"))
        row = EventRow(
            event_id=event_id, hook_event=hook,
            client_ts=ts, received_at=ts + rng.uniform(0.002, 0.03), session_id=s.id,
            prompt_id=s.prompt, tool_use_id=tool_use_id,
            tool_name=fields.get("tool_name"),  # type: ignore[arg-type]
            artifact_type=None if a is None else a.kind,
            artifact_name=None if a is None else a.name,
            plugin=None if a is None else a.plugin,
            mcp_server=None if a is None else a.mcp_server,
            agent_id=agent_id, agent_type=agent_type, success=ok, duration_ms=ms, cwd=s.cwd,
            truncated=truncated, payload=payload, tenant_id="default", user_id=USER,
            skill_id=skill.skill_id if skill else None,
            skill_version=skill.version if skill else None,
            duration_bucket=None if ms is None else durations.bucket(ms),
            project=project_of(s.cwd),
        )  # fmt: skip
        return Record(row, skill._replace(seen_at=ts) if skill else None), read

    @staticmethod
    def _input(a: Artifact, text: str) -> dict[str, object]:
        if a.kind == "skill":
            return {"skill": a.name}
        if a.kind == "agent":
            return {"subagent_type": a.name, "description": text[:40], "prompt": text}
        if a.tool_name == "Bash":
            return {"command": text, "description": text[:30]}
        if a.tool_name in ("Edit", "MultiEdit"):
            half = len(text) // 2
            return {"file_path": "~/work/src/module.py", "old_string": text[:half],
                    "new_string": text[half:]}  # fmt: skip
        return {"input": text}

    @staticmethod
    def _response(a: Artifact, text: str) -> object:
        if a.kind == "skill":
            return {"success": True, "commandName": a.name}
        if a.tool_name == "Bash":
            return {"stdout": text, "stderr": "", "interrupted": False, "isImage": False}
        if a.tool_name == "Read":
            return {"type": "text", "file": {"filePath": "~/work/src/module.py",
                                             "content": text}}  # fmt: skip
        return text


@dataclass
class _Thread:
    """A transcript: the main thread ('') or a subagent run's, and who owns its requests."""

    id: str
    model: str
    start: int  # tokens of its first request's prompt
    context: int = 0  # what its next request reads from the cache
    owner: Owner | None = None  # the skill or command use owning its requests now
    run: Owner | None = None  # a subagent's: the Agent call's use


@dataclass
class _Session:
    id: str
    cwd: str
    project: str
    model: str
    one_hour: bool
    prompt: str | None = None
    started: float | None = None
    agent: tuple[str | None, str | None] = (None, None)
    agent_left: int = 0
    last_ts: float = 0.0
    main: _Thread = field(init=False)
    run: _Thread | None = None
    read: list[RequestRow] = field(default_factory=list)  # since the last event

    project_key: str | None = field(init=False)  # as the daemon stores it

    def __post_init__(self) -> None:
        self.main = _Thread("", self.model, PROMPT_CONTEXT)
        self.project_key = project_of(self.cwd)


Drawn = tuple[Record, list[RequestRow]]  # an event, and the requests stored after it


def build(
    path: Path, events: int, log: Callable[[str], None], *, end: float | None = None
) -> Built:
    """Write `events` events ending at `end` (default now) into a new database at `path`.

    The days are drawn in a worker process, a few days ahead of this one, which inserts
    them: on two cores, drawing and SQLite's work (triggers and all) overlap.
    """
    end = time.time() if end is None else end
    gen = _Generator(events, end, SEED)
    built = Built(path, first_ts=math.inf)
    built.installed = [a.name for a in gen.population if a.kind == "skill" and a.versions
                       and a.versions[0][1].source == "user"]  # fmt: skip
    built.since = math.floor((end - 30 * 86400) / 60) * 60
    started = time.perf_counter()
    spawn = multiprocessing.get_context("spawn")  # not fork: this process may hold threads
    with ProcessPoolExecutor(
        1, mp_context=spawn, initializer=_start_worker, initargs=(events, end, SEED)
    ) as pool:
        asyncio.run(_write(path, _drawn(pool, gen.quotas()), built, log, events))
    built.build_s = time.perf_counter() - started
    return built


_WORKER: list[_Generator] = []  # in the worker process: its generator


def _start_worker(events: int, end: float, seed: int) -> None:
    _WORKER.append(_Generator(events, end, seed))


def _draw_day(day: int, quota: int) -> list[Drawn]:
    return _WORKER[0].day(day, quota)


def _drawn(pool: ProcessPoolExecutor, quotas: list[tuple[int, int]]) -> Iterator[Drawn]:
    ahead: collections.deque[Future[list[Drawn]]] = collections.deque()
    for day, quota in quotas:
        ahead.append(pool.submit(_draw_day, day, quota))
        if len(ahead) > AHEAD_DAYS:
            yield from ahead.popleft().result()
    while ahead:
        yield from ahead.popleft().result()


class _Writer(TokenStore):
    """The store, and the requests of many threads in one transaction."""

    async def requests(self, rows: list[RequestRow]) -> None:
        """Store requests through TokenStore.save's own INSERT, so the triggers on `requests`
        fill token_days, token_versions and token_sessions as the usage task's passes do (no
        transcript was read: no reading state is kept)."""
        values = [  # as TokenStore.save binds them (`at` twice: its day is computed from it)
            (*r[:5], r.at, *r[5:13], *(r.use or (None, None, None)),
             *((r.run.event_id, r.run.artifact_name) if r.run else (None, None)))
            for r in rows
        ]  # fmt: skip
        async with self._transaction():
            await self._db.executemany(tokens._INSERT, values)


async def _write(
    path: Path, rows: Iterator[Drawn], built: Built, log: Callable[[str], None], total: int
) -> None:
    store = await _Writer.open(path)
    try:
        batch: list[Record] = []
        read: list[RequestRow] = []
        step = max(BATCH, total // 5)
        for record, requests in rows:
            _count(built, record.row)
            batch.append(record)
            for r in requests:
                _count_request(built, r)
            read += requests
            if len(batch) == BATCH:
                # The uses first: a request is read after the use that owns it is stored.
                await store.insert(batch)
                await store.requests(read)
                batch, read = [], []
                if built.events % step < BATCH:
                    log(f"reports: {built.events:,} of {total:,} events written")
        if batch:
            await store.insert(batch)
            await store.requests(read)
    finally:
        await store.close()


def _add(sums: Sums, r: RequestRow) -> None:
    sums[0] += 1
    sums[1] += r.input_tokens
    sums[2] += r.output_tokens
    sums[3] += r.cache_5m_tokens + r.cache_1h_tokens
    sums[4] += r.cache_read_tokens
    sums[5] += r.cost_usd or 0.0
    sums[6] += r.cost_usd is None


def _count_request(built: Built, r: RequestRow) -> None:
    built.requests += 1
    built.in_runs += r.run is not None
    built.models.add(r.model)
    _add(built.tokens, r)
    if r.at >= built.since:
        _add(built.tokens_since, r)
    if r.use is not None:
        built.owned_by[r.use.artifact_type] += 1
    _add(built.tokens_by_session.setdefault(r.session_id, [0.0] * 7), r)
    project = r.project or ""
    _add(built.tokens_by_project.setdefault(project, [0.0] * 7), r)
    built.sessions_by_project.setdefault(project, set()).add(r.session_id)
    version = built.version_of.get(r.use.event_id) if r.use else None
    if version is not None:
        _add(built.tokens_by_version.setdefault(version, [0.0] * 7), r)


def _count(built: Built, row: EventRow) -> None:
    built.events += 1
    built.payload_chars += len(row.payload)
    built.first_ts = min(built.first_ts, row.client_ts)
    built.last_ts = max(built.last_ts, row.client_ts)
    if row.artifact_type is None or row.session_id is None or row.project is None:
        return
    built.uses += 1
    built.by_kind[row.artifact_type] += 1
    built.by_session[row.session_id] += 1
    built.by_project[row.project] += 1
    if row.artifact_name is not None:
        built.artifacts.add((row.artifact_type, row.artifact_name))
    if row.skill_id is not None and row.skill_version is not None:
        built.skill_versions.add((row.skill_id, row.skill_version))
        built.version_of[row.event_id] = (row.skill_id, row.skill_version)
    if row.client_ts >= built.since:
        built.uses_since += 1
