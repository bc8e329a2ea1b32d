"""The reports' SQL: top artifacts, uses per day, skill versions side by side, subagents.

Fast where it can be: with no filter but time, reports read the summary tables kept by
trigger — lifetime totals for all time (`artifact_summary` and `artifact_durations`,
`version_totals`, `agent_uses`), running totals per UTC day (`artifact_running`) and totals
per UTC day (`daily_uses`, `version_stats`, `agent_stats`) for a range — and only the events
of the first and last, partial, days of a range (of such a day mostly inside the range, the
events outside it); for a project (by its folder name) over all time, its lifetime totals
(`project_artifacts`, `project_days`, `project_versions`, `project_agents`); with another
project or session filter, they read the matching events through their indexes. Durations'
p50/p95 come from the duration buckets (durations.py): within about 5%.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from operator import add, sub
from typing import Any

from skilltrack.daemon.report.filters import Filters
from skilltrack.daemon.report.tokens import TokenReport
from skilltrack.daemon.store import durations

DAY_S = 86400
MAX_FILLED_DAYS = 3660  # per_day fills the gaps of ten years at most


def _per_key(keys: str, per_bucket: str) -> str:
    """A query with one row per `keys` from `per_bucket`, a query with one row per `keys` and
    duration bucket (columns `bucket, uses, failures, total_ms, first_used, last_used`): the
    keys, the timed buckets and their uses as two `group_concat` lists, then the sums and the
    span. Thousands of buckets cost a Python loop and a row each (~2 µs a row here); a few
    hundred rows of lists cost a split."""
    return f"""
        SELECT {keys},
               group_concat(CASE WHEN bucket >= 0 THEN bucket END),
               group_concat(CASE WHEN bucket >= 0 THEN uses END),
               sum(uses), sum(failures), sum(total_ms), min(first_used), max(last_used)
        FROM ({per_bucket}) GROUP BY {keys}
    """


@dataclass
class Tally:
    """Uses, failures and durations of one artifact (or one version) over a report's range."""

    uses: int = 0
    failures: int = 0
    total_duration_ms: int = 0
    buckets: list[int] = field(default_factory=list)  # timed uses by duration bucket number

    def add(
        self,
        uses: int,
        failures: int,
        total_ms: int,
        buckets: str | list[int] | None,
        counts: str | None,
    ) -> None:
        """Add a row of `_per_key`'s: `buckets` and `counts` are its comma-separated lists
        (None when nothing was timed), or `buckets` is already timed uses by bucket number
        (the running totals' rows) and `counts` None."""
        self.uses += uses
        self.failures += failures
        self.total_duration_ms += total_ms
        if isinstance(buckets, list):
            timed = buckets
        elif buckets and counts:
            # Read as JSON arrays: json's C parser takes half the time of int() over a split.
            # Then spread by bucket number through C loops too (dict, map), not a Python one.
            per = dict(zip(json.loads(f"[{buckets}]"), json.loads(f"[{counts}]"), strict=True))
            timed = list(map(per.get, range(max(per) + 1), repeat(0)))
        else:
            return
        mine = self.buckets
        if not mine:
            self.buckets = timed
            return
        longer, shorter = (mine, timed) if len(mine) >= len(timed) else (timed, mine)
        self.buckets = [*map(add, longer, shorter), *longer[len(shorter) :]]

    def figures(self) -> dict[str, Any]:
        timed = sum(self.buckets)
        p50, p95 = durations.percentiles_by_bucket(self.buckets, (0.50, 0.95))
        return {
            "uses": self.uses,
            "failures": self.failures,
            "failure_rate": round(self.failures / self.uses, 4) if self.uses else 0.0,
            "avg_duration_ms": round(self.total_duration_ms / timed, 1) if timed else None,
            "p50_duration_ms": p50,
            "p95_duration_ms": p95,
        }


# Reads a range's whole days `[first, end)` (None: unbounded) from somewhere other than a
# daily table's query; see `_ranged`.
WholeDays = Callable[[int | None, int | None], Awaitable[list[tuple[Any, ...]]]]


@dataclass(frozen=True)
class _Split:
    """A time range as the reports read it: whole UTC days `[first, end)` from the daily
    tables (None: unbounded), and `edges`, `(since, until, sign)` spans read from the events,
    added (`sign` 1) or taken away (-1)."""

    first: int | None
    end: int | None
    edges: list[tuple[float | None, float | None, int]]


