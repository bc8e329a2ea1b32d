"""The forwarding outbox's SQL: what each sink has still to send, and what became of the rest.

Events are queued by a trigger on events, in the INSERT that stores them (events_to_outbox in
schema.sql); API requests read from transcripts, as usage records, by a trigger on requests
(requests_to_outbox: `http` and `otlp` sinks only). An item leaves a sink's outbox in `settle`,
once the receiver accepted it or refused it for good (an event is then set aside in
`dead_letters`; a usage record is only counted), when it is dropped for age or backlog size,
or when retention deletes it (events_leave_outbox, requests_leave_outbox); every way out is
counted on the sink's row, in the same transaction.

An `everyskill` sink's head holds back a skill use until its tokens are known (`hold_before`):
its receiver counts each POST as a use, so the figures must travel in the use's one POST.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any, Literal, NamedTuple

from skilltrack.config import EverySkillSink, Settings
from skilltrack.daemon.store.database import Store


class SinkSpec(NamedTuple):
    """A configured sink as the store knows it."""

    name: str
    kind: str
    types: tuple[str, ...] | None  # the artifact types it takes; None: every event


def sink_specs(settings: Settings) -> list[SinkSpec]:
    """The configured sinks as the store keeps them."""
    specs = []
    for name, sink in settings.forward.items():
        if isinstance(sink, EverySkillSink):
            types: tuple[str, ...] | None = ("skill",)  # only skill events go to a marketplace
        else:
            types = sink.artifact_types
        specs.append(SinkSpec(name, sink.type, types))
    return specs


class OutboxEvent(NamedTuple):
    """An event waiting for a sink: the stored (sanitized) fields a sink may send."""

    ref: int  # events.id: the outbox's key
    event_id: str
    hook_event: str
    client_ts: float
    received_at: float
    session_id: str | None
    prompt_id: str | None
    tool_use_id: str | None
    tool_name: str | None
    artifact_type: str | None
    artifact_name: str | None
    plugin: str | None
    mcp_server: str | None
    agent_id: str | None
    agent_type: str | None
    success: int | None
    duration_ms: int | None
    cwd: str | None
    truncated: int
    tenant_id: str | None
    user_id: str | None
    skill_id: str | None
    skill_version: str | None
    queued_at: float
    # Only when the team's policy and the user's consent let it be captured (issue: snippets).
    input_snippet: str | None
    output_snippet: str | None
    tokens: UseTokens | None = None  # an everyskill sink's skill use: its requests' figures


class UseTokens(NamedTuple):
    """What a use's requests consumed, as a receiver without cache fields takes it."""

    model: str  # the model of most of its requests
    requests: int
    input_tokens: int  # all input: uncached, cache writes and cache reads
    output_tokens: int


# Usage records' ids: stable per request, so a receiver de-duplicates them as events.
USAGE_NAMESPACE = uuid.UUID("6f0d7a52-3c1e-4b8e-9d55-1f2a7c9e0b41")


class OutboxUsage(NamedTuple):
    """An API request waiting for a sink, as a usage record: a row of requests, and the
    tenant and user of its session's events."""

    ref: int  # requests.id: the request outbox's key
    session_id: str
    request_id: str
    thread: str
    prompt_id: str | None
    at: float
    project: str | None
    model: str
    input_tokens: int
    output_tokens: int
    cache_5m_tokens: int
    cache_1h_tokens: int
    cache_read_tokens: int
    cost_usd: float | None
    use_event: str | None
    use_type: str | None
    use_name: str | None
    run_event: str | None
    run_name: str | None
    queued_at: float
    tenant_id: str | None
    user_id: str | None

    @property
    def event_id(self) -> str:
        """The record's own id: the same whenever it is sent."""
        return str(uuid.uuid5(USAGE_NAMESPACE, f"{self.session_id}/{self.request_id}"))


Outbox = Literal["event", "usage"]
# Each outbox's table and the column that names its item.
_TABLES: dict[str, tuple[str, str]] = {
    "event": ("outbox", "event"),
    "usage": ("request_outbox", "request"),
}


class DeadLetter(NamedTuple):
    ref: int
    status: int | None  # the HTTP status, None for a refusal without one
    reason: str


