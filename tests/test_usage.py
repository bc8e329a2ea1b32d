"""The daemon's usage task on a real SQLite store: hook events in, transcripts read at a
turn's end, each request's tokens stored once with its owners, and counted per artifact."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from skilltrack import config
from skilltrack.daemon.ingest import transcripts
from skilltrack.daemon.ingest.pipeline import Ingest
from skilltrack.daemon.ingest.skills import SkillLocator
from skilltrack.daemon.report.build import build
from skilltrack.daemon.report.filters import Filters
from skilltrack.daemon.report.queries import ReportStore
from skilltrack.daemon.report.render import render
from skilltrack.daemon.server.usage import UsageReader
from skilltrack.daemon.store.records import Record
from skilltrack.daemon.store.tokens import TokenStore
from skilltrack.fields import REQUEST_FIELDS
from skilltrack.wire import RawFrame
from tests.support import cli
from tests.support.transcripts import AGENT_ID, PROMPT, SECRET, SESSION, worked_example

T0 = 1_780_000_000.0
CWD = "/home/ann/src/shop"


@dataclass
class Rig:
    home: Path
    ingest: Ingest
    store: TokenStore
    reader: UsageReader
    main: Path
    db: Path

    async def send(self, at: float, hook_event: str, **fields: Any) -> Record:
        event = {
            "hook_event_name": hook_event,
            "session_id": SESSION,
            "prompt_id": PROMPT,
            "cwd": CWD,
            "transcript_path": str(self.main),
            **fields,
        }
        raw = RawFrame(str(uuid.uuid4()), f"{T0 + at:.6f}", "-", json.dumps(event).encode())
        record = self.ingest.parse(raw)
        await self.store.insert([record])
        self.reader.notify([record])
        return record

    async def read(self) -> None:
        await asyncio.wait_for(self.reader.idle(), 10)

    async def totals(self) -> dict[tuple[str, str], tuple[Any, ...]]:
        rows = await self.store._db.execute_fetchall(
            "SELECT artifact_type, artifact_name, sum(requests), sum(input_tokens), "
            "sum(cache_5m_tokens + cache_1h_tokens), sum(cache_read_tokens), "
            "sum(output_tokens), sum(unpriced) FROM token_days "
            "GROUP BY artifact_type, artifact_name"
        )
        return {(r[0], r[1]): tuple(r[2:]) for r in rows}


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    home = tmp_path / "home"
    main, sub = worked_example(home)
    meta = sub.path.with_name(f"agent-{AGENT_ID}.meta.json")
    meta.write_text(json.dumps({"agentType": "general-purpose", "toolUseId": "toolu_41885_0003"}))
    ingest = Ingest(
        config.Settings(tenant_id="acme", user_id="ann"),
        SkillLocator(home=home),
        lambda: False,
        home=str(home),
    )
    store = await TokenStore.open(tmp_path / "s.db")
    reader = UsageReader(store, home, {})
    task = asyncio.create_task(reader.run())
    try:
        yield Rig(home, ingest, store, reader, main.path, tmp_path / "s.db")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await store.close()


def skill(name: str, call: str, **fields: Any) -> dict[str, Any]:
    return {
        "tool_name": "Skill",
        "tool_input": {"skill": name},
        "tool_use_id": call,
        "tool_response": {"success": True, "commandName": name},
        **fields,
    }


async def run_worked_example(rig: Rig) -> None:
    await rig.send(1, "PostToolUse", **skill("alpha-skill", "toolu_41885_0001"))
    inside = {"agent_id": AGENT_ID, "agent_type": "general-purpose"}
    await rig.send(3, "PostToolUse", **skill("beta-skill", "toolu_41885_0004", **inside))
    await rig.send(5, "SubagentStop", **inside)
    await rig.send(
        6,
        "PostToolUse",
        tool_name="Agent",
        tool_input={"subagent_type": "general-purpose", "prompt": "help"},
        tool_use_id="toolu_41885_0003",
        tool_response={"status": "completed", "agentId": AGENT_ID, "totalTokens": 6124},
    )
    await rig.send(10, "Stop")
    await rig.read()


async def test_the_worked_example_is_stored_per_skill_subagent_and_session(rig: Rig) -> None:
    await run_worked_example(rig)
    totals = await rig.totals()
    # (requests, input, cache creation, cache read, output, unpriced)
    assert totals[("skill", "alpha-skill")] == (6, 6039, 12039, 18039, 639, 0)
    assert totals[("skill", "beta-skill")] == (2, 2011, 4011, 6011, 211, 0)
    assert totals[("agent", "general-purpose")] == (3, 3015, 6015, 9015, 315, 0)
    # Every request once: the cost-state's figures, its cost included.
    assert totals[("", "")] == (10, 10055, 20055, 30055, 1055, 0)
    ((cost,),) = await rig.store._db.execute_fetchall(
        "SELECT cost_usd FROM token_days WHERE artifact_type = ''"
    )
    assert cost == pytest.approx(0.167606)
    assert rig.reader.status()["requests"] == 10
    # The session's own: what no use owns.
    rows = await rig.store._db.execute_fetchall(
        "SELECT request_id FROM requests WHERE use_event IS NULL AND run_event IS NULL"
    )
    assert [r[0] for r in rows] == ["req_41885_001"]


async def test_no_transcript_text_is_stored(rig: Rig) -> None:
    await run_worked_example(rig)
    await rig.store.checkpoint()
    stored = b"".join(p.read_bytes() for p in rig.db.parent.glob("s.db*"))
    assert b"req_41885_010" in stored
    assert SECRET.encode() not in stored
    assert b"Base directory for this skill" not in stored


async def test_reading_again_counts_nothing_twice_and_new_requests_once(rig: Rig) -> None:
    await run_worked_example(rig)
    await rig.send(20, "SessionEnd", reason="other")
    await rig.read()
    assert (await rig.totals())[("", "")][:2] == (10, 10055)
    # The session resumed: one more request, in a new prompt, owned by no one.
    line = json.loads(rig.main.read_text().splitlines()[-2])  # request 10's line
    line["requestId"], line["message"]["usage"]["input_tokens"] = "req_41885_011", 1011
    with rig.main.open("a") as f:
        f.write(json.dumps({"type": "user", "promptId": "p2", "message": {"content": "more"}}))
        f.write("\n" + json.dumps(line) + "\n")
    await rig.send(30, "Stop", prompt_id="p2")
    await rig.read()
    totals = await rig.totals()
    assert totals[("", "")][:2] == (11, 11066)
    assert totals[("skill", "alpha-skill")][0] == 6


async def test_a_transcript_outside_the_users_projects_is_never_read(
    rig: Rig, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere.jsonl"
    elsewhere.write_bytes(rig.main.read_bytes())
    await rig.send(1, "Stop", transcript_path=str(elsewhere))
    await rig.send(2, "Stop", transcript_path="/etc/passwd")
    await rig.read()
    assert await rig.totals() == {}
    assert rig.reader.status()["outside_projects"] == 2


async def test_a_missing_transcript_costs_a_reason_and_the_daemon_goes_on(rig: Rig) -> None:
    rig.main.unlink()
    await rig.send(1, "Stop")
    await rig.read()
    assert rig.reader.status()["missing"] == 1
    assert await rig.totals() == {}


async def test_a_foreground_subagent_is_read_once_its_run_is_stored(rig: Rig) -> None:
    """SubagentStop comes before the Agent call's result: its file waits for it."""
    inside = {"agent_id": AGENT_ID, "agent_type": "general-purpose"}
    await rig.send(5, "SubagentStop", **inside)
    await rig.read()
    assert ("agent", "general-purpose") not in await rig.totals()
    await run_worked_example(rig)
    assert (await rig.totals())[("agent", "general-purpose")][:2] == (3, 3015)


