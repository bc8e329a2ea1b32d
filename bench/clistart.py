"""A command's start-up: `skilltrack report --json` on an empty home, against the bare
interpreter, whole process.

The reference is `python -c pass` with the interpreter the command's script names in its
`#!` line (the venv's), started as the script is: with `site`, which finds the installed
package, and no `-I -S`. So the ratio is what the command itself adds, its imports above all;
`python -I -S -c pass`, the hook's reference, is timed beside them for scale.

Every run spawns a fresh process with `posix_spawn` (stdin /dev/null, stdout and stderr to
files) and times spawn → exit with `perf_counter_ns`; each round runs every case once, in a
shuffled order, so that machine noise falls on all of them alike. The empty home is one
empty folder as `SKILLTRACK_HOME` (no database), as `HOME` (no skills to list) and as the
working directory; no `PYTHON*` variables are passed on, so bytecode is cached as usual.
Afterwards: every run exited 0, said nothing on stderr, and the command printed the empty
report each time; and, from one run under `-X importtime`, how many modules the command
imported and whether the daemon's libraries were among them.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.daemonproc import BIN
from bench.hooktime import Check, Spawner
from bench.stats import Summary

CASES = ("pass", "bare", "report", "default")
# Only the commands that read a database, the configuration or the daemon need these.
DAEMON_LIBRARIES = ("asyncio", "aiosqlite", "sqlite3", "pydantic", "aiohttp", "uvloop")


@dataclass
class CliStartResult:
    runs: int
    warmups: int
    ms: dict[str, list[float]]
    modules: list[str]  # imported by one `report --json` run, in order
    bare_modules: int  # imported by `python -c pass`
    checks: list[Check] = field(default_factory=list)

    def summary(self, case: str) -> Summary:
        return Summary.of(self.ms[case])

    def ratio_p50(self, case: str = "report") -> float:
        return self.summary(case).p50 / self.summary("pass").p50

    @property
    def daemon_libraries(self) -> list[str]:
        return [m for m in DAEMON_LIBRARIES if m in self.modules]


def measure(runs: int, warmups: int, log: Callable[[str], None]) -> CliStartResult:
    python = sys.executable
    argv = {
        "pass": [python, "-c", "pass"],
        "bare": [python, "-I", "-S", "-c", "pass"],
        "report": [os.fspath(BIN / "skilltrack"), "report", "--json"],
        "default": [os.fspath(BIN / "skilltrack"), "report", "--json"],
    }
    with tempfile.TemporaryDirectory(prefix="st-cli-") as tmp:
        empty, out = Path(tmp) / "home", Path(tmp) / "out"
        empty.mkdir()
        # As a user's shell starts them: without this process's PYTHON* variables (one that
        # says PYTHONDONTWRITEBYTECODE would have every module compiled again at every run).
        # "default" is a user who never set SKILLTRACK_HOME: the platform's directories, under
        # the empty HOME, where none exists yet.
        unset = ("PYTHON", "SKILLTRACK_", "XDG_")
        default = {k: v for k, v in os.environ.items() if not k.startswith(unset)}
        default["HOME"] = os.fspath(empty)
        env = {**default, "SKILLTRACK_HOME": os.fspath(empty)}
        envs = {case: default if case == "default" else env for case in CASES}
        cwd = os.getcwd()
        os.chdir(empty)  # posix_spawn starts the child in the parent's working directory
        try:
            spawners = {
                case: Spawner(argv[case], envs[case], Path(os.devnull), out / case)
                for case in CASES
            }
            log(f"cli: {warmups} warm-up and {runs} timed rounds of {', '.join(CASES)}")
            ms: dict[str, list[float]] = {case: [] for case in CASES}
            for i in range(warmups + runs):
                for case in random.sample(CASES, len(CASES)):
                    took = spawners[case]()
                    if i >= warmups:
                        ms[case].append(took)
            modules = _imported(argv["report"], env)
            bare_modules = len(_imported(argv["pass"][1:], env))
        finally:
            os.chdir(cwd)
        result = CliStartResult(runs, warmups, ms, modules, bare_modules)
        result.checks = _checks(spawners, out, warmups + runs)
    log(
        f"cli: report --json p50 {result.summary('report').p50:.1f} ms = "
        f"{result.ratio_p50():.2f} x `python -c pass` ({result.summary('pass').p50:.1f} ms)"
    )
    return result


def _imported(args: list[str], env: dict[str, str]) -> list[str]:
    """The modules that this interpreter run with `args` (a script and its arguments, or
    `-c pass`) imports, in order: `-X importtime` on its stderr."""
    argv = [sys.executable, "-X", "importtime", *args]
    ran = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    lines = [line for line in ran.stderr.splitlines() if line.startswith("import time:")]
    return [line.rsplit("|", 1)[1].strip() for line in lines[1:]]  # [0] is the header


def _checks(spawners: dict[str, Spawner], out: Path, spawned: int) -> list[Check]:
    checks = []
    for case, spawner in spawners.items():
        ok = spawned - len(spawner.failures)
        checks.append(Check(f"cli: `{case}` runs that exited 0", spawned, ok))
        checks.append(Check(f"cli: bytes on stderr, `{case}`", 0, spawner.output_bytes()[1]))
    for case in ("report", "default"):
        printed = (out / case / "stdout").read_text().splitlines()
        empty = sum(1 for line in printed if json.loads(line)["artifacts"] == [])
        checks.append(Check(f"cli: empty reports printed by `{case}`", spawned, empty))
    return checks
