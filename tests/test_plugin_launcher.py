"""The plugin's hook command, run as Claude Code runs it (`/bin/sh -c COMMAND`, with
CLAUDE_PLUGIN_ROOT set), where `python3` on PATH is a version manager's shim.

The shim here is a shell script that counts its runs and execs the interpreter through `env`,
as pyenv's does: a test proves the shim is paid once, not per event, by counting. (What that
saves per call is measured in bench/, part `plugin`.)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from skilltrack import paths
from tests.support import pythons
from tests.support.events import payload
from tests.support.home import HOOK, ROOT, DaemonProcess, Home
from tests.support.others import as_root, give_away

COMMAND = json.loads((ROOT / "hooks" / "hooks.json").read_text())["hooks"]["PostToolUse"][0][
    "hooks"
][0]["command"]
NO_AUTOSTART = {"SKILLTRACK_NO_AUTOSTART": "1"}
FORCE_FALLBACK = {"SKILLTRACK_HOOK_MIN_PYTHON": "3.99"}  # the entry script's minimum, raised


class Shim:
    """A `python3` on PATH that execs `target` through env, counting its runs."""

    def __init__(self, directory: Path, target: str) -> None:
        self.bin = directory / "shims"
        self.bin.mkdir(exist_ok=True)
        self.runs_file = directory / "shim-runs"
        script = self.bin / "python3"
        script.write_text(f'#!/bin/sh\necho run >>"{self.runs_file}"\nexec env "{target}" "$@"\n')
        script.chmod(0o755)

    @property
    def runs(self) -> int:
        try:
            return len(self.runs_file.read_text().splitlines())
        except FileNotFoundError:
            return 0


@pytest.fixture
def shim(tmp_path: Path) -> Shim:
    return Shim(tmp_path, sys.executable)


def launch(
    home: Home,
    shim: Shim,
    stdin: bytes,
    extra_env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """The plugin's command for one event, as Claude Code runs it."""
    env = {
        **home.env,
        "CLAUDE_PLUGIN_ROOT": str(ROOT),
        "PATH": f"{shim.bin}:/usr/bin:/bin",
        **(extra_env or {}),
    }
    result = subprocess.run(
        ["/bin/sh", "-c", COMMAND],
        input=stdin, env=env, cwd=cwd, capture_output=True, timeout=30, check=False,
    )  # fmt: skip
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
    return result


def cached(home: Home) -> str:
    return home.paths.hook_python.read_text()


def test_the_shim_runs_once_then_the_interpreter_behind_it_directly(
    home: Home, daemon: DaemonProcess, shim: Shim
) -> None:
    for i in range(3):
        launch(home, shim, payload(tool_use_id=f"toolu_{i}"))

    assert shim.runs == 1
    assert cached(home) == sys.executable + "\n"
    assert oct(home.paths.hook_python.stat().st_mode & 0o777) == oct(0o600)
    home.wait_for(lambda: len(home.events()) == 3, what="every event stored")
    assert sorted(e["tool_use_id"] for e in home.events()) == ["toolu_0", "toolu_1", "toolu_2"]


def test_a_cached_interpreter_that_is_gone_is_looked_up_again_and_no_event_is_lost(
    home: Home, daemon: DaemonProcess, tmp_path: Path
) -> None:
    # As when pyenv uninstalls the version the cache names.
    version_dir = tmp_path / "versions" / "3.x"
    version_dir.mkdir(parents=True)
    (version_dir / "python3").symlink_to(sys.executable)
    shim = Shim(tmp_path, str(version_dir / "python3"))
    launch(home, shim, payload(tool_use_id="toolu_before"))
    assert cached(home) == f"{version_dir}/python3\n"

    shutil.rmtree(version_dir)
    (tmp_path / "shims" / "python3").write_text(f'#!/bin/sh\nexec env "{sys.executable}" "$@"\n')
    launch(home, shim, payload(tool_use_id="toolu_after"))

    assert cached(home) == sys.executable + "\n"
    home.wait_for(lambda: len(home.events()) == 2, what="both events stored")


