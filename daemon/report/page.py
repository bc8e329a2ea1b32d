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

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, Template
from jinja2.ext import Extension

from skilltrack.daemon.report.filters import ARTIFACT_TYPES

NONE = "\u2013"  # an en dash, where a value is missing
TOP_ARTIFACTS = 15
RANGES = (("7d", "7 days"), ("30d", "30 days"), ("90d", "90 days"), ("", "all time"))


def page(report: dict[str, Any], query: dict[str, str], generated_at: str) -> str:
    """The whole dashboard page for `report`, made with the filters in `query`."""
    chosen = {k: v for k, v in query.items() if v}
    return _PAGE.render(
        report=report,
        summary=summary(report),
        form=filter_form(query),
        charts=charts(report) if report["artifacts"] else None,
        json_link="api/report" + (f"?{urlencode(chosen)}" if chosen else ""),
        generated_at=generated_at,
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
    scope: str  # the filters in words
    tiles: list[tuple[int, str]]  # (a count, what it counts)


def summary(report: dict[str, Any]) -> Summary:
    artifacts = report["artifacts"]
    uses = sum(a["uses"] for a in artifacts)
    failures = sum(a["failures"] for a in artifacts)
    rate = f"{failures / uses:.1%}" if uses else NONE
    f = report["filters"]
    scope = [f"from {f['since'][:16]}" if f["since"] else "all time"]
    scope += [f"until {f['until'][:16]}"] if f["until"] else []
    scope += [f"{key} {f[key]}" for key in ("type", "project", "session") if f[key]]
    tiles = [
        (uses, "uses"),
        (failures, f"failures ({rate})"),
        (len(artifacts), "artifacts used"),
        (len(report["cleanup"]), "skills to review"),
    ]
    return Summary(", ".join(scope), tiles)


# -- charts: where each mark goes ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Gridline:
    y: float
    label_y: float
    value: int


@dataclass(frozen=True, slots=True)
class DayBar:
    day: dict[str, Any]  # the report's: day, uses, failures
    x: float
    width: float
    y: float
    height: float
    failed_y: float
    failed_height: float


@dataclass(frozen=True, slots=True)
class PerDayChart:
    width: int
    height: int
    left: int  # the plot's edges; the first and last days are labelled at them
    right: int
    label_x: int  # the value axis's labels
    label_y: int  # the days' labels
    gridlines: list[Gridline]
    bars: list[DayBar]


@dataclass(frozen=True, slots=True)
class ArtifactBar:
    artifact: dict[str, Any]  # a row of the report's artifacts
    text_y: int
    bar_y: int
    width: float
    failed_width: float
    count_x: float


@dataclass(frozen=True, slots=True)
class TopChart:
    width: int
    height: int
    label_x: int
    bar_x: int
    bars: list[ArtifactBar]


@dataclass(frozen=True, slots=True)
class DurationBar:
    artifact: dict[str, Any]
    text_y: int
    bar_y: int
    p95_width: float
    p50_x: float
    p50_y: int


@dataclass(frozen=True, slots=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True, slots=True)
class DurationChart:
    width: int
    height: int
    label_x: int
    bar_x: int
    base: int  # the time axis
    tick_label_y: int
    bars: list[DurationBar]
    ticks: list[Tick]


@dataclass(frozen=True, slots=True)
class VersionRow:
    version: dict[str, Any]  # one of a skill's versions in the report
    uses_width: float
    failed_width: float


@dataclass(frozen=True, slots=True)
class Charts:
    """What the page draws when anything was used."""

    per_day: PerDayChart | None  # None: no days to draw
    top: TopChart
    durations: DurationChart | None  # None: no durations recorded
    versions: list[tuple[dict[str, Any], list[VersionRow]]]  # (a skill, its versions' bars)


def charts(report: dict[str, Any]) -> Charts:
    shown = report["artifacts"][:TOP_ARTIFACTS]
    return Charts(
        per_day_chart(report["per_day"]),
        top_chart(shown),
        duration_chart(shown),
        [(skill, version_rows(skill["versions"])) for skill in report["versions"]],
    )


def per_day_chart(
    days: Sequence[dict[str, Any]], width: int = 1200, height: int = 190
) -> PerDayChart | None:
    """Uses per day as bars, the failed part of each in red."""
    if not days:
        return None
    left, bottom, top_pad = 44, 20, 8
    plot_w, plot_h = width - left - 8, height - bottom - top_pad
    top = _nice_max(max(d["uses"] for d in days))
    step = plot_w / len(days)
    bar_w = min(max(1.0, step * 0.8), 40.0)  # a few days must not look like a wall
    base = top_pad + plot_h
    bars = []
    for i, d in enumerate(days):
        h = plot_h * d["uses"] / top
        fh = plot_h * d["failures"] / top
        x = left + i * step + (step - bar_w) / 2
        bars.append(DayBar(d, x, bar_w, base - h, h, base - fh, fh))
    gridlines = []
    for frac in (0, 0.5, 1):
        y = top_pad + plot_h * (1 - frac)
        gridlines.append(Gridline(y, y + 4, round(top * frac)))
    return PerDayChart(width, height, left, left + plot_w, left - 6, height - 4, gridlines, bars)


def top_chart(artifacts: Sequence[dict[str, Any]], width: int = 460) -> TopChart:
    """Horizontal bars of uses per artifact, the failed part in red."""
    row, label_w = 20, 190
    height = row * len(artifacts) + 6
    top = _nice_max(max(a["uses"] for a in artifacts))
    plot_w = width - label_w - 50
    bars = []
    for i, a in enumerate(artifacts):
        y = 3 + i * row
        w = plot_w * a["uses"] / top
        fw = plot_w * a["failures"] / top
        bars.append(ArtifactBar(a, y + 13, y + 2, max(w, 1), fw, label_w + w + 4))
    return TopChart(width, height, label_w - 6, label_w, bars)


def duration_chart(artifacts: Sequence[dict[str, Any]], width: int = 460) -> DurationChart | None:
    """Per artifact, a bar to its p95 duration with a mark at its p50, on a log scale."""
    timed = [a for a in artifacts if a["p95_duration_ms"] is not None]
    if not timed:
        return None
    row, label_w, axis_h = 20, 190, 18
    height = row * len(timed) + axis_h + 6
    plot_w = width - label_w - 24  # room for the last tick's label
    # At least 1 ms to 1 s, so that fast tools do not fill the whole width.
    decades = max(3, math.ceil(math.log10(max(max(a["p95_duration_ms"] for a in timed), 1))))

    def x_of(ms: float) -> float:
        return label_w + plot_w * math.log10(max(ms, 1)) / decades

    bars = []
    for i, a in enumerate(timed):
        y = 3 + i * row
        p95 = x_of(a["p95_duration_ms"]) - label_w
        bars.append(DurationBar(a, y + 13, y + 4, p95, x_of(a["p50_duration_ms"]) - 1.5, y + 1))
    ticks = [Tick(label_w + plot_w * d / decades, _decade(d)) for d in range(decades + 1)]
    base = height - axis_h
    return DurationChart(width, height, label_w - 6, label_w, base, base + 13, bars, ticks)


def version_rows(versions: Sequence[dict[str, Any]]) -> list[VersionRow]:
    """A skill's versions with the widths of their bars, to compare uses and failure rates."""
    most = max(v["uses"] for v in versions) or 1
    worst = max(v["failure_rate"] for v in versions) or 1.0
    return [
        VersionRow(v, max(80 * v["uses"] / most, 1), max(80 * v["failure_rate"] / worst, 1))
        for v in versions
    ]


def _nice_max(value: int) -> int:
    """A round axis top: the smallest 1, 2 or 5 times a power of ten that is at least `value`."""
    if value <= 1:
        return 1
    scale = int(10 ** math.floor(math.log10(value)))
    for m in (1, 2, 5, 10):
        if m * scale >= value:
            return m * scale
    return 10 * scale


def _decade(power: int) -> str:
    """An axis label for 10**power ms: 1 ms, 10 ms, 100 ms, 1 s, 10 s, 100 s, 1000 s."""
    return f"{10**power} ms" if power < 3 else f"{10 ** (power - 3)} s"


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
    env.filters.update(count=_count, percent=_percent, one_decimal=_one_decimal, ms=_ms, clip=_clip)
    for name in env.list_templates():  # all compiled now, none on a request
        env.get_template(name)
    return env.get_template("page.html.j2")


# Loaded once, when the dashboard is first served (this module is imported then).
_PAGE = _page_template()
