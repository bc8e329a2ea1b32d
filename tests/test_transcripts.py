"""Reading usage from Claude Code's transcripts, and attributing it (pure parts)."""

from __future__ import annotations

import os
from dataclasses import astuple
from pathlib import Path

import pytest

from skilltrack.daemon.ingest import transcripts
from skilltrack.daemon.ingest.attribution import Cursor, attribute
from skilltrack.daemon.ingest.transcripts import Request, Usage
from skilltrack.daemon.store.tokens import Owner as Use
from tests.support.transcripts import SECRET, Transcript, project_dir, usage, worked_example

ALPHA = Use("ev-alpha", "skill", "alpha-skill")
BETA = Use("ev-beta", "skill", "beta-skill")


def sums(requests: list[Request]) -> tuple[int, int, int, int]:
    u = [r.usage for r in requests]
    return (
        sum(x.input_tokens for x in u),
        sum(x.cache_creation_tokens for x in u),
        sum(x.cache_read_tokens for x in u),
        sum(x.output_tokens for x in u),
    )


def test_usage_is_taken_once_per_request_and_synthetic_lines_are_skipped(tmp_path: Path) -> None:
    main, sub = worked_example(tmp_path)
    chunk = transcripts.read_new(main.path, 0, None)
    agent = transcripts.read_new(sub.path, 0, None)
    assert [r.request_id for r in chunk.requests] == [
        f"req_41885_{n:03d}" for n in (1, 2, 3, 7, 8, 9, 10)
    ]
    assert [r.request_id for r in agent.requests] == [f"req_41885_{n:03d}" for n in (4, 5, 6)]
    # Request 7's three lines: one request, all three calls.
    seventh = chunk.requests[3]
    assert seventh.tool_use_ids == ["toolu_41885_0071", "toolu_41885_0072", "toolu_41885_0073"]
    assert seventh.usage == Usage(1007, 107, 2007, 0, 3007)
    # The cost-state's session totals, tokens exactly.
    i, c, r, o = (a + b for a, b in zip(sums(chunk.requests), sums(agent.requests), strict=True))
    assert (i, o, r, c) == (10055, 1055, 30055, 20055)
    assert chunk.problems == agent.problems == []
    assert chunk.end == main.path.stat().st_size


def test_nothing_of_the_prompts_or_tool_output_is_kept(tmp_path: Path) -> None:
    main, _ = worked_example(tmp_path)
    assert SECRET in main.path.read_text()
    chunk = transcripts.read_new(main.path, 0, None)
    assert SECRET not in repr(chunk)
    assert all(SECRET not in repr(astuple(r.usage)) for r in chunk.requests)


def test_a_line_still_being_written_is_left_for_the_next_pass(tmp_path: Path) -> None:
    main, _ = worked_example(tmp_path)
    data = main.path.read_bytes()
    cut = data.index(b"req_41885_003") + 5  # inside request 3's line
    main.path.write_bytes(data[:cut])
    first = transcripts.read_new(main.path, 0, None)
    assert [r.request_id for r in first.requests] == ["req_41885_001", "req_41885_002"]
    assert data[first.end - 1 : first.end] == b"\n"
    assert first.end < cut
    main.path.write_bytes(data)
    second = transcripts.read_new(main.path, first.end, first.prompt_id)
    assert next(r.request_id for r in second.requests) == "req_41885_003"
    assert second.requests[0].prompt_id == first.prompt_id is not None
    assert len(first.requests) + len(second.requests) == 7


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"not json\n", transcripts.BAD_LINE),
        (b"[1, 2]\n", transcripts.BAD_LINE),
        (
            b'{"type": "assistant", "requestId": "r", "message": {"model": "m", "usage": 5}}\n',
            transcripts.BAD_USAGE,
        ),
        (
            b'{"type": "assistant", "requestId": "r", "message": {"model": "m", '
            b'"usage": {"input_tokens": -3}}}\n',
            transcripts.BAD_USAGE,
        ),
    ],
)
def test_a_line_of_an_unknown_shape_costs_a_reason(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(content)
    chunk = transcripts.read_new(path, 0, None)
    assert chunk.requests == []
    assert chunk.problems == [reason]


def test_a_huge_line_is_skipped_not_parsed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transcripts, "MAX_LINE_BYTES", 1000)
    t = Transcript(tmp_path / "t.jsonl")
    t.user("x" * 5000)
    t.request(1)
    t.write()
    chunk = transcripts.read_new(t.path, 0, None)
    assert chunk.problems == [transcripts.LINE_TOO_LONG]
    assert [r.request_id for r in chunk.requests] == ["req_41885_001"]


def test_a_missing_or_unreadable_transcript_costs_a_reason(tmp_path: Path) -> None:
    assert transcripts.read_new(tmp_path / "no.jsonl", 7, "p").problems == [transcripts.MISSING]
    assert transcripts.read_new(tmp_path, 0, None).problems == [transcripts.UNREADABLE]


