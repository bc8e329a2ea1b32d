"""What a Claude Code transcript says each API request consumed: read incrementally, by byte
offset, keeping only ids, model, usage and the attribution fields.

A transcript (`transcript_path` of every hook event; a subagent's in
`<session>/subagents/agent-<id>.jsonl`) is JSON lines, written only once a response is
complete: a line, once it is there, is final. A response of several content blocks is several
`assistant` lines sharing `requestId` and carrying the same full `message.usage`, so usage is
taken once per `requestId`, never per line. `<synthetic>` lines (client-made errors) are skipped.

Nothing else of a line is kept: prompts, tool inputs and outputs are parsed (JSON has to be)
and dropped at once. What cannot be read (a missing file, a path outside the user's
`~/.claude/projects`, a line too long, a shape not understood) is a counted reason, never an
exception to the caller.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

MAX_LINE_BYTES = 8 << 20  # a line longer than this is skipped (counted), not parsed
MAX_READ_BYTES = 64 << 20  # read at most this much of a file per pass; the rest next time
SYNTHETIC = "<synthetic>"
# The hook events after which a session's transcripts are read: a turn's, a subagent's or the
# session's end (a span closes only at one of these, or at a next use, in its own turn).
READ_AT = frozenset({"Stop", "StopFailure", "SubagentStop", "SessionEnd"})

# Reasons a transcript (or a part of it) gave nothing, as `status` counts them.
MISSING = "missing"
UNREADABLE = "unreadable"
OUTSIDE = "outside_projects"
LINE_TOO_LONG = "line_too_long"
BAD_LINE = "bad_line"
BAD_USAGE = "bad_usage"
SHRUNK = "shrunk"


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_5m_tokens: int = 0  # cache writes kept 5 minutes
    cache_1h_tokens: int = 0  # and 1 hour
    cache_read_tokens: int = 0
    # What else the client prices a request by (daemon/ingest/prices.py); not stored.
    web_search_requests: int = 0
    us_inference: bool = False

    @property
    def cache_creation_tokens(self) -> int:
        return self.cache_5m_tokens + self.cache_1h_tokens


@dataclass(slots=True)
class Request:
    """One API request, as its transcript lines give it (in file order)."""

    request_id: str
    model: str
    usage: Usage
    prompt_id: str | None  # the prompt of the last user line before it
    at: float | None  # its first line's timestamp (epoch seconds)
    tool_use_ids: list[str] = field(default_factory=list)  # the calls it issued
    attribution_skill: str | None = None


@dataclass(slots=True)
class Chunk:
    """What one pass over a file's new bytes gave."""

    requests: list[Request]
    end: int  # the offset after the last complete line read
    prompt_id: str | None  # the current prompt at `end`, to carry into the next pass
    problems: list[str] = field(default_factory=list)


def under_projects(path: str | os.PathLike[str], home: str | os.PathLike[str]) -> Path | None:
    """`path` resolved, if it is a `.jsonl` file under `home`'s `.claude/projects`; else None:
    a transcript path comes from an event, and an event must not make us read any file.
    A path the event's redaction wrote from `~/` is taken from `home`."""
    root = Path(home, ".claude", "projects").resolve()
    text = os.fspath(path)
    if text.startswith("~/"):
        text = os.path.join(home, text[2:])
    try:
        resolved = Path(text).resolve()
    except (OSError, RuntimeError, ValueError):
        return None
    if resolved.suffix != ".jsonl" or not resolved.is_relative_to(root) or resolved == root:
        return None
    return resolved


def read_new(path: Path, offset: int, prompt_id: str | None) -> Chunk:
    """The requests in `path`'s complete lines from `offset` on (at most MAX_READ_BYTES)."""
    try:
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < offset:  # rewritten or cut short: start again, requests dedupe by id
                chunk = read_new(path, 0, None)
                chunk.problems.append(SHRUNK)
                return chunk
            f.seek(offset)
            data = f.read(min(size - offset, MAX_READ_BYTES))
    except FileNotFoundError:
        return Chunk([], offset, prompt_id, [MISSING])
    except OSError:
        return Chunk([], offset, prompt_id, [UNREADABLE])
    return parse(data, offset, prompt_id)