def test_a_hook_newer_than_the_cache_looks_the_interpreter_up_again(home: Home, shim: Shim) -> None:
    # As after a plugin update: the cache is older than the hook it runs.
    launch(home, shim, payload(), NO_AUTOSTART)
    os.utime(home.paths.hook_python, (HOOK.stat().st_mtime - 60,) * 2)

    launch(home, shim, payload(), NO_AUTOSTART)

    assert shim.runs == 2
    assert home.paths.hook_python.stat().st_mtime > HOOK.stat().st_mtime


def test_a_cached_interpreter_now_too_old_keeps_the_event_and_is_forgotten(
    home: Home, shim: Shim
) -> None:
    launch(home, shim, payload(), NO_AUTOSTART)
    assert shim.runs == 1

    launch(home, shim, payload(tool_use_id="toolu_old"), {**NO_AUTOSTART, **FORCE_FALLBACK})

    assert shim.runs == 1  # the cached interpreter ran: too old for the core now
    assert not home.paths.hook_python.exists()
    assert "too old" in json.loads(home.paths.hook_fallback_note.read_text())["problem"]
    assert home.status()["spool"]["records"] == 2

    launch(home, shim, payload(), NO_AUTOSTART)
    assert shim.runs == 2
    assert cached(home) == sys.executable + "\n"


TOO_OLD_ON_PATH = [pytest.param(p, id=p.label) for p in pythons.too_old()] + [
    pytest.param(None, id=f"python{sys.version_info[0]}.{sys.version_info[1]}-min-raised")
]


@pytest.mark.parametrize("python", TOO_OLD_ON_PATH)
def test_a_python3_too_old_on_path_keeps_the_event_and_is_not_cached(
    home: Home, tmp_path: Path, python: pythons.Python | None
) -> None:
    shim = Shim(tmp_path, python.path if python else sys.executable)
    forced = {} if python else FORCE_FALLBACK

    for i in range(2):
        launch(home, shim, payload(tool_use_id=f"toolu_{i}"), {**NO_AUTOSTART, **forced})

    assert shim.runs == 2
    assert not home.paths.hook_python.exists()
    assert home.paths.hook_fallback_note.exists()
    home.start_daemon()
    home.wait_for(lambda: len(home.events()) == 2, what="both events, replayed")


@pytest.mark.parametrize(
    "case", ["skilltrack-home", "relative-skilltrack-home", "xdg", "relative-xdg", "home"]
)
def test_the_launcher_caches_where_the_package_looks(
    home: Home, shim: Shim, tmp_path: Path, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {k: v for k, v in home.env.items() if k not in ("SKILLTRACK_HOME", "XDG_STATE_HOME")}
    env["HOME"] = str(tmp_path / "user")
    overrides = {
        "skilltrack-home": {"SKILLTRACK_HOME": str(tmp_path / "state")},
        "relative-skilltrack-home": {"SKILLTRACK_HOME": "state"},
        "xdg": {"XDG_STATE_HOME": str(tmp_path / "xdg")},
        "relative-xdg": {"XDG_STATE_HOME": "xdg"},
        "home": {},
    }[case]
    env.update(overrides, **NO_AUTOSTART)
    monkeypatch.chdir(tmp_path)
    for name in ("SKILLTRACK_HOME", "XDG_STATE_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {"HOME": env["HOME"], **overrides}.items():
        monkeypatch.setenv(name, value)
    isolated = Home(home.dir, env)

    launch(isolated, shim, payload(), cwd=tmp_path)

    assert paths.resolve().hook_python.read_text() == sys.executable + "\n"


@as_root
def test_an_interpreter_named_by_another_users_file_is_never_run(
    home: Home, shim: Shim, tmp_path: Path
) -> None:
    # Whoever could write run/hook-python could have the user run anything: only a file of
    # the user's own is followed.
    marker = tmp_path / "ran"
    planted = tmp_path / "planted"
    planted.write_text(f'#!/bin/sh\ntouch "{marker}"\n')
    planted.chmod(0o755)
    home.paths.run_dir.mkdir(mode=0o700)
    home.paths.hook_python.write_text(f"{planted}\n")
    give_away(home.paths.hook_python)

    launch(home, shim, payload(), NO_AUTOSTART)

    assert not marker.exists()
    assert shim.runs == 1  # python3 from PATH ran the hook instead, and kept itself
    assert cached(home) == sys.executable + "\n"
    assert home.paths.hook_python.stat().st_uid == os.getuid()
