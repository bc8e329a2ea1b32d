"""The daemon's enrichment stage per event, in-process: CPU only, no socket, no SQLite.

What is timed is `Ingest.parse(RawFrame)`, the whole step between a received frame and the
record the writer stores: UTF-8 decode, reading `cwd`, removing secrets and shortening home
paths, pydantic validation, classification, skill resolution on disk (a stat per lookup once
the SKILL.md is cached by its stat signature), and the size caps. Beside it, the sanitizer
alone (`sanitizer(home, paths_mode)(text, cwd)`) on the same decoded text, since it is the
part that grows with the payload's size.

Payloads are Claude Code 2.1.328's own (tests/data/claude_code_2.1.328_events.json) plus four
built to the same shape: the ~1 KB Bash event the hook and ingest benchmarks send, that event
with an AWS key and a GitHub token in its command (the redaction path), and a Read of a
~20 KB source file (over the default 4,096-character output cap: the capping path). Each
call gets a fresh event id and client time, as the hook would give it.

Every round times each (kind, stage) pair once, in a shuffled order, so that noise on the
machine (and the CPU caches' state) falls on every kind alike rather than on whichever ran
last; the garbage collector stays on, as in the daemon. Afterwards the records of the last
warm-up round are checked for what each kind is there to exercise, so that a figure is never
that of a path which silently stopped running.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.hooktime import Check
from bench.payloads import post_tool_use
from bench.stats import Summary
from skilltrack.config import Settings
from skilltrack.daemon.ingest.pipeline import Ingest, raw_cwd
from skilltrack.daemon.ingest.sanitize import sanitizer
from skilltrack.daemon.ingest.skills import SkillLocator
from skilltrack.daemon.store.records import Record
from skilltrack.wire import RawFrame

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "tests" / "data" / "claude_code_2.1.328_events.json"
HOME = "/home/ann"  # the home the captured payloads' paths were rewritten to
SKILL = "pdf-helper"  # the skill the captured session used
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"  # AWS's documentation example, not a real key
GITHUB_TOKEN = "ghp_" + "Xq7Lm2Vb9Rt4Kd8Nw3Hs6Jp1Fc5Gz0Ya2Ue4"  # 36 made-up characters
READ_CHARS = 20_000
SEED = 20251122  # the same shuffled order in every run, so that runs compare

# Report labels; render.py picks the Bash row out by this one.
BASH = "PostToolUse Bash, ~1 KB output"
BASH_SECRETS = "PostToolUse Bash, AWS key + GitHub token"
SKILL_USE = "PostToolUse Skill (SKILL.md resolved)"
EXPANSION = f"UserPromptExpansion /{SKILL}"
READ = "PostToolUse Read, ~20 KB output (capped)"

SKILL_MD = f"""---
name: {SKILL}
description: >
  Extract text, tables and form fields from PDF files, merge and split them.
  Use when the user mentions a PDF.
---

# PDF helper

1. Run `pdftotext -layout <file> -` to get the text; keep the page breaks.
2. For tables, try `camelot` first; fall back to `pdfplumber` for scanned pages.
3. Never modify the original: write results next to it with a `.out` suffix.
"""


@dataclass(frozen=True)
class KindCost:
    """One payload kind's timings, in microseconds, one sample per call."""

    label: str
    payload_bytes: int
    enrich_us: list[float]
    sanitize_us: list[float]

    def enrich(self) -> Summary:
        return Summary.of(self.enrich_us)

    def sanitize(self) -> Summary:
        return Summary.of(self.sanitize_us)


@dataclass
class EnrichResult:
    calls: int  # timed calls per kind and stage
    warmups: int
    kinds: list[KindCost]
    checks: list[Check]

    def kind(self, label: str) -> KindCost:
        return next(k for k in self.kinds if k.label == label)


def payload_kinds() -> dict[str, bytes]:
    """Each kind's payload bytes, as the hook would send them, by report label."""
    captured = {
        e["title"]: e["payload"] for e in json.loads(EVENTS.read_text(encoding="utf-8"))["events"]
    }

    def claude(title: str) -> bytes:
        # Claude Code writes its hook input with JSON.stringify: no spaces.
        return json.dumps(captured[title], separators=(",", ":")).encode()

    return {
        BASH: post_tool_use(),
        SKILL_USE: claude("PostToolUse — Skill"),
        EXPANSION: claude("UserPromptExpansion"),
        "PostToolUse mcp__echo__echo": claude("PostToolUse — mcp__echo__echo"),
        "PostToolUseFailure Bash": claude("PostToolUseFailure — Bash"),
        "SessionStart": claude("SessionStart"),
        BASH_SECRETS: _with_secrets(),
        READ: _read_event(),
    }


def _with_secrets() -> bytes:
    event: dict[str, Any] = json.loads(post_tool_use())
    event["tool_input"] = {
        "command": f"AWS_ACCESS_KEY_ID={AWS_KEY} GITHUB_TOKEN={GITHUB_TOKEN} ./deploy.sh staging",
        "description": "Deploy to staging",
    }
    return json.dumps(event, indent=2).encode()


