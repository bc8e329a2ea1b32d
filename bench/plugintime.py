"""The plugin's hook per event, whole process, where `python3` on PATH is a version
manager's shim.

The shim is a stand-in for pyenv's (asdf's and mise's work alike): a `/bin/sh` script that
sleeps SHIM_S, what pyenv's bash and its subcommands take on this kind of machine (~110 ms
here, against ~11 ms for the interpreter behind it), and then execs the venv's interpreter
through `env`. Each run is spawned and timed as in bench/hooktime.py, every case once per
round in a shuffled order, all with the daemon up. Cases:

- `pass`: the venv's `python -I -S -c pass`, the reference;
- `shim`: `python3 -I -S -c pass` through the shim, what the shim alone costs a call;
- `before`: `/bin/sh -c 'python3 -I -S "$CLAUDE_PLUGIN_ROOT/hooks/skilltrack_hook.py"'`, the
  plugin's command before the launcher, through the shim on every call;
- `plugin`: `/bin/sh -c` with hooks/hooks.json's command (the launcher,
  hooks/skilltrack_hook.sh), which runs the interpreter it cached at its first run;
- `direct`: `/bin/sh -c 'python -I -S hooks/skilltrack_hook.py'`, the command
  skilltrack-install registers, the interpreter named (Claude Code runs every hook command
  through /bin/sh; dash execs a lone command in place of itself).

Afterwards: every hook event in the database, how often the shim ran in each case (the
plugin's: once, at its first run, before the timed rounds), exit 0 and nothing on stdout.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.daemonproc import count_events, home, running_daemon
from bench.hooktime import HOOK, ROOT, Check, Spawner
from bench.payloads import post_tool_use
from bench.stats import Summary
from skilltrack.installer.settings import hook_command

SHIM_S = 0.1
CASES = ("pass", "shim", "before", "plugin", "direct")
BEFORE = 'python3 -I -S "${CLAUDE_PLUGIN_ROOT}/hooks/skilltrack_hook.py"'


@dataclass
class PluginResult:
    runs: int
    warmups: int
    ms: dict[str, list[float]]
    checks: list[Check] = field(default_factory=list)

    def summary(self, case: str) -> Summary:
        return Summary.of(self.ms[case])

    def ratio_p50(self, case: str = "plugin") -> float:
        return self.summary(case).p50 / self.summary("pass").p50


def plugin_command() -> str:
    """The command hooks/hooks.json registers (the same for every event)."""
    hooks = json.loads((ROOT / "hooks" / "hooks.json").read_text())["hooks"]
    [command] = {group["hooks"][0]["command"] for groups in hooks.values() for group in groups}
    return str(command)


def measure(runs: int, warmups: int, log: Callable[[str], None], seed: int = 3) -> PluginResult:
    exe = sys.executable
    with home("plugin") as h:
        stdin = h.dir / "event.json"
        stdin.write_bytes(post_tool_use())
        shims = h.dir / "shims"
        shims.mkdir()
        shim = shims / "python3"
        shim.write_text(
            f'#!/bin/sh\necho run >>"$BENCH_SHIM_LOG"\nsleep {SHIM_S}\nexec env "{exe}" "$@"\n'
        )
        shim.chmod(0o755)
        h.env["SKILLTRACK_NO_AUTOSTART"] = "1"
        h.env["CLAUDE_PLUGIN_ROOT"] = os.fspath(ROOT)
        h.env["PATH"] = f"{shims}:/usr/bin:/bin"
        logs = {case: h.dir / f"shim-{case}" for case in CASES}

        def env(case: str) -> dict[str, str]:
            return {**h.env, "BENCH_SHIM_LOG": os.fspath(logs[case])}

        def out(case: str) -> Path:
            return h.dir / f"out-{case}"

        spawners = {
            "pass": Spawner([exe, "-I", "-S", "-c", "pass"], env("pass"), stdin, out("pass")),
            "shim": Spawner(
                [os.fspath(shim), "-I", "-S", "-c", "pass"], env("shim"), stdin, out("shim")
            ),
            "before": Spawner(["/bin/sh", "-c", BEFORE], env("before"), stdin, out("before")),
            "plugin": Spawner(
                ["/bin/sh", "-c", plugin_command()], env("plugin"), stdin, out("plugin")
            ),
            "direct": Spawner(
                ["/bin/sh", "-c", hook_command(exe, os.fspath(HOOK))],
                env("direct"),
                stdin,
                out("direct"),
            ),
        }
        with running_daemon(h) as daemon:
            log(f"plugin: {warmups} warm-up rounds, then {runs} timed rounds of {CASES}")
            rng = random.Random(seed)
            order = list(CASES)
            for _ in range(warmups):
                for case in order:
                    spawners[case]()
            ms: dict[str, list[float]] = {case: [] for case in CASES}
            for _ in range(runs):
                rng.shuffle(order)
                for case in order:
                    ms[case].append(spawners[case]())
            total = runs + warmups
            hooks = 3 * total  # before, plugin and direct each send one event a run
            # A hook that gave up waiting spooled its event: the daemon replays it within
            # a second or so.
            settle = time.monotonic() + 10
            while h.spooled_records() and time.monotonic() < settle:
                time.sleep(0.1)
            stored = count_events(h.paths.db)
            if daemon.stop() != 0:
                log("plugin: the daemon did not exit 0 on SIGTERM")
        cached = h.paths.hook_python.read_text().strip() if h.paths.hook_python.exists() else ""
        checks = [
            Check("plugin part: hook events in the database", hooks, stored),
            Check("plugin part: shim runs, `shim`", total, _lines(logs["shim"])),
            Check("plugin part: shim runs, `before`", total, _lines(logs["before"])),
            Check("plugin part: shim runs, `plugin` (its first)", 1, _lines(logs["plugin"])),
            Check("plugin part: the interpreter behind the shim cached", 1, int(cached == exe)),
        ]  # fmt: skip
        for case, spawner in spawners.items():
            written, _ = spawner.output_bytes()
            checks += [
                Check(f"plugin part, {case}: runs that exited non-zero", 0, len(spawner.failures)),
                Check(f"plugin part, {case}: bytes written to stdout", 0, written),
            ]
    return PluginResult(runs, warmups, ms, checks)


def _lines(path: Path) -> int:
    try:
        with open(path) as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0
