"""What every sink shares (a POST that never raises, the reading of an answer, batching that
halves on 413) and the `http` sink; the others are in otlp.py and everyskill.py.

Only stored, sanitized fields ever leave: the normalized columns of an event (ids, names,
success, duration, session, agent), never the payload; snippets only where both the team's
policy and the user's consent let them be captured (they are then in `training_examples`).

A sink's `deliver` takes the head of its outbox and says what became of each event, and
`deliver_usage` the same of usage records (one per API request read from the transcripts,
which the `http` and `otlp` sinks send as records of their own: `kind: usage`, carrying the
event id of the use that owns it); the forwarder (forwarder.py) turns that into outbox changes
and waits.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import aiohttp

from skilltrack import __version__
from skilltrack.config import HttpSink, OtlpSink
from skilltrack.daemon.forward.retry import RetryPolicy, Verdict, parse_retry_after
from skilltrack.daemon.store.outbox import DeadLetter, OutboxEvent, OutboxUsage
from skilltrack.fields import event_values, request_fields

USER_AGENT = f"skilltrack/{__version__}"


@dataclass(frozen=True)
class Answer:
    """What a receiver said: an HTTP status, or None when there was no answer."""

    status: int | None
    reason: str  # a short text for status and dead letters; never holds the API key
    retry_after: float | None = None
    body: bytes = b""


@dataclass
class Delivery:
    """What became of the events a sink was given; those in neither list wait."""

    delivered: list[int] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    rejected: int = 0  # accepted by the receiver but dropped there (OTLP partial success)
    retry: bool = False  # a transient failure: wait, then try again
    retry_after: float | None = None
    pause: str | None = None  # the sink must stop: why
    error: str | None = None  # the last failure, for status

    def absorb(self, other: Delivery) -> None:
        self.delivered += other.delivered
        self.dead += other.dead
        self.rejected += other.rejected
        self.retry = self.retry or other.retry
        if other.retry_after is not None:
            self.retry_after = max(self.retry_after or 0.0, other.retry_after)
        self.pause = self.pause or other.pause
        self.error = other.error or self.error


Post = Callable[[str, bytes, dict[str, str]], Awaitable[Answer]]
Item = OutboxEvent | OutboxUsage


class Sink(Protocol):
    name: str
    policy: RetryPolicy
    head_size: int  # how many events of the outbox's head it takes at a time
    # Hold a use this long for its tokens (everyskill); None: send each event when it comes.
    usage_wait_s: float | None

    async def deliver(self, post: Post, events: Sequence[OutboxEvent]) -> Delivery: ...

    async def deliver_usage(self, post: Post, records: Sequence[OutboxUsage]) -> Delivery: ...


def http_poster(session: aiohttp.ClientSession, timeout_s: float, verify_tls: bool) -> Post:
    """POST through `session`; every failure becomes an Answer (status None: no answer)."""
    timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
        try:
            async with session.post(
                url,
                data=body,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
                ssl=verify_tls,  # True: the default context, certificates verified
            ) as response:
                content = await response.read()
                reason = f"HTTP {response.status}"
                if response.reason:
                    reason += f" {response.reason}"
                if 300 <= response.status < 400:
                    reason += " (redirects are not followed: check the URL)"
                retry_after = parse_retry_after(response.headers.get("Retry-After"), time.time())
                return Answer(response.status, reason, retry_after, content)
        except TimeoutError:
            return Answer(None, f"timed out after {timeout_s:g} s")
        except aiohttp.ClientError as exc:
            # The class and its message, which name the host but not the headers.
            return Answer(None, f"{type(exc).__name__}: {exc}"[:300])
        except OSError as exc:
            return Answer(None, f"{type(exc).__name__}: {exc.strerror or exc}"[:300])

    return post


def iso_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def as_bool(value: int | None) -> bool | None:
    return None if value is None else bool(value)


# What of an outbox event is the event's own (not the outbox's, nor the snippets or tokens).
_EVENT_COLUMNS = OutboxEvent._fields[1:-4]


def event_document(e: OutboxEvent) -> dict[str, Any]:
    """An event as the `http` sink sends it: its fields as `events --json` names them."""
    doc: dict[str, Any] = {"kind": "event", **event_values(_EVENT_COLUMNS, e[1:-4])}
    # What `client_time` was sent as before it had one name (docs/fields.md): kept for the
    # receivers that read them.
    doc["time"] = doc["client_time"].replace("+00:00", "Z")
    doc["client_ts"] = e.client_ts
    if e.input_snippet is not None or e.output_snippet is not None:
        doc["input_snippet"] = e.input_snippet
        doc["output_snippet"] = e.output_snippet
    return doc


def usage_document(r: OutboxUsage) -> dict[str, Any]:
    """An API request as the `http` sink sends it: a usage record, whose `event_id` is its
    own (stable) id and `use_event_id` that of the use it is charged to."""
    return {
        "kind": "usage",
        "event_id": r.event_id,
        **request_fields(r._asdict()),
        "tenant_id": r.tenant_id,
        "user_id": r.user_id,
    }


def batch_id(events: Sequence[Item]) -> str:
    """The same for the same events, so a retried batch (re-sent as it was) carries the id
    the receiver may already have seen."""
    digest = hashlib.sha256("\n".join(e.event_id for e in events).encode())
    return digest.hexdigest()[:32]


def compact_json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def json_headers(key: str | None, *, gzipped: bool = False) -> dict[str, str]:
    """The headers every sink sends: JSON, who we are, and the key as a Bearer token."""
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return headers


class BatchingSink:
    """Batches cut to a count and a size, sent as one request; 413 halves them."""

    def __init__(
        self, name: str, url: str, settings: HttpSink | OtlpSink, headers: dict[str, str]
    ) -> None:
        self.name = name
        self.url = url
        self.head_size = settings.batch_events
        self.max_bytes = settings.batch_bytes
        self.policy = RetryPolicy(settings.retry_initial_s, settings.retry_max_s)
        self.usage_wait_s: float | None = None  # the receiver merges usage records
        self._headers = headers

    def encode(self, item: Item) -> bytes:
        raise NotImplementedError

    async def send(
        self, post: Post, events: Sequence[Item], parts: Sequence[bytes]
    ) -> tuple[Verdict, Delivery]:
        raise NotImplementedError

    async def deliver_usage(self, post: Post, records: Sequence[OutboxUsage]) -> Delivery:
        return await self.deliver(post, records)

    async def deliver(self, post: Post, events: Sequence[Item]) -> Delivery:
        # The longest prefix whose encoded events stay within `max_bytes` (at least one: a
        # receiver that cannot take it answers 413).
        parts: list[bytes] = []
        total = 0
        for event in events[: self.head_size]:
            part = self.encode(event)
            total += len(part) + 1
            if total > self.max_bytes and parts:
                break
            parts.append(part)
        return await self._split_on_413(post, events[: len(parts)], parts)

    async def _split_on_413(
        self, post: Post, events: Sequence[Item], parts: Sequence[bytes]
    ) -> Delivery:
        verdict, result = await self.send(post, events, parts)
        if verdict is not Verdict.SPLIT:
            return result
        if len(events) == 1:
            return Delivery(
                dead=[DeadLetter(events[0].ref, 413, "HTTP 413: too large even alone")],
                error="HTTP 413 for a single event",
            )
        half = len(events) // 2
        done = await self._split_on_413(post, events[:half], parts[:half])
        if not (done.retry or done.pause):
            done.absorb(await self._split_on_413(post, events[half:], parts[half:]))
        return done


def read_answer(
    answer: Answer, events: Sequence[Item], policy: RetryPolicy
) -> tuple[Verdict, Delivery]:
    """The verdict on a request for `events` and what it does to them (a 2xx: all delivered;
    SPLIT: nothing yet)."""
    if answer.status is None:
        return Verdict.RETRY, Delivery(retry=True, error=answer.reason)
    verdict = policy.verdict(answer.status)
    if verdict is Verdict.DELIVERED:
        return verdict, Delivery(delivered=[e.ref for e in events])
    if verdict is Verdict.RETRY:
        return verdict, Delivery(retry=True, retry_after=answer.retry_after, error=answer.reason)
    if verdict is Verdict.SPLIT:
        return verdict, Delivery(error=answer.reason)
    dead = [DeadLetter(e.ref, answer.status, answer.reason) for e in events]
    pause = answer.reason if verdict is Verdict.PAUSE else None
    return verdict, Delivery(dead=dead, pause=pause, error=answer.reason)


class HttpBatchSink(BatchingSink):
    """`{"batch_id", "events": [...]}` as gzip JSON, for any HTTP collector; a batch holds
    events or usage records (`kind`), never both."""

    def __init__(self, name: str, settings: HttpSink, key: str | None) -> None:
        super().__init__(name, settings.url, settings, json_headers(key, gzipped=True))

    def encode(self, item: Item) -> bytes:
        if isinstance(item, OutboxUsage):
            return compact_json(usage_document(item))
        return compact_json(event_document(item))

    async def send(
        self, post: Post, events: Sequence[Item], parts: Sequence[bytes]
    ) -> tuple[Verdict, Delivery]:
        bid = batch_id(events)
        body = b'{"batch_id":"%s","events":[%s]}' % (bid.encode(), b",".join(parts))
        headers = {**self._headers, "X-Skilltrack-Batch-Id": bid}
        answer = await post(self.url, gzip.compress(body, compresslevel=5), headers)
        return read_answer(answer, events, self.policy)
