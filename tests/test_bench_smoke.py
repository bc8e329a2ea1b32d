"""The benchmark runs end to end and writes every figure (timings are judged in BENCHMARKS.md,
never here: a test that depends on the machine's speed would fail for the wrong reasons)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The rows of the report's "Figures and targets" table (bench/render.py, FIGURES).
FIGURES = (
    "Hook p50, daemon up",
    "Hook p99, daemon up",
    "Hook p50, daemon down",
    "Hook worst case, daemon down",
    "Hook worst case, daemon wedged",
    "Hook p50, daemon under load",
    "Plugin hook p50, python3 a shim",
    "Daemon ingest rate",
    "Ingest latency p50",
    "Ingest latency p99",
    "Events in the database after ingest",
    "Spool replay rate",
    "Daemon RSS, idle",
    "Daemon RSS, after ingest",
    "Forwarding rate, http sink",
    "Forwarding rate, everyskill sink",
    "Ingest with receiver hung",
    "Hook p50 with receiver hung",
    "Daemon RSS, outage backlog",
    "Report p50 on 1M events",
    "Dashboard JSON p50",
    "Export throughput",
    "Export peak RSS",
    "Database bytes per event",
    "Report command p50, empty home",
    "Enrichment p50, Bash event",
    "Transcript reading per request",
    "Test suite wall time",
)


def test_the_benchmark_completes_and_writes_every_figure(tmp_path: Path) -> None:
    # --smoke: every part, on the least work; --quick and full runs differ only in sizes.
    output = tmp_path / "BENCHMARKS.md"
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = output.read_text(encoding="utf-8")
    for label in ("CPU", "Cores", "Python", "Kernel", "Date", "Source measured"):
        assert re.search(rf"^\| {label} \| \S", report, re.MULTILINE), f"machine: {label}"
    speed = re.search(r"^\| Speed reference [^|]* \| ([^|]*) \|", report, re.MULTILINE)
    assert speed is not None, "no speed reference"
    assert len(re.findall(r"\d+\.\d ms", speed.group(1))) == 4, speed[0]
    for figure in FIGURES:
        # | figure | measured (with a number) | target | comparison | verdict |
        row = re.search(rf"^\| {re.escape(figure)} \| ([^|]*) \|", report, re.MULTILINE)
        assert row is not None, f"no row for {figure!r}"
        assert re.search(r"\d", row.group(1)), f"no figure measured for {figure!r}: {row[0]}"
