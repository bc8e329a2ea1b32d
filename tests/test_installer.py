"""skilltrack-install over real-world shapes of settings.json, against golden files.

Each folder of tests/golden/settings holds `before.json` (absent: no file yet) and
`installed.json`, what the file must be after installing, with `@COMMAND@` standing for the
hook command (it holds this machine's paths). Regenerate with SKILLTRACK_UPDATE_GOLDEN=1 and
read the diff before committing it.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import stat
import sys
from pathlib import Path

import pytest

from skilltrack import paths
from skilltrack.cli import install as cli
from skilltrack.installer import files
from skilltrack.installer.settings import HOOK_SCRIPT, hook_command, our_entries

GOLDEN = Path(__file__).parent / "golden" / "settings"
CASES = sorted(p.name for p in GOLDEN.iterdir())
COMMAND = hook_command(sys.executable, str(files.hook_script()))
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
    backup = settings_file(tmp_path).with_name("settings.json" + files.BACKUP_SUFFIX)
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


def said_once_nothing_changed(capsys: pytest.CaptureFixture[str], path: Path) -> None:
    """The refusal is one line on stderr, naming `path` and that nothing was changed."""
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert str(path) in err[0]
    assert "nothing was changed" in err[0]


def test_uninstall_after_a_hand_edit_changes_nothing_but_our_member(tmp_path: Path) -> None:
    # No backup to give back (the file changed since): our member goes, the rest of the
    # text (compact objects, indentation, no final newline) stays as the user wrote it.
    place("no-final-newline", tmp_path)
    assert run(tmp_path) == 0
    target = settings_file(tmp_path)
    edit = ('"model": "opus",', '"model": "opus", "theme": "dark",')
    target.write_text(target.read_text().replace(*edit))
    assert run(tmp_path, "--uninstall") == 0
    before = (GOLDEN / "no-final-newline" / "before.json").read_text()
    assert target.read_text() == before.replace(*edit)


@pytest.mark.parametrize(
    "text",
    [
        '{\n  // my settings\n  "model": "opus"\n}\n',
        '{\n  "model": "opus",\n}\n',
        '["not", "an", "object"]\n',
        '{"hooks": {"PostToolUse": {"matcher": "*"}}}\n',
        '{"hooks": ["PostToolUse"]}\n',
        '{"hooks": null}\n',
        '{"x": NaN}\n',
        '{"x": Infinity}\n',
        '{"x": -Infinity}\n',
        '{"x": 1e400}\n',
        '{"x": [-1E+999]}\n',
        '{"x": ' + "[" * 100_000 + "]" * 100_000 + "}\n",
    ],
    ids=[
        "comment",
        "trailing-comma",
        "array",
        "event-not-a-list",
        "hooks-not-an-object",
        "hooks-null",
        "nan",
        "infinity",
        "minus-infinity",
        "number-too-large",
        "negative-number-too-large",
        "nested-too-deeply",
    ],
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
    said_once_nothing_changed(capsys, target)


def test_permissions_of_the_file_are_kept(tmp_path: Path) -> None:
    place("other-tools", tmp_path)
    settings_file(tmp_path).chmod(0o600)

    run(tmp_path)

    assert stat.S_IMODE(settings_file(tmp_path).stat().st_mode) == 0o600


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o400])
def test_the_backup_is_never_more_readable_than_the_original(
    mode: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    place("other-tools", tmp_path)
    settings_file(tmp_path).chmod(mode)
    backup = settings_file(tmp_path).with_name("settings.json" + files.BACKUP_SUFFIX)
    # The mode each file has when it appears under its name: no moment of a wider one.
    appeared: dict[str, int] = {}
    real_replace = os.replace

    def replace(src: str, dst: str | Path) -> None:
        appeared[Path(dst).name] = stat.S_IMODE(os.stat(src).st_mode)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    old_umask = os.umask(0o022)
    try:
        assert run(tmp_path) == 0
    finally:
        os.umask(old_umask)

    assert stat.S_IMODE(backup.stat().st_mode) == mode
    assert appeared[backup.name] == mode


def test_a_symlinked_settings_file_is_written_through_and_stays_a_link(tmp_path: Path) -> None:
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    original = (GOLDEN / "other-tools" / "before.json").read_bytes()
    (dotfiles / "settings.json").write_bytes(original)
    link = settings_file(tmp_path)
    link.parent.mkdir()
    link.symlink_to(Path("..") / "dotfiles" / "settings.json")

    assert run(tmp_path) == 0

    assert os.readlink(link) == str(Path("..") / "dotfiles" / "settings.json")
    assert "skilltrack_hook.py" in (dotfiles / "settings.json").read_text()
    # No temporary file and no backup (it may hold secrets) lands in the dotfiles folder.
    assert sorted(p.name for p in dotfiles.iterdir()) == ["settings.json"]

    assert run(tmp_path, "--uninstall") == 0

    assert link.is_symlink()
    assert (dotfiles / "settings.json").read_bytes() == original


def test_a_dangling_symlink_is_refused_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    link = settings_file(tmp_path)
    link.parent.mkdir()
    link.symlink_to(tmp_path / "dotfiles" / "settings.json")

    assert cli.main_with(["--no-start"], home=tmp_path, cwd=tmp_path) == 1

    assert os.readlink(link) == str(tmp_path / "dotfiles" / "settings.json")
    assert not (tmp_path / "dotfiles").exists()
    assert sorted(p.name for p in link.parent.iterdir()) == ["settings.json"]
    said_once_nothing_changed(capsys, link)


def test_a_lone_surrogate_escape_is_kept_as_written(tmp_path: Path) -> None:
    target = settings_file(tmp_path)
    target.parent.mkdir()
    target.write_text('{\n  "x": "\\ud83d",\n  "y": "\u00e9\U0001f600"\n}\n')

    assert run(tmp_path) == 0

    text = target.read_bytes().decode("utf-8")  # still UTF-8 throughout
    assert '"\\ud83d"' in text
    assert json.loads(text)["x"] == "\ud83d"
    assert json.loads(text)["y"] == "\u00e9\U0001f600"


def bad_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    state = tmp_path / "state"
    state.mkdir()
    (state / "config.toml").write_text("retention_days = 0\n")
    monkeypatch.setenv("SKILLTRACK_HOME", str(state))
    return state / "config.toml"


def test_an_unusable_config_is_refused_before_the_settings_are_touched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = bad_config(tmp_path, monkeypatch)
    original = place("other-tools", tmp_path)

    assert cli.main_with([], home=tmp_path, cwd=tmp_path) == 1

    assert settings_file(tmp_path).read_bytes() == original
    assert sorted(p.name for p in settings_file(tmp_path).parent.iterdir()) == ["settings.json"]
    out, err = capsys.readouterr()
    assert "registered" not in out
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert str(config) in lines[0]
    assert "retention_days" in lines[0]
    assert "nothing was changed" in lines[0]


def test_no_start_and_uninstall_need_no_usable_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad_config(tmp_path, monkeypatch)
    original = place("other-tools", tmp_path)

    assert cli.main_with(["--no-start"], home=tmp_path, cwd=tmp_path) == 0
    assert cli.main_with(["--uninstall"], home=tmp_path, cwd=tmp_path) == 0

    assert settings_file(tmp_path).read_bytes() == original


def test_uninstall_removes_the_backup_it_made(tmp_path: Path) -> None:
    original = place("other-tools", tmp_path)
    run(tmp_path)

    run(tmp_path, "--uninstall")

    assert settings_file(tmp_path).read_bytes() == original
    assert sorted(p.name for p in settings_file(tmp_path).parent.iterdir()) == ["settings.json"]


def test_uninstall_keeps_the_backup_when_the_file_changed_since(tmp_path: Path) -> None:
    original = place("other-tools", tmp_path)
    backup = settings_file(tmp_path).with_name("settings.json" + files.BACKUP_SUFFIX)
    run(tmp_path)
    edited = json.loads(settings_file(tmp_path).read_bytes())
    del edited["env"]  # the backup is now the only copy of it
    settings_file(tmp_path).write_text(json.dumps(edited, indent=2))

    run(tmp_path, "--uninstall")

    assert backup.read_bytes() == original


@pytest.mark.parametrize("case", ["older-entries", "partial-ours"])
def test_uninstall_removes_a_backup_that_differs_only_by_older_entries_of_ours(
    case: str, tmp_path: Path
) -> None:
    place(case, tmp_path)
    run(tmp_path)

    run(tmp_path, "--uninstall")

    assert sorted(p.name for p in settings_file(tmp_path).parent.iterdir()) == ["settings.json"]


def test_a_reinstall_after_an_uninstall_backs_up_the_file_as_it_is_then(tmp_path: Path) -> None:
    place("other-tools", tmp_path)
    backup = settings_file(tmp_path).with_name("settings.json" + files.BACKUP_SUFFIX)
    run(tmp_path)
    run(tmp_path, "--uninstall")
    edited = b'{\n  "model": "sonnet"\n}\n'
    settings_file(tmp_path).write_bytes(edited)

    run(tmp_path)

    assert backup.read_bytes() == edited
    run(tmp_path, "--uninstall")
    assert settings_file(tmp_path).read_bytes() == edited


def test_a_backup_older_than_a_deleted_file_is_not_given_back_nor_deleted(
    tmp_path: Path,
) -> None:
    backup = settings_file(tmp_path).with_name("settings.json" + files.BACKUP_SUFFIX)
    original = place("other-tools", tmp_path)
    run(tmp_path)
    settings_file(tmp_path).unlink()  # the user starts afresh; our old backup stays behind

    run(tmp_path)
    assert not backup.exists()  # there was no file before this install
    run(tmp_path, "--uninstall")

    assert not settings_file(tmp_path).exists()
    # Perhaps the only copy of what the user had: set aside, not lost.
    assert backup.with_name(backup.name + ".old").read_bytes() == original


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
    project = tmp_path / "project" / ".claude"
    run(tmp_path, scope="project")
    assert "skilltrack_hook.py" in (project / "settings.json").read_text()
    run(tmp_path, "--uninstall", scope="project")
    run(tmp_path, scope="local")
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


def test_refuses_a_second_scope_when_one_already_registers_the_hook(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Claude Code runs every scope's hooks: user and project both would count events twice.
    home, project = tmp_path / "home", tmp_path / "proj"
    assert cli.main_with(["--no-start"], home=home, cwd=project) == 0
    capsys.readouterr()

    assert cli.main_with(["--no-start", "--scope", "project"], home=home, cwd=project) == 1

    assert not (project / ".claude" / "settings.json").exists()
    err = capsys.readouterr().err
    assert "count each event twice" in err
    assert "--uninstall --scope user" in err
    # Run from the home folder, the project's file is the user's: installing again is fine.
    assert cli.main_with(["--no-start", "--scope", "project"], home=home, cwd=home) == 0


def test_uninstall_says_the_daemon_still_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    state = paths.under(tmp_path / "state")
    monkeypatch.setenv("SKILLTRACK_HOME", str(tmp_path / "state"))
    assert run(tmp_path) == 0
    assert run(tmp_path, "--uninstall") == 0
    assert "daemon still runs" not in capsys.readouterr().out
    state.lock.parent.mkdir(parents=True, exist_ok=True)
    with state.lock.open("w") as lock:  # held as a running daemon holds it
        fcntl.flock(lock, fcntl.LOCK_EX)
        assert run(tmp_path) == 0
        assert run(tmp_path, "--uninstall") == 0
    assert "the daemon still runs" in capsys.readouterr().out


def test_the_template_shows_what_the_installer_registers() -> None:
    template = json.loads((ROOT / "settings.template.json").read_text())
    assert template == {"hooks": our_entries("{python} -I -S {hook}")}


def test_the_plugin_registers_the_same_hooks_through_its_root() -> None:
    hooks = json.loads((ROOT / "hooks" / "hooks.json").read_text())
    # Its launcher, sourced in Claude Code's /bin/sh, runs the same hook script with the
    # interpreter behind `python3` (tests/test_plugin_launcher.py runs it).
    command = '. "${CLAUDE_PLUGIN_ROOT}/hooks/skilltrack_hook.sh"'
    assert hooks["hooks"] == our_entries(command)
    launcher = (ROOT / "hooks" / "skilltrack_hook.sh").read_text()
    assert f"skilltrack_hook=$CLAUDE_PLUGIN_ROOT/hooks/{HOOK_SCRIPT}\n" in launcher
    plugin = json.loads((ROOT / ".claude-plugin" / "plugin.json").read_text())
    market = json.loads((ROOT / ".claude-plugin" / "marketplace.json").read_text())
    assert plugin["name"] == files.PLUGIN_NAME
    assert [p["name"] for p in market["plugins"]] == [files.PLUGIN_NAME]
    assert market["plugins"][0]["source"] == "./"
