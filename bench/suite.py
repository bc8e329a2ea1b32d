"""The test suite's own wall time: `pytest` as CI runs it (`scripts/test`'s last step), once.

In a full run, the whole suite; in quick and smoke runs, one small file, so that this part is
exercised without running the suite inside itself (the suite's bench smoke test runs the
benchmark). The machine's load average is read before and after, as the suite is judged on a
quiet machine. Checks: pytest's exit status, and that it ran the tests it found.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import machine
from bench.hooktime import Check

ROOT = Path(__file__).resolve().parent.parent
PYTEST = Path(sys.executable).parent / "pytest"
WHOLE = ()  # no paths: every test file pyproject's testpaths names


@dataclass
class SuiteResult:
    paths: tuple[str, ...]  # what pytest was given (empty: the whole suite)
    elapsed_s: float
    passed: int
    failed: int
    deselected: int
    summary: str  # pytest's last line
    load_before: str
    load_after: str
    checks: list[Check] = field(default_factory=list)

    @property
    def whole(self) -> bool:
        return self.paths == WHOLE


def measure(paths: tuple[str, ...], log: Callable[[str], None]) -> SuiteResult:
    what = "the whole suite" if paths == WHOLE else " ".join(paths)
    log(f"suite: pytest {what}")
    load_before = machine.load_average()
    started = time.perf_counter()
    done = subprocess.run(
        [str(PYTEST), "-q", "-p", "no:cacheprovider", *paths],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    lines = done.stdout.strip().splitlines()
    summary = lines[-1].strip("= ") if lines else ""
    counts = {
        k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|errors?|deselected)", summary)
    }
    failed = counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0)
    if done.returncode != 0:
        log(f"suite: pytest exited {done.returncode}:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
    result = SuiteResult(
        paths=paths,
        elapsed_s=elapsed,
        passed=counts.get("passed", 0),
        failed=failed,
        deselected=counts.get("deselected", 0),
        summary=summary,
        load_before=load_before,
        load_after=machine.load_average(),
    )
    result.checks = [
        Check("suite: pytest's exit status", 0, done.returncode),
        Check("suite: tests failed", 0, failed),
        Check("suite: ran some tests", 1, int(result.passed > 0)),
    ]
    log(f"suite: {summary} ({elapsed:.0f} s)")
    return result