async def test_a_known_model_is_priced(rig: Rig) -> None:
    text = rig.main.read_text().replace("claude-opus-5-5", "claude-sonnet-4-5-20250929")
    rig.main.write_text(text)
    await rig.send(1, "Stop")
    await rig.read()
    rows = await rig.store._db.execute_fetchall(
        "SELECT cost_usd, unpriced FROM token_days WHERE artifact_type = ''"
    )
    ((cost, unpriced),) = rows
    # 7 main requests (n = 1, 2, 3, 7, 8, 9, 10; the subagent has no price): input 7040,
    # cache creation 14040, cache read 21040, output 740.
    expected = (7040 * 3 + 14040 * 3.75 + 21040 * 0.3 + 740 * 15) / 1e6
    assert cost == pytest.approx(expected)
    assert unpriced == 0


async def report(rig: Rig, f: Filters) -> dict[str, Any]:
    return await build(rig.db, f, exists=True, installed=[], unused_days=30)


async def test_the_report_gives_tokens_and_cost_per_artifact_and_in_total(rig: Rig) -> None:
    await run_worked_example(rig)
    whole = await report(rig, Filters())
    rows = {(a["artifact_type"], a["artifact_name"]): a for a in whole["artifacts"]}
    alpha = rows["skill", "alpha-skill"]
    assert (
        alpha["input_tokens"], alpha["cache_creation_input_tokens"],
        alpha["cache_read_input_tokens"], alpha["output_tokens"],
    ) == (6039, 12039, 18039, 639)  # fmt: skip
    # At claude-opus-5-5's prices: input 4, cache writes 5, cache reads 0.2, output 20 ($/M).
    assert alpha["cost_usd"] == pytest.approx(
        (6039 * 4 + 12039 * 5 + 18039 * 0.2 + 639 * 20) / 1e6, abs=1e-6
    )
    assert rows["agent", "general-purpose"]["input_tokens"] == 3015
    totals = whole["totals"]
    assert (totals["input_tokens"], totals["output_tokens"]) == (10055, 1055)
    assert (totals["cache_creation_input_tokens"], totals["cache_read_input_tokens"]) == (
        20055,
        30055,
    )
    assert "COST" in render(whole)
    [helper] = whole["subagents"]
    assert (helper["agent_type"], helper["input_tokens"], helper["output_tokens"]) == (
        "general-purpose", 3015, 315
    )  # fmt: skip
    assert "3015 input and 315 output tokens, cost $0.05" in render(whole)
    # Over whole days (the daily totals) and over part of a day (the requests themselves).
    day = datetime(2026, 12, 7, tzinfo=UTC).timestamp()
    days = await report(rig, Filters(since=day - 86400, until=day + 2 * 86400))
    assert days["totals"] == totals
    part = await report(rig, Filters(since=day + 36005, until=day + 36009.5))
    # Requests 5 to 9: input 1005 + 1006 + 1007 + 1008 + 1009.
    assert part["totals"]["input_tokens"] == 5035
    session = await report(rig, Filters(session=SESSION))
    assert session["totals"] == totals


