"""The dashboard's page: the report (as `report --json` has it) drawn as HTML and inline SVG.

Pure functions of the report: no I/O, no scripts, no fonts or images from anywhere. Every
chart is an `<svg data-chart="…">` whose marks carry a `<title>`, so hovering shows the
numbers without JavaScript. Every value that came from the store is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any
from urllib.parse import urlencode

USES = "#3b6ea8"
FAILURES = "#c2453d"
P95 = "#9bb7d6"
NONE = "\u2013"  # an en dash, where a value is missing
TOP_ARTIFACTS = 15
RANGES = (("7d", "7 days"), ("30d", "30 days"), ("90d", "90 days"), ("", "all time"))
TYPES = ("skill", "agent", "mcp", "command", "tool")

_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0;
       color: #1f2933; background: #f5f6f8; }
header { background: #1f2933; color: #fff; padding: 12px 24px; display: flex;
         align-items: center; gap: 24px; flex-wrap: wrap; }
header h1 { font-size: 18px; margin: 0; font-weight: 600; }
header form { display: flex; gap: 8px; align-items: center; margin-left: auto; }
header select, header input, header button { font: inherit; padding: 3px 6px; }
main { padding: 16px 24px; display: grid; gap: 16px;
       grid-template-columns: repeat(auto-fit, minmax(460px, 1fr)); }
section { background: #fff; border-radius: 6px; padding: 12px 16px;
          box-shadow: 0 1px 2px rgba(0,0,0,.08); overflow-x: auto; }
section.wide { grid-column: 1 / -1; }
h2 { font-size: 15px; margin: 0 0 8px; }
.tiles { display: flex; gap: 32px; flex-wrap: wrap; }
.tile b { display: block; font-size: 24px; font-weight: 600; }
.tile span, .note, footer { color: #6b7280; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #eceef1;
         white-space: nowrap; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.bad { color: #c2453d; }
svg text { font: 11px system-ui, sans-serif; fill: #4b5563; }
footer { padding: 0 24px 16px; font-size: 12px; }
"""


def page(report: dict[str, Any], query: dict[str, str], generated_at: str) -> str:
    """The whole dashboard page for `report`, made with the filters in `query`."""
    artifacts = report["artifacts"]
    body = [_summary(report)]
    if artifacts:
        body += [
            _section("Uses per day (UTC)", per_day_chart(report["per_day"]), wide=True),
            _section("Top artifacts by uses", top_chart(artifacts[:TOP_ARTIFACTS])),
            _section("Durations: p50 and p95", duration_chart(artifacts[:TOP_ARTIFACTS])),
            _section("Artifacts", artifacts_table(artifacts), wide=True),
        ]
        body += [versions_section(skill) for skill in report["versions"]]
        if report["subagents"]:
            body.append(_section("Subagents", subagents_table(report["subagents"]), wide=True))
    body.append(_section("Installed skills to consider removing", cleanup_list(report)))
    chosen = {k: v for k, v in query.items() if v}
    json_link = "api/report" + (f"?{urlencode(chosen)}" if chosen else "")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        '<link rel="icon" href="data:,">'  # no favicon request
        f"<title>skilltrack dashboard</title><style>{_STYLE}</style></head><body>"
        f"<header><h1>skilltrack</h1>{_filters_form(query)}</header>"
        f"<main>{''.join(body)}</main>"
        f"<footer>Generated {escape(generated_at)} from the local database. "
        f'The same report as JSON: <a href="{escape(json_link)}">{escape(json_link)}</a> '
        "(what <code>skilltrack report --json</code> prints).</footer></body></html>"
    )


def _section(title: str, content: str, *, wide: bool = False) -> str:
    cls = ' class="wide"' if wide else ""
    return f"<section{cls}><h2>{escape(title)}</h2>{content}</section>"


