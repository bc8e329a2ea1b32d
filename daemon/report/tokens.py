"""Tokens and cost over a report's range: per artifact (a skill's or command's requests, a
subagent run's) and in total (every request once), from what the usage task stored.

Whole UTC days come from totals kept by trigger (`token_days`, per project `token_projects`,
per skill version `token_versions`, per session `token_sessions`) and only the requests of a
partial first or last day are read, through their time index; with a session filter, the
session's requests are read (a project is named by its folder name).
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
        if f.session is not None:
            where, values = _request_where(f.since, f.until, f)
            await self._add_requests(sums, where, values)
        else:
            first = None if f.since is None else math.ceil(f.since / DAY_S)
            end = None if f.until is None else math.floor(f.until / DAY_S)
            if first is not None and end is not None and end <= first:
                await self._add_requests(sums, *_request_where(f.since, f.until, f))
            else:
                await self._add_days(sums, first, end, _project(f))
                if first is not None and f.since is not None and f.since < first * DAY_S:
                    await self._add_requests(sums, *_request_where(f.since, first * DAY_S, f))
                if end is not None and f.until is not None and end * DAY_S < f.until:
                    await self._add_requests(sums, *_request_where(end * DAY_S, f.until, f))
        return sums

    async def _add_days(self, sums: dict[tuple[str, str], Sums], first: int | None,
                        end: int | None, project: str | None) -> None:  # fmt: skip
        where, values = _day_where(first, end, project)
        rows = await self._db.execute_fetchall(
            f"SELECT artifact_type, artifact_name, {_DAY_SUMS} "
            f"FROM {'token_days' if project is None else 'token_projects'} "
            f"WHERE {where} GROUP BY artifact_type, artifact_name",
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

    async def version_tokens(self, f: Filters, skill_ids: list[str]) -> dict[tuple[str, str], Sums]:
        """The sums per (skill_id, skill_version) of the requests owned by uses of the skills
        (or commands) `skill_ids`: over whole days from `token_versions` (kept by trigger),
        and for a partial first or last day, a session or a project from the requests
        themselves, joined to their uses by event id."""
        sums: dict[tuple[str, str], Sums] = {}
        if not skill_ids:
            return sums
        marks = ", ".join("?" * len(skill_ids))

        async def requests(since: float | None, until: float | None) -> None:
            where, values = _request_where(since, until, f)
            # The range's requests first, then each one's use by its unique event id.
            for skill_id, version, *row in await self._db.execute_fetchall(
                f"SELECT e.skill_id, e.skill_version, {_SUMS} FROM "
                f"(SELECT * FROM requests WHERE {where} AND use_event IS NOT NULL) AS r "
                f"JOIN events e ON e.event_id = r.use_event "
                f"WHERE e.skill_id IN ({marks}) AND e.skill_version IS NOT NULL GROUP BY 1, 2",
                [*values, *skill_ids],
            ):
                _add(sums, (skill_id, version), row)

        if f.session is not None:
            await requests(f.since, f.until)
            return sums
        first, end = _whole_days(f)
        if first is not None and end is not None and end <= first:
            await requests(f.since, f.until)
            return sums
        where, values = _day_where(first, end, _project(f))
        for skill_id, version, *row in await self._db.execute_fetchall(
            f"SELECT skill_id, skill_version, {_DAY_SUMS} FROM token_versions "
            f"WHERE skill_id IN ({marks}) AND {where} GROUP BY 1, 2",
            [*skill_ids, *values],
        ):
            _add(sums, (skill_id, version), row)
        if first is not None and f.since is not None and f.since < first * DAY_S:
            await requests(f.since, first * DAY_S)
        if end is not None and f.until is not None and end * DAY_S < f.until:
            await requests(end * DAY_S, f.until)
        return sums

    async def tokens_by(self, key: str, f: Filters) -> dict[str, tuple[Sums, float, float, Any]]:
        """Per session (`key` "session") or project ("project"), the sums of its requests
        over the range, the first and last request's time, and the session's project (or
        the project's number of sessions): whole days from `token_sessions` (kept by
        trigger), a partial first or last day (or a session's or project's) from the
        requests."""
        rows: list[Any] = []

        async def requests(since: float | None, until: float | None) -> None:
            where, values = _request_where(since, until, f)
            rows.extend(
                await self._db.execute_fetchall(
                    f"SELECT session_id, coalesce(project, ''), min(at), max(at), {_SUMS} "
                    f"FROM requests WHERE {where} GROUP BY 1, 2",
                    values,
                )
            )

        first, end = _whole_days(f)
        if f.session is not None or (first is not None and end is not None and end <= first):
            await requests(f.since, f.until)
        else:
            where, values = _day_where(first, end, _project(f))
            rows.extend(
                await self._db.execute_fetchall(
                    f"SELECT session_id, project, min(first_at), max(last_at), {_DAY_SUMS} "
                    f"FROM token_sessions WHERE {where} GROUP BY 1, 2",
                    values,
                )
            )
            if first is not None and f.since is not None and f.since < first * DAY_S:
                await requests(f.since, first * DAY_S)
            if end is not None and f.until is not None and end * DAY_S < f.until:
                await requests(end * DAY_S, f.until)
        sums: dict[str, Sums] = {}
        spans: dict[str, list[float]] = {}
        others: dict[str, set[str]] = {}  # a session's projects, a project's sessions
        for session, project, since, until, *row in rows:
            name, other = (session, project) if key == "session" else (project, session)
            if key == "project" and not project:
                continue  # no project to list it under
            _add(sums, name, row)
            span = spans.setdefault(name, [since, until])
            span[0], span[1] = min(span[0], since), max(span[1], until)
            others.setdefault(name, set()).add(other)
        out: dict[str, tuple[Sums, float, float, Any]] = {}
        for name, (since, until) in spans.items():
            # A session's project (the last by name, if it had more than one), or none.
            other = (max(others[name]) or None) if key == "session" else len(others[name])
            out[name] = (sums[name], since, until, other)
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

        if f.session is not None:
            await requests(f.since, f.until)
            return per_day
        first, end = _whole_days(f)
        if first is not None and end is not None and end <= first:
            await requests(f.since, f.until)
            return per_day
        project = _project(f)
        where, values = _day_where(first, end, project)
        for day, *row in await self._db.execute_fetchall(
            f"SELECT day, {_DAY_SUMS} "
            f"FROM {'token_days' if project is None else 'token_projects'} "
            f"WHERE artifact_type = '' AND artifact_name = '' AND {where} GROUP BY 1",
            values,
        ):
            _add(per_day, day, row)
        if first is not None and f.since is not None and f.since < first * DAY_S:
            await requests(f.since, first * DAY_S)
        if end is not None and f.until is not None and end * DAY_S < f.until:
            await requests(end * DAY_S, f.until)
        return per_day


def _whole_days(f: Filters) -> tuple[int | None, int | None]:
    """The range's whole UTC days `[first, end)` (None: unbounded)."""
    first = None if f.since is None else math.ceil(f.since / DAY_S)
    end = None if f.until is None else math.floor(f.until / DAY_S)
    return first, end


def _project(f: Filters) -> str | None:
    """The project filter as the totals name it (its folder name), or None."""
    return None if f.project is None else project_of(f.project)


def _day_where(first: int | None, end: int | None, project: str | None) -> tuple[str, list[Any]]:
    """The WHERE clause over daily totals for the days `[first, end)` and the project."""
    where, values = ["1"], list[Any]()
    for clause, value in (("day >= ?", first), ("day < ?", end), ("project = ?", project)):
        if value is not None:
            where.append(clause)
            values.append(value)
    return " AND ".join(where), values


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
