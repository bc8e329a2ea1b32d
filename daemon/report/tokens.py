"""Tokens and cost over a report's range: per artifact (a skill's or command's requests, a
subagent run's) and in total (every request once), from what the usage task stored.

With no project or session filter, whole UTC days come from `token_days` (kept by trigger)
and only the requests of a partial first or last day are read, through their time index;
with one, the matching requests are read (a project by its folder name).
"""

from __future__ import annotations

import math
from typing import Any

from skilltrack.daemon.ingest.projects import project_of
from skilltrack.daemon.report.filters import Filters
from skilltrack.daemon.report.token_figures import Sums
from skilltrack.daemon.store.database import Store

DAY_S = 86400
_SUMS = (
    "count(*), sum(input_tokens), sum(output_tokens), sum(cache_5m_tokens + cache_1h_tokens), "
    "sum(cache_read_tokens), sum(coalesce(cost_usd, 0)), sum(cost_usd IS NULL)"
)
_DAY_SUMS = (
    "sum(requests), sum(input_tokens), sum(output_tokens), "
    "sum(cache_5m_tokens + cache_1h_tokens), sum(cache_read_tokens), sum(cost_usd), "
    "sum(unpriced)"
)
# A request's keys: every request once, its skill or command, its subagent run.
_KEYS = (
    ("'', ''", "1"),
    ("use_type, use_name", "use_event IS NOT NULL"),
    ("'agent', run_name", "run_event IS NOT NULL"),
)


