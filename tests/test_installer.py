"""skilltrack-install over real-world shapes of settings.json, against golden files.

Each folder of tests/golden/settings holds `before.json` (absent: no file yet) and
`installed.json`, what the file must be after installing, with `@COMMAND@` standing for the
hook command (it holds this machine's paths). Regenerate with SKILLTRACK_UPDATE_GOLDEN=1 and
read the diff before committing it.
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
from pathlib import Path

import pytest

from skilltrack.installer import cli
from skilltrack.installer.settings import hook_command, our_entries

GOLDEN = Path(__file__).parent / "golden" / "settings"
CASES = sorted(p.name for p in GOLDEN.iterdir())
COMMAND = hook_command(sys.executable, str(cli.hook_script()))
ROOT = Path(__file__).resolve().parent.parent


def run(home: Path, *flags: str, scope: str = "user") -> int:
    args = argparse.Namespace(
        scope=scope,
        dry_run="--dry-run" in flags,
        uninstall="--uninstall" in flags,
        no_start=True,
    )
    return cli.run(args, home=home, cwd=home / "project")


def settings_file(home: Path) -> Path:
    return home / ".claude" / "settings.json"


def place(case: str, home: Path) -> bytes | None:
    before = GOLDEN / case / "before.json"
    if not before.exists():
        return None
    target = settings_file(home)
    target.parent.mkdir(parents=True)
    target.write_bytes(before.read_bytes())
    return before.read_bytes()


@pytest.mark.parametrize("case", CASES)
def test_install_gives_the_golden_file(case: str, tmp_path: Path) -> None:
    place(case, tmp_path)

    assert run(tmp_path) == 0

    got = settings_file(tmp_path).read_text()
    golden = GOLDEN / case / "installed.json"
    command = json.dumps(COMMAND)[1:-1]
    if os.environ.get("SKILLTRACK_UPDATE_GOLDEN"):
        golden.write_text(got.replace(command, "@COMMAND@"))
    assert got == golden.read_text().replace("@COMMAND@", command)


@pytest.mark.parametrize("case", CASES)
def test_install_twice_changes_nothing_the_second_time(case: str, tmp_path: Path) -> None:
    place(case, tmp_path)
    run(tmp_path)
    once = settings_file(tmp_path).read_bytes()
    backup = settings_file(tmp_path).with_name("settings.json" + cli.BACKUP_SUFFIX)
    backup_bytes = backup.read_bytes() if backup.exists() else None

    assert run(tmp_path) == 0

    assert settings_file(tmp_path).read_bytes() == once
    assert (backup.read_bytes() if backup.exists() else None) == backup_bytes


@pytest.mark.parametrize("case", CASES)
def test_install_then_uninstall_gives_back_the_original(case: str, tmp_path: Path) -> None:
    original = place(case, tmp_path)
    run(tmp_path)

    assert run(tmp_path, "--uninstall") == 0

    if original is None:
        assert not settings_file(tmp_path).exists()  # we created it, so it goes
    elif case in ("older-entries", "partial-ours"):
        # Our older entries are gone too: exactly what is not ours stays.
        after = json.loads(settings_file(tmp_path).read_bytes())
        assert "skilltrack_hook.py" not in json.dumps(after)
    else:
        assert settings_file(tmp_path).read_bytes() == original


def test_uninstall_keeps_what_was_added_by_hand_since(tmp_path: Path) -> None:
    place("other-tools", tmp_path)
    run(tmp_path)
    edited = json.loads(settings_file(tmp_path).read_bytes())
    edited["model"] = "sonnet"
    settings_file(tmp_path).write_text(json.dumps(edited, indent=2))

    run(tmp_path, "--uninstall")

    after = json.loads(settings_file(tmp_path).read_bytes())
    before = json.loads((GOLDEN / "other-tools" / "before.json").read_bytes())
    assert after == {**before, "model": "sonnet"}


@pytest.mark.parametrize(
    "text",
    [
        '{\n  // my settings\n  "model": "opus"\n}\n',
        '{\n  "model": "opus",\n}\n',
        '["not", "an", "object"]\n',
        '{"hooks": {"PostToolUse": {"matcher": "*"}}}\n',
        '{"hooks": ["PostToolUse"]}\n',
    ],
    ids=["comment", "trailing-comma", "array", "event-not-a-list", "hooks-not-an-object"],
)
def test_a_file_we_cannot_read_safely_is_refused_untouched(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = settings_file(tmp_path)
    target.parent.mkdir(parents=True)
    target.write_text(text)

    assert cli.main_with(["--no-start"], home=tmp_path, cwd=tmp_path) == 1

    assert target.read_text() == text
    assert sorted(p.name for p in target.parent.iterdir()) == ["settings.json"]
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert str(target) in err[0]
    assert "nothing was changed" in err[0]


def test_permissions_of_the_file_are_kept(tmp_path: Path) -> None:
    place("other-tools", tmp_path)
    settings_file(tmp_path).chmod(0o600)

    run(tmp_path)

    assert stat.S_IMODE(settings_file(tmp_path).stat().st_mode) == 0o600


def test_dry_run_prints_a_diff_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = place("other-tools", tmp_path)

    assert run(tmp_path, "--dry-run") == 0

    out = capsys.readouterr().out
    assert out.startswith("--- ")
    assert "+" in out
    assert "skilltrack_hook.py" in out
    assert settings_file(tmp_path).read_bytes() == original
    assert sorted(p.name for p in settings_file(tmp_path).parent.iterdir()) == ["settings.json"]


def test_project_and_local_scopes_write_under_the_project(tmp_path: Path) -> None:
    run(tmp_path, scope="project")
    run(tmp_path, scope="local")
    project = tmp_path / "project" / ".claude"
    assert "skilltrack_hook.py" in (project / "settings.json").read_text()
    assert "skilltrack_hook.py" in (project / "settings.local.json").read_text()
    assert not settings_file(tmp_path).exists()


def test_refuses_when_the_plugin_is_enabled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = settings_file(tmp_path)
    target.parent.mkdir(parents=True)
    text = '{"enabledPlugins": {"skilltrack@skilltrack": true}}\n'
    target.write_text(text)

    assert cli.main_with(["--no-start"], home=tmp_path, cwd=tmp_path) == 1

    assert target.read_text() == text
    assert "count each one twice" in capsys.readouterr().err


def test_the_template_shows_what_the_installer_registers() -> None:
    template = json.loads((ROOT / "settings.template.json").read_text())
    assert template == {"hooks": our_entries("{python} -I -S {hook}")}


def test_the_plugin_registers_the_same_hooks_through_its_root() -> None:
    hooks = json.loads((ROOT / "hooks" / "hooks.json").read_text())
    command = 'python3 -I -S "${CLAUDE_PLUGIN_ROOT}/hooks/skilltrack_hook.py"'
    assert hooks["hooks"] == our_entries(command)
    plugin = json.loads((ROOT / ".claude-plugin" / "plugin.json").read_text())
    market = json.loads((ROOT / ".claude-plugin" / "marketplace.json").read_text())
    assert plugin["name"] == cli.PLUGIN_NAME
    assert [p["name"] for p in market["plugins"]] == [cli.PLUGIN_NAME]
    assert market["plugins"][0]["source"] == "./"
