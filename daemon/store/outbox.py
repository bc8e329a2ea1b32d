"""The forwarding outbox's SQL: what each sink has still to send, and what became of the rest.

Events are queued by a trigger on events, in the INSERT that stores them (events_to_outbox in
schema.sql). An event leaves a sink's outbox in `settle`, once the receiver accepted it or
refused it for good (then it is set aside in `dead_letters`), when it is dropped for age or
backlog size, or when retention deletes it (events_leave_outbox); every way out is counted on
the sink's row, in the same transaction.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, NamedTuple

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


class DeadLetter(NamedTuple):
    ref: int
    status: int | None  # the HTTP status, None for a refusal without one
    reason: str


_HEAD = """
    SELECT o.event, {}, o.queued_at, t.input_snippet, t.output_snippet
    FROM outbox o
    JOIN events e ON e.id = o.event
    LEFT JOIN training_examples t ON t.event_id = e.event_id
    WHERE o.sink = ?
    ORDER BY o.event
    LIMIT ?
""".format(", ".join(f"e.{f}" for f in OutboxEvent._fields[1:-3]))
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

    async def head(self, sink: str, limit: int, expire_before: float) -> list[OutboxEvent]:
        """The oldest `limit` events waiting for `sink`, after dropping (and counting) those
        queued before `expire_before` from the head of its outbox."""
        while True:
            rows = [OutboxEvent(*r) for r in await self._db.execute_fetchall(_HEAD, (sink, limit))]
            expired = [(sink, r.ref) for r in rows if r.queued_at < expire_before]
            if not expired:
                return rows
            async with self._transaction():
                await self._db.executemany(
                    "DELETE FROM outbox WHERE sink = ? AND event = ?", expired
                )
                await self._count(sink, expired=len(expired))

    async def settle(
        self,
        sink: str,
        delivered: Sequence[int],
        dead: Sequence[DeadLetter] = (),
        *,
        rejected: int = 0,
        now: float | None = None,
    ) -> None:
        """Take `delivered` and `dead` out of the outbox, the latter into `dead_letters`."""
        now = time.time() if now is None else now
        gone = [(sink, ref) for ref in delivered] + [(sink, d.ref) for d in dead]
        async with self._transaction():
            await self._db.executemany("DELETE FROM outbox WHERE sink = ? AND event = ?", gone)
            if dead:
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

    async def trim(self, sink: str, max_backlog: int) -> int:
        """Drop (and count) the oldest events past `max_backlog` waiting for `sink`."""
        rows = await self._db.execute_fetchall(
            "SELECT count(*) FROM outbox WHERE sink = ?", (sink,)
        )
        excess = int(next(iter(rows))[0]) - max_backlog
        if excess <= 0:
            return 0
        async with self._transaction():
            await self._db.execute(
                """
                DELETE FROM outbox WHERE sink = ? AND event IN (
                    SELECT event FROM outbox WHERE sink = ? ORDER BY event LIMIT ?
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
