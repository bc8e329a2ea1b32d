"""`skilltrack rate`: one current rating per user and skill, the average on the skill's
summary row (an integer, times 100, shown with one decimal), and one-line refusals."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest

from tests.support.events import payload
from tests.support.home import DaemonProcess, Home

SKILL = {"tool_name": "Skill", "tool_input": {"skill": "pdf-helper"}}


@pytest.fixture
def used(home: Home, daemon: DaemonProcess) -> Home:
    home.hook(payload("PostToolUse", **SKILL))
    home.hook(payload("Stop"))  # a skill's use is stored once its turn has ended
    home.wait_for(lambda: len(home.events()) == 2, what="the skill use stored")
    return home


def as_user(home: Home, user: str) -> None:
    home.paths.config.write_text(f'user_id = "{user}"\n')


def rating_row(home: Home) -> dict[str, object]:
    (row,) = [a for a in home.report() if a["artifact_type"] == "skill"]
    return row


def test_ratings_average_per_skill_with_one_rating_per_user(used: Home) -> None:
    as_user(used, "ann")
    assert used.json("skilltrack", "rate", "pdf-helper", "4")["avg_rating"] == 4.0
    as_user(used, "bob")
    out = used.cli("skilltrack", "rate", "pdf-helper", "5", "--hours-saved", "1.5").stdout
    assert out.strip() == "rated pdf-helper 5/5; its average is now 4.5 from 2 ratings"
    as_user(used, "ann")
    used.cli("skilltrack", "rate", "pdf-helper", "2")  # ann re-rates: replaces hers
    row = rating_row(used)
    assert (row["ratings"], row["avg_rating"]) == (2, 3.5)
    with closing(sqlite3.connect(used.paths.db)) as conn:
        stored = conn.execute(
            "SELECT ratings, avg_rating_x100 FROM artifact_summary WHERE artifact_name = ?",
            ("pdf-helper",),
        ).fetchone()
    assert stored == (2, 350)
    assert "3.5 (2)" in used.cli("skilltrack", "report").stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["pdf-helper", "6"], "a rating is a whole number from 1 to 5, not '6'"),
        (["pdf-helper", "0"], "a rating is a whole number from 1 to 5, not '0'"),
        (["pdf-helper", "4.5"], "a rating is a whole number from 1 to 5, not '4.5'"),
        (["pdf-helper", "3", "--hours-saved", "-1"], "hours saved must be from 0 to 10000"),
        (["pdf-helper", "3", "--hours-saved", "nan"], "hours saved must be from 0 to 10000"),
        (["pdf-helper", "3", "--comment", "x" * 2001], "at most 2000 characters, got 2001"),
    ],
)
def test_invalid_ratings_are_refused_with_a_one_line_reason(
    used: Home, args: list[str], message: str
) -> None:
    refused = used.cli("skilltrack", "rate", *args, check=False)
    assert refused.returncode == 2
    assert message in refused.stderr
    assert rating_row(used)["ratings"] == 0


def test_a_skill_never_used_cannot_be_rated(used: Home) -> None:
    refused = used.cli("skilltrack", "rate", "no-such-skill", "3", check=False)
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1
    assert "no use of a skill named 'no-such-skill' is recorded" in refused.stderr


def test_a_comment_keeps_no_secret(used: Home) -> None:
    secret = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    used.cli("skilltrack", "rate", "pdf-helper", "5", "--comment", f"saved me; token {secret}")
    with closing(sqlite3.connect(used.paths.db)) as conn:
        (comment,) = conn.execute("SELECT comment FROM ratings").fetchone()
    assert secret not in comment
    assert "[REDACTED:" in comment


def test_rate_json_gives_the_average_as_a_number_and_what_was_kept(used: Home) -> None:
    as_user(used, "ann")
    answer = used.json("skilltrack", "rate", "pdf-helper", "4", "--comment", "ok")
    assert answer == {
        "skill": "pdf-helper", "user_id": "ann", "rating": 4, "comment": "ok",
        "hours_saved": None, "ratings": 1, "avg_rating": 4.0,
    }  # fmt: skip


def test_re_rating_keeps_the_comment_and_hours_not_given_again(used: Home) -> None:
    as_user(used, "ann")
    used.cli("skilltrack", "rate", "pdf-helper", "4", "--comment", "saves a lot",
             "--hours-saved", "2")  # fmt: skip
    out = used.cli("skilltrack", "rate", "pdf-helper", "5").stdout
    assert "(your earlier comment kept: saves a lot; hours saved kept: 2.0)" in out
    (rated,) = used.json("skilltrack", "report")["ratings"]
    assert (rated["rating"], rated["comment"], rated["hours_saved"]) == (5, "saves a lot", 2.0)
    used.cli("skilltrack", "rate", "pdf-helper", "5", "--comment", "", "--hours-saved", "3")
    (rated,) = used.json("skilltrack", "report")["ratings"]
    assert (rated["comment"], rated["hours_saved"]) == (None, 3.0)  # an empty one clears it


def test_the_report_shows_each_rating_s_comment_and_the_hours_saved_summed(used: Home) -> None:
    as_user(used, "ann")
    used.cli("skilltrack", "rate", "pdf-helper", "4", "--comment", "saves a lot",
             "--hours-saved", "2")  # fmt: skip
    text = used.cli("skilltrack", "report").stdout
    assert "ratings:\n  pdf-helper: 4/5, saved 2 hours: saves a lot" in text
    as_user(used, "bob")
    used.cli("skilltrack", "rate", "pdf-helper", "5", "--hours-saved", "1.5")

    report = used.json("skilltrack", "report")
    given = [(r["user_id"], r["rating"], r["comment"], r["hours_saved"]) for r in report["ratings"]]
    assert given == [("bob", 5, None, 1.5), ("ann", 4, "saves a lot", 2.0)]
    assert all(r["rated_at"].endswith("+00:00") for r in report["ratings"])
    lines = used.cli("skilltrack", "report").stdout.split("ratings:\n")[1].splitlines()
    assert lines[:3] == [
        "  pdf-helper: 3.5 hours saved in all",
        "  pdf-helper: 5/5, by bob, saved 1.5 hours",
        "  pdf-helper: 4/5, by ann, saved 2 hours: saves a lot",
    ]