def _read_event() -> bytes:
    # Not in the captured session: shaped like Claude Code's Read result (`file.content` with
    # its line counts), holding a made-up module whose words (token, secret) wake some of the
    # sanitizer's patterns without matching, as real source code does.
    template = (
        "def handler_{i}(request: Request, store: Store) -> Response:",
        '    """Answer one request; the token comes from the header, never the body."""',
        '    token = request.headers.get("Authorization", "")',
        "    if not store.allows(token, scope={i}):",
        '        return Response(status=403, body="forbidden")',
        "    rows = store.rows(limit=100, offset={i} * 100)",
        "    return Response(status=200, body=json.dumps(rows))",
        "",
    )
    lines: list[str] = []
    i = 0
    while sum(len(line) + 1 for line in lines) < READ_CHARS:
        lines += [line.format(i=i) for line in template]
        i += 1
    path = f"{HOME}/proj/src/app/handlers.py"
    event: dict[str, Any] = json.loads(post_tool_use())
    event["tool_name"] = "Read"
    event["tool_input"] = {"file_path": path}
    event["tool_response"] = {
        "type": "text",
        "file": {
            "filePath": path,
            "content": "\n".join(lines),
            "numLines": len(lines),
            "startLine": 1,
            "totalLines": len(lines),
        },
    }
    return json.dumps(event, separators=(",", ":")).encode()


def measure(calls: int, warmups: int, log: Callable[[str], None]) -> EnrichResult:
    """`warmups` untimed rounds, then `calls` timed rounds over every kind and stage."""
    kinds = payload_kinds()
    with tempfile.TemporaryDirectory(prefix="stb-enrich-", dir="/tmp") as tmp:
        skills_home = Path(tmp)
        skill_md = skills_home / ".claude" / "skills" / SKILL / "SKILL.md"
        skill_md.parent.mkdir(parents=True)
        skill_md.write_text(SKILL_MD, encoding="utf-8")
        settings = Settings(tenant_id="bench", user_id="ann")  # default privacy and caps
        ingest = Ingest(settings, SkillLocator(home=skills_home), lambda: False, home=HOME)
        sanitize = sanitizer(HOME, settings.privacy.paths)
        # The sanitizer's input as parse() gives it to it: decoded text and the raw cwd.
        texts = {label: payload.decode("utf-8") for label, payload in kinds.items()}
        cwds = {label: raw_cwd(text) for label, text in texts.items()}

        def enrich_once(label: str) -> tuple[int, Record]:
            # The frame is built outside the timed span: the hook, not the daemon, pays for
            # the id and the clock.
            raw = RawFrame(str(uuid.uuid4()), f"{time.time():.6f}", "-", kinds[label])
            start = time.perf_counter_ns()
            record = ingest.parse(raw)
            return time.perf_counter_ns() - start, record

        def sanitize_once(label: str) -> int:
            text, cwd = texts[label], cwds[label]
            start = time.perf_counter_ns()
            sanitize(text, cwd)
            return time.perf_counter_ns() - start

        log(f"enrichment: {warmups} warm-up rounds, then {calls} timed rounds of {len(kinds)}")
        last: dict[str, Record] = {}
        for _ in range(warmups):
            for label in kinds:
                last[label] = enrich_once(label)[1]
                sanitize_once(label)
        enrich_ns: dict[str, list[int]] = {label: [] for label in kinds}
        sanitize_ns: dict[str, list[int]] = {label: [] for label in kinds}
        order = [(label, stage) for label in kinds for stage in ("enrich", "sanitize")]
        rng = random.Random(SEED)
        for _ in range(calls):
            rng.shuffle(order)
            for label, stage in order:
                if stage == "enrich":
                    enrich_ns[label].append(enrich_once(label)[0])
                else:
                    sanitize_ns[label].append(sanitize_once(label))
    costs = [
        KindCost(
            label,
            len(payload),
            [ns / 1000 for ns in enrich_ns[label]],
            [ns / 1000 for ns in sanitize_ns[label]],
        )
        for label, payload in kinds.items()
    ]
    result = EnrichResult(calls, warmups, costs, _checks(last))
    bash = result.kind(BASH).enrich()
    log(f"enrichment: Bash event p50 {bash.p50:.1f} µs, p99 {bash.p99:.1f} µs")
    return result


def _checks(records: dict[str, Record]) -> list[Check]:
    """What each kind is in the benchmark for actually ran (seen in its warm-up record)."""
    stored = {label: r.row.payload for label, r in records.items()}
    return [
        Check(
            f"enrichment: skill versions found (Skill call, typed /{SKILL})",
            2,
            sum(records[label].skill is not None for label in (SKILL_USE, EXPANSION)),
        ),
        Check(
            "enrichment: secrets replaced by markers (Bash with secrets)",
            2,
            stored[BASH_SECRETS].count("[REDACTED:"),
        ),
        Check(
            "enrichment: secrets left in stored payloads",
            0,
            sum(p.count(AWS_KEY) + p.count(GITHUB_TOKEN) for p in stored.values()),
        ),
        Check(
            f"enrichment: stored payloads still holding {HOME}",
            0,
            sum(HOME in p for p in stored.values()),
        ),
        Check(
            "enrichment: payloads capped (the 20 KB Read only)",
            1,
            sum(r.row.truncated for r in records.values()),
        ),
    ]
