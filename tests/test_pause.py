"""Pausing tracking: `skilltrack pause` / `resume`, and `enabled = false` in the config file.

The real hook runs as a subprocess against the marker; the commands run in-process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.events import payload
from tests.support.home import HOOK, WAIT_FOR_ACK, DaemonProcess, Home, daemon_processes
from tests.support.others import as_root, give_away
from tests.test_plugin_launcher import FORCE_FALLBACK, Shim, launch

NO_AUTOSTART = {"SKILLTRACK_NO_AUTOSTART": "1"}


def kept_nothing(home: Home) -> bool:
    """No spool, no socket, no lock (a hook takes it before starting a daemon), no daemon."""
    p = home.paths
    return not any(x.exists() for x in (p.spool, p.socket, p.lock, p.db)) and not (
        daemon_processes(home)
    )


def assert_silent(result: subprocess.CompletedProcess[bytes]) -> None:
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")


def test_a_paused_hook_keeps_nothing_and_starts_no_daemon_until_resumed(home: Home) -> None:
    paused = home.json("skilltrack", "pause")
    assert paused["paused"] is True
    assert paused["by"] == "command"

    assert_silent(home.hook(payload(tool_use_id="toolu_paused")))
    assert kept_nothing(home)
    assert not home.fallback_spool_dir.exists()

    home.cli("skilltrack", "resume")
    # The same hook now keeps its event: it starts the daemon, which stores it.
    assert_silent(home.hook(payload(tool_use_id="toolu_resumed")))
    assert home.paths.lock.exists()
    home.wait_for(lambda: home.paths.socket.exists(), what="the daemon the hook started")
    home.wait_for(lambda: len(home.events()) == 1, what="the event kept after resuming")
    assert [e["tool_use_id"] for e in home.events()] == ["toolu_resumed"]


def test_a_running_daemon_hears_nothing_while_paused(home: Home, daemon: DaemonProcess) -> None:
    home.cli("skilltrack", "pause")
    assert_silent(home.hook(payload(tool_use_id="toolu_0"), extra_env=WAIT_FOR_ACK))
    home.cli("skilltrack", "resume")
    assert_silent(home.hook(payload(tool_use_id="toolu_1"), extra_env=WAIT_FOR_ACK))
    assert [e["tool_use_id"] for e in home.events()] == ["toolu_1"]
    assert home.status()["counters"]["stored"] == 1


def test_events_spooled_before_the_pause_are_still_stored(home: Home) -> None:
    assert_silent(home.hook(payload(tool_use_id="toolu_early"), extra_env=NO_AUTOSTART))
    said = home.cli("skilltrack", "pause").stdout
    assert "1 events already in the spool are still stored" in said
    home.start_daemon()
    home.wait_for(lambda: len(home.events()) == 1, what="the spooled event to be replayed")
    assert home.status()["tracking"]["paused"] is True


def test_a_marker_that_is_a_link_does_not_pause(home: Home, tmp_path: Path) -> None:
    home.paths.run_dir.mkdir(mode=0o700, parents=True)
    target = tmp_path / "elsewhere"
    target.write_text("")
    home.paths.paused.symlink_to(target)
    assert_silent(home.hook(payload(), extra_env=NO_AUTOSTART))
    assert home.paths.spool.exists()
    assert home.status()["tracking"]["paused"] is False


@as_root
def test_a_marker_another_user_planted_does_not_pause(home: Home) -> None:
    home.paths.run_dir.mkdir(mode=0o700, parents=True)
    home.paths.paused.write_text("")
    give_away(home.paths.paused)
    assert_silent(home.hook(payload(), extra_env=NO_AUTOSTART))
    assert home.paths.spool.exists()
    assert home.status()["tracking"]["paused"] is False


def test_status_and_doctor_say_paused_and_how_to_resume(home: Home) -> None:
    home.cli("skilltrack", "pause")
    status = home.status()
    assert status["tracking"] == {
        "paused": True,
        "by": "command",
        "since": status["tracking"]["since"],
        "config_enabled": True,
    }
    text = home.cli("skilltrack-daemon", "status", check=False).stdout
    assert "tracking   PAUSED since" in text
    assert "skilltrack resume" in text

    doctor = _doctor_json(home)
    [tracking] = [f for f in doctor if f["check"] == "tracking"]
    assert tracking["level"] == "warn"
    assert "skilltrack resume" in tracking["message"]
    [daemon] = [f for f in doctor if f["check"] == "daemon"]
    assert daemon["level"] == "ok", daemon  # none runs, and none is needed while paused

    home.cli("skilltrack", "resume")
    assert home.status()["tracking"]["paused"] is False
    [tracking] = [f for f in _doctor_json(home) if f["check"] == "tracking"]
    assert (tracking["level"], tracking["message"]) == ("ok", "on")


def _doctor_json(home: Home) -> list[dict[str, str]]:
    # doctor exits 1 on any failure (no hooks are registered here): its JSON is what counts.
    result: list[dict[str, str]] = json.loads(
        home.cli("skilltrack", "doctor", "--json", check=False).stdout
    )
    return result


def test_enabled_false_pauses_and_resume_refuses_naming_the_file(home: Home) -> None:
    home.paths.config.write_text("enabled = false\n")
    # Before anything reads the file, the hooks cannot know: status says how to apply it.
    assert "says enabled = false" in home.cli("skilltrack-daemon", "status", check=False).stdout

    home.cli("skilltrack", "config")
    assert home.status()["tracking"]["by"] == "config"
    assert_silent(home.hook(payload(), extra_env=NO_AUTOSTART))
    assert kept_nothing(home)

    refused = home.cli("skilltrack", "resume", check=False)
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1
    assert str(home.paths.config) in refused.stderr
    assert "enabled = false" in refused.stderr
    assert home.paths.paused.exists()

    home.paths.config.write_text("enabled = true\n")
    home.cli("skilltrack", "resume")
    assert not home.paths.paused.exists()


def test_the_daemon_applies_enabled_false_at_start_and_lifts_only_its_own_pause(
    home: Home,
) -> None:
    home.paths.config.write_text("enabled = false\n")
    daemon = home.start_daemon()
    assert home.status()["tracking"]["by"] == "config"
    daemon.terminate()

    home.paths.config.write_text("enabled = true\n")
    daemon = home.start_daemon()
    assert home.status()["tracking"]["paused"] is False
    daemon.terminate()

    # A pause the user asked for outlasts a restart whatever the file says.
    home.cli("skilltrack", "pause")
    home.start_daemon()
    assert home.status()["tracking"]["by"] == "command"


def test_the_fallback_hook_keeps_nothing_while_paused(home: Home) -> None:
    home.cli("skilltrack", "pause")
    result = subprocess.run(
        [sys.executable, "-I", "-S", str(HOOK)],
        input=payload(), capture_output=True, timeout=30, check=False,
        env={**home.env, **NO_AUTOSTART, **FORCE_FALLBACK},
    )  # fmt: skip
    assert_silent(result)
    assert kept_nothing(home)
    assert not home.paths.hook_fallback_note.exists()
    # Resumed, the same run keeps the event (and leaves its note).
    home.cli("skilltrack", "resume")
    result = subprocess.run(
        [sys.executable, "-I", "-S", str(HOOK)],
        input=payload(), capture_output=True, timeout=30, check=False,
        env={**home.env, **NO_AUTOSTART, **FORCE_FALLBACK},
    )  # fmt: skip
    assert_silent(result)
    assert home.paths.spool.exists()
    assert home.paths.hook_fallback_note.exists()


@pytest.mark.parametrize("size", [100, 4 * 1024 * 1024], ids=["small", "larger-than-a-pipe"])
def test_the_plugin_launcher_runs_no_python_while_paused(
    home: Home, tmp_path: Path, size: int
) -> None:
    shim = Shim(tmp_path, sys.executable)
    home.cli("skilltrack", "pause")
    event = json.loads(payload())
    event["tool_response"] = {"stdout": "x" * size}
    launch(home, shim, json.dumps(event).encode(), extra_env=NO_AUTOSTART)  # exit 0, silent
    assert shim.runs == 0
    assert kept_nothing(home)
    home.cli("skilltrack", "resume")
    launch(home, shim, payload(), extra_env=NO_AUTOSTART)
    assert shim.runs == 1
    assert home.paths.spool.exists()
