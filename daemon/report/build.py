"""The report as `skilltrack report --json` and the dashboard have it, built from the queries.

A range of time is given as people write it (`when`: an ISO date or time, or `7d` back from
now), a project as a folder name or a path (`project_filter`); times in the report are ISO
8601 in UTC.
"""

from __future__ import annotations

import os
import re
import time
from datetime import UTC, datetime
from pathlib import Path

from skilltrack.daemon.ingest.redact_paths import home_redactor
from skilltrack.daemon.ingest.skill_folders import InstalledSkill
from skilltrack.daemon.report.filters import Filters
from skilltrack.daemon.report.token_figures import TOTAL, Sums
from skilltrack.daemon.report.token_figures import figures as token_figures
from skilltrack.format import iso, iso_day

# typing.TYPE_CHECKING without importing typing (~3 ms of `skilltrack report`'s start-up, for
# names only annotations use): mypy honours the name wherever it is defined (see PEP 781).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from skilltrack.daemon.report.queries import ReportStore

Tokens = dict[tuple[str, str], "Sums"]

_RELATIVE = re.compile(r"^(\d+)([dhm])$")
_UNIT_S = {"d": 86400, "h": 3600, "m": 60}


def when(text: str, now: float | None = None) -> float:
    """A time as the options take it: an ISO date or time (UTC unless it says otherwise), or
    a span back from now (`7d`, `12h`, `30m`)."""
    match = _RELATIVE.match(text.strip())
    if match:
        ts = (time.time() if now is None else now) - int(match[1]) * _UNIT_S[match[2]]
    else:
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            raise ValueError(
                f"{text!r} is not a time: give 2026-11-01, 2026-11-01T09:30 or 7d, 12h, 30m"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        ts = moment.timestamp()
    # Refused here, not when the report shows the time (a traceback) or when a query compares
    # it (a silent "all time"): what is not a UTC date of years 1 to 9999 is no time to us.
    try:
        datetime.fromtimestamp(ts, UTC)
    except (ValueError, OverflowError, OSError):
        raise ValueError(f"{text!r} is out of range") from None
    return ts


def project_filter(text: str) -> str:
    """A project as `--project` (and the dashboard) take it, in the form the daemon stores
    paths in."""
    return stored_path(text, str(Path.home()))


def stored_path(path: str, home: str) -> str:
    """`path` as the daemon stores it: an absolute path in `home` written as `~/...` by the
    daemon's own rule (redact_paths.py), so that `--project "$PWD"` finds what the daemon
    recorded there. Anything else (a folder name, `~/x`, a path elsewhere) is left as given."""
    if path.startswith("/"):
        path = os.path.normpath(path)
    return home_redactor(home)(path)


def cleanup(
    installed: list[InstalledSkill],
    last_uses: dict[str, float],
    days: int,
    now: float,
    home: str,
) -> list[dict[str, Any]]:
    """Installed skills never used, or not in the last `days` days, with where they live."""
    out = []
    for skill in installed:
        last = last_uses.get(skill.name)
        if last is not None and last >= now - days * 86400:
            continue
        where = skill.path
        if where == home or where.startswith(home + "/"):
            where = "~" + where[len(home) :]
        out.append(
            {"name": skill.name, "source": skill.source, "location": where,
             "last_used": iso(last), "never_used": last is None}
        )  # fmt: skip
    out.sort(key=lambda s: (not s["never_used"], s["last_used"] or "", s["name"]))
    return out


def empty(
    f: Filters, *, installed: list[InstalledSkill], unused_days: int, by: str | None = None
) -> dict[str, Any]:
    """The report when nothing is recorded yet (no database): no uses, every installed skill
    unused. Made without the event loop and the database's libraries, which the queries
    import: on a machine that has recorded nothing, `skilltrack report` answers at once."""
    report = _skeleton(f, by)
    report["cleanup"] = cleanup(installed, {}, unused_days, time.time(), str(Path.home()))
    report["installed_skills"] = len(installed)
    return report


def _skeleton(f: Filters, by: str | None = None) -> dict[str, Any]:
    lists: dict[str, list[Any]] = {} if by is None else {_LISTS[by]: []}
    return {
        "filters": {
            "since": iso(f.since), "until": iso(f.until), "project": f.project,
            "session": f.session, "type": f.artifact_type,
        },
        "artifacts": [],
        "per_day": [],
        "versions": [],
        "subagents": [],
        "cleanup": [],
        "installed_skills": 0,
        "totals": token_figures(None),
        "ratings": [],
        **lists,
    }  # fmt: skip


async def build(
    db: Path,
    f: Filters,
    *,
    exists: bool,
    installed: list[InstalledSkill],
    unused_days: int,
    by: str | None = None,
) -> dict[str, Any]:
    """The whole report as `report --json` prints it (`exists`: whether `db` does); `by`
    (one of filters.BY) adds a list per session or project (`sessions`, `projects`)."""
    if not exists:
        # Nothing recorded yet; don't create a database just to read it.
        return empty(f, installed=installed, unused_days=unused_days, by=by)
    from skilltrack.daemon.report.queries import subagents_of  # see empty()

    report = _skeleton(f, by)
    home = str(Path.home())
    (
        artifacts,
        (per_day, versions, version_tokens),
        (inside, last_uses, tokens, ratings, days),
    ) = await _read(db, f)
    subagents = subagents_of(artifacts, inside) if f.artifact_type in (None, "agent") else []
    for skill in versions:
        for v in skill["versions"]:
            v["first_used"], v["last_used"] = iso(v["first_used"]), iso(v["last_used"])
            v.update(token_figures(version_tokens.get((skill["skill_id"], v["version"]))))
    report["versions"] = versions
    for agent in subagents:
        agent.update(token_figures(tokens.get(("agent", agent["agent_type"]))))
    report["subagents"] = subagents
    report["cleanup"] = cleanup(installed, last_uses, unused_days, time.time(), home)
    report["installed_skills"] = len(installed)
    report["ratings"] = [{**r, "rated_at": iso(r["rated_at"])} for r in ratings]
    for a in artifacts:
        a["first_used"], a["last_used"] = iso(a["first_used"]), iso(a["last_used"])
        a.update(token_figures(tokens.get((a["artifact_type"], a["artifact_name"]))))
    report["artifacts"] = artifacts
    report["totals"] = token_figures(tokens.get(TOTAL))
    report["per_day"] = [
        {"day": iso_day(d["day"]), "uses": d["uses"], "failures": d["failures"],
         **_day_figures(days.get(int(d["day"] // DAY_S)))}
        for d in per_day
    ]  # fmt: skip
    if by is not None:
        report[_LISTS[by]] = await _by(db, f, by)
    return report


DAY_S = 86400
_LISTS = {"session": "sessions", "project": "projects"}


def _day_figures(s: Sums | None) -> dict[str, Any]:
    """A day's tokens (every kind added up) and cost, of every request that day."""
    figures = token_figures(s)
    tokens = sum(
        figures[k] for k in ("input_tokens", "output_tokens", "cache_creation_input_tokens",
                             "cache_read_input_tokens")
    )  # fmt: skip
    return {"requests": figures["requests"], "tokens": tokens, "cost_usd": figures["cost_usd"]}


async def _by(db: Path, f: Filters, by: str) -> list[dict[str, Any]]:
    """`report --by`'s list: per session (tokens and cost, its project) or per project (uses,
    failures, sessions, tokens and cost), the costliest first."""
    from skilltrack.daemon.report.queries import ReportStore  # see empty()

    store = await ReportStore.open_readonly(db)
    try:
        tokens = await store.tokens_by(by, f)
        uses = await store.project_uses(f) if by == "project" else {}
    finally:
        await store.close()
    rows = []
    for name in set(tokens) | set(uses):
        sums, first, last, extra = tokens.get(name, (None, None, None, None))
        row: dict[str, Any] = {by: name}
        if by == "session":
            row["project"] = extra
        else:
            counted = uses.get(name, [0, 0])
            row.update(uses=counted[0], failures=counted[1], sessions=extra or 0)
        row.update(first_request=iso(first), last_request=iso(last), **token_figures(sums))
        rows.append(row)
    rows.sort(key=lambda r: (-(r["cost_usd"] or 0), -r["requests"], -r.get("uses", 0), r[by]))
    return rows


async def recorded(db: Path, *, exists: bool) -> bool:
    """Whether any use was ever recorded in `db` (`exists`: whether it does)."""
    if not exists:
        return False
    from skilltrack.daemon.report.queries import ReportStore  # see empty()

    store = await ReportStore.open_readonly(db)
    try:
        return await store.anything_used()
    finally:
        await store.close()


async def _read(
    db: Path, f: Filters
) -> tuple[
    list[dict[str, Any]],
    tuple[list[dict[str, Any]], list[dict[str, Any]], Tokens],
    tuple[
        dict[tuple[str, str, str], list[int]],
        dict[str, float],
        Tokens,
        list[dict[str, Any]],
        dict[int, Sums],
    ],
]:
    """The report's queries in three groups (the top artifacts, the costliest, alone), each
    on a connection of its own: each connection has its own thread and SQLite lets go of the
    GIL while it steps, so on two cores the report takes about as long as its longest group
    rather than all three (on a million events, ~205 ms instead of ~290 for 30 days here)."""
    # Here, not at the top: see empty().
    import asyncio
    import contextlib

    from skilltrack.daemon.report.queries import ReportStore

    async def days_and_versions(
        store: ReportStore,
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Tokens]:
        per_day = await store.per_day(f)
        versions = await store.versions(f) if f.artifact_type in (None, "skill") else []
        ids = [skill["skill_id"] for skill in versions]
        return per_day, versions, await store.version_tokens(f, ids)

    async def inside_and_last_uses(
        store: ReportStore,
    ) -> tuple[
        dict[tuple[str, str, str], list[int]],
        dict[str, float],
        Tokens,
        list[dict[str, Any]],
        dict[int, Sums],
    ]:
        inside = await store.uses_inside(f) if f.artifact_type in (None, "agent") else {}
        return (
            inside, await store.last_uses("skill"), await store.tokens(f),
            await store.ratings(f), await store.cost_per_day(f),
        )  # fmt: skip

    async with contextlib.AsyncExitStack() as stack:
        stores = []
        for _ in range(3):  # one at a time: the first migrates an older database
            store = await ReportStore.open_readonly(db)
            stack.push_async_callback(store.close)
            stores.append(store)
        groups = (
            asyncio.ensure_future(stores[0].artifacts(f)),
            asyncio.ensure_future(days_and_versions(stores[1])),
            asyncio.ensure_future(inside_and_last_uses(stores[2])),
        )
        try:
            artifacts, days_versions, inside_last = await asyncio.gather(*groups)
        except BaseException:
            for group in groups:  # not left running on connections about to close
                group.cancel()
            await asyncio.gather(*groups, return_exceptions=True)
            raise
        return artifacts, days_versions, inside_last
