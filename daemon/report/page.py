"""The dashboard's page: the report (as `report --json` has it) drawn as HTML and inline SVG.

The markup is in `templates/` (Jinja2), and the templates escape every value they write
(autoescape, for every template): text from the store reaches the page only through them,
and nothing here marks a string as safe. This module gives them what markup should not
compute: the charts' geometry, as numbers, and the few texts made from the filters. No I/O
once imported, no scripts, no fonts or images from anywhere.

The templates are written one element a line, for reading; the page is served as one line:
a line break in an HTML template and the indentation after it are dropped when the template
is loaded, so a space that matters is written within a line.

Imported only when the dashboard is served (with Jinja2): the commands never load it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, Template
from jinja2.ext import Extension

from skilltrack.daemon.report.charts import charts, tokens
from skilltrack.daemon.report.filters import ARTIFACT_TYPES

NONE = "\u2013"  # an en dash, where a value is missing
RANGES = (("7d", "7 days"), ("30d", "30 days"), ("90d", "90 days"), ("", "all time"))


def page(
    report: dict[str, Any], query: dict[str, str], generated_at: str, *, recorded: bool = True
) -> str:
    """The whole dashboard page for `report`, made with the filters in `query` at
    `generated_at` (ISO, UTC); `recorded`: whether anything was ever recorded (else the page
    says how to start)."""
    chosen = {k: v for k, v in query.items() if v}
    return _PAGE.render(
        report=report,
        summary=summary(report, generated_at),
        form=filter_form(query),
        charts=charts(report) if report["artifacts"] else None,
        ratings=rated_skills(report["ratings"]),
        recorded=recorded,
        all_time="./?" + urlencode({**chosen, "since": ""}),
        json_link="api/report" + (f"?{urlencode(chosen)}" if chosen else ""),
        generated_at=_minute(generated_at),
    )


# -- the header and the summary ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Option:
    value: str
    label: str
    selected: bool


@dataclass(frozen=True, slots=True)
class Form:
    """The filters' form, showing the filters the page was made with."""

    since: list[Option]
    types: list[Option]
    project: str


def filter_form(query: dict[str, str]) -> Form:
    since = query.get("since", "")
    ranges = [Option(value, label, value == since) for value, label in RANGES]
    if since not in {value for value, _ in RANGES}:  # a date from the URL: keep it selectable
        ranges.append(Option(since, f"since {since}", True))
    kind = query.get("type", "")
    types = [Option("", "every kind", False)] + [Option(t, t, t == kind) for t in ARTIFACT_TYPES]
    return Form(ranges, types, query.get("project", ""))


@dataclass(frozen=True, slots=True)
class Summary:
    scope: str  # the range, its end included, and the filters, in words
    tiles: list[tuple[str, str]]  # (a figure as written, what it counts)


def summary(report: dict[str, Any], generated_at: str) -> Summary:
    artifacts = report["artifacts"]
    uses = sum(a["uses"] for a in artifacts)
    failures = sum(a["failures"] for a in artifacts)
    rate = f"{failures / uses:.1%}" if uses else NONE
    f = report["filters"]
    end = _minute(f["until"] or generated_at)
    scope = [f"{_minute(f['since'])} to {end} UTC" if f["since"] else f"all time to {end} UTC"]
    scope += [f"{key} {f[key]}" for key in ("type", "project", "session") if f[key]]
    tiles = [
        (f"{uses:,}", "uses"),
        (f"{failures:,}", f"failures ({rate})"),
        (f"{len(artifacts):,}", "artifacts used"),
        (f"{len(report['cleanup']):,}", "skills to review"),
    ]
    totals = report["totals"]
    if totals["requests"]:
        cost = totals["cost_usd"]
        priced = NONE if cost is None else f"${cost:,.2f}"
        tiles.append((priced, f"cost ({totals['requests']:,} requests)"))
        tiles.append((_k(tokens(totals)), "tokens"))
    return Summary(", ".join(scope), tiles)


