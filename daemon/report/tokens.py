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


def _add(sums: dict[tuple[str, str], Sums], key: tuple[str, str], row: list[Any]) -> None:
    mine = sums.setdefault(key, [0] * 7)
    for i, value in enumerate(row):
        mine[i] += value or 0
