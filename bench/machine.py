"""What the benchmark ran on: CPU model, cores, Python, kernel, SQLite, date, the source tree
measured, and how fast the machine ran a fixed piece of work."""

from __future__ import annotations

import datetime
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Machine:
    cpu: str
    cores: int
    python: str
    kernel: str
    sqlite: str
    date: str


def describe() -> Machine:
    return Machine(
        cpu=_cpu_model(),
        cores=os.cpu_count() or 0,
        python=f"{platform.python_implementation()} {platform.python_version()} ({sys.executable})",
        kernel=f"{platform.system()} {platform.release()} {platform.machine()}",
        sqlite=sqlite3.sqlite_version,
        date=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as /proc/loadavg has them."""
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def source(root: Path, output: Path) -> str:
    """The commit measured, and whether tracked files other than the report (`output`) had
    changes beside it; "unknown" outside a git checkout."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, check=True, timeout=10
        )
        return done.stdout

    try:
        head = git("rev-parse", "--short=12", "HEAD").strip()
        status = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    report = output.resolve()
    changed = [line[3:] for line in status.splitlines() if (root / line[3:]).resolve() != report]
    return f"{head} with uncommitted changes to {len(changed)} files" if changed else head


@dataclass(frozen=True)
class Speed:
    """How long this machine takes, at the median of a few rounds, over work that is the
    same in every run and independent of skilltrack's code: figures of two runs compare only
    as far as their machines' speeds do."""

    python_ms: float  # parse, dump and sort JSON records; dict and string work
    sqlite_ms: float  # insert rows into an indexed in-memory table, then group them


# A record shaped like a hook event's, and how many times each round handles it.
_RECORD = {
    "session_id": "5c2d0a6e-1f0b-4c55-9d7e-2b8f3c1a9e40",
    "hook_event_name": "PostToolUse",
    "tool_name": "Bash",
    "tool_input": {"command": "git status --short && pytest -q tests/", "timeout": 120000},
    "tool_response": {"stdout": "ok " * 200, "stderr": "", "interrupted": False},
    "cwd": "/home/someone/work/app",
}
_PYTHON_ROUNDS = 600
_SQLITE_ROWS = 10_000


def _python_work() -> None:
    text = json.dumps(_RECORD)
    seen: dict[str, int] = {}
    records = []
    for i in range(_PYTHON_ROUNDS):
        record = json.loads(text)
        record["tool_input"]["command"] = f"{record['tool_input']['command']} # {i}"
        key = record["tool_input"]["command"].split()[-1]
        seen[key] = seen.get(key, 0) + 1
        records.append((record["hook_event_name"], -i, json.dumps(record, sort_keys=True)))
    records.sort()


def _sqlite_work() -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (a TEXT, b INTEGER, c INTEGER, PRIMARY KEY (a, b)) WITHOUT ROWID")
    with db:
        db.executemany(
            "INSERT INTO t VALUES (?, ?, ?)",
            ((f"name{i % 97}", i, i * 7 % 1000) for i in range(_SQLITE_ROWS)),
        )
    db.execute("SELECT a, count(*), sum(c), max(b) FROM t GROUP BY a").fetchall()
    db.close()


def speed(rounds: int = 7) -> Speed:
    """The machine's speed now, over the fixed work above (under a second here)."""

    def median_ms(work: Callable[[], None]) -> float:
        work()  # a warm-up round, not timed
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            work()
            times.append((time.perf_counter() - t0) * 1000)
        return statistics.median(times)

    return Speed(python_ms=median_ms(_python_work), sqlite_ms=median_ms(_sqlite_work))