def _minute(iso_time: str) -> str:
    """An ISO time as the page writes it: to the minute, a space for the `T`."""
    return iso_time[:16].replace("T", " ")


def _k(value: float) -> str:
    return f"{value / 1e6:.3g}M" if value >= 1e6 else f"{value:,.0f}"


@dataclass(frozen=True, slots=True)
class RatedSkill:
    """A skill's ratings on the page: each one with its comment, hours saved summed."""

    skill: str
    average: float
    hours_saved: float | None  # None: no rating says
    ratings: list[dict[str, Any]]  # the report's, the newest first
    by_whom: bool  # whether to say whose each rating is (more than one person rated)


def rated_skills(ratings: list[dict[str, Any]]) -> list[RatedSkill]:
    """The report's ratings by skill (as the text report lists them)."""
    by_whom = len({r["user_id"] for r in ratings}) > 1
    skills: dict[str, list[dict[str, Any]]] = {}
    for r in ratings:
        skills.setdefault(r["skill"], []).append(r)
    out = []
    for skill, given in skills.items():
        hours = [r["hours_saved"] for r in given if r["hours_saved"] is not None]
        average = sum(r["rating"] for r in given) / len(given)
        out.append(RatedSkill(skill, average, sum(hours) if hours else None, given, by_whom))
    return out


# -- the templates' filters: numbers as the page writes them ------------------------------


def _count(value: int) -> str:
    return f"{value:,}"


def _percent(value: float, digits: int = 1) -> str:
    return f"{value:.{digits}%}"


def _one_decimal(value: float) -> str:
    return f"{value:.1f}"


def _ms(value: float | None) -> str:
    if value is None:
        return NONE
    if value < 1000:
        return f"{value:.0f} ms"
    if value < 60_000:
        return f"{value / 1000:.3g} s"
    return f"{value / 60_000:.3g} min"


def _clip(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _money(value: float | None) -> str:
    if value is None:
        return NONE
    return f"${value:,.2f}" if value >= 0.01 or value == 0 else f"${value:.4f}"


def _cost(row: dict[str, Any]) -> str:
    """A row's cost: none without requests, `?` when one had no price for its model."""
    if not row.get("requests"):
        return NONE
    return "?" if row["cost_usd"] is None else _money(row["cost_usd"])


def _per_use(row: dict[str, Any]) -> str:
    """A row's tokens per use, over the requests its uses own."""
    if not row.get("requests") or not row.get("uses"):
        return NONE
    return f"{tokens(row) / row['uses']:,.0f}"


def _hours(value: float | None) -> str:
    return NONE if value is None else f"{value:g}"


# -- the templates ----------------------------------------------------------------------


class _JoinLines(Extension):
    """Drops each line break of an HTML template and the indentation after it."""

    _BREAK = re.compile(r"\n[ \t]*")

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        if name is not None and name.endswith(".html.j2"):
            return self._BREAK.sub("", source)
        return source  # the style sheet, as written


def _page_template() -> Template:
    env = Environment(
        loader=PackageLoader("skilltrack.daemon.report", "templates"),
        autoescape=True,  # every template, whatever its name
        undefined=StrictUndefined,  # a misspelt name is an error, not an empty string
        extensions=[_JoinLines],
        keep_trailing_newline=True,  # the style sheet's last line break
        auto_reload=False,  # package data: no stat() of the files for each page
    )
    env.filters.update(
        count=_count, percent=_percent, one_decimal=_one_decimal, ms=_ms, clip=_clip,
        money=_money, cost=_cost, per_use=_per_use, hours=_hours,
    )  # fmt: skip
    for name in env.list_templates():  # all compiled now, none on a request
        env.get_template(name)
    return env.get_template("page.html.j2")


# Loaded once, when the dashboard is first served (this module is imported then).
_PAGE = _page_template()
