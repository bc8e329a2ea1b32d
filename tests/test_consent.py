"""Snippet capture needs both keys: the team's policy and the user's own consent.

Run against a real daemon and the real hook: for every combination of policy and consent, and
across a revocation, exactly the events used while both allowed it have a training example.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from skilltrack.wire import encode_frame
from tests.support.events import payload
from tests.support.home import Home, exchange

AWS_KEY = "AKIAIOSFODNN7EXAMPLE"


def skill_use(args: str = "report.pdf") -> bytes:
    return payload(
        tool_name="Skill",
        tool_input={"skill": "pdf-helper", "args": args},
        tool_response={"success": True, "commandName": "pdf-helper"},
    )


def policy(home: Home, snippets: bool, **capture: Any) -> None:
    lines = [f"snippets = {json.dumps(snippets)}"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in capture.items()]
    home.paths.config.write_text("[capture]\n" + "\n".join(lines) + "\n")


def snippets(home: Home) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = home.json("skilltrack", "snippets")["snippets"]
    return result


def use(home: Home, stdin: bytes) -> None:
    """One use in a turn of its own: a skill's use is stored once its turn has ended."""
    before = len(home.events())
    assert home.hook(stdin).returncode == 0
    assert home.hook(payload("Stop")).returncode == 0
    home.wait_for(lambda: len(home.events()) == before + 2, what="the use and its turn's end")


@pytest.mark.parametrize("team_allows", [False, True])
@pytest.mark.parametrize("user_consents", [False, True])
def test_capture_matrix(home: Home, team_allows: bool, user_consents: bool) -> None:
    policy(home, team_allows)
    if user_consents:
        home.cli("skilltrack", "consent", "grant")
    home.start_daemon()
    use(home, skill_use())
    use(home, payload())  # a built-in tool: not a kind the policy captures
    captured = snippets(home)
    assert len(captured) == (1 if team_allows and user_consents else 0)
    state = home.json("skilltrack", "consent", "status")
    assert state["capturing"] is (team_allows and user_consents)
    assert state["team_policy_allows"] is team_allows
    assert state["user_consent"] is user_consents
    # Counting never depends on capture.
    (skill,) = [a for a in home.report() if a["artifact_type"] == "skill"]
    assert skill["uses"] == 1


def test_revoking_stops_capture_at_once_and_delete_removes_it(home: Home) -> None:
    policy(home, True)
    home.cli("skilltrack", "consent", "grant")
    home.start_daemon()
    use(home, skill_use("first"))
    (first,) = snippets(home)
    assert first["input_snippet"] == '{"skill": "pdf-helper", "args": "first"}'
    home.cli("skilltrack", "consent", "revoke")
    use(home, skill_use("while revoked"))
    assert len(snippets(home)) == 1
    home.cli("skilltrack", "consent", "grant")
    use(home, skill_use("again"))
    assert len(snippets(home)) == 2
    out = home.json("skilltrack", "consent", "revoke", "--delete")
    assert out["deleted_snippets"] == 2
    assert out["capturing"] is False
    assert snippets(home) == []
    assert sum(a["uses"] for a in home.report() if a["artifact_type"] == "skill") == 3


def test_captured_snippets_are_sanitized_capped_and_pending(home: Home) -> None:
    policy(home, True, snippet_chars=100)
    home.cli("skilltrack", "consent", "grant")
    home.start_daemon()
    use(home, skill_use(f"{AWS_KEY} from {Path.home()}/plans " + "x" * 200))
    (example,) = snippets(home)
    assert example["input_snippet"].startswith(
        '{"skill": "pdf-helper", "args": "[REDACTED:aws_access_key] from ~/plans xxx'
    )
    assert re.fullmatch(r".{100} \[TRUNCATED:\d+ chars\]", example["input_snippet"])
    assert (example["status"], example["source"]) == ("pending", "usage_capture")
    assert example["output_snippet"] == '{"success": true, "commandName": "pdf-helper"}'


def test_a_replayed_event_gains_no_snippet_it_was_stored_without(home: Home) -> None:
    policy(home, True)
    home.start_daemon()
    # The same frame twice (a hook's resend, a spool replay): stored once, before consent.
    same = encode_frame(str(uuid.uuid4()), time.time(), skill_use())
    assert exchange(home, same) == b"OK\n"
    home.cli("skilltrack", "consent", "grant")
    assert exchange(home, same) == b"OK\n"
    stop = encode_frame(str(uuid.uuid4()), time.time() + 1, payload("Stop"))
    assert exchange(home, stop) == b"OK\n"
    assert [e["hook_event"] for e in home.events()] == ["Stop", "PostToolUse"]
    assert snippets(home) == []


def test_snippets_delete_command(home: Home) -> None:
    policy(home, True)
    home.cli("skilltrack", "consent", "grant")
    home.start_daemon()
    use(home, skill_use())
    assert home.json("skilltrack", "snippets", "delete") == {"deleted": 1}
    assert "no snippets captured" in home.cli("skilltrack", "snippets").stdout
