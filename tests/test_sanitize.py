"""The sanitizer: secrets against a corpus of realistic samples (all keys here are fake), paths
in both modes, and properties that must hold for any text.

Positives: each secret must disappear, replaced by a marker naming its kind. Negatives: code
and text that only look like secrets must come out unchanged. The corpus is the measure of
recall and false positives; both are asserted exactly (100 % and 0). The properties
(hypothesis): sanitizing twice changes nothing, nothing makes it fail, JSON text stays JSON,
and a corpus secret in any surroundings still vanishes.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from skilltrack.daemon.ingest import sanitize as sanitize_mod
from skilltrack.daemon.ingest.redact_paths import home_redactor
from skilltrack.daemon.ingest.sanitize import redact_secrets, sanitizer
from tests.support.secrets import B36, NEGATIVES, POSITIVES

HOME = "/home/ann"
Sanitize = Callable[[str, str | None], str]
BY_HOME = sanitizer(HOME)
BY_PROJECT = sanitizer(HOME, "project")
# No example database: it would leave a .hypothesis folder in the working tree.
PROPERTY = settings(max_examples=200, deadline=None, database=None)
IDS = [f"{k}-{i}" for i, (k, _, _) in enumerate(POSITIVES)]


@pytest.mark.parametrize(("kind", "text", "secret"), POSITIVES, ids=IDS)
def test_every_secret_in_the_corpus_is_replaced_by_its_marker(
    kind: str, text: str, secret: str
) -> None:
    out = redact_secrets(text)
    assert secret not in out
    assert f"[REDACTED:{kind}]" in out


@pytest.mark.parametrize("text", NEGATIVES)
def test_lookalikes_and_ordinary_code_are_left_alone(text: str) -> None:
    assert redact_secrets(text) == text


def test_the_corpus_is_big_enough_to_mean_something() -> None:
    assert len(POSITIVES) + len(NEGATIVES) >= 150
    # Every kind a rule can name has a sample: a rule without one is a rule never tried.
    assert {k for k, _, _ in POSITIVES} == {rule.kind for rule in sanitize_mod._RULES}


def test_every_kind_is_in_the_documentation() -> None:
    doc = (Path(__file__).parent.parent / "docs" / "secrets.md").read_text(encoding="utf-8")
    assert {r.kind for r in sanitize_mod._RULES if f"`{r.kind}`" not in doc} == set()


def test_every_rule_takes_a_secret_of_the_corpus() -> None:
    untried = []
    for rule in sanitize_mod._RULES:
        if not any(rule.pattern.sub(rule.replace, text) != text for _, text, _ in POSITIVES):
            untried.append(rule.pattern.pattern[:60])
    assert untried == []


def test_a_value_between_two_json_strings_is_not_a_quoted_value() -> None:
    # `"TOKEN="` ends its string: the quote after it is not the opening of a value, and what
    # lies up to the next string is JSON's own structure.
    for value in ({"TOKEN=": None, "": 1}, ["password=", "x"], {"a": "secret:", "b": "c"}):
        text = json.dumps(value)
        assert json.loads(redact_secrets(text)) == value


def test_a_password_in_json_in_json_goes_and_the_json_stays() -> None:
    inner = json.dumps({"username": "app", "password": "two words, one: secret"})
    outer = json.dumps({"SecretString": inner, "Name": "prod/db"})
    for text in (outer, json.dumps({"stdout": outer})):
        out = redact_secrets(text)
        assert "two words" not in out
        assert "prod/db" in out
        json.loads(out)


@pytest.mark.parametrize(("kind", "text", "secret"), POSITIVES, ids=IDS)
def test_sanitized_json_text_stays_valid_json(kind: str, text: str, secret: str) -> None:
    event = {"tool_name": "Bash", "tool_input": {"command": text}, "n": 1}
    out = json.loads(redact_secrets(json.dumps(event)))
    assert secret not in json.dumps(out)
    assert out["n"] == 1


@pytest.mark.parametrize(("kind", "text", "secret"), POSITIVES, ids=IDS)
def test_a_secret_at_the_start_of_a_line_of_json_text_is_replaced(
    kind: str, text: str, secret: str
) -> None:
    # In JSON text the line's first word follows the `n` of `\n`, not a word boundary.
    for before in ("first line\n", "a\tb\t", "continued \\\n"):
        out = redact_secrets(json.dumps({"stdout": before + text}))
        assert secret not in out
        assert f"[REDACTED:{kind}]" in out


# Tokens as they are, for the glued-on surroundings below.
TOKENS = [
    (kind, secret) for kind, text, secret in POSITIVES
    if kind in {"anthropic_key", "openai_key", "aws_access_key", "github_token", "gitlab_token",
                "slack_token", "stripe_key", "google_api_key", "npm_token", "pypi_token"}
]  # fmt: skip
# What real output puts right before a token without a space: colour codes (gh, aws and CI
# logs colour their output), URL encoding, a letter that is not ASCII, and a JSON `\uXXXX`
# escape (Claude Code writes U+2028 so).
GLUED_BEFORE = ["\x1b[32m", "\x1b[1;38;5;208m", "\x1b[38;2;255;100;0m", "\x1b[m", "%20",
                "token%3D", "é", "\u2028", "\x1b[0m\t"]  # fmt: skip
GLUED_AFTER = ["", "\x1b[0m", "_old", "%0A", "é"]


@pytest.mark.parametrize(("kind", "secret"), TOKENS, ids=[k for k, _ in TOKENS])
def test_a_token_glued_to_what_is_around_it_is_replaced(kind: str, secret: str) -> None:
    for before in GLUED_BEFORE:
        for after in GLUED_AFTER:
            for text in (before + secret + after, json.dumps({"stdout": before + secret + after})):
                out = redact_secrets(text)
                assert secret not in out, (before, after, text)
                assert f"[REDACTED:{kind}]" in out


def test_prefixes_that_end_no_word_are_found_even_inside_one() -> None:
    pat = "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVW"
    for token in (pat, "glpat-xY9zA8bC7dE6fG5hI4jK"):
        assert token not in redact_secrets(f"9{token} x{token}")


@pytest.mark.parametrize(
    "text",
    [
        "risk-Assessment2024-Quarterly-Report-Final",  # `sk-` inside a word
        "task-ant-colony-simulation-v2-final-draft",  # `sk-ant-` inside a word
        "disk_test_results2024abcdefghij",  # `sk_test_` inside a word
        "\x1b[32mPASSED\x1b[0m tests/test_app.py::test_login",
        "curl 'https://example.com/search?q=a%20b%3Dc'",
        "ROUTE_AKIA_MIGRATION_STATUS",
        # The middles of names (a reviewer's finds): none of them a token.
        "def test_pk_test_withcompositekeys(self):",
        "laughs_AndTheCrowdCheersLoudlyForTheBandTonight = 1",
        "weighs_TotalPackageWeightIncludingTheBoxAndFoam()",
        "MY_ACCA1234567890ABCDEF_X",
        "use_bearer configuration.settings.loader",
        f"foo_npm_{B36}_bar",
    ],
)
def test_words_that_hold_a_tokens_prefix_are_left_alone(text: str) -> None:
    assert redact_secrets(text) == text
    assert redact_secrets(json.dumps(text)) == json.dumps(text)


def test_a_cut_short_private_key_goes_to_the_end_of_its_body_and_no_further() -> None:
    key = (
        "-----BEGIN RSA PRIVATE KEY-----\n  Proc-Type: 4,ENCRYPTED\n  DEK-Info: AES-128-CBC,AB01\n"
        "\n  MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM2mN\n  b3BlbnNzaC1rZXktdjEAAAAABG5v [cut]"
    )
    after = "\npassword: 'hunter22'\npsql postgres://app:S3cr3tPa55@db/prod"
    for text in (key + after, json.dumps(key + after)):
        out = redact_secrets(text)
        for secret in ("AES-128-CBC", "MIIEpAIB", "b3BlbnNz", "hunter22", "S3cr3tPa55"):
            assert secret not in out
        assert "password: '[REDACTED:assignment]'" in out
        assert "postgres://app:[REDACTED:url_password]@db/prod" in out


def test_a_token_on_the_letter_of_a_json_escape_keeps_the_escape() -> None:
    # `\npm_…` is a line break and `pm_…`: the `n` must stay, or `\[` is left, which is not JSON.
    text = '{"out": "\\npm_' + B36 + '"}'
    out = redact_secrets(text)
    assert "pm_" + B36 not in out
    assert json.loads(out) == {"out": "\n[REDACTED:npm_token]"}


def test_case_insensitive_keys_are_found_as_re_finds_them_in_non_ascii_text() -> None:
    # The Kelvin sign lowers to k and re matches a long s to s: both are keys, beside an é.
    out = redact_secrets("é to\u212aen=abcdef123 and pa\u017fsword=hunter22")
    assert "abcdef123" not in out
    assert "hunter22" not in out


def test_only_two_characters_lower_to_ascii_and_re_folds_only_four_to_it() -> None:
    # What looking for needles in lowered text relies on (see _rules_to_run and redact_secrets):
    # of all non-ASCII characters, lower() makes ASCII only of İ (i and a dot) and the Kelvin
    # sign, and re's case-insensitive matching takes only those, dotless i and long s for ASCII.
    non_ascii = "".join(map(chr, [*range(0x80, 0xD800), *range(0xE000, sys.maxunicode + 1)]))
    assert re.findall("[\x00-\x7f]", non_ascii.lower()) == ["i", "k"]
    assert re.findall("(?i:[a-z])", non_ascii) == ["\u0130", "\u0131", "\u017f", "\u212a"]


@pytest.mark.parametrize(
    ("rule", "needle"),
    [(i, n) for i, rule in enumerate(sanitize_mod._RULES) for n in rule.needles],
)
def test_every_needle_lets_its_rule_run_and_any_needle_inside_it(rule: int, needle: str) -> None:
    # A needle the prefilter misses is a secret kept.
    for text in (f"x {needle} y", f"{needle}", f"{needle.upper()}-{needle}\n"):
        run = sanitize_mod._rules_to_run(text)
        assert rule in run
        inner = {
            i for i, other in enumerate(sanitize_mod._RULES) for n in other.needles if n in needle
        }
        assert inner <= run.keys()


def test_home_paths_become_tilde_but_lookalike_prefixes_do_not() -> None:
    redact = home_redactor("/home/ann")
    assert redact('{"cwd": "/home/ann/proj", "f": "/home/ann"}') == '{"cwd": "~/proj", "f": "~"}'
    assert redact("/home/anna/x and /home/ann2") == "/home/anna/x and /home/ann2"


def test_claude_codes_mangled_home_in_transcript_paths_becomes_tilde() -> None:
    redact = home_redactor("/home/ann")
    assert (
        redact("/home/ann/.claude/projects/-home-ann-proj/x.jsonl")
        == "~/.claude/projects/~-proj/x.jsonl"
    )
    assert redact("/tmp/claude-1000/-home-ann-proj/t.output") == "/tmp/claude-1000/~-proj/t.output"
    assert redact('"-home-ann"') == '"~"'
    assert redact("-home-anna-proj") == "-home-anna-proj"
    # Every character but a letter or digit is mangled, dots too.
    assert home_redactor("/home/ann.lee")("projects/-home-ann-lee-x/") == "projects/~-x/"


def test_a_path_after_an_escaping_backslash_is_left_so_json_stays_json() -> None:
    text = '{"p": "\\/home/ann/work/proj/x"}'
    assert BY_HOME(text, None) == text
    assert BY_PROJECT(text, "/home/ann/work/proj") == text


def test_home_mode_shortens_home_and_ignores_cwd() -> None:
    text = '{"cwd": "/home/ann/work/proj", "f": "/home/ann/work/proj/src/a.py"}'
    out = '{"cwd": "~/work/proj", "f": "~/work/proj/src/a.py"}'
    assert BY_HOME(text, "/home/ann/work/proj") == out
    assert BY_HOME(text, None) == out


def test_project_mode_keeps_only_the_project_folder_then_shortens_home() -> None:
    cwd = "/home/ann/work/proj"
    event = {
        "cwd": cwd,
        "file": "/home/ann/work/proj/src/a.py",
        "sibling": "/home/ann/work/other/b.py",
        "skill": "/home/ann/.claude/skills/x/SKILL.md",
        "transcript_path": "/home/ann/.claude/projects/-home-ann-work-proj/s.jsonl",
    }
    assert json.loads(BY_PROJECT(json.dumps(event), cwd)) == {
        "cwd": "proj",
        "file": "proj/src/a.py",
        "sibling": "other/b.py",
        "skill": "~/.claude/skills/x/SKILL.md",
        "transcript_path": "~/.claude/projects/~-work-proj/s.jsonl",
    }
    assert BY_PROJECT("cd /home/ann/work/proj/ && ls", cwd + "/") == "cd proj/ && ls"


def test_project_mode_with_the_project_in_home_keeps_homes_hidden_folders() -> None:
    text = "/home/ann/proj/a.py /home/ann/other/b.py /home/ann/.claude/skills/x /home/ann"
    assert BY_PROJECT(text, "/home/ann/proj") == "proj/a.py other/b.py ~/.claude/skills/x ~"


@pytest.mark.parametrize(
    "cwd",
    [None, "", "/", "/proj", "proj", "/home/proj", '/home/ann/we"ird/proj', "/home/ann/a\\b/c"],
)
def test_project_mode_falls_back_to_home_mode_for_a_cwd_it_cannot_use(cwd: str | None) -> None:
    # `/home/proj` has `/home` for parent, above home: removing it would leave `ann/x`.
    text = '{"f": "/home/ann/x", "g": "/home/proj/y"}'
    assert BY_PROJECT(text, cwd) == BY_HOME(text, cwd) == '{"f": "~/x", "g": "/home/proj/y"}'


def test_a_removal_that_joins_a_new_parent_path_is_removed_too() -> None:
    # Removing the parent from `/home/ann/wo` + parent + `rk/` makes a parent again.
    cwd = "/home/ann/work/proj"
    nested = "/home/ann/wo" * 3 + "/home/ann/work/" + "rk/" * 3 + "proj/a.py"
    assert BY_PROJECT(nested, cwd) == "proj/a.py"
    # Only the last one joined follows the backslash (an escaped `/` in JSON), so it stays.
    assert BY_PROJECT(f"\\{nested}", cwd) == "\\/home/ann/work/proj/a.py"


def test_sanitizer_shortens_paths_then_takes_secrets_out() -> None:
    for clean in (BY_HOME, BY_PROJECT):
        assert (
            clean("cat /home/ann/.env # token=abcdef123", None)
            == "cat ~/.env # token=[REDACTED:assignment]"
        )
    # Paths first: what shortening leaves is searched too (a password here), so twice is once.
    assert (
        BY_PROJECT("x://u:/home/ann/work/pw@h", "/home/ann/work/proj")
        == "x://u:[REDACTED:url_password]@h"
    )


def test_an_unknown_path_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="paths"):
        sanitizer(HOME, "everything")  # type: ignore[arg-type]


# Properties. Text is built from random strings and pieces that make rules and path
# rewrites fire, so that the interesting cases are not left to chance.
PIECES = sorted(
    {t for _, t, _ in POSITIVES} | {s for _, _, s in POSITIVES} | set(NEGATIVES)
    | {
        "/home/ann", "/home/ann/", "/home/ann/work/", "/home/ann/work/proj", "/home/ann/wo",
        "rk/", "-home-ann", "-home-ann-", "~", "\\", "\\n", "\\\\", "\n", "\t", '"', "'", " ",
        "=", ":", "@", "/", "-", "_", ".", "[REDACTED:jwt]", "://", "token=", "Bearer ",
        "password", "secret", "sk-", "eyJ", "AKIA", "npm_", "k_live_", "\u212a", "\u017f", "é",
        "-----BEGIN PRIVATE KEY-----", "-----END PRIVATE KEY-----", "aws_secret_key=",
    }
)  # fmt: skip
texts = st.lists(st.text(max_size=40) | st.sampled_from(PIECES), max_size=12).map("".join)
cwds = st.sampled_from(
    [None, "", "/", "/proj", "/home/ann/work/proj", "/home/ann/proj", "/home/proj", "/srv/w/p"]
)
modes = st.sampled_from([BY_HOME, BY_PROJECT])
jsons = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=10,
)


@PROPERTY
@given(texts, cwds, modes, st.booleans())
def test_sanitizing_twice_changes_nothing(
    text: str, cwd: str | None, clean: Sanitize, as_json: bool
) -> None:
    if as_json:
        text = json.dumps(text)
    once = clean(text, cwd)
    assert clean(once, cwd) == once


@PROPERTY
@given(st.text(st.characters(exclude_categories=())), cwds, modes)
def test_no_text_makes_it_fail(text: str, cwd: str | None, clean: Sanitize) -> None:
    # Lone surrogates included: a str can hold them even if the daemon's never do.
    clean(text, cwd)


@settings(max_examples=25, deadline=None, database=None)
@given(texts.filter(bool), st.integers(1, 100_000), cwds, modes)
def test_huge_repetitions_make_it_neither_fail_nor_crawl(
    unit: str, times: int, cwd: str | None, clean: Sanitize
) -> None:
    # Up to about a frame (1 MB): 0.3 s of CPU at most, where a quadratic pattern takes
    # minutes. The CPU this process used, not the time that passed: other processes on the
    # machine take the latter, not the former.
    started = time.process_time()
    clean(unit * min(times, 1_000_000 // len(unit)), cwd)
    assert time.process_time() - started < 10


@PROPERTY
@given(jsons, cwds, modes, st.booleans(), st.sampled_from([None, 2]))
def test_json_text_stays_valid_json(
    value: object, cwd: str | None, clean: Sanitize, ascii_only: bool, indent: int | None
) -> None:
    json.loads(clean(json.dumps(value, ensure_ascii=ascii_only, indent=indent), cwd))


@PROPERTY
@given(
    st.sampled_from(POSITIVES),
    texts,
    texts,
    st.sampled_from([" ", "\n"]),
    cwds,
    modes,
    st.booleans(),
)
def test_a_corpus_secret_in_any_surroundings_vanishes(
    positive: tuple[str, str, str],
    before: str,
    after: str,
    separator: str,
    cwd: str | None,
    clean: Sanitize,
    as_json: bool,
) -> None:
    # More than 4 backslashes before a line break in JSON text are not told from escaped ones.
    assume(not (as_json and separator == "\n" and before.endswith("\\" * 5)))
    _, sample, secret = positive
    assume(secret not in before + after)  # alone, most secrets are not known as one
    text = before + separator + sample + separator + after
    assert secret not in clean(json.dumps(text) if as_json else text, cwd)
