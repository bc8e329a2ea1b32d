"""`skilltrack doctor` on real state: it must say what is wrong, and exit 1 for it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import pythons
from tests.support.events import payload
from tests.support.home import WAIT_FOR_ACK, Home


def doctor(
    home: Home, *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> tuple[int, list[dict[str, str]]]:
    result = home.cli(
        "skilltrack", "doctor", "--json",
        cwd=cwd or home.dir, extra_env={"HOME": str(home.dir), **(env or {})}, check=False,
    )  # fmt: skip
    return result.returncode, json.loads(result.stdout)


def findings_of(check: str, findings: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(f["level"], f["message"]) for f in findings if f["check"] == check]


def levels(findings: list[dict[str, str]]) -> dict[str, str]:
    return {f["check"]: f["level"] for f in findings}


def install(home: Home, *args: str) -> None:
    home.cli(
        "skilltrack-install", "--no-start", *args,
        cwd=home.dir, extra_env={"HOME": str(home.dir)},
    )  # fmt: skip


def test_nothing_set_up_fails_and_says_what_to_run(home: Home) -> None:
    code, findings = doctor(home)
    assert code == 1
    assert levels(findings)["hooks"] == "fail"
    assert levels(findings)["daemon"] == "fail"
    assert any("skilltrack-install" in f["message"] for f in findings)


def test_a_working_setup_passes(home: Home) -> None:
    install(home)
    home.start_daemon()
    home.hook(payload(), extra_env=WAIT_FOR_ACK)  # stored, not spooled, however slow the host
    home.wait_for(lambda: len(home.events()) == 1, what="the event stored")

    code, findings = doctor(home)

    assert code == 0, findings
    assert set(levels(findings).values()) == {"ok"}
    assert levels(findings).keys() >= {"hooks", "daemon", "permissions", "events", "spool"}


def test_hooks_registered_twice_are_a_failure(home: Home) -> None:
    # The installer refuses a second scope; a copied settings file does it all the same.
    project = home.dir / "project"
    (project / ".claude").mkdir(parents=True)
    install(home)
    shutil.copy(home.dir / ".claude" / "settings.json", project / ".claude" / "settings.json")
    home.start_daemon()

    code, findings = doctor(home, cwd=project)

    assert code == 1
    [hooks] = [f for f in findings if f["check"] == "hooks"]
    assert hooks["level"] == "fail"
    assert "more than once" in hooks["message"]


def test_a_database_others_can_read_is_a_failure(home: Home) -> None:
    install(home)
    home.start_daemon()
    home.hook(payload())
    os.chmod(home.paths.db, 0o644)

    code, findings = doctor(home)

    assert code == 1
    assert levels(findings)["permissions"] == "fail"
    assert any(str(home.paths.db) in f["message"] for f in findings)


def enable_plugin(home: Home) -> None:
    """The plugin form: Claude Code's settings enable it (and register no hook of ours)."""
    settings = home.dir / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({"enabledPlugins": {"skilltrack@skilltrack": True}}))


def python3_on_path(home: Home, target: str) -> dict[str, str]:
    """A PATH whose python3 execs `target` through env, as a version manager's shim does."""
    shims = home.dir / "shims"
    shims.mkdir(exist_ok=True)
    shim = shims / "python3"
    shim.write_text(f'#!/bin/sh\nexec env "{target}" "$@"\n')
    shim.chmod(0o755)
    return {"PATH": f"{shims}:/usr/bin:/bin"}


