"""The read commands as people and programs use them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import skilltrack
from tests.support.cli import BIN
from tests.support.events import payload
from tests.support.home import HOOK, DaemonProcess, Home


def test_report_and_events_before_anything_was_recorded(home: Home) -> None:
    assert home.report() == []
    assert home.events() == []
    mine = {"HOME": str(home.dir)}
    first = home.cli("skilltrack", "report", cwd=home.dir, extra_env=mine).stdout
    assert first.splitlines() == [
        "nothing used yet",
        "no hook is registered, so nothing is recorded: turn tracking on with "
        "skilltrack-install (or scripts/install in a clone), then use Claude Code",
    ]
    home.cli("skilltrack-install", "--no-start", cwd=home.dir, extra_env=mine)
    settings = home.dir / ".claude" / "settings.json"
    after = home.cli("skilltrack", "report", cwd=home.dir, extra_env=mine).stdout
    assert after.splitlines()[1] == (
        f"the hook is on (registered in {settings}): use Claude Code, then look again; "
        "skilltrack doctor checks every part"
    )
    assert not home.paths.db.exists()  # reading does not create a database


def test_report_counts_uses_and_failures_per_artifact(home: Home, daemon: DaemonProcess) -> None:
    skill = {"tool_name": "Skill", "tool_input": {"skill": "pdf-helper"}}
    home.hook(payload("PostToolUse", duration_ms=10, **skill))
    home.hook(payload("PostToolUse", duration_ms=30, **skill))
    home.hook(payload("PostToolUseFailure", duration_ms=5))
    home.hook(payload("PostToolUse", duration_ms=7))
    home.hook(payload("Stop"))  # the turn's end: the skills' work has ended
    home.hook(payload("SessionStart", source="startup"))
    home.wait_for(lambda: len(home.events()) == 6, what="6 events stored")

    rows = {(r["artifact_type"], r["artifact_name"]): r for r in home.report()}
    assert set(rows) == {("skill", "pdf-helper"), ("tool", "Bash")}
    pdf, bash = rows[("skill", "pdf-helper")], rows[("tool", "Bash")]
    assert (pdf["uses"], pdf["failures"]) == (2, 0)
    assert (bash["uses"], bash["failures"], bash["failure_rate"]) == (2, 1, 0.5)
    assert bash["avg_duration_ms"] == 6.0
    assert [
        r["artifact_name"]
        for r in home.json("skilltrack", "report", "--type", "skill")["artifacts"]
    ] == ["pdf-helper"]

    table = home.cli("skilltrack", "report").stdout.splitlines()
    assert table[0].split()[:4] == ["TYPE", "NAME", "USES", "FAILURES"]
    assert any(line.split()[:4] == ["skill", "pdf-helper", "2", "0"] for line in table)

    events = home.events()
    assert events[0]["hook_event"] == "SessionStart"  # newest first
    assert len(home.events(limit=2)) == 2
    assert "PostToolUseFailure" in home.cli("skilltrack", "events").stdout


@pytest.mark.parametrize("limit", ["0", "abc"])
def test_bad_arguments_are_a_usage_error_that_says_what_is_wanted(home: Home, limit: str) -> None:
    result = home.cli("skilltrack", "events", "--limit", limit, check=False)
    assert result.returncode == 2
    assert "--limit: a whole number of at least 1, not " in result.stderr


@pytest.mark.parametrize(
    ("command", "option"), [("report", "--unused-days"), ("prune", "--older-than")]
)
def test_a_number_of_days_that_is_no_number_says_so(home: Home, command: str, option: str) -> None:
    result = home.cli("skilltrack", command, option, "a week", check=False)
    assert result.returncode == 2
    assert f"{option}: a whole number of days, not 'a week'" in result.stderr


@pytest.mark.parametrize("program", ["skilltrack", "skilltrack-daemon", "skilltrack-install"])
def test_every_program_says_its_version(home: Home, program: str) -> None:
    result = home.cli(program, "--version")
    assert result.stdout == f"{program} {skilltrack.__version__}\n"


@pytest.mark.parametrize("command", ["report", "export"])
@pytest.mark.parametrize("value", ["99999999d", "800000d", "0001-01-01T00:00+14:00"])
def test_a_time_out_of_range_is_a_usage_error(home: Home, command: str, value: str) -> None:
    result = home.cli("skilltrack", command, "--since", value, check=False)
    assert result.returncode == 2, result
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1].endswith(f"--since: {value!r} is out of range")
    assert "Traceback" not in result.stderr


def _into_a_closed_pipe(home: Home, *args: str) -> subprocess.CompletedProcess[str]:
    """`ARGS | head` where the reader is gone before the first byte is written."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        program, *rest = args
        return subprocess.run(
            [str(BIN / program), *rest], stdout=write_end, stderr=subprocess.PIPE, text=True,
            env=home.env, timeout=60, check=False,
        )  # fmt: skip
    finally:
        os.close(write_end)


