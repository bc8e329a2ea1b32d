"""Reports on a generated database with known answers: counts, failure rates, percentiles,
uses per day, and the same answers whether they come from the summaries or the events."""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import sqlite3
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from skilltrack.daemon.ingest.projects import project_of
from skilltrack.daemon.report.filters import Filters
from skilltrack.daemon.report.queries import DAY_S, ReportStore
from skilltrack.daemon.store import durations
from skilltrack.daemon.store.records import EventRow, Record
from tests.support.events import START, Generated, generate, record

LEGACY_DB = Path(__file__).parent / "data" / "skilltrack-45b8c24.db"


def expected(events: list[Generated], f: Filters) -> dict[tuple[str, str], dict[str, Any]]:
    """The report's figures computed from the generated events directly."""
    kept = [
        g for g in events
        if (f.since is None or g.ts >= f.since) and (f.until is None or g.ts < f.until)
        and (f.session is None or g.session == f.session)
        and (f.project is None or g.cwd == f.project or g.cwd.endswith("/" + f.project))
        and (f.artifact_type is None or g.kind == f.artifact_type)
    ]  # fmt: skip
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for key in {(g.kind, g.name) for g in kept}:
        mine = [g for g in kept if (g.kind, g.name) == key]
        timed = sorted(g.ms for g in mine if g.ms is not None)
        counts: dict[int, int] = {}
        for ms in timed:
            counts[durations.bucket(ms)] = counts.get(durations.bucket(ms), 0) + 1
        out[key] = {
            "uses": len(mine),
            "failures": sum(not g.ok for g in mine),
            "p50_duration_ms": durations.percentile(counts.items(), 0.5),
            "p95_duration_ms": durations.percentile(counts.items(), 0.95),
            "true_p50": timed[max(0, math.ceil(0.5 * len(timed)) - 1)] if timed else None,
            "true_p95": timed[max(0, math.ceil(0.95 * len(timed)) - 1)] if timed else None,
            "first_used": min(g.ts for g in mine),
            "last_used": max(g.ts for g in mine),
        }
    return out


@pytest.fixture(scope="module")
def generated() -> list[Generated]:
    return generate(3000, days=17)


@pytest.fixture(scope="module")
def generated_db(tmp_path_factory: pytest.TempPathFactory, generated: list[Generated]) -> Path:
    """The generated events stored in a database, once for the module."""
    path = tmp_path_factory.mktemp("reports") / "r.db"

    async def fill() -> None:
        s = await ReportStore.open(path)
        for i in range(0, len(generated), 500):
            await s.insert([record(g) for g in generated[i : i + 500]])
        await s.close()

    asyncio.run(fill())
    return path


@pytest.fixture
async def store(generated_db: Path) -> AsyncIterator[ReportStore]:
    """The module's database, opened read-only: no test can change what the next one reads."""
    s = await ReportStore.open_readonly(generated_db)
    yield s
    await s.close()


@pytest.fixture
async def own_store(generated_db: Path, tmp_path: Path) -> AsyncIterator[ReportStore]:
    """A copy of the module's database, for a test that adds to it."""
    copy = tmp_path / "r.db"
    shutil.copyfile(generated_db, copy)
    s = await ReportStore.open(copy)
    yield s
    await s.close()


RANGES = [
    Filters(),
    Filters(since=START + 2 * DAY_S),  # whole days only
    Filters(since=START + 2.5 * DAY_S, until=START + 7.25 * DAY_S),  # partial days each end
    Filters(since=START + 3.1 * DAY_S, until=START + 3.9 * DAY_S),  # inside one day
    Filters(since=START + 3.9 * DAY_S, until=START + 4.1 * DAY_S),  # across one midnight
    Filters(until=START + 5 * DAY_S + 1),
    Filters(until=START + 8.5 * DAY_S),
    Filters(since=START + 5.5 * DAY_S, until=START + 15.5 * DAY_S),
    Filters(since=START + 6.9 * DAY_S, artifact_type="agent"),
    # Mostly-inside edge days, read as whole days less their events outside the range:
    Filters(since=START + 1.2 * DAY_S, until=START + 6.8 * DAY_S),
    Filters(since=START + 2.01 * DAY_S, artifact_type="mcp"),
    Filters(artifact_type="skill"),
    Filters(since=START + 1.5 * DAY_S, artifact_type="tool"),
    Filters(session="s2"),
    Filters(project="app"),  # a folder name: ~/work/app and ~/app
    Filters(project="~/work/app", since=START + 4 * DAY_S),  # a stored path
]