_HEAD = """
    SELECT o.event, {}, o.queued_at, t.input_snippet, t.output_snippet
    FROM outbox o
    JOIN events e ON e.id = o.event
    LEFT JOIN training_examples t ON t.event_id = e.event_id
    WHERE o.sink = :sink AND (
        -- Held (everyskill): a use waits until its session's usage was read past it, or
        -- until it was queued before :hold_before. No session or no transcript: no figures
        -- will come.
        :hold_before IS NULL OR o.queued_at < :hold_before OR e.session_id IS NULL
        OR e.client_ts <= (SELECT through FROM usage_known WHERE session_id = e.session_id)
        OR json_extract(e.payload, '$.transcript_path') IS NULL
    )
    ORDER BY o.event
    LIMIT :limit
""".format(", ".join(f"e.{f}" for f in OutboxEvent._fields[1:-4]))
# A use's requests per model, for an everyskill sink's held uses.
_USE_TOKENS = """
    SELECT use_event, model, count(*),
           sum(input_tokens + cache_5m_tokens + cache_1h_tokens + cache_read_tokens),
           sum(output_tokens)
    FROM requests WHERE use_event IN ({})
    GROUP BY use_event, model
"""
_USAGE_HEAD = """
    SELECT o.request, r.session_id, r.request_id, r.thread, r.prompt_id, r.at, r.project,
           r.model, r.input_tokens, r.output_tokens, r.cache_5m_tokens, r.cache_1h_tokens,
           r.cache_read_tokens, r.cost_usd, r.use_event, r.use_type, r.use_name, r.run_event,
           r.run_name, o.queued_at, e.tenant_id, e.user_id
    FROM request_outbox o
    JOIN requests r ON r.id = o.request
    LEFT JOIN events e ON e.id = (
        SELECT id FROM events WHERE session_id = r.session_id ORDER BY client_ts DESC LIMIT 1
    )
    WHERE o.sink = ?
    ORDER BY o.request
    LIMIT ?
"""
_COUNTERS = ("delivered", "retried", "dead", "expired", "overflow", "rejected", "removed")


