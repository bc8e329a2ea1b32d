"""The hook (stdlib only, no platformdirs) finds the same socket and spool as the daemon."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from skilltrack import paths
from tests.support.home import HOOK

PROBE = (
    "import sys, json, importlib; sys.path.insert(0, sys.argv[1]);"
    "print(json.dumps(importlib.import_module(sys.argv[2]).state_dirs()))"
)
# The core, and the fallback that runs under a Python too old for it.
HOOK_MODULES = ("skilltrack_hook_core", "skilltrack_hook_fallback")


def hook_dirs(env: dict[str, str], module: str) -> tuple[str, str]:
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", PROBE, str(HOOK.parent), module],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    run_dir, spool_dir = json.loads(out)
    return run_dir, spool_dir


@pytest.mark.parametrize(
    "overrides",
    [
        {"SKILLTRACK_HOME": "/tmp/st-explicit"},
        {"SKILLTRACK_HOME": "relative/home"},
        {"XDG_STATE_HOME": "/var/tmp/xdg-state"},
        {"XDG_STATE_HOME": "not/absolute"},
        {"XDG_STATE_HOME": ""},
        {"HOME": "/home/someone-else"},
        {},
    ],
    ids=["home", "relative-home", "xdg", "relative-xdg", "empty-xdg", "other-home", "defaults"],
)
@pytest.mark.parametrize("module", HOOK_MODULES)
def test_hook_and_package_agree_on_socket_and_spool(
    overrides: dict[str, str], module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [*os.environ]:
        if name.startswith("SKILLTRACK_") or name == "XDG_STATE_HOME":
            monkeypatch.delenv(name)
    for name, value in overrides.items():
        monkeypatch.setenv(name, value)

    run_dir, spool_dir = hook_dirs(dict(os.environ), module)

    expected = paths.resolve()
    assert run_dir == str(expected.run_dir)
    assert spool_dir == str(expected.spool_dir)
    assert os.path.join(run_dir, "daemon.sock") == str(expected.socket)
    assert os.path.join(spool_dir, "events.spool") == str(expected.spool)


def test_without_skilltrack_home_the_platform_state_dir_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SKILLTRACK_HOME", raising=False)
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setenv("HOME", "/home/ann")
    assert str(paths.resolve().socket) == "/home/ann/.local/state/skilltrack/run/daemon.sock"


def test_paths_compare_by_value(tmp_path: Path) -> None:
    # Not a dataclass (for the commands' start-up), but as equal and hashable as one.
    assert paths.under(tmp_path) == paths.under(tmp_path)
    assert paths.under(tmp_path) != paths.under(tmp_path / "other")
    assert len({paths.under(tmp_path), paths.under(tmp_path)}) == 1


@pytest.mark.parametrize(
    "environment",
    [
        {},
        {"XDG_STATE_HOME": "/x/state", "XDG_DATA_HOME": "/x/data", "XDG_CONFIG_HOME": "/x/conf"},
        {"XDG_STATE_HOME": "rel/state", "XDG_DATA_HOME": "", "XDG_CONFIG_HOME": "  "},
        {"HOME": "/home/someone-else/"},
        {"HOME": "relative/home"},
        {"HOME": ""},
    ],
    ids=["defaults", "xdg", "relative-or-empty-xdg", "trailing-slash", "relative-home", "empty"],
)
def test_on_linux_the_directories_are_platformdirs_own(
    environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """skilltrack works the XDG directories out itself on Linux (platformdirs' import costs
    every command's start-up): they must be exactly the ones platformdirs gives."""
    import platformdirs

    for name in [*os.environ]:
        if name.startswith(("SKILLTRACK_", "XDG_")):
            monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    dirs = platformdirs.PlatformDirs(paths.APP, appauthor=False)
    state = Path(dirs.user_state_dir)
    assert paths.resolve() == paths.Paths(
        run_dir=state / "run",
        spool_dir=state / "spool",
        data_dir=Path(dirs.user_data_dir),
        config=Path(dirs.user_config_dir) / "config.toml",
        log=Path(dirs.user_log_dir) / "daemon.log",
    )


FALLBACK_PROBE = (
    "import sys, json, importlib; sys.path.insert(0, sys.argv[1]);"
    "m = importlib.import_module(sys.argv[2]);"
    "print(json.dumps(m.fallback_spool_dir(m.state_dirs()[1])))"
)


@pytest.mark.parametrize(
    "runtime", ["/run/user/1000", "/run/user/1000/", "//run//user/x/../y", "relative", "", None]
)
@pytest.mark.parametrize("module", HOOK_MODULES)
def test_hook_and_package_agree_on_the_fallback_folder(
    runtime: str | None, module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Where a hook keeps an event when the spool's directory is not safe, and the daemon
    # collects it from.
    monkeypatch.setenv("SKILLTRACK_HOME", "/tmp/st-fallback-é")
    if runtime is None:
        monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    else:
        monkeypatch.setenv("XDG_RUNTIME_DIR", runtime)

    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", FALLBACK_PROBE, str(HOOK.parent), module],
        env=dict(os.environ), capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip

    assert json.loads(out) == str(paths.resolve().fallback_spool_dir)