def _filters_form(query: dict[str, str]) -> str:
    since = query.get("since", "")
    ranges = "".join(
        f'<option value="{value}"{" selected" if value == since else ""}>{label}</option>'
        for value, label in RANGES
    )
    if since not in {value for value, _ in RANGES}:  # a date from the URL: keep it selectable
        ranges += f'<option value="{escape(since)}" selected>since {escape(since)}</option>'
    kind = query.get("type", "")
    types = '<option value="">every kind</option>' + "".join(
        f'<option value="{t}"{" selected" if t == kind else ""}>{t}</option>' for t in TYPES
    )
    project = escape(query.get("project", ""))
    return (
        '<form method="get" action="./">'
        f'<select name="since" aria-label="range">{ranges}</select>'
        f'<select name="type" aria-label="kind">{types}</select>'
        f'<input name="project" placeholder="project" value="{project}" size="12">'
        "<button>Show</button></form>"
    )


def _summary(report: dict[str, Any]) -> str:
    artifacts = report["artifacts"]
    uses = sum(a["uses"] for a in artifacts)
    failures = sum(a["failures"] for a in artifacts)
    rate = f"{failures / uses:.1%}" if uses else NONE
    f = report["filters"]
    scope = [f"from {f['since'][:16]}" if f["since"] else "all time"]
    scope += [f"until {f['until'][:16]}"] if f["until"] else []
    scope += [f"{key} {f[key]}" for key in ("type", "project", "session") if f[key]]
    tiles = [
        (f"{uses:,}", "uses"),
        (f"{failures:,}", f"failures ({rate})"),
        (f"{len(artifacts):,}", "artifacts used"),
        (f"{len(report['cleanup']):,}", "skills to review"),
    ]
    items = "".join(f'<div class="tile"><b>{v}</b><span>{escape(k)}</span></div>' for v, k in tiles)
    return _section("Summary: " + ", ".join(scope), f'<div class="tiles">{items}</div>', wide=True)


# -- charts -------------------------------------------------------------------------------


def per_day_chart(days: Sequence[dict[str, Any]], width: int = 1200, height: int = 190) -> str:
    """Uses per day as bars, the failed part of each in red."""
    if not days:
        return '<p class="note">no uses in this range</p>'
    left, bottom, top_pad = 44, 20, 8
    plot_w, plot_h = width - left - 8, height - bottom - top_pad
    top = _nice_max(max(d["uses"] for d in days))
    step = plot_w / len(days)
    bar_w = min(max(1.0, step * 0.8), 40.0)  # a few days must not look like a wall
    marks = [_y_axis(left, top_pad, plot_w, plot_h, top)]
    for i, d in enumerate(days):
        x = left + i * step + (step - bar_w) / 2
        h = plot_h * d["uses"] / top
        fh = plot_h * d["failures"] / top
        base = top_pad + plot_h
        tip = f"{d['day']}: {d['uses']} uses, {d['failures']} failed"
        marks.append(
            f'<g><title>{escape(tip)}</title>'
            f'<rect class="bar" x="{x:.1f}" y="{base - h:.1f}" width="{bar_w:.1f}" '
            f'height="{h:.1f}" fill="{USES}"/>'
            + (f'<rect class="fail" x="{x:.1f}" y="{base - fh:.1f}" width="{bar_w:.1f}" '
               f'height="{fh:.1f}" fill="{FAILURES}"/>' if fh else "")
            + "</g>"
        )  # fmt: skip
    marks.append(
        f'<text x="{left}" y="{height - 4}">{escape(days[0]["day"])}</text>'
        f'<text x="{width - 8}" y="{height - 4}" text-anchor="end">'
        f"{escape(days[-1]['day'])}</text>"
    )
    return _svg("uses-per-day", width, height, "Uses per day", marks)


