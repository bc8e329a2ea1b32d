"""The manual cannot drift: every command, option and configuration key the programs know is
named in the README or a page of docs/ (as sqlite-utils' test_docs.py keeps its docs); every
link of those pages leads to a file of the repository and, with `#`, to one of its headings;
and the README, a landing page, links every page of docs/."""

from __future__ import annotations

import argparse
import collections
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


# -- links --------------------------------------------------------------------------------

PAGES = [ROOT / "README.md", *sorted(ROOT.glob("docs/*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def _without_fences(text: str) -> str:
    """A page without its fenced blocks, whose `#` lines are no headings, `[x](y)` no link."""
    return re.sub(r"^```.*?^```", "", text, flags=re.DOTALL | re.MULTILINE)


def _anchors(page: Path) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation but `-` and `_`
    dropped, spaces as `-`; a repeated one gets `-1`, `-2`, …"""
    counts: collections.Counter[str] = collections.Counter()
    anchors = set()
    text = _without_fences(page.read_text(encoding="utf-8"))
    for heading in re.findall(r"^#{1,6} (.+)$", text, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(f"{slug}-{counts[slug]}" if counts[slug] else slug)
        counts[slug] += 1
    return anchors


def _links(page: Path) -> list[str]:
    """The page's relative links and images (http:, https:, mailto: are not checked)."""
    text = re.sub(r"`[^`\n]*`", "", _without_fences(page.read_text(encoding="utf-8")))
    return [t for t in LINK.findall(text) if not re.match(r"[a-z]+:", t)]


def _broken(page: Path, target: str) -> str | None:
    """Why a link from `page` leads nowhere, or None."""
    path, _, anchor = target.partition("#")
    linked = (page.parent / path).resolve() if path else page
    if not linked.is_relative_to(ROOT):
        return "outside the repository"
    if not linked.exists():
        return "no such file"
    if anchor and (linked.suffix != ".md" or anchor not in _anchors(linked)):
        return "no such heading"
    return None


LINKS = [(page, target) for page in PAGES for target in _links(page)]


@pytest.mark.parametrize(
    ("page", "target"), LINKS, ids=[f"{p.relative_to(ROOT)}->{t}" for p, t in LINKS]
)
def test_every_link_resolves_to_a_file_and_heading(page: Path, target: str) -> None:
    assert _broken(page, target) is None, f"{page.relative_to(ROOT)}: {target}: broken"


def test_the_readme_links_every_page_of_the_docs() -> None:
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in _links(ROOT / "README.md")}
    unlinked = [p.name for p in sorted(ROOT.glob("docs/*.md")) if p.resolve() not in linked]
    assert not unlinked, f"README.md does not link {unlinked}"


def test_a_broken_link_would_be_caught() -> None:
    page = ROOT / "docs" / "team.md"
    assert _broken(page, "forwarding.md") is None
    assert _broken(page, "forwarding.md#nope") == "no such heading"
    assert _broken(page, "#what-arrives") is None
    assert _broken(page, "nope.md") == "no such file"
    assert _broken(page, "../../etc/passwd") == "outside the repository"
    assert "otel-collector.yaml" in _links(page)