class TokenReport(Store):
    async def tokens(self, f: Filters) -> dict[tuple[str, str], Sums]:
        """The sums per (artifact_type, artifact_name), and TOTAL's (see `figures`)."""
        sums: dict[tuple[str, str], Sums] = {}
        if f.by_events:
            where, values = _request_where(f.since, f.until, f)
            await self._add_requests(sums, where, values)
        else:
            first = None if f.since is None else math.ceil(f.since / DAY_S)
            end = None if f.until is None else math.floor(f.until / DAY_S)
            if first is not None and end is not None and end <= first:
                await self._add_requests(sums, *_request_where(f.since, f.until, f))
            else:
                await self._add_days(sums, first, end)
                if first is not None and f.since is not None and f.since < first * DAY_S:
                    await self._add_requests(sums, *_request_where(f.since, first * DAY_S, f))
                if end is not None and f.until is not None and end * DAY_S < f.until:
                    await self._add_requests(sums, *_request_where(end * DAY_S, f.until, f))
        return sums

    async def _add_days(self, sums: dict[tuple[str, str], Sums], first: int | None,
                        end: int | None) -> None:  # fmt: skip
        where, values = ["1"], []
        for clause, value in (("day >= ?", first), ("day < ?", end)):
            if value is not None:
                where.append(clause)
                values.append(value)
        rows = await self._db.execute_fetchall(
            f"SELECT artifact_type, artifact_name, {_DAY_SUMS} FROM token_days "
            f"WHERE {' AND '.join(where)} GROUP BY artifact_type, artifact_name",
            values,
        )
        for kind, name, *row in rows:
            _add(sums, (kind, name), row)

    async def _add_requests(
        self, sums: dict[tuple[str, str], Sums], where: str, values: list[Any]
    ) -> None:
        for keys, condition in _KEYS:
            rows = await self._db.execute_fetchall(
                f"SELECT {keys}, {_SUMS} FROM requests WHERE {where} AND {condition} GROUP BY 1, 2",
                values,
            )
            for kind, name, *row in rows:
                _add(sums, (kind, name), row)

    async def version_tokens(self, f: Filters, names: list[str]) -> dict[tuple[str, str], Sums]:
        """The sums per (skill_id, skill_version) of the requests owned by uses of the skills
        or commands `names` (those with versions side by side), from the requests themselves:
        a version is its use's, and `token_days` keeps none. Bounded by the range."""
        if not names:
            return {}
        where, values = _request_where(f.since, f.until, f)
        marks = ", ".join("?" * len(names))
        # The requests first, then each one's use by its unique event id: the few
        # versioned skills' requests only, never a scan of the events.
        rows = await self._db.execute_fetchall(
            f"SELECT e.skill_id, e.skill_version, {_SUMS} FROM "
            f"(SELECT * FROM requests WHERE {where} AND use_event IS NOT NULL "
            # A plugin's skill is used as `plugin:name`.
            f"AND substr(use_name, instr(use_name, ':') + 1) IN ({marks})) AS r "
            "JOIN events e ON e.event_id = r.use_event "
            "WHERE e.skill_id IS NOT NULL AND e.skill_version IS NOT NULL GROUP BY 1, 2",
            [*values, *names],
        )
        sums: dict[tuple[str, str], Sums] = {}
        for skill_id, version, *row in rows:
            _add(sums, (skill_id, version), row)
        return sums

    async def tokens_by(self, key: str, f: Filters) -> dict[str, tuple[Sums, float, float, Any]]:
        """Per session (`key` "session") or project ("project"), the sums of its requests
        over the range, the first and last request's time, and the session's project (or
        the project's number of sessions)."""
        column, other = {
            "session": ("session_id", "max(project)"),
            "project": ("project", "count(DISTINCT session_id)"),
        }[key]  # never SQL from input
        where, values = _request_where(f.since, f.until, f)
        rows = await self._db.execute_fetchall(
            f"SELECT {column}, min(at), max(at), {other}, {_SUMS} FROM requests "
            f"WHERE {where} AND {column} IS NOT NULL GROUP BY 1",
            values,
        )
        sums: dict[str, Sums] = {}
        out: dict[str, tuple[Sums, float, float, Any]] = {}
        for name, first, last, extra, *row in rows:
            _add(sums, name, row)
            out[name] = (sums[name], first, last, extra)
        return out

    async def cost_per_day(self, f: Filters) -> dict[int, Sums]:
        """Every request's sums per UTC day (days since 1970): whole days from `token_days`,
        a partial first or last day (or a session's or project's) from the requests."""
        per_day: dict[int, Sums] = {}

        async def requests(since: float | None, until: float | None) -> None:
            where, values = _request_where(since, until, f)
            for day, *row in await self._db.execute_fetchall(
                f"SELECT day, {_SUMS} FROM requests WHERE {where} GROUP BY 1", values
            ):
                _add(per_day, day, row)

        if f.by_events:
            await requests(f.since, f.until)
            return per_day
        first = None if f.since is None else math.ceil(f.since / DAY_S)
        end = None if f.until is None else math.floor(f.until / DAY_S)
        if first is not None and end is not None and end <= first:
            await requests(f.since, f.until)
            return per_day
        where, values = ["artifact_type = '' AND artifact_name = ''"], []
        for clause, value in (("day >= ?", first), ("day < ?", end)):
            if value is not None:
                where.append(clause)
                values.append(value)
        for day, *row in await self._db.execute_fetchall(
            f"SELECT day, {_DAY_SUMS} FROM token_days WHERE {' AND '.join(where)} GROUP BY 1",
            values,
        ):
            _add(per_day, day, row)
        if first is not None and f.since is not None and f.since < first * DAY_S:
            await requests(f.since, first * DAY_S)
        if end is not None and f.until is not None and end * DAY_S < f.until:
            await requests(end * DAY_S, f.until)
        return per_day


def _request_where(since: float | None, until: float | None, f: Filters) -> tuple[str, list[Any]]:
    where, values = ["1"], []
    for clause, value in (
        ("at >= ?", since),
        ("at < ?", until),
        ("session_id = ?", f.session),
        ("project = ?", None if f.project is None else project_of(f.project)),
    ):
        if value is not None:
            where.append(clause)
            values.append(value)
    return " AND ".join(where), values


def _add(sums: dict[Any, Sums], key: Any, row: list[Any]) -> None:
    mine = sums.setdefault(key, [0] * 7)
    for i, value in enumerate(row):
        mine[i] += value or 0