class ForwardStore(Store):
    """The store as the forwarder and the dead-letter commands use it."""

    async def configure_sinks(self, sinks: Sequence[SinkSpec]) -> None:
        """Make `sinks` the ones new events are queued for; a sink no longer configured
        keeps its outbox and counters (configured again, it resumes where it was)."""
        async with self._transaction():
            await self._db.execute("UPDATE sinks SET enabled = 0")
            await self._db.executemany(
                """
                INSERT INTO sinks (name, kind, types, enabled) VALUES (?, ?, ?, 1)
                ON CONFLICT (name) DO UPDATE
                SET kind = excluded.kind, types = excluded.types, enabled = 1
                """,
                [
                    (s.name, s.kind, None if s.types is None else f",{','.join(s.types)},")
                    for s in sinks
                ],
            )

    async def head(
        self, sink: str, limit: int, expire_before: float, *, hold_before: float | None = None
    ) -> list[OutboxEvent]:
        """The oldest `limit` events waiting for `sink`, after dropping (and counting) those
        queued before `expire_before` from the head of its outbox. With `hold_before`, uses
        whose tokens are not known yet are left waiting (those queued before it are not),
        and the others carry their requests' figures."""
        where = {"sink": sink, "limit": limit, "hold_before": hold_before}
        while True:
            rows = [OutboxEvent(*r) for r in await self._db.execute_fetchall(_HEAD, where)]
            expired = [(sink, r.ref) for r in rows if r.queued_at < expire_before]
            if not expired:
                break
            await self._expire("event", sink, expired)
        if hold_before is None or not rows:
            return rows
        tokens = await self._use_tokens([r.event_id for r in rows])
        return [r._replace(tokens=tokens.get(r.event_id)) for r in rows]

    async def _use_tokens(self, uses: Sequence[str]) -> dict[str, UseTokens]:
        rows = await self._db.execute_fetchall(
            _USE_TOKENS.format(", ".join("?" * len(uses))), list(uses)
        )
        per_use: dict[str, list[tuple[str, int, int, int]]] = {}
        for use, model, count, inputs, outputs in rows:
            per_use.setdefault(use, []).append((model, count, inputs, outputs))
        figures = {}
        for use, models in per_use.items():
            # The model that answered most of its requests (then the one that wrote most).
            main = max(models, key=lambda m: (m[1], m[3]))[0]
            figures[use] = UseTokens(
                main,
                sum(m[1] for m in models),
                sum(m[2] for m in models),
                sum(m[3] for m in models),
            )
        return figures

    async def usage_head(self, sink: str, limit: int, expire_before: float) -> list[OutboxUsage]:
        """The oldest `limit` usage records waiting for `sink`, as `head` for events."""
        while True:
            rows = [
                OutboxUsage(*r) for r in await self._db.execute_fetchall(_USAGE_HEAD, (sink, limit))
            ]
            expired = [(sink, r.ref) for r in rows if r.queued_at < expire_before]
            if not expired:
                return rows
            await self._expire("usage", sink, expired)

    async def _expire(self, outbox: Outbox, sink: str, gone: list[tuple[str, int]]) -> None:
        table, item = _TABLES[outbox]
        async with self._transaction():
            await self._db.executemany(f"DELETE FROM {table} WHERE sink = ? AND {item} = ?", gone)
            await self._count(sink, expired=len(gone))

    async def settle(
        self,
        sink: str,
        delivered: Sequence[int],
        dead: Sequence[DeadLetter] = (),
        *,
        rejected: int = 0,
        now: float | None = None,
        outbox: Outbox = "event",
    ) -> None:
        """Take `delivered` and `dead` out of the outbox, dead events into `dead_letters`
        (a usage record refused for good is counted, not kept: it cannot be re-sent alone)."""
        now = time.time() if now is None else now
        gone = [(sink, ref) for ref in delivered] + [(sink, d.ref) for d in dead]
        table, item = _TABLES[outbox]
        async with self._transaction():
            await self._db.executemany(f"DELETE FROM {table} WHERE sink = ? AND {item} = ?", gone)
            if dead and outbox == "event":
                await self._db.executemany(
                    """
                    INSERT INTO dead_letters (sink, event, status, reason, failed_at)
                    VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (sink, event) DO UPDATE SET status = excluded.status,
                        reason = excluded.reason, failed_at = excluded.failed_at
                    """,
                    [(sink, d.ref, d.status, d.reason, now) for d in dead],
                )
            await self._count(sink, delivered=len(delivered), dead=len(dead), rejected=rejected)
            if delivered:
                await self._db.execute(
                    "UPDATE sinks SET last_success = ? WHERE name = ?", (now, sink)
                )

    async def record_error(self, sink: str, error: str, *, retried: bool) -> None:
        """Note a failed attempt (and count it as a retry if it will be retried)."""
        async with self._transaction():
            await self._db.execute(
                """
                UPDATE sinks SET last_error = ?, last_error_at = ?, retried = retried + ?
                WHERE name = ?
                """,
                (error, time.time(), int(retried), sink),
            )

    async def trim(self, sink: str, max_backlog: int, outbox: Outbox = "event") -> int:
        """Drop (and count) the oldest items past `max_backlog` waiting for `sink`."""
        table, item = _TABLES[outbox]
        rows = await self._db.execute_fetchall(
            f"SELECT count(*) FROM {table} WHERE sink = ?", (sink,)
        )
        excess = int(next(iter(rows))[0]) - max_backlog
        if excess <= 0:
            return 0
        async with self._transaction():
            await self._db.execute(
                f"""
                DELETE FROM {table} WHERE sink = ? AND {item} IN (
                    SELECT {item} FROM {table} WHERE sink = ? ORDER BY {item} LIMIT ?
                )
                """,
                (sink, sink, excess),
            )
            await self._count(sink, overflow=excess)
        return excess

    async def _count(self, sink: str, **outcomes: int) -> None:
        changes = {k: v for k, v in outcomes.items() if v}
        if not changes:
            return
        assignments = ", ".join(f"{k} = {k} + :{k}" for k in changes if k in _COUNTERS)
        await self._db.execute(
            f"UPDATE sinks SET {assignments} WHERE name = :name", {**changes, "name": sink}
        )

    async def sink_status(self) -> list[dict[str, Any]]:
        """Every sink the database knows, with its backlog, oldest waiting event, dead
        letters by status and counters by outcome."""
        sinks = [
            dict(r) for r in await self._db.execute_fetchall("SELECT * FROM sinks ORDER BY name")
        ]
        for s in sinks:
            name = s["name"]
            s["enabled"] = bool(s["enabled"])
            s["types"] = s["types"].strip(",").split(",") if s["types"] else None
            backlog = await self._db.execute_fetchall(
                "SELECT count(*), min(queued_at) FROM outbox WHERE sink = ?", (name,)
            )
            count, oldest = next(iter(backlog))
            s["backlog"] = int(count)
            s["oldest_queued_at"] = oldest
            usage = await self._db.execute_fetchall(
                "SELECT count(*) FROM request_outbox WHERE sink = ?", (name,)
            )
            s["usage_backlog"] = int(next(iter(usage))[0])
            dead = await self._db.execute_fetchall(
                """
                SELECT coalesce(status, 0), count(*) FROM dead_letters WHERE sink = ?
                GROUP BY 1 ORDER BY 1
                """,
                (name,),
            )
            s["dead_letters"] = {str(status or "none"): int(n) for status, n in dead}
            s["counters"] = {k: s.pop(k) for k in _COUNTERS}
        return sinks

    async def dead_letters(self, sink: str | None, limit: int) -> list[dict[str, Any]]:
        rows = await self._db.execute_fetchall(
            """
            SELECT d.sink, e.event_id, e.hook_event, e.artifact_type, e.artifact_name,
                   d.status, d.reason, d.failed_at
            FROM dead_letters d JOIN events e ON e.id = d.event
            WHERE ?1 IS NULL OR d.sink = ?1
            ORDER BY d.failed_at DESC LIMIT ?2
            """,
            (sink, limit),
        )
        return [dict(r) for r in rows]

    async def resend_dead_letters(self, sink: str | None) -> int:
        """Put dead letters back in their sinks' outboxes (queued now, so that age does not
        drop them at once); returns how many."""
        async with self._transaction():
            cursor = await self._db.execute(
                """
                INSERT INTO outbox (sink, event, queued_at)
                SELECT sink, event, ?1 FROM dead_letters WHERE ?2 IS NULL OR sink = ?2
                ON CONFLICT (sink, event) DO NOTHING
                """,
                (time.time(), sink),
            )
            moved = cursor.rowcount
            await self._db.execute(
                "DELETE FROM dead_letters WHERE ?1 IS NULL OR sink = ?1", (sink,)
            )
        return moved
