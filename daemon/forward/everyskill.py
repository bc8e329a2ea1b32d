"""The `everyskill` sink: one `POST {url}/api/track` per skill event, as a skill marketplace
takes them, optionally signed (`x-everyskill-signature`: hex HMAC-SHA256 of the exact body,
keyed by the API key).

The marketplace counts each POST as a use, so a use's tokens cannot follow in a record of
their own: its outbox row is held until the usage task has read its turn (or `usage_wait_s`
has passed), and the one POST carries `model_name`, `input_tokens` (cache reads and writes
included) and `output_tokens` when its requests are known."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Sequence
from typing import Any

from skilltrack.config import EverySkillSink
from skilltrack.daemon.forward.retry import RetryPolicy
from skilltrack.daemon.forward.sinks import (
    Delivery,
    Post,
    compact_json,
    iso_time,
    json_headers,
    read_answer,
)
from skilltrack.daemon.store.outbox import OutboxEvent, OutboxUsage

SNIPPET_CHARS = 1000


def track_body(e: OutboxEvent) -> bytes:
    """An EverySkill `/api/track` body for one skill event."""
    doc: dict[str, Any] = {
        # Ours when the skill's SKILL.md was found (a hash of where it lives), else its name.
        "skill_id": e.skill_id or e.artifact_name,
        # A skill typed as `/name` has no tool call; it runs what the Skill tool would.
        "tool_name": e.tool_name or "Skill",
        "ts": iso_time(e.client_ts),
        "hook_event": e.hook_event,
    }
    if e.input_snippet is not None:
        doc["tool_input_snippet"] = e.input_snippet[:SNIPPET_CHARS]
    if e.output_snippet is not None:
        doc["tool_output_snippet"] = e.output_snippet[:SNIPPET_CHARS]
    if e.duration_ms is not None:
        doc["latency_ms"] = e.duration_ms
    if e.tokens is not None:
        doc["model_name"] = e.tokens.model
        doc["input_tokens"] = e.tokens.input_tokens
        doc["output_tokens"] = e.tokens.output_tokens
    return compact_json(doc)


def signature(body: bytes, key: str) -> str:
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


class EverySkillTrackSink:
    """One `POST {url}/api/track` per skill event, `concurrency` at a time."""

    def __init__(self, name: str, settings: EverySkillSink, key: str | None) -> None:
        self.name = name
        self.url = settings.url.rstrip("/") + "/api/track"
        self.concurrency = settings.concurrency
        self.head_size = settings.concurrency * 8
        self.policy = RetryPolicy(
            settings.retry_initial_s, settings.retry_max_s, pauses_on_401=True
        )
        self.usage_wait_s: float | None = settings.usage_wait_s
        self._key = key
        self._sign = settings.sign and key is not None
        self._headers = json_headers(key)

    async def deliver_usage(self, post: Post, records: Sequence[OutboxUsage]) -> Delivery:
        # Never queued for this kind of sink (requests_to_outbox): nothing to send.
        return Delivery()

    async def deliver(self, post: Post, events: Sequence[OutboxEvent]) -> Delivery:
        result = Delivery()
        queue = list(reversed(events))  # popped oldest first

        async def worker() -> None:
            # Stop taking new events once the receiver said to wait or to stop.
            while queue and not (result.retry or result.pause):
                event = queue.pop()
                body = track_body(event)
                # The body has no event id; this header gives the receiver one to
                # de-duplicate a re-sent event on (at least once, never counted twice).
                headers = {**self._headers, "Idempotency-Key": event.event_id}
                if self._sign and self._key is not None:
                    headers["x-everyskill-signature"] = signature(body, self._key)
                answer = await post(self.url, body, headers)
                result.absorb(read_answer(answer, [event], self.policy)[1])

        await asyncio.gather(*(worker() for _ in range(min(self.concurrency, len(events)))))
        return result
