"""The test suite's part of BENCHMARKS.md: its wall time against the target."""

from __future__ import annotations

from bench.mdparts import Row, verdict
from bench.suite import SuiteResult

SUITE_TARGET_S = 240.0  # issue 23: the whole suite in 4 minutes on this 2-core machine, quiet
FIGURES = ("Test suite wall time",)


def rows(r: SuiteResult) -> list[Row]:
    loads = f"load average {r.load_before} before, {r.load_after} after"
    if not r.whole:
        return [
            Row(
                FIGURES[0],
                f"{r.elapsed_s:.1f} s for {' '.join(r.paths)} alone",
                f"≤ {SUITE_TARGET_S:.0f} s for the whole suite (full runs only)",
                f"{r.summary}; {loads}",
                "—",
            )
        ]
    minutes, seconds = divmod(round(r.elapsed_s), 60)
    return [
        Row(
            FIGURES[0],
            f"{r.elapsed_s:.0f} s ({minutes}:{seconds:02d})",
            f"≤ {SUITE_TARGET_S:.0f} s on 2 cores, quiet",
            f"{r.summary}; {loads}",
            verdict(r.elapsed_s <= SUITE_TARGET_S),
            f"The whole test suite took {r.elapsed_s:.0f} s; the target is "
            f"≤ {SUITE_TARGET_S:.0f} s on a quiet machine ({loads}).",
        )
    ]


def section(r: SuiteResult) -> list[str]:
    what = "the whole suite" if r.whole else f"`{' '.join(r.paths)}` only"
    return [
        "## Test suite",
        "",
        f"`.venv/bin/pytest -q -p no:cacheprovider` (the last step of `scripts/test`, which CI "
        f"runs), {what}, once, after every other part: {r.elapsed_s:.1f} s wall time, "
        f"`{r.summary}`. Load average (1, 5, 15 min) {r.load_before} before, {r.load_after} "
        "after. The suite's time depends on the load more than any figure above: it spawns "
        "hooks, daemons and the real Claude Code, and waits on them.",
        "",
    ]