@pytest.mark.parametrize("f", RANGES, ids=repr)
async def test_artifacts_match_a_recount_of_the_events(
    store: ReportStore, generated: list[Generated], f: Filters
) -> None:
    want = expected(generated, f)
    got = {(a["artifact_type"], a["artifact_name"]): a for a in await store.artifacts(f)}
    assert set(got) == set(want)
    for key, w in want.items():
        g = got[key]
        assert (g["uses"], g["failures"]) == (w["uses"], w["failures"]), key
        assert g["failure_rate"] == round(w["failures"] / w["uses"], 4)
        assert (g["p50_duration_ms"], g["p95_duration_ms"]) == (
            w["p50_duration_ms"], w["p95_duration_ms"],
        ), key  # fmt: skip
        for mine, true in ((g["p50_duration_ms"], w["true_p50"]), (g["p95_duration_ms"],
                                                                     w["true_p95"])):  # fmt: skip
            if true is not None and true >= 1:
                assert abs(mine - true) / true <= 0.05 + 1 / true, (key, mine, true)
        assert (g["first_used"], g["last_used"]) == pytest.approx((w["first_used"], w["last_used"]))
    assert [a["uses"] for a in got.values()] == sorted(
        (a["uses"] for a in got.values()), reverse=True
    )


@pytest.mark.parametrize("f", RANGES, ids=repr)
async def test_uses_per_day_add_up(
    store: ReportStore, generated: list[Generated], f: Filters
) -> None:
    days = await store.per_day(f)
    want = expected(generated, f)
    assert sum(d["uses"] for d in days) == sum(w["uses"] for w in want.values())
    assert sum(d["failures"] for d in days) == sum(w["failures"] for w in want.values())
    for d in days:
        assert d["day"] % DAY_S == 0
    assert (
        [d["day"] for d in days]
        == list(range(int(days[0]["day"]), int(days[-1]["day"]) + 1, DAY_S))
        if days
        else True
    )


async def test_uses_per_day_cover_the_whole_range_asked_for(tmp_path: Path) -> None:
    # One use, mid-range: the days before and after it, to the ends of the range, are there
    # with no use (`report --since 7d` is a week, not the one day with use).
    s = await ReportStore.open(tmp_path / "r.db")
    day = START + 10 * DAY_S
    await s.insert([Record(_row(day + 3600, "tool", "Bash"))])
    try:
        week = await s.per_day(Filters(since=day - 3 * DAY_S + 60, until=day + 4 * DAY_S))
        assert [(d["day"], d["uses"]) for d in week] == [
            (day + i * DAY_S, 1 if i == 0 else 0) for i in range(-3, 4)
        ]
        to_now = await s.per_day(Filters(since=day - DAY_S), now=day + 2 * DAY_S + 5)
        assert [d["uses"] for d in to_now] == [0, 1, 0, 0]  # up to today
        assert [d["uses"] for d in await s.per_day(Filters(), now=day + DAY_S)] == [1, 0]
    finally:
        await s.close()


async def test_a_report_on_an_empty_range_is_empty(store: ReportStore) -> None:
    assert await store.artifacts(Filters(since=START + 100 * DAY_S)) == []
    assert await store.per_day(Filters(since=START + 100 * DAY_S)) == []


async def test_running_totals_are_each_days_totals_so_far(
    store: ReportStore, generated: list[Generated]
) -> None:
    """The events came in random order of time, so most were of a day before the latest one
    of their artifact: each must have been added to every row from its day on."""
    await assert_running_totals(store, generated)