def parse(data: bytes, offset: int, prompt_id: str | None) -> Chunk:
    """The requests in the complete lines of `data` (read from `offset`); a last line with no
    newline yet is left for the next pass, unless it alone exceeds MAX_LINE_BYTES."""
    requests: dict[str, Request] = {}
    problems: list[str] = []
    pos = 0
    while True:
        nl = data.find(b"\n", pos)
        if nl < 0:
            if len(data) - pos > MAX_LINE_BYTES:  # a line that will never fit: skip it
                problems.append(LINE_TOO_LONG)
                pos = len(data)
            break
        line, pos = data[pos:nl], nl + 1
        if len(line) > MAX_LINE_BYTES:
            problems.append(LINE_TOO_LONG)
            continue
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            problems.append(BAD_LINE)
            continue
        if not isinstance(entry, dict):
            problems.append(BAD_LINE)
            continue
        kind = entry.get("type")
        if kind == "user":
            pid = entry.get("promptId")
            if isinstance(pid, str) and pid:
                prompt_id = pid
        elif kind == "assistant":
            problem = _take(entry, prompt_id, requests)
            if problem:
                problems.append(problem)
        # Any other type (system, attachment, api-request, cost-state, ...) is not ours.
    return Chunk(list(requests.values()), offset + pos, prompt_id, problems)


def _take(entry: Mapping[str, Any], prompt_id: str | None, into: dict[str, Request]) -> str | None:
    """Add an assistant line to its request; a reason if its shape is not understood."""
    message = entry.get("message")
    request_id = entry.get("requestId")
    if not isinstance(message, Mapping):
        return BAD_LINE
    model = message.get("model")
    if model == SYNTHETIC or entry.get("isApiErrorMessage") is True:
        return None
    if not isinstance(request_id, str) or not request_id or not isinstance(model, str):
        return None  # no request behind it (an old client's line, a local one): nothing to count
    request = into.get(request_id)
    if request is None:
        usage = _usage(message.get("usage"))
        if usage is None:
            return BAD_USAGE
        skill = entry.get("attributionSkill")
        request = into[request_id] = Request(
            request_id,
            model,
            usage,
            prompt_id,
            _epoch(entry.get("timestamp")),
            attribution_skill=skill if isinstance(skill, str) else None,
        )
    content = message.get("content")
    if isinstance(content, list):
        for block in content:
            if isinstance(block, Mapping) and block.get("type") == "tool_use":
                call = block.get("id")
                if isinstance(call, str) and call:
                    request.tool_use_ids.append(call)
    return None


def _usage(value: object) -> Usage | None:
    if not isinstance(value, Mapping):
        return None
    figures = {
        k: value.get(k, 0)
        for k in (
            "input_tokens",
            "output_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
        )
    }
    if not all(_count(v) for v in figures.values()):
        return None
    creation = figures["cache_creation_input_tokens"]
    split = value.get("cache_creation")
    one_hour = split.get("ephemeral_1h_input_tokens", 0) if isinstance(split, Mapping) else 0
    # Writes are 5-minute ones unless the split says otherwise; the total is the API's own.
    one_hour = one_hour if _count(one_hour) and one_hour <= creation else 0
    tools = value.get("server_tool_use")
    searches = tools.get("web_search_requests", 0) if isinstance(tools, Mapping) else 0
    return Usage(
        input_tokens=figures["input_tokens"],
        output_tokens=figures["output_tokens"],
        cache_5m_tokens=creation - one_hour,
        cache_1h_tokens=one_hour,
        cache_read_tokens=figures["cache_read_input_tokens"],
        web_search_requests=searches if _count(searches) else 0,
        us_inference=value.get("inference_geo") == "us",
    )


def _count(value: object) -> bool:
    return type(value) is int and 0 <= value < 1 << 40


def _epoch(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
