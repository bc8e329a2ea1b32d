"""The manual cannot drift: every command, option and configuration key the programs know is
named in the README or a page of docs/ (as sqlite-utils' test_docs.py keeps its docs)."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from skilltrack import config
from skilltrack.cli import daemon, install, main

ROOT = Path(__file__).resolve().parent.parent
DOCS = "\n".join(
    p.read_text(encoding="utf-8") for p in [ROOT / "README.md", *sorted(ROOT.glob("docs/*.md"))]
)


def _commands_and_options(parser: argparse.ArgumentParser, prog: str) -> Iterator[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"{prog} {name}"
                yield from _commands_and_options(sub, f"{prog} {name}")
        elif not isinstance(action, argparse._HelpAction):
            yield from (f"{prog} {o}" for o in action.option_strings if o.startswith("--"))


EVERYTHING = sorted(
    {
        *_commands_and_options(main.parser(), "skilltrack"),
        *_commands_and_options(daemon.parser(), "skilltrack-daemon"),
        *_commands_and_options(install.parser(), "skilltrack-install"),
    }
)


@pytest.mark.parametrize("said", EVERYTHING)
def test_every_command_and_option_is_in_the_docs(said: str) -> None:
    last = said.split()[-1]
    if last.startswith("--"):  # an option: named somewhere, as `--name`
        assert re.search(rf"{re.escape(last)}\b", DOCS), f"{said}: not in README.md or docs/"
    else:
        assert said in DOCS, f"`{said}` is not in README.md or docs/"


def _config_keys(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, str]]:
    for name, field in model.model_fields.items():
        key = field.alias or name
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            yield prefix + key, rf"\[{re.escape(key)}\]"  # a table of its own
            yield from _config_keys(kind, f"{prefix}{key}.")
        elif key == "forward":
            yield key, r"\[forward\."
        else:
            yield prefix + key, rf"\b{re.escape(key)}\b"


KEYS = dict(
    [
        *_config_keys(config.Settings),
        *(
            (f"forward.{sink.__name__}.{key}", pattern)
            for sink in (config.EverySkillSink, config.HttpSink, config.OtlpSink)
            for key, pattern in _config_keys(sink)
        ),
    ]
)


@pytest.mark.parametrize("key", sorted(KEYS))
def test_every_configuration_key_is_in_the_docs(key: str) -> None:
    assert re.search(KEYS[key], DOCS), f"{key}: not in README.md or docs/"


def test_a_missing_option_would_be_caught() -> None:
    # The walk finds options at every level: one known to be documented, of a sub-command.
    assert "skilltrack export --ratings" in EVERYTHING
    assert "skilltrack-daemon status --json" in EVERYTHING
    assert "skilltrack-install --scope" in EVERYTHING