@pytest.mark.parametrize(
    "args",
    [
        ("skilltrack", "stats", "--json"),
        ("skilltrack", "stats"),
        ("skilltrack", "report"),
        ("skilltrack", "events", "--json"),
        ("skilltrack", "export"),
        ("skilltrack-daemon", "status"),
        ("skilltrack-daemon", "status", "--json"),
    ],
)
def test_a_closed_stdout_pipe_ends_the_command_quietly(
    home: Home, daemon: DaemonProcess, args: tuple[str, ...]
) -> None:
    home.hook(payload("PostToolUse"))
    home.wait_for(lambda: len(home.events()) == 1, what="the event stored")
    result = _into_a_closed_pipe(home, *args)
    assert (result.returncode, result.stderr) == (0, "")


def test_status_says_why_the_daemon_cannot_start_with_a_bad_config(home: Home) -> None:
    home.paths.config.parent.mkdir(parents=True, exist_ok=True)
    home.paths.config.write_text("retention_days = 0\n")
    refused = home.cli("skilltrack-daemon", "start", check=False)
    assert refused.returncode == 1
    why = "retention_days: input should be greater than or equal to 1, got 0"
    first = home.cli("skilltrack-daemon", "status", check=False).stdout.splitlines()[0]
    assert first.startswith("skilltrack daemon is not running: ")
    assert first.endswith(why)
    assert why in home.status()["problem"]
    home.paths.config.write_text("retention_days = 7\n")  # fixed: no stale reason
    assert home.cli("skilltrack-daemon", "status", check=False).stdout.splitlines()[0] == (
        "skilltrack daemon is not running"
    )


def test_the_installed_installer_registers_the_interpreter_it_runs_on(
    home: Home, tmp_path: Path
) -> None:
    # The console script as a user runs it (the other tests call its main() in-process): the
    # hook it would register runs under the interpreter named in its own first line.
    result = subprocess.run(
        [str(BIN / "skilltrack-install"), "--dry-run", "--no-start"],
        capture_output=True, text=True, cwd=tmp_path, env={**home.env, "HOME": str(tmp_path)},
        timeout=60, check=False,
    )  # fmt: skip
    assert (result.returncode, result.stderr) == (0, ""), result
    interpreter = (BIN / "skilltrack-install").read_text().splitlines()[0].removeprefix("#!")
    assert f'"command": "{interpreter} -I -S {HOOK}"' in result.stdout
    assert result.stdout.startswith(f"--- {tmp_path}/.claude/settings.json\n")
    assert not (tmp_path / ".claude").exists()  # a dry run writes nothing


def test_stats_and_status_say_the_same_database_size_wal_included(
    home: Home, daemon: DaemonProcess
) -> None:
    home.hook(payload("PostToolUse"))
    home.wait_for(lambda: len(home.events()) == 1, what="the event stored")
    wal = home.paths.db.with_name(home.paths.db.name + "-wal")
    for _ in range(5):  # a checkpoint in between may grow the file: read again
        before = home.paths.db_bytes()
        status = home.status()["database"]["bytes"]
        stats = home.json("skilltrack", "stats")["bytes"]
        if home.paths.db_bytes() == before:
            break
    assert status == stats == before
    assert before == home.paths.db.stat().st_size + wal.stat().st_size