def test_a_transcript_cut_short_is_read_again_from_its_start(tmp_path: Path) -> None:
    main, _ = worked_example(tmp_path)
    chunk = transcripts.read_new(main.path, 10**9, None)
    assert chunk.problems == [transcripts.SHRUNK]
    assert len(chunk.requests) == 7


def test_cache_writes_are_split_by_their_lifetime(tmp_path: Path) -> None:
    t = Transcript(tmp_path / "t.jsonl")
    figures = usage(1) | {"cache_creation": {"ephemeral_1h_input_tokens": 2000}}
    t.request(1, figures=figures)
    t.write()
    (request,) = transcripts.read_new(t.path, 0, None).requests
    assert (request.usage.cache_5m_tokens, request.usage.cache_1h_tokens) == (1, 2000)


def test_web_searches_and_us_inference_are_read_for_the_cost(tmp_path: Path) -> None:
    t = Transcript(tmp_path / "t.jsonl")
    t.request(1, figures=usage(1) | {"server_tool_use": {"web_search_requests": 2},
                                     "inference_geo": "us"})  # fmt: skip
    t.request(2, figures=usage(2) | {"server_tool_use": {"web_search_requests": "2"},
                                     "inference_geo": "eu"})  # fmt: skip
    t.write()
    first, second = transcripts.read_new(t.path, 0, None).requests
    assert (first.usage.web_search_requests, first.usage.us_inference) == (2, True)
    assert (second.usage.web_search_requests, second.usage.us_inference) == (0, False)


def test_only_files_under_the_users_projects_are_read(tmp_path: Path) -> None:
    home = tmp_path / "home"
    main, _ = worked_example(home)
    assert transcripts.under_projects(main.path, home) == main.path.resolve()
    outside = tmp_path / "elsewhere.jsonl"
    outside.write_text("")
    assert transcripts.under_projects(outside, home) is None
    sneaky = project_dir(home) / ".." / ".." / ".." / ".." / "elsewhere.jsonl"
    assert transcripts.under_projects(sneaky, home) is None
    link = project_dir(home) / "link.jsonl"
    os.symlink(outside, link)
    assert transcripts.under_projects(link, home) is None
    assert transcripts.under_projects(project_dir(home) / "x.txt", home) is None


def test_the_worked_example_is_attributed_as_documented(tmp_path: Path) -> None:
    main, sub = worked_example(tmp_path)
    calls = {"toolu_41885_0001": ALPHA}  # 0008 failed: no successful use reported
    owned, cursor = attribute(
        transcripts.read_new(main.path, 0, None).requests, Cursor(), calls, {}
    )
    by_owner: dict[Use | None, list[Request]] = {}
    for request, owner in owned:
        by_owner.setdefault(owner, []).append(request)
    alpha = by_owner[ALPHA]
    assert [r.request_id[-2:] for r in alpha] == ["02", "03", "07", "08", "09", "10"]
    assert sums(alpha) == (6039, 12039, 18039, 639)
    assert sums(by_owner[None]) == (1001, 2001, 3001, 101)
    # The client's own attribution agrees on the main thread.
    assert all(r.attribution_skill == "alpha-skill" for r in alpha)
    assert cursor.owner == ALPHA
    # The subagent's thread: beta-skill owns what follows its call, not the parent's skill.
    agent, _ = attribute(
        transcripts.read_new(sub.path, 0, None).requests, Cursor(), {"toolu_41885_0004": BETA}, {}
    )
    beta = [r for r, owner in agent if owner == BETA]
    assert [r.request_id[-2:] for r in beta] == ["05", "06"]
    assert sums(beta) == (2011, 4011, 6011, 211)
    assert sums([r for r, _ in agent]) == (3015, 6015, 9015, 315)


def test_a_typed_skill_owns_its_prompt_from_the_first_request_until_the_prompt_ends(
    tmp_path: Path,
) -> None:
    t = Transcript(tmp_path / "t.jsonl")
    t.user("<command-name>/alpha-skill</command-name>", prompt_id="p1")
    t.request(1, ("c1", "Bash", {}))
    t.request(2, ("c2", "Skill", {"skill": "beta-skill"}))
    t.request(3)
    t.user("next", prompt_id="p2")
    t.request(4)
    t.write()
    requests = transcripts.read_new(t.path, 0, None).requests
    owned, _ = attribute(requests, Cursor(), {"c2": BETA}, {"p1": ALPHA})
    assert [o for _, o in owned] == [ALPHA, ALPHA, BETA, None]


def test_the_owner_carries_over_between_passes_within_a_prompt(tmp_path: Path) -> None:
    main, _ = worked_example(tmp_path)
    requests = transcripts.read_new(main.path, 0, None).requests
    calls = {"toolu_41885_0001": ALPHA}
    first, cursor = attribute(requests[:2], Cursor(), calls, {})
    rest, _ = attribute(requests[2:], cursor, calls, {})
    whole, _ = attribute(requests, Cursor(), calls, {})
    assert first + rest == whole