def top_chart(artifacts: Sequence[dict[str, Any]], width: int = 460) -> str:
    """Horizontal bars of uses per artifact, the failed part in red."""
    row, label_w = 20, 190
    height = row * len(artifacts) + 6
    top = _nice_max(max(a["uses"] for a in artifacts))
    plot_w = width - label_w - 50
    marks = []
    for i, a in enumerate(artifacts):
        y = 3 + i * row
        w = plot_w * a["uses"] / top
        fw = plot_w * a["failures"] / top
        name = f"{a['artifact_type']} {a['artifact_name']}"
        tip = f"{name}: {a['uses']} uses, {a['failures']} failed ({a['failure_rate']:.0%})"
        marks.append(
            f"<g><title>{escape(tip)}</title>"
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{escape(_clip(name))}</text>'
            f'<rect class="bar" x="{label_w}" y="{y + 2}" width="{max(w, 1):.1f}" height="14" '
            f'fill="{USES}"/>'
            + (f'<rect class="fail" x="{label_w}" y="{y + 2}" width="{fw:.1f}" height="14" '
               f'fill="{FAILURES}"/>' if fw else "")
            + f'<text x="{label_w + w + 4:.1f}" y="{y + 13}">{a["uses"]:,}</text></g>'
        )  # fmt: skip
    return _svg("top-artifacts", width, height, "Top artifacts by uses", marks)


def duration_chart(artifacts: Sequence[dict[str, Any]], width: int = 460) -> str:
    """Per artifact, a bar to its p95 duration with a mark at its p50, on a log scale."""
    timed = [a for a in artifacts if a["p95_duration_ms"] is not None]
    if not timed:
        return '<p class="note">no durations recorded in this range</p>'
    row, label_w, axis_h = 20, 190, 18
    height = row * len(timed) + axis_h + 6
    plot_w = width - label_w - 24  # room for the last tick's label
    # At least 1 ms to 1 s, so that fast tools do not fill the whole width.
    decades = max(3, math.ceil(math.log10(max(max(a["p95_duration_ms"] for a in timed), 1))))

    def x_of(ms: float) -> float:
        return label_w + plot_w * math.log10(max(ms, 1)) / decades

    marks = []
    for i, a in enumerate(timed):
        y = 3 + i * row
        p50, p95 = a["p50_duration_ms"], a["p95_duration_ms"]
        name = f"{a['artifact_type']} {a['artifact_name']}"
        tip = f"{name}: p50 {_ms(p50)}, p95 {_ms(p95)}"
        marks.append(
            f"<g><title>{escape(tip)}</title>"
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{escape(_clip(name))}</text>'
            f'<rect class="bar" x="{label_w}" y="{y + 4}" width="{x_of(p95) - label_w:.1f}" '
            f'height="10" fill="{P95}"/>'
            f'<rect class="p50" x="{x_of(p50) - 1.5:.1f}" y="{y + 1}" width="3" height="16" '
            f'fill="{USES}"/></g>'
        )
    base = height - axis_h
    for d in range(decades + 1):
        x = label_w + plot_w * d / decades
        marks.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="0" y2="{base}" stroke="#eceef1"/>'
            f'<text x="{x:.1f}" y="{base + 13}" text-anchor="middle">{_decade(d)}</text>'
        )
    return _svg("durations", width, height, "Durations, p50 and p95, log scale", marks)


def _svg(name: str, width: int, height: int, label: str, marks: list[str]) -> str:
    return (
        f'<svg data-chart="{name}" role="img" aria-label="{escape(label)}" '
        f'viewBox="0 0 {width} {height}" width="100%" style="max-width:{width}px" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(marks)}</svg>'
    )


def _y_axis(left: int, top: int, width: int, height: int, top_value: int) -> str:
    lines = []
    for frac in (0, 0.5, 1):
        y = top + height * (1 - frac)
        lines.append(
            f'<line x1="{left}" x2="{left + width}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eceef1"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{round(top_value * frac):,}'
            "</text>"
        )
    return "".join(lines)


def _nice_max(value: int) -> int:
    """A round axis top: the smallest 1, 2 or 5 times a power of ten that is at least `value`."""
    if value <= 1:
        return 1
    scale = int(10 ** math.floor(math.log10(value)))
    for m in (1, 2, 5, 10):
        if m * scale >= value:
            return m * scale
    return 10 * scale


def _ms(value: float | None) -> str:
    if value is None:
        return NONE
    if value < 1000:
        return f"{value:.0f} ms"
    if value < 60_000:
        return f"{value / 1000:.3g} s"
    return f"{value / 60_000:.3g} min"


