"""A scripted stand-in for the Anthropic Messages API, for driving the real Claude Code offline.

Each conversation is a script: the steps to take, in order (a tool call, or several in one
reply: `Parallel`), then a final text. The reply to a request is chosen by counting the
`tool_result` blocks already in its messages (a step of k calls yields k results), so each
request takes the next step whatever Claude Code sent in between; a resumed session's script
counts only those after its own prompt (`Conversation.after`). Subagents talk to the same
endpoint; their conversation is picked by a marker in their first user message (the `prompt` of
the `Agent` call). Replies are streamed as Server-Sent Events, the only form Claude Code asks
for.

Each streamed reply carries usage as the API streams it: input and cache figures in
`message_start`, the final `output_tokens` in `message_delta`; request n (counted from 1 over
all conversations) gets input 1000+n, cache creation 2000+n, cache read 3000+n, output 100+n,
and a `request-id: req_stand_<n>` header, so a figure anywhere names its request (`Request`
keeps what was sent).
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class ToolCall:
    name: str
    input: Mapping[str, Any]


@dataclass(frozen=True)
class Parallel:
    """Several tool calls in one reply, as several `tool_use` blocks of one message."""

    calls: Sequence[ToolCall]

    def __post_init__(self) -> None:
        if not self.calls:
            raise ValueError("a parallel step needs at least one call")


Step = ToolCall | Parallel
Answer = ToolCall | Parallel | str


def results_of(step: Step) -> int:
    """How many `tool_result` blocks the client sends back for a step."""
    return len(step.calls) if isinstance(step, Parallel) else 1


@dataclass(frozen=True)
class Failure:
    """An HTTP error answered instead of a reply (Claude Code retries, then gives up)."""

    status: int


@dataclass(frozen=True)
class Conversation:
    """Steps taken one per request, then `final` as text for every request after (or,
    with `fail_with`, that HTTP error); each reply waits `delay_s` first, as a model thinks.

    `after`: count only the tool results after the last user message holding this text. A
    resumed session sends its earlier runs' history too; its prompt marks where this
    conversation starts."""

    calls: Sequence[Step]
    final: str = "done"
    marker: str | None = None  # picks this conversation when its first user message has it
    delay_s: float = 0.0
    fail_with: int | None = None
    after: str | None = None

    def reply(self, tool_results: int) -> Answer | Failure:
        """The step whose results start at `tool_results`. A count that falls inside a
        parallel step means the client sent back only some of its results: the script no
        longer describes the conversation, so that is an error, not a guess."""
        taken = 0
        for step in self.calls:
            if tool_results == taken:
                return step
            taken += results_of(step)
            if tool_results < taken:
                raise ScriptError(f"{tool_results} tool results: inside the step {step}")
        return self.final if self.fail_with is None else Failure(self.fail_with)

    def tool_results(self, messages: Sequence[Any]) -> int:
        """The tool results of `messages` this conversation has had (see `after`)."""
        if self.after is not None:
            starts = [
                i
                for i, m in enumerate(messages)
                if isinstance(m, dict)
                and m.get("role") == "user"
                and self.after in _text(m.get("content"))
            ]
            if not starts:
                raise ScriptError(f"no user message holds {self.after!r}")
            messages = messages[starts[-1] :]
        return _count_tool_results(messages)


class ScriptError(Exception):
    """A request the script cannot answer (answered with HTTP 400, and kept in `requests`)."""


@dataclass
class Request:
    """One request as received, and what was answered (kept for debugging a failed run)."""

    path: str
    body: Any
    conversation: str | None = None
    answer: Answer | Failure | None = None
    error: str | None = None  # why the script could not answer it
    request_id: str | None = None  # a streamed reply's request-id header
    usage: Mapping[str, int] | None = None  # the usage it streamed (final figures)


def usage_of(n: int) -> dict[str, int]:
    """Request n's final usage."""
    return {
        "input_tokens": 1000 + n,
        "cache_creation_input_tokens": 2000 + n,
        "cache_read_input_tokens": 3000 + n,
        "output_tokens": 100 + n,
    }


