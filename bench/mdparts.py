"""The pieces BENCHMARKS.md is written with: a summary row, a table, units and verdicts."""

from __future__ import annotations

from dataclasses import dataclass

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
