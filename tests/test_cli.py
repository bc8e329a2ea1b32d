"""The read commands as people and programs use them."""

from __future__ import annotations

from tests.conftest import DaemonProcess, Home, payload


def test_report_and_events_before_anything_was_recorded(home: Home) -> None:
    assert home.report() == []
    assert home.events() == []
    assert home.cli("skilltrack", "report").stdout.strip() == "nothing used yet"
    assert not home.paths.db.exists()  # reading does not create a database


def test_report_counts_uses_and_failures_per_artifact(home: Home, daemon: DaemonProcess) -> None:
    skill = {"tool_name": "Skill", "tool_input": {"skill": "pdf-helper"}}
    home.hook(payload("PostToolUse", duration_ms=10, **skill))
    home.hook(payload("PostToolUse", duration_ms=30, **skill))
    home.hook(payload("PostToolUseFailure", duration_ms=5))
    home.hook(payload("PostToolUse", duration_ms=7))
    home.hook(payload("SessionStart", source="startup"))

    rows = {(r["artifact_type"], r["artifact_name"]): r for r in home.report()}
    assert set(rows) == {("skill", "pdf-helper"), ("tool", "Bash")}
    pdf, bash = rows[("skill", "pdf-helper")], rows[("tool", "Bash")]
    assert (pdf["uses"], pdf["failures"], pdf["avg_duration_ms"]) == (2, 0, 20.0)
    assert (bash["uses"], bash["failures"], bash["failure_rate"]) == (2, 1, 0.5)
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


def test_bad_arguments_are_a_usage_error(home: Home) -> None:
    result = home.cli("skilltrack", "events", "--limit", "0", check=False)
    assert result.returncode == 2
    assert "must be at least 1" in result.stderr
