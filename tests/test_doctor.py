"""`skilltrack doctor` on real state: it must say what is wrong, and exit 1 for it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from tests.support.events import payload
from tests.support.home import WAIT_FOR_ACK, Home


def doctor(home: Home, *, cwd: Path | None = None) -> tuple[int, list[dict[str, str]]]:
    result = home.cli(
        "skilltrack", "doctor", "--json",
        cwd=cwd or home.dir, extra_env={"HOME": str(home.dir)}, check=False,
    )  # fmt: skip
    return result.returncode, json.loads(result.stdout)


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