def version_of(python: str) -> str:
    return subprocess.run(
        [python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip


def test_the_installed_hook_s_interpreter_is_reported_with_its_version_and_start_up(
    home: Home,
) -> None:
    install(home)

    _, findings = doctor(home)

    [(level, message)] = findings_of("python", findings)
    assert level == "ok"
    assert message.startswith(
        f"the hook runs {sys.executable} (Python {version_of(sys.executable)})"
    )
    assert re.search(r", \d+ ms to start$", message), message


def test_the_plugin_s_shim_on_path_is_reported_with_the_interpreter_behind_it(home: Home) -> None:
    enable_plugin(home)

    _, findings = doctor(home, env=python3_on_path(home, sys.executable))

    [(level, message)] = findings_of("python", findings)
    assert level == "ok"
    shim = home.dir / "shims" / "python3"
    assert f"runs python3 from PATH: {shim} (Python {version_of(sys.executable)})" in message
    assert f"a shim for {sys.executable}; from its second run on, {sys.executable} (" in message


def test_the_interpreter_kept_for_the_plugin_s_hook_is_the_one_reported(home: Home) -> None:
    enable_plugin(home)
    home.paths.run_dir.mkdir(parents=True, mode=0o700)
    home.paths.hook_python.write_text(sys.executable + "\n")

    _, findings = doctor(home, env=python3_on_path(home, sys.executable))

    [(level, message)] = findings_of("python", findings)
    assert level == "ok"
    assert message.startswith(f"the plugin's hook runs {sys.executable} (Python ")
    assert f"kept in {home.paths.hook_python}; python3 on PATH: " in message


TOO_OLD = [
    pytest.param(p.path, ".".join(map(str, p.version)), id=p.label) for p in pythons.too_old()[:1]
] + [pytest.param(None, "3.7.3", id="stand-in-for-3.7")]


@pytest.mark.parametrize(("python", "version"), TOO_OLD)
def test_a_python3_too_old_on_path_fails_the_plugin_form_with_the_reason(
    home: Home, python: str | None, version: str
) -> None:
    enable_plugin(home)
    if python is None:  # where no old Python is found: one that answers as 3.7.3 does
        stand_in = home.dir / "python3.7"
        stand_in.write_text(f"#!/bin/sh\nprintf '%s\\n{version}' \"$0\"\n")
        stand_in.chmod(0o755)
        python = str(stand_in)

    code, findings = doctor(home, env=python3_on_path(home, python))

    assert code == 1
    [(level, message)] = findings_of("python", findings)
    assert level == "fail"
    assert message.startswith(
        f"python3 on PATH, {home.dir / 'shims' / 'python3'}: Python {version} is too old for "
        "the hook, which needs 3.8 or newer"
    )


def test_no_python3_on_path_fails_the_plugin_form(home: Home) -> None:
    enable_plugin(home)
    (home.dir / "empty").mkdir()

    code, findings = doctor(home, env={"PATH": str(home.dir / "empty")})

    assert code == 1
    [(level, message)] = findings_of("python", findings)
    assert level == "fail"
    assert message.startswith("python3: none on PATH")


def test_a_fallback_of_the_hook_is_a_failure_until_an_interpreter_is_kept_after_it(
    home: Home,
) -> None:
    enable_plugin(home)
    env = python3_on_path(home, sys.executable)
    home.hook(payload(), extra_env={"SKILLTRACK_HOOK_MIN_PYTHON": "3.99"})

    code, findings = doctor(home, env=env)

    assert code == 1
    [(level, message)] = findings_of("fallback", findings)
    assert level == "fail"
    assert (
        f"under {sys.executable} (Python {version_of(sys.executable)}) in {Path.cwd()}" in message
    )
    assert "which needs 3.99 or newer" in message

    # The plugin's hook then runs under a good python3 and keeps it.
    home.paths.hook_python.write_text(sys.executable + "\n")
    later = home.paths.hook_fallback_note.stat().st_mtime + 1
    os.utime(home.paths.hook_python, (later, later))

    _, findings = doctor(home, env=env)

    assert findings_of("fallback", findings) == []


def test_the_plugin_form_is_named_as_such_not_as_settings(home: Home) -> None:
    enable_plugin(home)
    _, findings = doctor(home)
    [(level, message)] = findings_of("hooks", findings)
    assert level == "ok"
    assert message == f"the skilltrack plugin's hook, enabled in {home.dir}/.claude/settings.json"


def test_a_plugin_hook_that_cannot_find_the_daemon_is_not_said_to_start_it(home: Home) -> None:
    enable_plugin(home)
    env = python3_on_path(home, sys.executable)  # a PATH without skilltrack-daemon on it

    _, findings = doctor(home, env=env)

    [(level, message)] = findings_of("daemon", findings)
    assert level == "fail"
    assert "the next hook starts it" not in message
    assert "the plugin's hook cannot start it: no skilltrack-daemon" in message
    assert message.endswith("until you run scripts/install --commands-only")


def test_a_plugin_hook_that_finds_the_daemon_on_path_is_said_to_start_it(home: Home) -> None:
    enable_plugin(home)
    env = python3_on_path(home, sys.executable)
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"  # the venv: skilltrack-daemon

    _, findings = doctor(home, env=env)

    [(_, message)] = findings_of("daemon", findings)
    daemon = Path(sys.executable).parent / "skilltrack-daemon"
    assert message == (
        f"not running: the next hook starts it ({daemon}), or run skilltrack-daemon start"
    )
