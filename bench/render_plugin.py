"""The plugin part of BENCHMARKS.md: the plugin's hook where `python3` is a version manager's
shim, beside the shim alone, the command it had before, and the installer's form."""

from __future__ import annotations

from bench.mdparts import TIMES, Row, ms, table, timing_cells, verdict
from bench.plugintime import BEFORE, SHIM_S, PluginResult

RATIO_TARGET = 1.5  # the hook's target, whichever form runs it
FIGURES = ("Plugin hook p50, python3 a shim",)


def rows(r: PluginResult) -> list[Row]:
    plugin, base = r.summary("plugin"), r.summary("pass")
    ratio = r.ratio_p50()
    return [
        Row(
            FIGURES[0],
            f"{ms(plugin.p50)} = {ratio:.2f} {TIMES} pass",
            f"≤ {RATIO_TARGET} {TIMES} `python -I -S -c pass` p50",
            f"pass p50 {ms(base.p50)}; through the shim every call (the command before) "
            f"{ms(r.summary('before').p50)}; the shim alone {ms(r.summary('shim').p50)}; "
            f"skilltrack-install's form {ms(r.summary('direct').p50)}",
            verdict(ratio <= RATIO_TARGET),
            f"With `python3` a shim, the plugin's hook took {ms(plugin.p50)} at p50, "
            f"{ratio:.2f} {TIMES} the {ms(base.p50)} of `python -I -S -c pass`; the target is "
            f"≤ {RATIO_TARGET} {TIMES}.",
        )
    ]


def section(r: PluginResult) -> list[str]:
    cases = (
        ("pass", "`python -I -S -c pass` (the interpreter behind the shim)"),
        ("shim", "`python3 -I -S -c pass` through the shim"),
        ("before", "the plugin's command before its launcher: the shim every call"),
        ("plugin", "the plugin's command (`hooks/hooks.json`)"),
        ("direct", "skilltrack-install's command (the interpreter named), through `/bin/sh`"),
    )
    base = r.summary("pass").p50
    lines = [timing_cells(label, r.summary(case), base) for case, label in cases]
    return [
        "## The plugin's hook where `python3` is a shim",
        "",
        "The plugin runs `python3` from `PATH`; with pyenv, asdf or mise that is a shim, "
        "which costs more than the hook itself on every call (pyenv's: ~110 ms against "
        "~11 ms for the interpreter behind it, measured by hand on this kind of machine). "
        f"Here the shim is a stand-in: a `/bin/sh` script that sleeps {SHIM_S * 1000:.0f} ms "
        "and execs the venv's interpreter through `env`. "
        f"{r.runs} timed rounds after {r.warmups} warm-up rounds, every case once per round "
        "in a shuffled order, the daemon up, the same event as in the hook section. The "
        "plugin's command sources `hooks/skilltrack_hook.sh` in `/bin/sh`, which execs the "
        "interpreter its first run found behind the shim (cached in `run/hook-python`); the "
        f"command before it was `/bin/sh -c '{BEFORE}'`.",
        "",
        *table(["Case", "n", "p50", "p90", "p99", "max", "mean", "p50 / pass p50"], lines),
        "",
    ]
