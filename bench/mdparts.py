"""The pieces BENCHMARKS.md is written with: a summary row, a table, units and verdicts."""

from __future__ import annotations

from dataclasses import dataclass

from bench.stats import Summary

TIMES = "\N{MULTIPLICATION SIGN}"


@dataclass(frozen=True)
class Row:
    """One row of the "Figures and targets" table."""

    figure: str
    measured: str
    target: str
    comparison: str
    verdict: str
    missed: str = ""  # the plain statement when a target is missed or a check failed

    @property
    def failed(self) -> bool:
        return self.verdict.startswith("**")


def timing_cells(label: str, s: Summary, base_p50: float) -> list[str]:
    """A row of the wall-time tables: the case, n, p50, p90, p99, max, mean (ms) and its p50
    against the reference case's."""
    return [label, str(s.n), ms(s.p50), ms(s.p90), ms(s.p99), ms(s.max), ms(s.mean),
            f"{s.p50 / base_p50:.2f} {TIMES}"]  # fmt: skip


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def ms(v: float) -> str:
    return f"{v:.2f} ms"


def us(v: float) -> str:
    return f"{v:,.1f} µs"


def mib(kib: int) -> str:
    return f"{kib / 1024:.1f} MiB"


def verdict(ok: bool) -> str:
    return "met" if ok else "**MISSED**"


def check_mark(ok: bool) -> str:
    return "OK" if ok else "**FAILED**"