def _split(f: Filters, *, horizon: float | None) -> _Split:
    """How to read `f`'s range. A partial first or last day is read from its events; one more
    than half inside the range may instead be read as the whole day from the daily tables less
    its events outside the range, so that at most half a day of events is read at either end
    (exact for counts and histograms, not for first/last use). That takes the events outside
    the range to be all still stored: only those from `horizon` on are (retention deletes
    older ones; None: borrow no day)."""
    first = None if f.since is None else math.ceil(f.since / DAY_S)
    end = None if f.until is None else math.floor(f.until / DAY_S)
    if first is not None and end is not None and end <= first:
        return _Split(first, first, [(f.since, f.until, 1)])  # within a day, or two partial
    edges: list[tuple[float | None, float | None, int]] = []
    if f.since is not None and first is not None and f.since < first * DAY_S:
        borrowed = float((first - 1) * DAY_S)
        if horizon is not None and borrowed >= horizon and first * DAY_S - f.since > DAY_S / 2:
            first -= 1
            edges.append((borrowed, f.since, -1))
        else:
            edges.append((f.since, float(first * DAY_S), 1))
    if f.until is not None and end is not None and end * DAY_S < f.until:
        if horizon is not None and f.until >= horizon and f.until - end * DAY_S > DAY_S / 2:
            end += 1
            edges.append((f.until, float(end * DAY_S), -1))
        else:
            edges.append((float(end * DAY_S), f.until, 1))
    return _Split(first, end, edges)


def _whole_days_where(split: _Split, artifact_type: str | None) -> tuple[str, list[Any]] | None:
    """The WHERE clause (and values) over the `day` column of the daily tables selecting the
    split's whole days (and the artifact type); None when it holds no whole day."""
    first, end = split.first, split.end
    if first is not None and end is not None and end <= first:
        return None
    where: list[str] = ["1"]
    values: list[Any] = []
    for clause, value in (("day >= ?", first), ("day < ?", end), ("artifact_type = ?",
                                                                  artifact_type)):  # fmt: skip
        if value is not None:
            where.append(clause)
            values.append(value)
    return " AND ".join(where), values


def _events_per_bucket(keys: str, condition: str = "1") -> str:
    """Events per `keys` and duration bucket, in the shape `_per_key` reads; `{index}`,
    `{where}` and `{sign}` left for `_ranged`."""
    return f"""
        SELECT {keys}, coalesce(duration_bucket, -1) AS bucket, {{sign}} * count(*) AS uses,
               {{sign}} * sum(success IS 0) AS failures,
               {{sign}} * coalesce(sum(duration_ms), 0) AS total_ms,
               min(client_ts) AS first_used, max(client_ts) AS last_used
        FROM events {{index}} WHERE {condition} AND {{where}}
        GROUP BY {keys}, bucket
    """