def _decade(power: int) -> str:
    """An axis label for 10**power ms: 1 ms, 10 ms, 100 ms, 1 s, 10 s, 100 s, 1000 s."""
    return f"{10**power} ms" if power < 3 else f"{10 ** (power - 3)} s"


def _clip(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- tables -------------------------------------------------------------------------------


def _table(
    name: str, headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: set[int]
) -> str:
    head = "".join(
        f'<th class="n">{escape(h)}</th>' if i in numeric else f"<th>{escape(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in
                  enumerate(row))
        + "</tr>"
        for row in rows
    )  # fmt: skip
    return f'<table data-table="{name}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _rate(failures: int, rate: float) -> str:
    text = f"{rate:.1%}"
    return f'<span class="bad">{text}</span>' if failures else text


def _rating(a: dict[str, Any]) -> str:
    if a.get("avg_rating") is None:
        return NONE
    return f'★ {a["avg_rating"]:.1f} <span class="note">({a["ratings"]})</span>'


def artifacts_table(artifacts: Sequence[dict[str, Any]]) -> str:
    rows = [
        (escape(a["artifact_type"]), escape(a["artifact_name"]), f"{a['uses']:,}",
         f"{a['failures']:,}", _rate(a["failures"], a["failure_rate"]),
         _ms(a["p50_duration_ms"]), _ms(a["p95_duration_ms"]),
         escape((a["last_used"] or NONE)[:16]), _rating(a))
        for a in artifacts
    ]  # fmt: skip
    headers = ["Type", "Name", "Uses", "Failures", "Fail %", "p50", "p95", "Last used", "Rating"]
    return _table("artifacts", headers, rows, {2, 3, 4, 5, 6})


def versions_section(skill: dict[str, Any]) -> str:
    """A skill's versions side by side: uses, failure rate and p50 with bars to compare."""
    versions = skill["versions"]
    most = max(v["uses"] for v in versions) or 1
    worst = max(v["failure_rate"] for v in versions) or 1.0

    def bar(value: float, top: float, color: str) -> str:
        w = 80 * value / top
        return (
            f'<svg data-chart="version-bar" width="84" height="10" role="img" '
            f'aria-label="{value:.3g}"><rect class="bar" x="0" y="1" width="{max(w, 1):.1f}" '
            f'height="8" fill="{color}"/></svg>'
        )

    rows = [
        (escape(v["version"]), escape((v["first_used"] or NONE)[:16]),
         f"{v['uses']:,} {bar(v['uses'], most, USES)}",
         f"{_rate(v['failures'], v['failure_rate'])} {bar(v['failure_rate'], worst, FAILURES)}",
         _ms(v["p50_duration_ms"]), _ms(v["p95_duration_ms"]))
        for v in versions
    ]  # fmt: skip
    title = f"Versions of {skill['name']} ({skill['source']}, {skill['location']})"
    headers = ["Version", "First used", "Uses", "Fail %", "p50", "p95"]
    return _section(title, _table("versions", headers, rows, {2, 3, 4, 5}), wide=True)


def subagents_table(subagents: Sequence[dict[str, Any]]) -> str:
    rows = [
        (escape(s["agent_type"]), f"{s['runs']:,}", f"{s['failures']:,}",
         escape(", ".join(f"{u['artifact_name']} ({u['uses']})" for u in s["uses_inside"][:10])
                or NONE))
        for s in subagents
    ]  # fmt: skip
    return _table("subagents", ["Agent type", "Runs", "Failed", "Used inside"], rows, {1, 2})


def cleanup_list(report: dict[str, Any]) -> str:
    suggestions = report["cleanup"]
    if not suggestions:
        return '<p class="note">every installed skill was used recently</p>'
    rows = [
        (escape(s["name"]), escape(s["source"]), escape(s["location"]),
         "never" if s["never_used"] else escape((s["last_used"] or "")[:16]))
        for s in suggestions
    ]  # fmt: skip
    return _table("cleanup", ["Skill", "Source", "Where", "Last used"], rows, set())