async def assert_running_totals(store: ReportStore, generated: list[Generated]) -> None:
    rows = await store._db.execute_fetchall(
        "SELECT artifact_type, artifact_name, day, uses, failures, total_duration_ms, buckets "
        "FROM artifact_running"
    )
    used_days = {(g.kind, g.name, int(g.ts // DAY_S)) for g in generated}
    assert {(r[0], r[1], r[2]) for r in rows} == used_days
    for kind, name, day, uses, failures, total_ms, buckets in rows:
        so_far = [
            g for g in generated
            if (g.kind, g.name) == (kind, name) and g.ts < (day + 1) * DAY_S
        ]  # fmt: skip
        assert (uses, failures, total_ms) == (
            len(so_far), sum(not g.ok for g in so_far), sum(g.ms or 0 for g in so_far),
        )  # fmt: skip
        timed = Counter(durations.bucket(g.ms) for g in so_far if g.ms is not None)
        by_number = json.loads(buckets)
        assert {b: n for b, n in enumerate(by_number) if n} == timed
        assert not by_number or by_number[-1] > 0  # no longer than its last timed bucket


async def test_an_open_ended_range_counts_events_of_any_day(tmp_path: Path) -> None:
    """A hook may send any client time: days far past or before every other event's still
    count in a range open at that end (the read names no sentinel day)."""
    s = await ReportStore.open(tmp_path / "far.db")
    try:
        await s.insert([Record(_row(ts, "skill", "pdf")) for ts in (START, 1e300, -1e300)])
        for f, uses in ((Filters(since=START - DAY_S), 2), (Filters(until=START + DAY_S), 2)):
            (got,) = await s.artifacts(f)
            assert got["uses"] == uses, f
    finally:
        await s.close()


def test_percentiles_from_buckets() -> None:
    assert durations.percentile([], 0.5) is None
    values = list(range(1, 1001))
    counts: dict[int, int] = {}
    for v in values:
        counts[durations.bucket(v)] = counts.get(durations.bucket(v), 0) + 1
    for q, true in ((0.5, 500), (0.95, 950), (1.0, 1000)):
        got = durations.percentile(counts.items(), q)
        assert got is not None
        assert abs(got - true) / true <= 0.05
    qs = (0.01, 0.5, 0.5, 0.95, 1.0)  # in one pass, the same answers as one at a time
    assert durations.percentiles(counts.items(), qs) == [
        durations.percentile(counts.items(), q) for q in qs
    ]
    assert durations.percentiles([], (0.5, 0.95)) == [None, None]
    assert durations.bucket(0) == durations.bucket(0.99) == 0
    assert durations.bucket(1) == 1
    assert all(durations.bucket(v) <= durations.bucket(v + 1) for v in range(10_000))


def carried_over(tmp_path: Path) -> tuple[Path, list[Generated]]:
    """A copy of the database 45b8c24's code made (tests/data/make_45b8c24_db.py), and its
    uses as `expected` counts them, read before today's code opens it."""
    db = tmp_path / "old.db"
    shutil.copyfile(LEGACY_DB, db)
    with closing(sqlite3.connect(db)) as conn:
        uses = [
            Generated(ts, kind, name, bool(ok), ms, session, cwd)
            for ts, kind, name, ok, ms, session, cwd in conn.execute(
                "SELECT client_ts, artifact_type, artifact_name, success, duration_ms, "
                "session_id, cwd FROM events WHERE artifact_type IS NOT NULL"
            )
        ]
    return db, uses


async def test_a_database_made_before_the_squash_reports_a_recount_of_its_events(
    tmp_path: Path,
) -> None:
    db, uses = carried_over(tmp_path)
    migrated = await ReportStore.open(db)
    try:
        for f in RANGES:
            want = expected(uses, f)
            got = {(a["artifact_type"], a["artifact_name"]): a for a in await migrated.artifacts(f)}
            assert {
                k: (g["uses"], g["failures"], g["p50_duration_ms"]) for k, g in got.items()
            } == {k: (w["uses"], w["failures"], w["p50_duration_ms"]) for k, w in want.items()}, f
            days = await migrated.per_day(f)
            assert sum(d["uses"] for d in days) == sum(w["uses"] for w in want.values()), f
        await assert_running_totals(migrated, uses)
    finally:
        await migrated.close()


async def test_a_database_made_before_the_squash_counts_new_events_in_every_summary(
    tmp_path: Path, generated: list[Generated]
) -> None:
    db, uses = carried_over(tmp_path)
    migrated = await ReportStore.open(db)
    try:  # over the same days: many of an earlier day than their artifact's latest row
        await migrated.insert([record(g) for g in generated[:1000]])
        uses += generated[:1000]
        for f in RANGES:
            want = expected(uses, f)
            got = {(a["artifact_type"], a["artifact_name"]): a for a in await migrated.artifacts(f)}
            assert {
                k: (g["uses"], g["failures"], g["p50_duration_ms"]) for k, g in got.items()
            } == {k: (w["uses"], w["failures"], w["p50_duration_ms"]) for k, w in want.items()}, f
        await assert_running_totals(migrated, uses)
        # A project by its folder name reads its lifetime totals, by its path the events.
        by_totals, by_events = Filters(project="site"), Filters(project="~/work/site")
        assert by_totals.project_totals
        assert await migrated.artifacts(by_totals) == await migrated.artifacts(by_events)
        assert await migrated.per_day(by_totals) == await migrated.per_day(by_events)
        (pdf,) = await migrated.versions(by_totals)
        assert [v["version"] for v in pdf["versions"]] == ["bbbb", "aaaa"]
        assert await migrated.versions(by_totals) == await migrated.versions(by_events)
        agents = await migrated.subagents(by_totals)
        assert {a["agent_type"] for a in agents} == {"Explore", "Plan"}
        assert agents == await migrated.subagents(by_events)
    finally:
        await migrated.close()


def _row(ts: float, kind: str, name: str, **fields: Any) -> EventRow:
    base: dict[str, Any] = dict(
        event_id=str(uuid.uuid4()), hook_event="PostToolUse", client_ts=ts, received_at=ts,
        session_id="s", prompt_id=None, tool_use_id=None, tool_name=name, artifact_type=kind,
        artifact_name=name, plugin=None, mcp_server=None, agent_id=None, agent_type=None,
        success=True, duration_ms=None, cwd="~/app", truncated=False, payload="{}",
    )  # fmt: skip
    base.update(fields)
    base["project"] = project_of(base["cwd"])  # as the daemon sets it
    if base["duration_ms"] is not None:
        base["duration_bucket"] = durations.bucket(base["duration_ms"])
    return EventRow(**base)


def _versions_and_subagents() -> list[Record]:
    """Two versions of a skill on two days, and subagents' runs and what ran inside them."""
    from skilltrack.daemon.store.records import SkillVersion

    def version(v: str) -> SkillVersion:
        return SkillVersion("sk1", v, "pdf", "user", "~/.claude/skills/pdf", None, v * 4, START)

    t = START + 3600
    return [
        Record(_row(t + i, "skill", "pdf", skill_id="sk1", skill_version="aaa",
                    duration_ms=ms, success=ok), skill=version("aaa"))
        for i, (ms, ok) in enumerate([(10, True), (20, False), (30, True)])
    ] + [
        Record(_row(t + DAY_S + i, "skill", "pdf", skill_id="sk1", skill_version="bbb",
                    duration_ms=ms), skill=version("bbb"))
        for i, ms in enumerate([100, 200])
    ] + [
        Record(_row(t + 10, "agent", "Explore", success=False)),
        Record(_row(t + 11, "agent", "Explore")),
        *[Record(_row(t + 20 + i, "tool", "Bash", agent_type="Explore")) for i in range(3)],
        Record(_row(t + 30, "tool", "Read", agent_type="Explore")),
        *[Record(_row(t + 40 + i, "tool", "Grep", agent_type="Plan")) for i in range(2)],
    ]  # fmt: skip


async def test_skill_versions_side_by_side_and_subagents(tmp_path: Path) -> None:
    s = await ReportStore.open(tmp_path / "v.db")
    records = _versions_and_subagents()
    await s.insert(records)
    try:
        (pdf,) = await s.versions(Filters())
        assert (pdf["name"], pdf["source"]) == ("pdf", "user")
        newest, oldest = pdf["versions"]
        assert (newest["version"], newest["uses"], newest["failures"]) == ("bbb", 2, 0)
        assert (oldest["version"], oldest["uses"], oldest["failures"]) == ("aaa", 3, 1)
        assert oldest["p50_duration_ms"] == durations.percentile([(durations.bucket(20), 1)], 1)
        assert await s.versions(Filters(since=START + 3600 + DAY_S)) == []  # one version in range
        agents = {a["agent_type"]: a for a in await s.subagents(Filters())}
        assert (agents["Explore"]["runs"], agents["Explore"]["failures"]) == (2, 1)
        assert [(u["artifact_name"], u["uses"]) for u in agents["Explore"]["uses_inside"]] == [
            ("Bash", 3), ("Read", 1),
        ]  # fmt: skip
        assert (agents["Plan"]["runs"], agents["Plan"]["uses_inside"][0]["uses"]) == (0, 2)
        assert list(agents) == ["Explore", "Plan"]  # most runs first
        # A project by its folder name reads its lifetime totals, by its path the events:
        # the same answers.
        by_totals, by_events = Filters(project="app"), Filters(project="~/app")
        assert by_totals.project_totals
        assert not by_events.project_totals
        assert await s.versions(by_totals) == await s.versions(by_events) == [pdf]
        assert await s.subagents(by_totals) == await s.subagents(by_events)
        assert {a["agent_type"] for a in await s.subagents(by_totals)} == {"Explore", "Plan"}
        assert await s.versions(Filters(project="elsewhere")) == []
        # From early on the first day, that day is read whole from the daily tables less its
        # events before the range: all of them, or none, of the subagents' uses.
        early, late = Filters(since=START + 0.03 * DAY_S), Filters(since=START + 0.1 * DAY_S)
        assert await s.subagents(early) == await s.subagents(Filters())
        assert await s.subagents(late) == []
        assert [d["uses"] for d in await s.per_day(late) if d["uses"]] == [2]  # bbb's, next day
    finally:
        await s.close()


async def test_a_day_is_read_whole_less_its_events_only_where_none_were_pruned(
    tmp_path: Path,
) -> None:
    # Ten uses at 01:00 and five at 20:00: from 02:00 on, the day is mostly inside the range,
    # and read from the daily tables less the events before 02:00, until those are pruned.
    s = await ReportStore.open(tmp_path / "p.db")
    day = START + 3 * DAY_S
    await s.insert([Record(_row(day + 3600 + i, "tool", "Bash")) for i in range(10)])
    await s.insert([Record(_row(day + 20 * 3600 + i, "tool", "Bash")) for i in range(5)])
    since = Filters(since=day + 2 * 3600)
    until = Filters(until=day + 23 * 3600)  # a last day mostly inside, none of it pruned
    try:
        for _ in range(2):
            ((bash,),) = [await s.artifacts(since)]
            assert bash["uses"] == 5
            assert [d["uses"] for d in await s.per_day(since, now=day)] == [5]
            assert (await s.artifacts(until))[0]["uses"] == 15
            assert await s.prune(since.since or 0) in (10, 0)  # once, then nothing left
        (horizon,) = await s._db.execute_fetchall("SELECT before FROM prune_horizon")
        assert horizon[0] == since.since
    finally:
        await s.close()


async def test_a_ranges_partial_days_are_read_from_the_time_index_alone(
    own_store: ReportStore,
) -> None:
    store = own_store
    # Every query of a range's edge days, planned on the real schema: each must be answered
    # from `events_time` without a lookup into the table (a column missing from the index
    # would make it "USING INDEX" instead, at ~2 µs an event on a real database).
    await store.insert(_versions_and_subagents())  # two versions of a skill, and subagents
    f = Filters(since=START + 0.02 * DAY_S, until=START + 6.6 * DAY_S)  # partial days each end
    statements: list[str] = []
    await store._db.set_trace_callback(statements.append)
    edges: dict[str, list[str]] = {}
    for query in (store.artifacts, store.per_day, store.versions, store.uses_inside):
        statements.clear()
        assert await query(f)
        edges[query.__name__] = [sql for sql in statements if "INDEXED BY events_time" in sql]
    assert all(edges.values()), edges
    for sql in (sql for found in edges.values() for sql in found):
        plan = " ".join(
            str(row[-1]) for row in await store._db.execute_fetchall(f"EXPLAIN QUERY PLAN {sql}")
        )
        assert "COVERING INDEX events_time" in plan, plan