class ReportStore(TokenReport):
    """The store as `skilltrack report` (and the dashboard) reads it."""

    async def artifacts(self, f: Filters) -> list[dict[str, Any]]:
        """Per artifact over the range: uses, failures, durations, first/last use, rating;
        most used first."""
        tallies: dict[tuple[str, str], Tally] = {}
        by_events: dict[tuple[str, str], tuple[float, float]] = {}  # first and last use
        if f.lifetime:
            await self._lifetime(tallies, f.artifact_type)
        else:
            # The running totals have no first or last use: a range takes them from _first_last.
            keys = "artifact_type, artifact_name"
            ranged = await self._ranged(
                f,
                daily=lambda first, end: self._running_days(first, end, f.artifact_type),
                events=_per_key(keys, _events_per_bucket(keys)),
                totals=_per_key(
                    keys,
                    "SELECT artifact_type, artifact_name, bucket, uses, failures, "
                    "total_duration_ms AS total_ms, first_used, last_used "
                    "FROM project_artifacts WHERE {where}",
                ),
            )
            for kind, name, buckets, counts, uses, failures, total_ms, since, until in ranged:
                tallies.setdefault((kind, name), Tally()).add(
                    uses, failures, total_ms, buckets, counts
                )
                if f.by_events:
                    seen = by_events.get((kind, name), (since, until))
                    by_events[kind, name] = (min(seen[0], since), max(seen[1], until))
        summary = {
            (r["artifact_type"], r["artifact_name"]): dict(r)
            for r in await self._db.execute_fetchall(
                """
                SELECT artifact_type, artifact_name, plugin, mcp_server, first_used,
                       last_used, ratings, avg_rating_x100
                FROM artifact_summary
                """
            )
        }
        spans: dict[tuple[str, str], tuple[float | None, float | None]]
        spans = dict(by_events) if f.by_events else await self._first_last(f, summary)
        rows = []
        for (kind, name), tally in tallies.items():
            if tally.uses == 0:
                continue
            known = summary.get((kind, name), {})
            first, last = spans.get((kind, name), (None, None))
            rating = known.get("avg_rating_x100")
            rows.append(
                {
                    "artifact_type": kind,
                    "artifact_name": name,
                    "plugin": known.get("plugin"),
                    "mcp_server": known.get("mcp_server"),
                    **tally.figures(),
                    "total_duration_ms": tally.total_duration_ms,
                    "first_used": first,
                    "last_used": last,
                    "ratings": known.get("ratings", 0),
                    "avg_rating": None if rating is None else rating / 100,
                }
            )
        rows.sort(key=lambda r: (-r["uses"], r["artifact_type"], r["artifact_name"]))
        return rows

    async def _lifetime(self, tallies: dict[tuple[str, str], Tally], kind: str | None) -> None:
        """All-time tallies: the lifetime summary and duration histogram, no event read."""
        only = "" if kind is None else "WHERE artifact_type = ?"
        values = [] if kind is None else [kind]
        for kind_, name, uses, failures, total_ms in await self._tuples(
            f"SELECT artifact_type, artifact_name, uses, failures, total_duration_ms "
            f"FROM artifact_summary {only}",
            values,
        ):
            counted = tallies.setdefault((kind_, name), Tally())
            counted.uses, counted.failures, counted.total_duration_ms = uses, failures, total_ms
        for kind_, name, buckets, counts in await self._tuples(
            f"SELECT artifact_type, artifact_name, group_concat(bucket), group_concat(n) "
            f"FROM artifact_durations {only} GROUP BY 1, 2",
            values,
        ):
            tally = tallies.get((kind_, name))
            if tally is not None:
                tally.add(0, 0, 0, buckets, counts)

    async def _running_days(
        self, first: int | None, end: int | None, kind: str | None
    ) -> list[tuple[Any, ...]]:
        """Per artifact over the whole days `[first, end)` (None: unbounded), in `_per_key`'s
        shape without first and last use and with the timed uses by bucket number as one list
        (see `Tally.add`): its running totals through the day before `end` less those through
        the day before `first` (two seeks an artifact)."""
        only = "" if kind is None else "WHERE s.artifact_type = :kind"
        # CROSS JOIN: from each summary row to its two running rows. Left to itself, the
        # planner reads every running row and looks for its artifact (~30 vs 4 ms here).
        # An unbounded side is left out, not given a sentinel day: a client_ts far in the
        # future (the hook accepts any) has a day past any sentinel but the largest integer.
        latest = (
            "(SELECT max(day) FROM artifact_running WHERE artifact_type = s.artifact_type "
            "AND artifact_name = s.artifact_name{})"
        )
        through_end = latest.format("" if end is None else " AND day < :end")
        before_first = (
            "NULL, NULL, NULL, NULL" if first is None
            else "lo.uses, lo.failures, lo.total_duration_ms, lo.buckets"
        )  # fmt: skip
        join_first = "" if first is None else (
            "LEFT JOIN artifact_running lo ON lo.artifact_type = s.artifact_type "
            "AND lo.artifact_name = s.artifact_name AND lo.day = "
            + latest.format(" AND day < :first")
        )  # fmt: skip
        rows = await self._tuples(
            f"""
            SELECT s.artifact_type, s.artifact_name, hi.uses, hi.failures,
                   hi.total_duration_ms, hi.buckets, {before_first}
            FROM artifact_summary s
            CROSS JOIN artifact_running hi ON hi.artifact_type = s.artifact_type
                AND hi.artifact_name = s.artifact_name AND hi.day = {through_end}
            {join_first}
            {only}
            """,
            {"first": first, "end": end, "kind": kind},
        )
        out = []
        for kind_, name, uses, failures, total_ms, buckets, *before in rows:
            timed: list[int] = json.loads(buckets)
            lo_uses, lo_failures, lo_ms, lo_buckets = before
            if lo_uses is not None:
                uses, failures, total_ms = (uses - lo_uses, failures - lo_failures,
                                            total_ms - lo_ms)  # fmt: skip
                earlier: list[int] = json.loads(lo_buckets)  # never the longer of the two
                timed = [*map(sub, timed, earlier), *timed[len(earlier) :]]
            if uses:
                out.append((kind_, name, timed, None, uses, failures, total_ms, None, None))
        return out

    async def _first_last(
        self, f: Filters, summary: dict[tuple[str, str], dict[str, Any]]
    ) -> dict[tuple[str, str], tuple[float | None, float | None]]:
        """Each artifact's first and last use within a time range (no project or session
        filter): the summary's when the range is all time, else two seeks per artifact on
        (artifact_type, artifact_name, client_ts), in one query."""
        if f.lifetime:
            return {key: (row["first_used"], row["last_used"]) for key, row in summary.items()}
        since = -math.inf if f.since is None else f.since
        until = math.inf if f.until is None else f.until
        only = "" if f.artifact_type is None else "WHERE a.artifact_type = :kind"
        # min and max apart: a query asking for both reads every entry in between.
        seek = (
            "(SELECT {}(client_ts) FROM events INDEXED BY events_artifact "
            "WHERE artifact_type = a.artifact_type AND artifact_name = a.artifact_name "
            "AND client_ts >= :since AND client_ts < :until)"
        )
        rows = await self._db.execute_fetchall(
            f"SELECT a.artifact_type, a.artifact_name, {seek.format('min')}, "
            f"{seek.format('max')} FROM artifact_summary a {only}",
            {"since": since, "until": until, "kind": f.artifact_type},
        )
        return {(r[0], r[1]): (r[2], r[3]) for r in rows}

    async def per_day(self, f: Filters, now: float | None = None) -> list[dict[str, Any]]:
        """Uses and failures per UTC day over the whole range asked for, days without use
        included: from `since`'s day (else the first day with use) to the day before
        `until` (else today, `now`); nothing if nothing was used in it."""
        counts: dict[int, list[int]] = {}
        for day, uses, failures in await self._ranged(
            f,
            daily="SELECT day, sum(uses), sum(failures) FROM daily_uses WHERE {where} GROUP BY day",
            events=f"SELECT CAST(client_ts / {DAY_S} AS INTEGER), {{sign}} * count(*), "
            "{sign} * sum(success IS 0) FROM events {index} WHERE {where} GROUP BY 1",
            totals="SELECT day, sum(uses), sum(failures) FROM project_days WHERE {where} "
            "GROUP BY day",
        ):
            total = counts.setdefault(int(day), [0, 0])
            total[0] += uses
            total[1] += failures
        counts = {day: total for day, total in counts.items() if total[0]}
        if not counts:
            return []
        first_day, last_day = min(counts), max(counts)
        end = (time.time() if now is None else now) if f.until is None else f.until - 0.001
        start_day = first_day if f.since is None else min(first_day, int(f.since // DAY_S))
        end_day = max(last_day, int(end // DAY_S))
        # Days without use too, unless that would be more than MAX_FILLED_DAYS (a range
        # from long ago, or a database holding a time from a broken clock): then only from
        # the first day with use to the last, or if that is still too long, those days alone.
        days: Sequence[int] = range(start_day, end_day + 1)
        if len(days) > MAX_FILLED_DAYS:
            days = range(first_day, last_day + 1)
        if len(days) > MAX_FILLED_DAYS:
            days = sorted(counts)
        return [
            {"day": day * DAY_S, "uses": counts.get(day, [0, 0])[0],
             "failures": counts.get(day, [0, 0])[1]}
            for day in days
        ]  # fmt: skip

    async def rate(
        self,
        user_id: str,
        skill: str,
        rating: int,
        comment: str | None = None,
        hours_saved: float | None = None,
    ) -> dict[str, Any]:
        """Record `user_id`'s rating of `skill`, replacing theirs but for what is not given
        again: a comment or hours saved of None keeps the earlier one (an empty comment
        clears it). Returns the rating as stored, with the skill's average and count.
        LookupError if no use of the skill is stored."""
        async with self._transaction():
            used = await self._db.execute_fetchall(
                "SELECT 1 FROM artifact_summary WHERE artifact_type = 'skill' AND "
                "artifact_name = ?",
                (skill,),
            )
            if not used:
                raise LookupError(skill)
            await self._db.execute(
                """
                INSERT INTO ratings (user_id, skill, rating, comment, hours_saved, rated_at)
                VALUES (?1, ?2, ?3, nullif(?4, ''), ?5, ?6)
                ON CONFLICT (skill, user_id) DO UPDATE SET rating = excluded.rating,
                    comment = CASE WHEN ?4 IS NULL THEN ratings.comment ELSE nullif(?4, '') END,
                    hours_saved = coalesce(?5, ratings.hours_saved),
                    rated_at = excluded.rated_at
                """,
                (user_id, skill, rating, comment, hours_saved, time.time()),
            )
        ((kept_comment, kept_hours, count, average),) = await self._db.execute_fetchall(
            "SELECT r.comment, r.hours_saved, s.ratings, s.avg_rating_x100 "
            "FROM ratings r JOIN artifact_summary s "
            "ON s.artifact_type = 'skill' AND s.artifact_name = r.skill "
            "WHERE r.skill = ? AND r.user_id = ?",
            (skill, user_id),
        )
        return {
            "skill": skill, "user_id": user_id, "rating": rating, "comment": kept_comment,
            "hours_saved": kept_hours, "ratings": count, "avg_rating": average / 100,
        }  # fmt: skip

    async def ratings(self, f: Filters) -> list[dict[str, Any]]:
        """Every current rating (one per user and skill, whenever given), by skill, the
        newest first: what `rate` recorded, comment and hours saved included."""
        if f.artifact_type not in (None, "skill"):
            return []
        rows = await self._db.execute_fetchall(
            "SELECT skill, user_id, rating, comment, hours_saved, rated_at FROM ratings "
            "ORDER BY skill, rated_at DESC"
        )
        keys = ("skill", "user_id", "rating", "comment", "hours_saved", "rated_at")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    async def _ranged(
        self,
        f: Filters,
        *,
        daily: str | WholeDays,
        events: str,
        totals: str,
        borrow: bool = True,
    ) -> list[tuple[Any, ...]]:
        """Rows of one shape for a range or a session's or project's events: the `daily`
        table's query (`{where}` its days), or what `daily(first, end)` reads, over the
        range's whole days and the `events` query
        (`{index}`, `{where}`; `{sign}`, 1 or -1, multiplies what it adds up) over its partial
        first and last days (`borrow`: whether such a day may be read whole less its events
        outside the range, see `_split`); `totals` (`{where}` its project) for a project's
        lifetime totals; or `events` alone over a session's or project's events. The artifact
        type, if any, applies to all. Rows of one key may have to be added up (and may add up
        to nothing)."""
        if f.project_totals:
            where, values = f.project_totals_where()
            return await self._tuples(totals.format(where=where), values)
        if f.by_events:
            return await self._events(events, [(f, 1)])
        # One snapshot: a day read whole less the events outside the range must not see an
        # event the daemon stores between the two reads, nor lose one that a prune deletes.
        await self._db.execute("BEGIN")
        try:
            horizon = await self._prune_horizon() if borrow else None
            split = _split(f, horizon=horizon)
            rows = await self._events(
                events, [(Filters(s, u, artifact_type=f.artifact_type), sign)
                         for s, u, sign in split.edges]
            )  # fmt: skip
            days = _whole_days_where(split, f.artifact_type)
            # The whole days first: their rows (the most buckets, in the daily query's
            # order) start each key's tally, and the edges' few are added to them.
            if days is not None:
                if isinstance(daily, str):
                    where, values = days
                    rows = await self._tuples(daily.format(where=where), values) + rows
                else:
                    rows = await daily(split.first, split.end) + rows
        finally:
            await self._db.execute("COMMIT")
        return rows

    async def _events(self, events: str, parts: list[tuple[Filters, int]]) -> list[tuple[Any, ...]]:
        """The rows of the `events` query over each part's events, times its sign."""
        rows: list[tuple[Any, ...]] = []
        for part, sign in parts:
            where, values = part.event_conditions()
            rows += await self._tuples(
                events.format(index=part.events_index(), where=where, sign=sign), values
            )
        return rows

    async def _prune_horizon(self) -> float:
        """The time before which events may have been deleted by retention (Store.prune)."""
        rows = await self._tuples("SELECT before FROM prune_horizon")
        return float(rows[0][0]) if rows else -math.inf

    async def _tuples(
        self, sql: str, values: Sequence[Any] | dict[str, Any] = ()
    ) -> list[tuple[Any, ...]]:
        """The rows of a query as plain tuples: cheaper than named rows where thousands are
        read by position."""
        async with self._db.execute(sql, values) as cursor:
            cursor.row_factory = None
            rows: Iterable[tuple[Any, ...]] = await cursor.fetchall()  # type: ignore[assignment]
            return list(rows)

    async def versions(self, f: Filters) -> list[dict[str, Any]]:
        """Each skill used in more than one version, its versions side by side (newest
        first): uses, failures and durations of each over the range."""
        skills = await self._db.execute_fetchall(
            """
            SELECT s.skill_id, s.name, s.source, s.location FROM skills s
            WHERE (SELECT count(*) FROM skill_versions v WHERE v.skill_id = s.skill_id) > 1
            ORDER BY s.name, s.source
            """
        )
        if not skills:
            return []
        every_kind = Filters(f.since, f.until, f.project, f.session)  # only skills have one
        keys = "skill_id, skill_version"
        if every_kind.lifetime:
            rows = await self._tuples(
                _per_key(
                    keys,
                    "SELECT skill_id, skill_version, bucket, uses, failures, "
                    "total_duration_ms AS total_ms, first_used, last_used FROM version_totals",
                )
            )
        else:
            rows = await self._ranged(
                every_kind,
                daily=_per_key(
                    keys,
                    """
                    SELECT skill_id, skill_version, bucket, sum(uses) AS uses,
                           sum(failures) AS failures, sum(total_duration_ms) AS total_ms,
                           min(first_used) AS first_used, max(last_used) AS last_used
                    FROM version_stats WHERE {where}
                    GROUP BY 1, 2, 3
                    """,
                ),
                events=_per_key(
                    keys,
                    _events_per_bucket(keys, "skill_id IS NOT NULL AND skill_version IS NOT NULL"),
                ),
                totals=_per_key(
                    keys,
                    "SELECT skill_id, skill_version, bucket, uses, failures, "
                    "total_duration_ms AS total_ms, first_used, last_used "
                    "FROM project_versions WHERE {where}",
                ),
                borrow=False,  # a version's first and last use in the range come from its rows
            )
        used: dict[str, dict[str, tuple[Tally, list[float]]]] = {}  # skill → version → …
        for skill_id, version, buckets, counts, uses, failures, total_ms, first, last in rows:
            versions = used.setdefault(skill_id, {})
            entry = versions.get(version)
            if entry is None:
                entry = versions[version] = (Tally(), [first, last])
            else:
                span = entry[1]
                if first < span[0]:
                    span[0] = first
                if last > span[1]:
                    span[1] = last
            entry[0].add(uses, failures, total_ms, buckets, counts)
        out = []
        for skill_id, name, source, location in skills:
            of_skill = used.get(skill_id, {})
            if len(of_skill) < 2:
                continue  # side by side needs two versions used in the range
            side_by_side = [
                {"version": v, "first_used": first, "last_used": last, **tally.figures()}
                for v, (tally, (first, last)) in of_skill.items()
            ]
            side_by_side.sort(key=lambda v: v["first_used"], reverse=True)
            out.append(
                {"skill_id": skill_id, "name": name, "source": source, "location": location,
                 "versions": side_by_side}
            )  # fmt: skip
        return out

    async def subagents(
        self, f: Filters, agents: list[dict[str, Any]] | None = None
    ) -> list[dict[str, Any]]:
        """Each subagent type: how often it ran (its Agent/Task calls) and what was used
        inside it, most used first. `agents`: the agent rows of `artifacts` over the same
        filters, if the caller has them already."""
        if agents is None:
            agents = await self.artifacts(Filters(f.since, f.until, f.project, f.session, "agent"))
        return subagents_of(agents, await self.uses_inside(f))

    async def uses_inside(self, f: Filters) -> dict[tuple[str, str, str], list[int]]:
        """What was used inside subagents: (agent type, artifact type, artifact name) →
        [uses, failures] (the artifact type filter does not apply: a subagent's row lists
        everything used inside it)."""
        every_kind = Filters(f.since, f.until, f.project, f.session)
        # In subagents_of's order, which then sorts a list already (almost) in order: a few
        # comparisons an item instead of a dozen (thousands of items, tuples compared).
        order = "ORDER BY 1, 4 DESC, 2, 3"
        if every_kind.lifetime:
            rows = await self._tuples(
                "SELECT agent_type, artifact_type, artifact_name, uses, failures FROM agent_uses "
                f"WHERE uses <> 0 {order}"
            )
            return {(agent, kind, name): [uses, failures] for agent, kind, name, uses, failures
                    in rows}  # fmt: skip
        rows = await self._ranged(
            every_kind,
            daily=f"""
            SELECT agent_type, artifact_type, artifact_name, sum(uses), sum(failures)
            FROM agent_stats WHERE {{where}}
            GROUP BY 1, 2, 3 {order}
            """,
            events="""
            SELECT agent_type, artifact_type, artifact_name, {sign} * count(*),
                   {sign} * sum(success IS 0)
            FROM events {index} WHERE agent_type IS NOT NULL AND {where}
            GROUP BY 1, 2, 3
            """,
            totals="SELECT agent_type, artifact_type, artifact_name, uses, failures "
            "FROM project_agents WHERE {where}",
        )
        counts: dict[tuple[str, str, str], list[int]] = {}
        for agent, kind, name, uses, failures in rows:
            total = counts.setdefault((agent, kind, name), [0, 0])
            total[0] += uses
            total[1] += failures
        return {key: total for key, total in counts.items() if total[0]}

    async def project_uses(self, f: Filters) -> dict[str, list[int]]:
        """Uses and failures per project over the range: the per-project lifetime totals for
        all time, their daily totals over a range's whole days (with the events of its partial
        ones), the events for a session or a project path."""
        kind = "" if f.artifact_type is None else " AND artifact_type = ?"
        if f.lifetime:
            rows = await self._tuples(
                "SELECT project, sum(uses), sum(failures) FROM project_artifacts "
                f"WHERE 1{kind} GROUP BY 1",
                [] if f.artifact_type is None else [f.artifact_type],
            )
        else:
            rows = await self._ranged(
                f,
                daily="SELECT project, sum(uses), sum(failures) FROM project_days "
                "WHERE {where} GROUP BY 1",
                events="""
                SELECT project, {sign} * count(*), {sign} * sum(success IS 0)
                FROM events {index} WHERE project IS NOT NULL AND {where} GROUP BY 1
                """,
                totals="SELECT project, sum(uses), sum(failures) FROM project_artifacts "
                "WHERE {where} GROUP BY 1",
            )
        counts: dict[str, list[int]] = {}
        for project, uses, failures in rows:
            total = counts.setdefault(project, [0, 0])
            total[0] += uses
            total[1] += failures
        return {project: total for project, total in counts.items() if total[0]}

    async def anything_used(self) -> bool:
        """Whether any use was ever stored (retention keeps the lifetime totals)."""
        rows = await self._tuples("SELECT EXISTS (SELECT 1 FROM artifact_summary)")
        return bool(rows[0][0])

    async def last_uses(self, kind: str) -> dict[str, float]:
        """When each artifact of `kind` was last used, by name."""
        rows = await self._db.execute_fetchall(
            "SELECT artifact_name, last_used FROM artifact_summary WHERE artifact_type = ?",
            (kind,),
        )
        return {name: last for name, last in rows}


def subagents_of(
    agents: Iterable[dict[str, Any]], inside: dict[tuple[str, str, str], list[int]]
) -> list[dict[str, Any]]:
    """The subagents report from the agent rows of `artifacts` (their runs) and what
    `uses_inside` found, most runs first; inside each, most used first."""
    runs = {a["artifact_name"]: a for a in agents if a["artifact_type"] == "agent"}
    used: dict[str, list[dict[str, Any]]] = {}
    for (agent, kind, name), (uses, failures) in sorted(
        inside.items(), key=lambda item: (item[0][0], -item[1][0], item[0][1], item[0][2])
    ):
        used.setdefault(agent, []).append(
            {"artifact_type": kind, "artifact_name": name, "uses": uses, "failures": failures}
        )
    out = []
    for agent in sorted(set(runs) | set(used)):
        run = runs.get(agent, {})
        out.append(
            {
                "agent_type": agent,
                "runs": run.get("uses", 0),
                "failures": run.get("failures", 0),
                "p50_duration_ms": run.get("p50_duration_ms"),
                "uses_inside": used.get(agent, []),
            }
        )
    out.sort(key=lambda a: (-a["runs"], a["agent_type"]))
    return out
