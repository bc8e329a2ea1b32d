"""What the benchmark ran on: CPU model, cores, Python, kernel, SQLite, date."""

from __future__ import annotations

import datetime
import os
import platform
import sqlite3
import sys
from dataclasses import dataclass


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
