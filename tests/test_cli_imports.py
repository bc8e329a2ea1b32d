"""What the command line imports: the daemon's libraries only for the commands that use them.

How fast a command starts is the benchmark's to say (bench/clistart.py); these tests guard
what makes it start fast, without a clock: building the parsers imports none of the daemon's
libraries, and `skilltrack report` on a machine that has recorded nothing needs none either.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from skilltrack import paths
from skilltrack.cli import main
from skilltrack.daemon.store.database import Store

DAEMON_LIBRARIES = {"asyncio", "aiosqlite", "sqlite3", "pydantic", "aiohttp", "uvloop"}

# Runs `main(ARGV)` of a command-line module and writes the modules then loaded to a file.
PROBE = """
import json, sys
from skilltrack.cli.{module} import main
try:
    main({argv!r})
except SystemExit:
    pass
with open({out!r}, "w") as f:
    json.dump(sorted(sys.modules), f)
"""


def _imported(
    tmp_path: Path, module: str, argv: list[str], *, skilltrack_home: bool = True
) -> set[str]:
    empty = tmp_path / "home"
    empty.mkdir(mode=0o700, exist_ok=True)  # the user's alone, or the commands refuse it
    out = tmp_path / "modules.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SKILLTRACK_", "XDG_"))}
    env["HOME"] = str(empty)
    if skilltrack_home:
        env["SKILLTRACK_HOME"] = str(empty)
    subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module, argv=argv, out=str(out))],
        cwd=empty,  # not the checkout: its skilltrack/ would shadow the installed package
        env=env,
        capture_output=True,
        check=True,
    )
    return set(json.loads(out.read_text()))


@pytest.mark.parametrize(
    ("module", "argv"),
    [("main", ["--help"]), ("daemon", ["--help"]), ("install", ["--help"])],
)
def test_building_the_parsers_imports_none_of_the_daemons_libraries(
    tmp_path: Path, module: str, argv: list[str]
) -> None:
    assert _imported(tmp_path, module, argv) & DAEMON_LIBRARIES == set()


def test_report_on_an_empty_home_imports_none_of_the_daemons_libraries(tmp_path: Path) -> None:
    loaded = _imported(tmp_path, "main", ["report", "--json"])
    assert loaded & (DAEMON_LIBRARIES | {"platformdirs"}) == set()
    assert "skilltrack.daemon.report.build" in loaded  # it did build the report


@pytest.mark.skipif(not paths.ON_LINUX, reason="elsewhere platformdirs finds the directories")
def test_without_skilltrack_home_a_command_on_linux_needs_no_platformdirs(
    tmp_path: Path,
) -> None:
    loaded = _imported(tmp_path, "main", ["report", "--json"], skilltrack_home=False)
    assert "platformdirs" not in loaded
    assert "skilltrack.daemon.report.build" in loaded


def test_report_on_an_empty_home_imports_no_other_command_nor_heavy_helpers(
    tmp_path: Path,
) -> None:
    loaded = _imported(tmp_path, "main", ["report", "--json"])
    # The tree names the other commands without importing their modules.
    commands = {m for m in loaded if m.startswith("skilltrack.cli.")}
    assert commands == {"skilltrack.cli.main", "skilltrack.cli.parsing", "skilltrack.cli.report"}
    # dataclasses brings inspect, ast, dis and tokenize; typing serves annotations only;
    # shutil (bz2, lzma) comes with argparse's own help formatter. Each costs milliseconds.
    assert loaded & {"dataclasses", "inspect", "typing", "shutil"} == set()


async def test_a_report_over_a_database_does_load_them(tmp_path: Path) -> None:
    """The probe sees what it should: reading a database takes the store's libraries."""
    (tmp_path / "home").mkdir(mode=0o700)
    store = await Store.open(paths.under(tmp_path / "home").db)
    await store.close()
    assert {"aiosqlite", "asyncio"} <= _imported(tmp_path, "main", ["report", "--json"])


def _commands(top: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (commands,) = [a for a in top._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(commands.choices)


def test_every_command_names_a_handler_that_exists() -> None:
    """The tree names each handler by module and function, imported only when its command
    runs: a misspelt name would otherwise show only when someone runs that command."""
    for name, command in _commands(main.parser()).items():
        assert callable(main.load(command.get_default("handler"))), name


def test_the_tree_for_a_named_command_holds_that_command_alone() -> None:
    for name in main.COMMANDS:
        assert list(_commands(main.parser(name))) == [name]
    assert list(_commands(main.parser("no-such-command"))) == list(main.COMMANDS)


@pytest.mark.parametrize(
    "argv",
    [
        ["report", "--json", "--type", "skill", "--unused-days", "7", "--session", "s"],
        ["rate", "pdf", "5", "--hours-saved", "1.5", "--comment", "ok"],
        ["consent", "revoke", "--delete"],
        ["dead-letters", "resend", "--sink", "http", "--limit", "3"],
        ["export", "-o", "out.csv", "--format", "csv"],
    ],
)
def test_a_command_line_reads_the_same_with_its_commands_parser_alone(argv: list[str]) -> None:
    alone, whole = main.parser(argv[0]).parse_args(argv), main.parser().parse_args(argv)
    assert vars(alone) == vars(whole)


@pytest.mark.parametrize(("columns", "widest"), [("72", 72), ("120", 120)])
def test_help_is_wrapped_to_the_terminals_width(
    monkeypatch: pytest.MonkeyPatch, columns: str, widest: int
) -> None:
    """The programs' help formatter finds the width as argparse's own does ($COLUMNS first)."""
    monkeypatch.setenv("COLUMNS", columns)
    lines = _commands(main.parser("report"))["report"].format_help().splitlines()
    assert max(map(len, lines)) <= widest
    assert max(map(len, lines)) > widest - 20  # filled out to it, not cut at 80
