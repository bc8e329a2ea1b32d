"""The report as text for people: a table per artifact, uses per day as a sparkline, versions
side by side, what ran inside subagents, and installed skills worth removing."""

from __future__ import annotations

from typing import Any

from skilltrack.format import table

SPARKS = "▁▂▃▄▅▆▇█"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def sparkline(values: list[int]) -> str:
    """One block per value, the largest at full height, each other in proportion (rounded
    up, so any use shows at least the lowest block; so does none)."""
    top = max(values, default=0)
    if top == 0:
        return SPARKS[0] * len(values)
    return "".join(SPARKS[max(0, -(-v * len(SPARKS) // top) - 1)] for v in values)


def cost(figures: dict[str, Any]) -> str | None:
    """A row's cost: none without requests, `?` when some had no price for their model."""
    if not figures.get("requests"):
        return None
    if figures["cost_usd"] is None:
        return "?"
    return f"${figures['cost_usd']:.2f}"


TOKEN_KINDS = (
    "input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"
)  # fmt: skip
LISTED = 20  # sessions or projects in the text; `--json` has them all


def tokens(figures: dict[str, Any]) -> int:
    """Every token of a row's requests: input, output, cache writes and reads."""
    return sum(int(figures[k]) for k in TOKEN_KINDS)


def per_use(figures: dict[str, Any]) -> int | None:
    """A row's tokens per use (None without requests)."""
    if not figures.get("requests") or not figures.get("uses"):
        return None
    return round(tokens(figures) / int(figures["uses"]))


def render(report: dict[str, Any]) -> str:
    artifacts = report["artifacts"]
    lists = _by_lines(report)
    if not artifacts:
        return "\n".join([nothing_used(report["filters"]), *lists])
    return "\n".join(
        _usage_lines(report) + _rating_lines(report["ratings"]) + lists
        + _cleanup_lines(report["cleanup"])
    )  # fmt: skip


def _by_lines(report: dict[str, Any]) -> list[str]:
    """`--by session` or `--by project`: the costliest first, LISTED of them."""
    lines: list[str] = []
    for key, noun in (("sessions", "session"), ("projects", "project")):
        if key not in report:
            continue
        rows = report[key]
        lines += ["", f"{key}:" if rows else f"{key}: no requests read in this range"]
        if not rows:
            continue
        headers = [noun.upper(), "PROJECT" if noun == "session" else "SESSIONS"]
        headers += [] if noun == "session" else ["USES", "FAILURES"]
        headers += ["REQUESTS", "TOKENS", "COST", "LAST REQUEST"]
        shown = []
        for r in rows[:LISTED]:
            row = [r[noun], r["project"] if noun == "session" else r["sessions"]]
            row += [] if noun == "session" else [r["uses"], r["failures"]]
            shown.append((*row, r["requests"], tokens(r), cost(r), r["last_request"]))
        lines.append(table(headers, shown))
        if len(rows) > LISTED:
            lines.append(f"  and {len(rows) - LISTED} more (--json lists them all)")
    return lines


def _rating_lines(ratings: list[dict[str, Any]]) -> list[str]:
    """Each rating with its comment and hours saved, a skill's hours summed when it has
    more than one (whose rating it is said only when more than one person rated)."""
    if not ratings:
        return []
    lines = ["", "ratings:"]
    by_whom = len({r["user_id"] for r in ratings}) > 1
    skills: dict[str, list[dict[str, Any]]] = {}
    for r in ratings:
        skills.setdefault(r["skill"], []).append(r)
    for skill, given in skills.items():
        hours = [r["hours_saved"] for r in given if r["hours_saved"] is not None]
        if len(given) > 1 and hours:
            lines.append(f"  {skill}: {_hours(sum(hours))} saved in all")
        for r in given:
            said = [f"{r['rating']}/5"] + ([f"by {r['user_id']}"] if by_whom else [])
            if r["hours_saved"] is not None:
                said.append(f"saved {_hours(r['hours_saved'])}")
            line = f"  {skill}: {', '.join(said)}"
            lines.append(line + (f": {r['comment']}" if r["comment"] else ""))
    return lines


def _hours(hours: float) -> str:
    return f"{hours:g} hour" + ("" if hours == 1 else "s")


def nothing_used(filters: dict[str, str | None]) -> str:
    """What an empty report says: what it was filtered by, so that an empty answer to a
    misspelt project does not read as an empty range."""
    said = [
        f"{words} {filters[key]}"
        for key, words in (("type", "of type"), ("project", "in project"),
                           ("session", "in session"), ("since", "since"), ("until", "before"))
        if filters[key] is not None
    ]  # fmt: skip
    return " ".join(["nothing used", *said]) if said else "nothing used yet"


def _cleanup_lines(suggestions: list[dict[str, Any]]) -> list[str]:
    if not suggestions:
        return []
    lines = ["", "installed skills to consider removing:"]
    for s in suggestions:
        when = "never used" if s["never_used"] else f"last used {s['last_used']}"
        lines.append(f"  {s['name']} ({s['source']}, {s['location']}): {when}")
    return lines


def _usage_lines(report: dict[str, Any]) -> list[str]:
    artifacts = report["artifacts"]
    lines = [
        table(
            [
                "TYPE",
                "NAME",
                "USES",
                "FAILURES",
                "FAIL%",
                "P50 MS",
                "P95 MS",
                "LAST USED",
                "RATING",
                "COST",
            ],
            [
                (
                    a["artifact_type"],
                    a["artifact_name"],
                    a["uses"],
                    a["failures"],
                    f"{a['failure_rate']:.0%}",
                    a["p50_duration_ms"],
                    a["p95_duration_ms"],
                    a["last_used"],
                    None if a["avg_rating"] is None else f"{a['avg_rating']:.1f} ({a['ratings']})",
                    cost(a),
                )
                for a in artifacts
            ],
        )
    ]
    totals = report["totals"]
    if totals["requests"]:
        lines += [
            "",
            f"tokens: {totals['input_tokens']} input, {totals['output_tokens']} output, "
            f"{totals['cache_creation_input_tokens']} cache writes, "
            f"{totals['cache_read_input_tokens']} cache reads "
            f"over {plural(totals['requests'], 'request')}; cost {cost(totals)}",
        ]
    days = report["per_day"]
    if days:
        uses = [d["uses"] for d in days]
        lines += [
            "",
            f"uses per day, {days[0]['day']} to {days[-1]['day']} (UTC): "
            f"{sparkline(uses)}  total {sum(uses)}, busiest {max(uses)}",
        ]
    for skill in report["versions"]:
        lines += ["", f"versions of {skill['name']} ({skill['source']}, {skill['location']}):"]
        rows = [
            (v["version"], v["first_used"], v["uses"], v["failures"],
             f"{v['failure_rate']:.0%}", v["p50_duration_ms"], v["p95_duration_ms"],
             per_use(v), cost(v))
            for v in skill["versions"]
        ]  # fmt: skip
        headers = ["VERSION", "FIRST USED", "USES", "FAILURES", "FAIL%", "P50 MS", "P95 MS",
                   "TOKENS/USE", "COST"]  # fmt: skip
        lines.append(table(headers, rows))
    if report["subagents"]:
        lines += ["", "subagents:"]
        for agent in report["subagents"]:
            used = ", ".join(f"{u['artifact_name']} {u['uses']}" for u in agent["uses_inside"][:8])
            spent = cost(agent)
            lines.append(
                f"  {agent['agent_type']}: {plural(agent['runs'], 'run')}, "
                f"{agent['failures']} failed" + (f"; used {used}" if used else "")
                + (f"; {agent['input_tokens']} input and {agent['output_tokens']} output "
                   f"tokens, cost {spent}" if spent else "")
            )  # fmt: skip
    return lines
