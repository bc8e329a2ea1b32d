"""The command start-up part of BENCHMARKS.md: `skilltrack report --json` on an empty home
beside the bare interpreter."""

from __future__ import annotations

from bench.clistart import DAEMON_LIBRARIES, CliStartResult
from bench.mdparts import TIMES, Row, ms, table, timing_cells, verdict

RATIO_TARGET = 3.0  # issue 23: at most 3 times the interpreter's bare start
FIGURES = ("Report command p50, empty home",)


def rows(r: CliStartResult) -> list[Row]:
    report, base, bare = r.summary("report"), r.summary("pass"), r.summary("bare")
    ratio = r.ratio_p50()
    return [
        Row(
            FIGURES[0],
            f"{ms(report.p50)} = {ratio:.2f} {TIMES} pass",
            f"≤ {RATIO_TARGET:.0f} {TIMES} `python -c pass` p50",
            f"pass p50 {ms(base.p50)} (the command adds {ms(report.p50 - base.p50)}); "
            f"`python -I -S -c pass` {ms(bare.p50)}; {len(r.modules)} modules imported "
            f"({r.bare_modules} by pass)",
            verdict(ratio <= RATIO_TARGET),
            f"On an empty home, `skilltrack report --json` took {ms(report.p50)} at p50, "
            f"{ratio:.2f} {TIMES} the {ms(base.p50)} of `python -c pass` measured alongside "
            f"it; the target is ≤ {RATIO_TARGET:.0f} {TIMES}.",
        )
    ]


def section(r: CliStartResult) -> list[str]:
    cases = (
        ("pass", "`python -c pass` (the reference)"),
        ("bare", "`python -I -S -c pass`"),
        ("report", "`skilltrack report --json`, empty home"),
        ("default", "the same without `SKILLTRACK_HOME` (the platform's directories)"),
    )
    base = r.summary("pass").p50
    lines = [timing_cells(label, r.summary(case), base) for case, label in cases]
    found = r.daemon_libraries
    return [
        "## Command start-up",
        "",
        f"{r.runs} timed rounds after {r.warmups} warm-up rounds; each round spawns every case "
        "once, in a shuffled order. The empty home is one empty folder as `SKILLTRACK_HOME` "
        "(no database), `HOME` (no skills) and working directory, with no `PYTHON*` variables "
        "(bytecode cached as usual). The reference is the "
        "interpreter the command's script runs with (the venv's, its `#!` line), started as "
        "the script is started: with `site`, which finds the installed package; so the ratio "
        "is what the command adds, its imports above all. `python -I -S -c pass`, the hook's "
        "reference, is beside it for scale. The last case is a user who never set "
        "`SKILLTRACK_HOME`: the command then finds the platform's directories (on Linux it "
        "works out the XDG ones itself; elsewhere platformdirs, which imports tempfile with "
        "shutil and random).",
        "",
        *table(["Case", "n", "p50", "p90", "p99", "max", "mean", "p50 / pass p50"], lines),
        "",
        f"One run under `-X importtime` imported {len(r.modules)} modules (`python -c pass`: "
        f"{r.bare_modules}); of the daemon's libraries ({', '.join(DAEMON_LIBRARIES)}), "
        + (f"it imported {', '.join(found)}." if found else "none."),
        "",
    ]