async def test_a_priced_models_cost_shows_in_the_report(rig: Rig) -> None:
    for path in (rig.main, *rig.main.with_suffix("").rglob("*.jsonl")):
        path.write_text(path.read_text().replace("claude-opus-5-5", "claude-haiku-4-5"))
    await run_worked_example(rig)
    totals = (await report(rig, Filters()))["totals"]
    # Haiku 4.5: $1 input, $5 output, $1.25 cache writes (5 min), $0.10 cache reads per MTok.
    assert totals["cost_usd"] == pytest.approx(
        (10055 * 1 + 1055 * 5 + 20055 * 1.25 + 30055 * 0.1) / 1e6, abs=1e-6
    )  # to the micro-dollar
    assert totals["unpriced_requests"] == 0


async def test_a_projects_tokens_come_from_its_daily_totals_as_from_its_requests(
    rig: Rig,
) -> None:
    """`--project` reads token_projects (whole days) and the requests of a partial day only:
    the figures are those of every request of the project, read one by one."""
    await run_worked_example(rig)
    keys = ("input_tokens", "output_tokens", "cache_creation_input_tokens",
            "cache_read_input_tokens", "cost_usd", "requests")  # fmt: skip

    def figures(r: dict[str, Any]) -> list[tuple[Any, ...]]:
        rows = [r["totals"], *r["artifacts"], *r["subagents"], *r["per_day"]]
        return [tuple(row.get(k) for k in keys) for row in rows]

    everything, shop = await report(rig, Filters()), await report(rig, Filters(project="shop"))
    assert figures(shop) == figures(everything)  # the worked example is one project's
    assert shop["totals"]["requests"] == 10
    assert (await report(rig, Filters(project="elsewhere")))["totals"]["requests"] == 0
    rows = await rig.store._db.execute_fetchall(
        "SELECT sum(requests), sum(input_tokens) FROM token_projects "
        "WHERE project = 'shop' AND artifact_type = ''"
    )
    assert [tuple(r) for r in rows] == [(10, 10055)]
    day = datetime(2026, 12, 7, tzinfo=UTC).timestamp()
    part = await report(rig, Filters(project="shop", since=day + 36005, until=day + 36009.5))
    assert part["totals"]["input_tokens"] == 5035  # requests 5 to 9, read one by one
    whole_days = await report(rig, Filters(project="shop", since=day - 86400, until=day + 86400))
    assert whole_days["totals"] == everything["totals"]