@dataclass
class ScriptedModel:
    """The conversation of the session itself, and those of its subagents by marker.

    `main` may be replaced between two `claude` runs to script the next session.
    """

    main: Conversation
    subagents: Sequence[Conversation] = ()
    requests: list[Request] = field(default_factory=list)
    streamed: int = 0  # replies streamed so far

    def conversation(self, body: Mapping[str, Any]) -> tuple[str, Conversation]:
        """Which conversation a request belongs to: (its name, its script)."""
        messages = body.get("messages") or []
        first = _text(messages[0].get("content")) if messages else ""
        for sub in self.subagents:
            if sub.marker is not None and sub.marker in first:
                return sub.marker, sub
        return "main", self.main

    def summary(self) -> str:
        """One line per request, for assertion messages."""
        lines = []
        for r in self.requests:
            answer: object = r.answer
            if isinstance(r.answer, ToolCall):
                answer = r.answer.name
            elif isinstance(r.answer, Parallel):
                answer = " + ".join(c.name for c in r.answer.calls)
            elif isinstance(r.answer, Failure):
                answer = f"HTTP {r.answer.status}"
            elif r.error is not None:
                answer = f"script error: {r.error}"
            lines.append(f"{r.path} [{r.conversation}] {r.request_id or ''} -> {answer}")
        return "\n".join(lines)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"
        )
    return ""


def _count_tool_results(messages: Sequence[Any]) -> int:
    return sum(
        1
        for m in messages
        if isinstance(m, dict) and isinstance(m.get("content"), list)
        for b in m["content"]
        if isinstance(b, dict) and b.get("type") == "tool_result"
    )


def _sse(data: Mapping[str, Any]) -> bytes:
    return f"event: {data['type']}\ndata: {json.dumps(data)}\n\n".encode()


def _blocks(answer: Answer) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Each content block of a reply as (its start, its one delta)."""
    if isinstance(answer, str):
        return [({"type": "text", "text": ""}, {"type": "text_delta", "text": answer})]
    calls = answer.calls if isinstance(answer, Parallel) else [answer]
    return [
        (
            {
                "type": "tool_use",
                "id": f"toolu_{uuid.uuid4().hex[:24]}",
                "name": call.name,
                "input": {},
            },
            {"type": "input_json_delta", "partial_json": json.dumps(call.input)},
        )
        for call in calls
    ]


def _events(model: str, answer: Answer, usage: Mapping[str, int]) -> list[bytes]:
    """The stream of one reply: its content blocks one after the other, as the API sends
    them (a parallel step is one message of several `tool_use` blocks)."""
    stop_reason = "end_turn" if isinstance(answer, str) else "tool_use"
    message: dict[str, Any] = {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        # The API's shape: output_tokens in message_start is a placeholder.
        "usage": {**usage, "output_tokens": 1},
    }
    end = {"stop_reason": stop_reason, "stop_sequence": None}
    final = {"output_tokens": usage["output_tokens"]}
    events = [_sse({"type": "message_start", "message": message})]
    for index, (block, delta) in enumerate(_blocks(answer)):
        events += [
            _sse({"type": "content_block_start", "index": index, "content_block": block}),
            _sse({"type": "content_block_delta", "index": index, "delta": delta}),
            _sse({"type": "content_block_stop", "index": index}),
        ]
    return [
        *events,
        _sse({"type": "message_delta", "delta": end, "usage": final}),
        _sse({"type": "message_stop"}),
    ]


def make_app(script: ScriptedModel) -> web.Application:
    async def messages(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        name, conversation = script.conversation(body)
        record = Request(request.path, body, name)
        script.requests.append(record)
        try:
            answer = conversation.reply(conversation.tool_results(body.get("messages") or []))
        except ScriptError as exc:
            record.error = str(exc)
            # 400: the client gives up at once, where a 5xx would be retried for minutes.
            error = {"type": "invalid_request_error", "message": f"stand-in script: {exc}"}
            return web.json_response({"type": "error", "error": error}, status=400)
        record.answer = answer
        if conversation.delay_s:
            await asyncio.sleep(conversation.delay_s)
        if isinstance(answer, Failure):
            kind = "invalid_request_error" if answer.status == 400 else "api_error"
            error = {"type": kind, "message": f"scripted failure {answer.status}"}
            return web.json_response({"type": "error", "error": error}, status=answer.status)
        script.streamed += 1
        n = script.streamed
        record.request_id, record.usage = f"req_stand_{n:03d}", usage_of(n)
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "request-id": record.request_id,
            }
        )
        await response.prepare(request)
        for chunk in _events(str(body.get("model", "claude")), answer, record.usage):
            await response.write(chunk)
        await response.write_eof()
        return response

    async def anything(request: web.Request) -> web.Response:
        # Nothing but /v1/messages is called with nonessential traffic off; should a version
        # probe more, an empty object answers without derailing the run.
        script.requests.append(Request(request.path, None))
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/v1/messages", messages)
    app.router.add_route("*", "/{tail:.*}", anything)
    return app


class ModelServer:
    """The app on 127.0.0.1 at a free port, served from a thread with its own event loop."""

    def __init__(self, script: ScriptedModel) -> None:
        self.script = script
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    def __enter__(self) -> ModelServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self._loop.close()

    async def _start(self) -> None:
        self._runner = web.AppRunner(make_app(self.script), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
