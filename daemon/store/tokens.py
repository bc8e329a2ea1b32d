"""The store's side of token usage: requests read from transcripts, and where each thread's
reading stands. Written by the daemon's usage task on a connection of its own (never the
writer's); the counts per day and artifact (`token_days`) are kept by triggers on `requests`.

A request is stored once (`UNIQUE (session_id, request_id)`), with its owners settled then;
so a request read twice, or a thread read again from its start, changes no total.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncGenerator, Sequence
from typing import NamedTuple

from skilltrack.daemon.store.database import Store


class Owner(NamedTuple):
    event_id: str
    artifact_type: str
    artifact_name: str


class ThreadState(NamedTuple):
    offset: int = 0
    line_prompt: str | None = None
    prompt_id: str | None = None
    owner: Owner | None = None


class RequestRow(NamedTuple):
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
    use: Owner | None
    run: Owner | None


# A thread's successful skill and command calls (by tool_use_id), stored or still held open.
_CALLS = """
    SELECT tool_use_id, event_id, artifact_type, artifact_name FROM events
    WHERE session_id = :session AND coalesce(agent_id, '') = :thread
    AND hook_event = 'PostToolUse' AND artifact_type IN ('skill', 'command')
    AND tool_use_id IS NOT NULL
    UNION ALL
    SELECT tool_use_id, event_id, json_extract(row, '$[8]'), json_extract(row, '$[9]') FROM spans
    WHERE session_id = :session AND thread = :thread AND kind = 'work'
    AND tool_use_id IS NOT NULL AND json_extract(row, '$[1]') = 'PostToolUse'
"""
# The main thread's typed skills and commands, by prompt.
_TYPED = """
    SELECT prompt_id, event_id, artifact_type, artifact_name FROM events
    WHERE session_id = :session AND hook_event = 'UserPromptExpansion'
    AND artifact_type IN ('skill', 'command') AND prompt_id IS NOT NULL
    UNION ALL
    SELECT prompt_id, event_id, json_extract(row, '$[8]'), json_extract(row, '$[9]') FROM spans
    WHERE session_id = :session AND thread = '' AND kind = 'work' AND prompt_id IS NOT NULL
    AND json_extract(row, '$[1]') = 'UserPromptExpansion'
"""
# A subagent's run: its Agent call's use, by the call's id or the launched agent's.
_RUN = """
    SELECT event_id, json_extract(row, '$[8]'), json_extract(row, '$[9]') FROM spans
    WHERE session_id = :session AND kind = 'agent'
    AND (agent_id = :agent OR tool_use_id = :tool_use_id)
    UNION ALL
    SELECT event_id, artifact_type, artifact_name FROM events
    WHERE session_id = :session AND artifact_type = 'agent' AND tool_use_id = :tool_use_id
    AND hook_event IN ('PostToolUse', 'PostToolUseFailure')
    LIMIT 1
"""
_INSERT = """
    INSERT INTO requests (
        session_id, request_id, thread, prompt_id, at, day, project, model, input_tokens,
        output_tokens, cache_5m_tokens, cache_1h_tokens, cache_read_tokens, cost_usd,
        use_event, use_type, use_name, run_event, run_name
    ) VALUES (?, ?, ?, ?, ?, CAST(? / 86400 AS INTEGER), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (session_id, request_id) DO NOTHING
"""
_SAVE_STATE = """
    INSERT INTO transcripts (
        session_id, thread, offset, line_prompt, prompt_id, owner_event, owner_type, owner_name
    ) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (session_id, thread) DO UPDATE SET
        offset = excluded.offset, line_prompt = excluded.line_prompt,
        prompt_id = excluded.prompt_id, owner_event = excluded.owner_event,
        owner_type = excluded.owner_type, owner_name = excluded.owner_name
"""


class TokenStore(Store):
    """The store as the usage task uses it."""

    async def thread_state(self, session: str, thread: str) -> ThreadState:
        rows = await self._db.execute_fetchall(
            "SELECT offset, line_prompt, prompt_id, owner_event, owner_type, owner_name "
            "FROM transcripts WHERE session_id = ? AND thread = ?",
            (session, thread),
        )
        if not rows:
            return ThreadState()
        offset, line_prompt, prompt_id, event, kind, name = next(iter(rows))
        owner = None if event is None else Owner(event, kind, name)
        return ThreadState(offset, line_prompt, prompt_id, owner)

    async def calls(self, session: str, thread: str) -> dict[str, Owner]:
        rows = await self._db.execute_fetchall(_CALLS, {"session": session, "thread": thread})
        return {key: Owner(*rest) for key, *rest in rows}

    async def typed(self, session: str) -> dict[str, Owner]:
        rows = await self._db.execute_fetchall(_TYPED, {"session": session})
        return {key: Owner(*rest) for key, *rest in rows}

    async def run(self, session: str, agent_id: str, tool_use_id: str | None) -> Owner | None:
        where = {"session": session, "agent": agent_id, "tool_use_id": tool_use_id}
        rows = await self._db.execute_fetchall(_RUN, where)
        return next((Owner(*row) for row in rows), None)

    async def save(
        self, session: str, thread: str, rows: Sequence[RequestRow], state: ThreadState
    ) -> int:
        """Store a pass over a thread's transcript: its new requests (those already stored
        are skipped) and where the next pass starts. Returns how many requests were new."""
        values = [
            (
                *r[:5],
                r.at,
                *r[5:13],
                *(r.use or (None, None, None)),
                *((r.run.event_id, r.run.artifact_name) if r.run else (None, None)),
            )
            for r in rows
        ]
        owner = state.owner or (None, None, None)
        async with self._transaction():
            cursor = await self._db.executemany(_INSERT, values)
            added = cursor.rowcount  # the requests added, not the triggers' rows
            await self._db.execute(
                _SAVE_STATE,
                (session, thread, state.offset, state.line_prompt, state.prompt_id, *owner),
            )
        return added

    async def known_through(self, session: str, through: float) -> None:
        """Every use of `session` up to `through` (client time) has its requests stored."""
        async with self._transaction():
            await self._db.execute(
                "INSERT INTO usage_known (session_id, through) VALUES (?, ?) "
                "ON CONFLICT (session_id) DO UPDATE SET through = max(through, excluded.through)",
                (session, through),
            )

    async def iter_requests(
        self, since: float | None, until: float | None, chunk: int = 1000
    ) -> AsyncGenerator[sqlite3.Row, None]:
        """Every stored request read from a transcript line of the range, oldest first,
        `chunk` rows in memory at a time (`export --requests`)."""
        cursor = await self._db.execute(
            "SELECT * FROM requests WHERE at >= ?1 AND (?2 IS NULL OR at < ?2) ORDER BY at, id",
            (since if since is not None else float("-inf"), until),
        )
        try:
            while rows := await cursor.fetchmany(chunk):
                for row in rows:
                    yield row
        finally:
            await cursor.close()