async def test_a_model_with_no_price_leaves_the_cost_unknown_not_understated(rig: Rig) -> None:
    for path in (rig.main, *rig.main.with_suffix("").rglob("*.jsonl")):
        path.write_text(path.read_text().replace("claude-opus-5-5", "claude-opus-9-9"))
    await run_worked_example(rig)
    whole = await report(rig, Filters())
    assert whole["totals"]["cost_usd"] is None
    assert whole["totals"]["unpriced_requests"] == 10
    assert whole["totals"]["input_tokens"] == 10055  # counted all the same
    assert "3015 input and 315 output tokens, cost ?" in render(whole)


async def test_a_transcript_that_trips_the_reader_costs_a_reason_not_the_task(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("a shape nobody foresaw")

    monkeypatch.setattr(transcripts, "read_new", broken)
    await rig.send(1, "Stop")
    await rig.read()
    assert rig.reader.status()["internal_error"] == 1
    monkeypatch.undo()
    await rig.send(2, "Stop")
    await rig.read()
    assert (await rig.totals())[("", "")][0] == 7  # the main thread's requests


async def test_retention_deletes_old_requests_and_keeps_their_totals(rig: Rig) -> None:
    await run_worked_example(rig)
    before = await rig.totals()
    await rig.store.prune(datetime(2026, 12, 8, tzinfo=UTC).timestamp(), chunk=3)
    rows = await rig.store._db.execute_fetchall("SELECT count(*) FROM requests")
    assert next(iter(rows))[0] == 0
    assert await rig.totals() == before


async def test_tokens_and_cost_per_skill_version_session_and_project(rig: Rig) -> None:
    """alpha-skill used in two sessions, its SKILL.md edited between them: each version owns
    its session's six requests; `by` lists each session and the project with their sums."""
    folder = rig.home / ".claude" / "skills" / "alpha-skill"
    folder.mkdir(parents=True)
    # Edited before each session's uses (a use from before its file's edit has no version).
    (folder / "SKILL.md").write_text("---\nname: alpha-skill\ndescription: one\n---\n")
    os.utime(folder / "SKILL.md", (T0 - 100, T0 - 100))
    await run_worked_example(rig)
    (folder / "SKILL.md").write_text("---\nname: alpha-skill\ndescription: two\n---\nMore.\n")
    os.utime(folder / "SKILL.md", (T0 + 50, T0 + 50))
    # A second session: the main thread of the same transcript (requests 1-3 and 7-10).
    second = "52fa3a3e-0000-4000-8000-000000000002"
    lines = [line for line in rig.main.read_text().splitlines() if '"cost-state"' not in line]
    path = rig.main.with_name(f"{second}.jsonl")
    path.write_text("\n".join(lines).replace(SESSION, second) + "\n")
    again = {"session_id": second, "transcript_path": str(path)}
    await rig.send(100, "PostToolUse", **skill("alpha-skill", "toolu_41885_0001", **again))
    await rig.send(110, "Stop", **again)
    await rig.read()

    whole = await build(rig.db, Filters(), exists=True, installed=[], unused_days=30, by="session")
    [alpha] = whole["versions"]
    assert alpha["name"] == "alpha-skill"
    figures = [(v["uses"], v["requests"], v["input_tokens"]) for v in alpha["versions"]]
    # Requests 2, 3, 7, 8, 9 and 10 of each session: input 1002 + 1003 + 1007 + ... + 1010.
    assert figures == [(1, 6, 6039), (1, 6, 6039)]
    assert len({v["version"] for v in alpha["versions"]}) == 2
    [row] = [a for a in whole["artifacts"] if a["artifact_name"] == "alpha-skill"]
    assert row["input_tokens"] == 2 * 6039
    text = render(whole)
    assert "versions of alpha-skill" in text
    sessions = {s["session"]: s for s in whole["sessions"]}
    assert set(sessions) == {SESSION, second}
    assert sessions[SESSION]["input_tokens"] == 10055  # every request, the subagent's too
    assert sessions[second]["input_tokens"] == 10055 - 3015  # no subagent file
    assert sessions[second]["project"] == "shop"
    assert "sessions:" in text
    by_project = await build(
        rig.db, Filters(), exists=True, installed=[], unused_days=30, by="project"
    )
    [shop] = by_project["projects"]
    assert (shop["project"], shop["sessions"], shop["requests"]) == ("shop", 2, 17)
    assert shop["input_tokens"] == 2 * 10055 - 3015
    assert shop["uses"] == sum(a["uses"] for a in by_project["artifacts"])
    # The same over a range of whole days (the daily totals) and over part of a day.
    day = datetime(2026, 12, 7, tzinfo=UTC).timestamp()
    ranged = await build(
        rig.db, Filters(since=day - 86400, until=day + 86400 * 2), exists=True, installed=[],
        unused_days=30, by="project",
    )  # fmt: skip
    # (The uses are the hooks' times, T0, months before the transcripts' requests.)
    [shop_ranged] = ranged["projects"]
    assert {**shop_ranged, "uses": shop["uses"]} == shop
    assert ranged["totals"]["requests"] == 17
    # From 10:00:05 on: that part of the day from the requests, the next day from the daily
    # rows (none), requests 5 to 10 of the first session, 7 to 10 of the second.
    later = await build(
        rig.db, Filters(since=day + 36005, until=day + 86400 * 2), exists=True, installed=[],
        unused_days=30, by="session",
    )  # fmt: skip
    assert {s["session"]: s["requests"] for s in later["sessions"]} == {SESSION: 6, second: 4}
    assert later["sessions"][0]["first_request"] == "2026-12-07T10:00:05.000+00:00"
    # Per version over a range: whole days from the daily totals, part of a day (10:00:01 to
    # 10:00:10) from the requests themselves; the same sums either way.
    store = await ReportStore.open_readonly(rig.db)
    try:
        ids = [alpha["skill_id"]]
        lifetime = await store.version_tokens(Filters(), ids)
        assert await store.version_tokens(Filters(day - 86400, day + 86400), ids) == lifetime
        assert await store.version_tokens(Filters(day + 36000, day + 36011), ids) == lifetime
        assert await store.version_tokens(Filters(session=second), ids) == {
            k: v for k, v in lifetime.items() if k[1] == alpha["versions"][0]["version"]
        }
    finally:
        await store.close()


async def test_a_request_stored_before_its_use_counts_for_the_uses_version(rig: Rig) -> None:
    """A use held open reaches events when it ends: its version gets the requests stored
    before it then, once."""
    folder = rig.home / ".claude" / "skills" / "alpha-skill"
    folder.mkdir(parents=True)
    (folder / "SKILL.md").write_text("---\nname: alpha-skill\ndescription: one\n---\n")
    os.utime(folder / "SKILL.md", (T0 - 100, T0 - 100))
    use_id = str(uuid.uuid4())
    event = {"hook_event_name": "PostToolUse", "session_id": "s2", "cwd": CWD,
             **skill("alpha-skill", "toolu_9")}  # fmt: skip
    raw = RawFrame(use_id, f"{T0 + 1:.6f}", "-", json.dumps(event).encode())
    await rig.store.insert([rig.ingest.parse(raw)])  # held open: not in events yet
    await rig.store._db.execute(
        "INSERT INTO requests (session_id, request_id, thread, at, day, model, input_tokens, "
        "output_tokens, cache_5m_tokens, cache_1h_tokens, cache_read_tokens, cost_usd, "
        "use_event, use_type, use_name) "
        "VALUES ('s2', 'r1', '', ?, ?, 'm', 100, 10, 0, 0, 0, 0.5, ?, 'skill', 'alpha-skill')",
        (T0 + 2, int((T0 + 2) // 86400), use_id),
    )
    await rig.store._db.commit()
    sql = "SELECT sum(requests), sum(input_tokens), sum(cost_usd) FROM token_versions"

    async def counted() -> list[tuple[Any, ...]]:
        return [tuple(r) for r in await rig.store._db.execute_fetchall(sql)]

    assert await counted() == [(None, None, None)]
    await rig.send(3, "Stop", session_id="s2")  # the use ends, and is stored
    assert await counted() == [(1, 100, 0.5)]
    await rig.send(4, "Stop", session_id="s2")
    assert await counted() == [(1, 100, 0.5)]


async def test_export_requests_gives_each_request_once_with_its_owners(
    rig: Rig, tmp_path: Path
) -> None:
    await run_worked_example(rig)
    base = tmp_path / "exported"
    base.mkdir(mode=0o700)
    copy = base / "skilltrack.db"
    with sqlite3.connect(rig.db) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    copy.chmod(0o600)
    env = {"SKILLTRACK_HOME": str(base), "HOME": str(rig.home)}
    lines = cli.run("skilltrack", "export", "--requests", env=env).stdout.splitlines()
    exported = [json.loads(line) for line in lines]
    assert len(exported) == 10
    assert {r["request_id"] for r in exported} == {f"req_41885_{n:03}" for n in range(1, 11)}
    assert sum(r["input_tokens"] for r in exported) == 10055
    assert sum(r["cache_creation_input_tokens"] for r in exported) == 20055
    alpha = [r for r in exported if r["artifact_name"] == "alpha-skill"]
    assert sum(r["output_tokens"] for r in alpha) == 639
    uses = await rig.store._db.execute_fetchall(
        "SELECT event_id FROM events WHERE artifact_name = 'alpha-skill'"
    )
    assert {r["use_event_id"] for r in alpha} == {u[0] for u in uses}
    inside = [r for r in exported if r["agent_type"] == "general-purpose"]
    assert len(inside) == 3
    assert {r["agent_id"] for r in inside} == {AGENT_ID}
    # Priced at the client's own prices: the ten cost what its cost-state says.
    assert sum(r["cost_usd"] for r in exported) == pytest.approx(0.167606)
    table = cli.run("skilltrack", "export", "--requests", "--format", "csv", env=env).stdout
    header, *rows = list(csv.reader(io.StringIO(table)))
    assert tuple(header) == REQUEST_FIELDS
    assert len(rows) == 10
    assert [dict(zip(header, r, strict=True))["request_id"] for r in rows] == [
        r["request_id"] for r in exported
    ]


async def known_through(rig: Rig) -> list[float]:
    rows = await rig.store._db.execute_fetchall("SELECT through FROM usage_known")
    return [r[0] for r in rows]


async def test_a_turn_counts_as_read_once_its_final_answer_is_written(rig: Rig) -> None:
    # The client may write a turn's last response after its Stop hook ran: until that line
    # is read, the session's uses do not count as read (an everyskill sink holds them).
    lines = rig.main.read_text().splitlines(keepends=True)
    rig.main.write_text("".join(lines[:-2]))  # without request 10 (the answer) and cost-state
    await run_worked_example(rig)
    assert await known_through(rig) == []
    assert (await rig.totals())[("skill", "alpha-skill")][0] == 5
    with rig.main.open("a") as f:
        f.write("".join(lines[-2:]))
    for _ in range(1000):  # the reader looks again after 0.25 s, then 0.5, 1, ...
        if await known_through(rig):
            break
        await asyncio.sleep(0.02)
    assert await known_through(rig) == [T0 + 10]  # the Stop's time
    assert (await rig.totals())[("skill", "alpha-skill")] == (6, 6039, 12039, 18039, 639, 0)


async def test_a_turn_end_with_nothing_to_read_counts_as_read_at_once(rig: Rig) -> None:
    record = await rig.send(10, "Stop", transcript_path="/elsewhere/x.jsonl")
    await rig.read()
    assert record.transcript is not None
    assert await known_through(rig) == [T0 + 10]
