"""Under a Python too old for the hook's core, or with a core that cannot be imported, the
hook still keeps the event: its fallback spools it for the daemon and leaves a note saying
why (hooks/skilltrack_hook_fallback.py).

The real old interpreters run where the machine has them (tests/support/pythons.py; each id
names one); everywhere, the tests' own Python is sent to the fallback by raising the
minimum the hook asks for.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.support import pythons
from tests.support.events import payload
from tests.support.home import HOOK, DaemonProcess, Home

NO_AUTOSTART = {"SKILLTRACK_NO_AUTOSTART": "1"}
TOO_OLD = [pytest.param(p, id=p.label) for p in pythons.too_old()] or [
    pytest.param(
        None,
        id="none-found",
        marks=pytest.mark.skip(
            reason="no Python older than 3.8 on this machine; "
            "test_a_raised_minimum_sends_the_hook_to_its_fallback covers the fallback"
        ),
    )
]


def run_hook(
    home: Home, python: pythons.Python, stdin: bytes, *, hook: Path = HOOK
) -> subprocess.CompletedProcess[bytes]:
    # -I came with 3.4; before it, -E -s is what it means for a script.
    flags = ["-I", "-S"] if python.version >= (3, 4) else ["-E", "-s", "-S"]
    return subprocess.run(
        [python.path, *flags, str(hook)],
        input=stdin, capture_output=True, timeout=30, check=False,
        env={**home.env, **NO_AUTOSTART},
    )  # fmt: skip


def note(home: Home) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(home.paths.hook_fallback_note.read_text())
    return result


def assert_replayed_once(home: Home, tool_use_id: str) -> None:
    assert home.status()["spool"]["records"] == 1
    home.start_daemon()
    home.wait_for(lambda: len(home.events()) == 1, what="the fallback's event, replayed")
    [event] = home.events()
    assert event["tool_use_id"] == tool_use_id
    assert event["artifact_name"] == "Bash"
    assert uuid.UUID(event["event_id"]).version == 7


@pytest.mark.parametrize("python", TOO_OLD)
def test_a_python_too_old_for_the_core_spools_the_event_and_says_why(
    home: Home, python: pythons.Python
) -> None:
    result = run_hook(home, python, payload(tool_use_id="toolu_old"))

    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
    version = ".".join(map(str, python.version))
    assert note(home)["python"] == version
    assert note(home)["executable"] == python.path
    assert note(home)["problem"] == (
        f"Python {version} is too old for the hook, which needs 3.8 or newer"
    )
    assert_replayed_once(home, "toolu_old")


def test_a_raised_minimum_sends_the_hook_to_its_fallback(home: Home) -> None:
    result = home.hook(
        payload(tool_use_id="toolu_forced"),
        extra_env={**NO_AUTOSTART, "SKILLTRACK_HOOK_MIN_PYTHON": "3.99"},
    )

    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
    assert note(home)["problem"].endswith("is too old for the hook, which needs 3.99 or newer")
    assert note(home)["cwd"] == str(Path.cwd())
    assert home.paths.hook_fallback_note.stat().st_mode & 0o077 == 0
    assert_replayed_once(home, "toolu_forced")


def test_a_core_that_cannot_be_imported_sends_the_hook_to_its_fallback(
    home: Home, tmp_path: Path
) -> None:
    hooks = tmp_path / "hooks"
    shutil.copytree(HOOK.parent, hooks, ignore=shutil.ignore_patterns("__pycache__"))
    (hooks / "skilltrack_hook_core.py").write_text("raise ImportError('a broken install')\n")

    result = run_hook(
        home, pythons.this_one(), payload(tool_use_id="toolu_broken"), hook=hooks / HOOK.name
    )

    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
    assert note(home)["problem"] == (
        "the hook's core could not be imported (ImportError: a broken install)"
    )
    assert_replayed_once(home, "toolu_broken")


def test_the_fallback_appends_after_a_record_cut_short(home: Home) -> None:
    home.paths.spool_dir.mkdir(parents=True, mode=0o700)
    home.paths.spool.write_bytes(b"ST1 0191e1b2-0000-7000-8000-000000000000 1.0 - eyJ")
    home.paths.spool.chmod(0o600)
    forced = {"SKILLTRACK_HOOK_MIN_PYTHON": "3.99"}

    home.hook(payload(tool_use_id="toolu_after"), extra_env={**NO_AUTOSTART, **forced})

    home.start_daemon()
    home.wait_for(lambda: len(home.events()) == 1, what="the fallback's event, replayed")
    assert home.events()[0]["tool_use_id"] == "toolu_after"
    assert home.status()["counters"]["rejected"] == {"spool_corrupt": 1}


def test_an_oversized_event_in_the_fallback_is_refused_and_counted(
    home: Home, daemon: DaemonProcess
) -> None:
    huge = payload(tool_response={"stdout": "x" * (2 * 1024 * 1024)})
    forced = {"SKILLTRACK_HOOK_MIN_PYTHON": "3.99"}

    home.hook(huge, extra_env={**NO_AUTOSTART, **forced})

    home.wait_for(
        lambda: home.status()["counters"]["rejected"] == {"invalid_json": 1},
        what="the cut event refused, and counted",
    )
    assert home.events() == []


@pytest.mark.parametrize("python", [*TOO_OLD, pytest.param(pythons.this_one(), id="min-raised")])
def test_the_fallback_writes_nothing_into_a_home_others_can_write_to(
    home: Home, python: pythons.Python
) -> None:
    # As the core: no spool, no note there; the event waits in the private fallback folder.
    home.dir.chmod(0o777)
    forced = {"SKILLTRACK_HOOK_MIN_PYTHON": "3.99"}
    flags = ["-I", "-S"] if python.version >= (3, 4) else ["-E", "-s", "-S"]

    result = subprocess.run(
        [python.path, *flags, str(HOOK)],
        input=payload(tool_use_id="toolu_elsewhere"), capture_output=True, timeout=30,
        check=False, env={**home.env, **NO_AUTOSTART, **forced},
    )  # fmt: skip

    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
    assert os.listdir(home.dir) == []
    kept = home.fallback_spool_dir / "events.spool"
    assert kept.stat().st_mode & 0o777 == 0o600
    assert len(kept.read_bytes().splitlines()) == 1
    home.dir.chmod(0o700)
    home.start_daemon()
    home.wait_for(lambda: len(home.events()) == 1, what="the kept event, collected")
    assert home.events()[0]["tool_use_id"] == "toolu_elsewhere"
