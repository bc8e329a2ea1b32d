"""Where each mark of the dashboard's charts goes: the report (as `report --json` has it) in,
geometry out, as numbers and the few texts made from numbers. Pure: no I/O, no markup (that
is `templates/charts.html.j2`'s)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

TOP_ARTIFACTS = 15
TOKEN_KINDS = (
    "input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Gridline:
    y: float
    label_y: float
    label: str


@dataclass(frozen=True, slots=True)
class DayBar:
    day: dict[str, Any]  # the report's: day, uses, failures, requests, tokens, cost_usd
    x: float
    width: float
    y: float
    height: float
    failed_y: float
    failed_height: float  # 0: nothing failed, nothing red drawn


@dataclass(frozen=True, slots=True)
class DayChart:
    """A bar a day over the report's whole range, the busiest day at full height."""

    width: int
    height: int
    left: int  # the plot's edges; the first and last days are labelled at them
    right: int
    label_x: int  # the value axis's labels
    label_y: int  # the days' labels
    gridlines: list[Gridline]
    bars: list[DayBar]
    busiest: dict[str, Any]  # the day drawn at full height


@dataclass(frozen=True, slots=True)
class ArtifactBar:
    artifact: dict[str, Any]  # a row of the report's artifacts
    text_y: int
    bar_y: int
    width: float
    failed_width: float  # 0: nothing failed, nothing red drawn
    count_x: float


@dataclass(frozen=True, slots=True)
class TopChart:
    width: int
    height: int
    label_x: int
    bar_x: int
    bars: list[ArtifactBar]


@dataclass(frozen=True, slots=True)
class ValueBar:
    artifact: dict[str, Any]
    value: str  # as the chart writes it
    text_y: int
    bar_y: int
    width: float
    value_x: float


@dataclass(frozen=True, slots=True)
class ValueChart:
    """One horizontal bar per artifact for a value (its cost, its tokens per use), the
    largest first and at full width."""

    name: str  # the chart's data-chart
    label: str  # what it shows, for aria-label
    width: int
    height: int
    label_x: int
    bar_x: int
    bars: list[ValueBar]


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
    failed_width: float  # 0 at a 0 % failure rate: nothing drawn


@dataclass(frozen=True, slots=True)
class Charts:
    """What the page draws when anything was used."""

    per_day: DayChart | None  # None: no days to draw
    top: TopChart
    durations: DurationChart | None  # None: no durations recorded
    versions: list[tuple[dict[str, Any], list[VersionRow]]]  # (a skill, its versions' bars)
    cost_per_day: DayChart | None  # None: no requests read in the range
    cost: ValueChart | None  # None: no artifact's requests priced
    tokens_per_use: ValueChart | None  # None: no artifact owns a request


def charts(report: dict[str, Any]) -> Charts:
    shown = report["artifacts"][:TOP_ARTIFACTS]
    days = report["per_day"]
    costly = any(d.get("requests") for d in days)
    return Charts(
        day_chart(days, "uses", _count_label, failed="failures"),
        top_chart(shown),
        duration_chart(shown),
        [(skill, version_rows(skill["versions"])) for skill in report["versions"]],
        day_chart(days, "spent", _money) if costly else None,
        value_chart(
            "cost-per-artifact", "Cost per artifact, US dollars",
            [(a, a["cost_usd"]) for a in report["artifacts"] if a.get("cost_usd")],
            _money,
        ),
        value_chart(
            "tokens-per-use", "Tokens per use",
            [(a, tokens(a) / a["uses"]) for a in report["artifacts"]
             if a.get("requests") and a["uses"]],
            _tokens,
        ),
    )  # fmt: skip


def tokens(figures: dict[str, Any]) -> int:
    """Every token of a row's requests: input, output, cache writes and reads."""
    return sum(int(figures[k]) for k in TOKEN_KINDS)


def spent(day: dict[str, Any]) -> float:
    """A day's cost as the cost chart draws it: what was priced (an unpriced request adds
    nothing; the bar's title says how many there were)."""
    return float(day.get("cost_usd") or 0.0)


def day_chart(
    days: Sequence[dict[str, Any]],
    key: str,
    label: Callable[[float], str],
    *,
    failed: str | None = None,
    width: int = 1200,
    height: int = 190,
) -> DayChart | None:
    """A bar a day of `key` ("uses", or "spent": the day's cost), the part `failed` of it
    in red; the busiest day reaches the top."""
    if not days:
        return None

    def value(d: dict[str, Any]) -> float:
        return spent(d) if key == "spent" else float(d[key])

    left, bottom, top_pad = 56, 20, 8
    plot_w, plot_h = width - left - 8, height - bottom - top_pad
    busiest = max(days, key=value)
    top = value(busiest) or 1.0
    step = plot_w / len(days)
    bar_w = min(max(1.0, step * 0.8), 40.0)  # a few days must not look like a wall
    base = top_pad + plot_h
    bars = []
    for i, d in enumerate(days):
        h = plot_h * value(d) / top
        fh = plot_h * d[failed] / top if failed else 0.0
        x = left + i * step + (step - bar_w) / 2
        bars.append(DayBar(d, x, bar_w, base - h, h, base - fh, fh))
    gridlines = []
    for frac in (0, 0.5, 1):
        y = top_pad + plot_h * (1 - frac)
        gridlines.append(Gridline(y, y + 4, label(top * frac)))
    return DayChart(
        width, height, left, left + plot_w, left - 6, height - 4, gridlines, bars, busiest
    )


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


def value_chart(
    name: str,
    label: str,
    rows: Sequence[tuple[dict[str, Any], float]],
    text: Callable[[float], str],
    width: int = 460,
) -> ValueChart | None:
    """The TOP_ARTIFACTS largest of `rows` (an artifact, its value) as horizontal bars;
    None when there are none."""
    shown = sorted(rows, key=lambda r: -r[1])[:TOP_ARTIFACTS]
    if not shown:
        return None
    row, label_w = 20, 190
    top = shown[0][1] or 1.0
    plot_w = width - label_w - 60
    bars = []
    for i, (a, v) in enumerate(shown):
        y = 3 + i * row
        w = max(plot_w * v / top, 1)
        bars.append(ValueBar(a, text(v), y + 13, y + 2, w, label_w + w + 4))
    return ValueChart(name, label, width, row * len(shown) + 6, label_w - 6, label_w, bars)


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
    """A skill's versions with the widths of their bars, to compare uses and failure rates
    (a rate of 0 draws no bar: a sliver would read as some failures)."""
    most = max(v["uses"] for v in versions) or 1
    worst = max(v["failure_rate"] for v in versions) or 1.0
    return [
        VersionRow(
            v,
            max(80 * v["uses"] / most, 1),
            max(80 * v["failure_rate"] / worst, 1) if v["failure_rate"] else 0.0,
        )
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


def _count_label(value: float) -> str:
    return f"{value:,.0f}" if value == round(value) or value >= 10 else f"{value:.1f}"


def _money(value: float) -> str:
    return f"${value:,.2f}" if value >= 0.01 or value == 0 else f"${value:.4f}"


def _tokens(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:.3g}M"
    if value >= 1e3:
        return f"{value / 1e3:.3g}k"
    return f"{value:.0f}"
