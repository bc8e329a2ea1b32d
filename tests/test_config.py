"""The configuration file: defaults, validation, one-line errors, and a daemon that refuses a
bad file rather than running half-configured."""

from __future__ import annotations

import getpass
from pathlib import Path

import pytest

from skilltrack import config
from tests.support.events import payload
from tests.support.home import Home


def test_no_file_means_the_defaults(tmp_path: Path) -> None:
    settings = config.load(tmp_path / "absent.toml")
    assert settings.tenant_id == "default"
    assert settings.user_id == getpass.getuser()
    assert settings.retention_days == 90
    assert settings.privacy.paths == "home"
    assert settings.capture.snippets is False


def test_a_full_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        'tenant_id = "acme"\nuser_id = "ann"\nretention_days = 30\n'
        '[privacy]\npaths = "project"\nmax_input_chars = 500\nmax_output_chars = 800\n'
        '[capture]\nsnippets = true\nsnippet_chars = 200\nartifact_types = ["skill", "agent"]\n'
    )
    settings = config.load(path)
    assert (settings.tenant_id, settings.user_id, settings.retention_days) == ("acme", "ann", 30)
    assert settings.privacy == config.Privacy(
        paths="project", max_input_chars=500, max_output_chars=800
    )
    assert settings.capture.artifact_types == ("skill", "agent")
    with pytest.raises(ValueError, match="frozen"):
        settings.tenant_id = "other"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("retention_days = 0", "retention_days: input should be greater than or equal to 1, got 0"),
        ('retention_days = "ninety"', "retention_days: input should be a valid integer"),
        ('[privacy]\npaths = "everything"', "privacy.paths: input should be 'home' or 'project'"),
        ("[capture]\nsnippets = 1", "capture.snippets: input should be a valid boolean"),
        ('enabled = "no"', "enabled: input should be a valid boolean"),
        ('[capture]\nartifact_types = ["skill", "toolz"]', "capture.artifact_types.1: input"),
        ('tenant = "acme"', "tenant: unknown key"),
        ("[privacy]\nmax_input = 10", "privacy.max_input: unknown key"),
        ('tenant_id = ""', "tenant_id: string should have at least 1 character"),
        ("tenant_id = ", "not valid TOML"),
        ('[forward.x]\ntype = "http"\nurl = 5', "forward.x.url: input should be a valid string"),
    ],
)
def test_a_bad_file_is_one_line_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text + "\n")
    with pytest.raises(config.ConfigError) as caught:
        config.load(path)
    error = str(caught.value)
    assert "\n" not in error
    assert error.startswith(f"{path}: ")
    assert message in error


def test_a_byte_order_mark_before_the_first_key_is_no_error(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"\xef\xbb\xbfretention_days = 30\n")
    assert config.load(path).retention_days == 30


def test_daemon_refuses_a_bad_file_and_hooks_keep_spooling(home: Home) -> None:
    home.paths.config.write_text('[privacy]\npaths = "everywhere"\n')
    started = home.cli("skilltrack-daemon", "start", check=False)
    assert started.returncode == 1
    assert started.stderr.count("\n") == 1
    assert "privacy.paths" in started.stderr
    assert "'home' or 'project'" in started.stderr
    # The hook tries to start it, the start fails and is recorded; the event waits in the spool.
    result = home.hook(payload())
    assert (result.returncode, result.stdout) == (0, b"")
    home.wait_for(
        home.start_failed_and_gone,
        what="the failed start to be recorded and the daemon to have exited",
    )
    assert "privacy.paths" in home.paths.start_failed.read_text()
    status = home.status()
    assert status["running"] is False
    assert "privacy.paths" in status["problem"]
    assert status["spool"]["records"] == 1
    # Fixed, the daemon starts and the spooled event is stored.
    home.paths.config.write_text('[privacy]\npaths = "home"\n')
    home.start_daemon()
    home.wait_for(lambda: len(home.events()) == 1, what="the spooled event to be stored")


def test_tenant_and_user_from_the_file_are_on_every_event(home: Home) -> None:
    home.paths.config.write_text('tenant_id = "acme"\nuser_id = "ann-42"\n')
    home.start_daemon()
    assert home.hook(payload()).returncode == 0
    home.wait_for(lambda: len(home.events()) == 1, what="the event stored")
    (event,) = home.events()
    assert (event["tenant_id"], event["user_id"]) == ("acme", "ann-42")


def test_config_command_shows_the_settings_in_effect(home: Home) -> None:
    shown = home.json("skilltrack", "config")
    assert shown["file"] is None
    assert shown["settings"]["capture"]["snippets"] is False
    home.paths.config.write_text('tenant_id = "acme"\n')
    text = home.cli("skilltrack", "config").stdout
    assert 'tenant_id = "acme"' in text
    assert "[privacy]" in text
    home.paths.config.write_text("retention_days = -1\n")
    bad = home.cli("skilltrack", "config", check=False)
    assert bad.returncode == 1
    assert "retention_days" in bad.stderr
