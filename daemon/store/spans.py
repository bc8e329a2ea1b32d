"""Uses held open until their end is seen: the store's side of skilltrack.daemon.ingest.spans.

Store.insert keeps a use that opens a span in `spans`, not in `events`. After each group of
events that holds such a use or an event that may end one, `ended` looks, for every open span
of those sessions, for the first stored event that ends it, in the client's time, whatever
order the two arrived in (an event spooled while the daemon was down is replayed after later
ones). A span that has ended goes into `events` as its use, with the span as its duration and
what ended it: every summary and sink sees it once, complete. `stale` ends what is still open
SPAN_TIMEOUT_S after it began, at the last thing it was seen doing.

How each span ends (in the client's time):
- work (a skill's or command's), in its thread: at the next skill or command use, or at
  `Stop` / `StopFailure` (the turn's end; the second in an error, which makes the use a
  failure) or `SubagentStop` (its subagent's end) — or, when what ends it belongs to a later
  prompt (a `UserPromptSubmit`, a use in another prompt, `SessionEnd`: the turn's own end was
  not seen, as after an interrupt), at the last event of its thread in its prompt;
- agent (a background subagent's run): at `SubagentStop` (success) or `StopFailure` (failure)
  of its subagent, or at the task notification that reports it (`UserPromptSubmit`, its
  success as the notification's status), or, with `SessionEnd` first, at the subagent's last
  event, as a failure: the run was stopped with its session.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import aiosqlite

from skilltrack.daemon.store.durations import bucket
from skilltrack.daemon.store.records import EventRow, Record

AGENT = "agent"
WORK = "work"
MAIN_THREAD = ""  # a subagent's thread is named by its agent_id
# Events that may end a span (besides a use that opens one, which ends its thread's work).
ENDING_EVENTS = frozenset({"Stop", "StopFailure", "SubagentStop", "SessionEnd", "UserPromptSubmit"})
# A span whose end has not been seen this long after it began is ended by `stale`.
SPAN_TIMEOUT_S = 6 * 3600
NEXT_USE = "next_use"  # ended_by of work ended by the next skill or command in its thread
TIMEOUT = "timeout"  # ended_by of a span ended by `stale`


class _Span(NamedTuple):
    event_id: str
    kind: str
    session_id: str | None
    thread: str
    prompt_id: str | None
    agent_id: str | None
    tool_use_id: str | None
    started_at: float
    row: str

    @property
    def use(self) -> EventRow:
        return EventRow(*json.loads(self.row))


class _End(NamedTuple):
    by: str  # ended_by
    at: float
    prompt_id: str | None
    success: bool | None  # how an agent run ended, as the ending event says


_HOLD = """
    INSERT INTO spans (
        event_id, kind, session_id, thread, prompt_id, agent_id, tool_use_id, started_at,
        received_at, row
    )
    SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
    WHERE NOT EXISTS (SELECT 1 FROM events WHERE event_id = ?)  -- ended already: a resend
    ON CONFLICT (event_id) DO NOTHING
"""
_SPANS_OF_SESSION = """
    SELECT event_id, kind, session_id, thread, prompt_id, agent_id, tool_use_id, started_at, row
    FROM spans WHERE session_id IS ? ORDER BY started_at
"""
_STALE = """
    SELECT event_id, kind, session_id, thread, prompt_id, agent_id, tool_use_id, started_at, row
    FROM spans WHERE started_at < ? ORDER BY started_at
"""
# The first stored event after a work span's start that ends its thread's work.
_WORK_END = """
    SELECT hook_event, client_ts, prompt_id, ended_by IS NOT NULL FROM events
    WHERE session_id IS :session AND client_ts > :start AND (
        hook_event = 'SessionEnd'
        OR (hook_event IN ('Stop', 'StopFailure') AND coalesce(agent_id, '') = :thread)
        OR (hook_event = 'SubagentStop' AND agent_id = :thread)
        OR (hook_event = 'UserPromptSubmit' AND :thread = '' AND prompt_id IS NOT :prompt)
        OR (ended_by IS NOT NULL AND artifact_type IN ('skill', 'command')
            AND coalesce(agent_id, '') = :thread)
    )
    ORDER BY client_ts LIMIT 1
"""
# The next skill or command in the thread that is itself still open.
_NEXT_OPEN_WORK = """
    SELECT started_at, prompt_id FROM spans
    WHERE session_id IS :session AND kind = 'work' AND thread = :thread AND started_at > :start
    ORDER BY started_at LIMIT 1
"""
_AGENT_END = """
    SELECT hook_event, client_ts, prompt_id, success FROM events
    WHERE session_id IS :session AND client_ts >= :start AND (
        (hook_event IN ('SubagentStop', 'StopFailure') AND agent_id = :agent)
        OR (hook_event = 'UserPromptSubmit' AND tool_use_id = :tool_use_id)
        OR hook_event = 'SessionEnd'
    )
    ORDER BY client_ts LIMIT 1
"""
_LAST_IN_THREAD = """
    SELECT max(client_ts) FROM events
    WHERE session_id IS :session AND client_ts BETWEEN :start AND :until
    AND prompt_id IS :prompt AND coalesce(agent_id, '') = :thread
"""
_LAST_OF_AGENT = """
    SELECT max(client_ts) FROM events
    WHERE session_id IS :session AND client_ts BETWEEN :start AND :until AND agent_id = :agent
"""


async def hold(db: aiosqlite.Connection, records: Sequence[Record]) -> int:
    """Hold each record's use open (`record.opening` set); returns how many were new: a use
    already held, or already ended, is a resend and skipped."""
    values = []
    for record in records:
        row, opening = record.row, record.opening
        assert opening is not None
        values.append(
            (
                row.event_id,
                opening.kind,
                row.session_id,
                opening.thread,
                row.prompt_id,
                opening.agent_id,
                row.tool_use_id,
                opening.started_at,
                row.received_at,
                json.dumps(list(row), ensure_ascii=False),
                row.event_id,
            )
        )
    cursor = await db.executemany(_HOLD, values)
    return cursor.rowcount


async def ended(db: aiosqlite.Connection, sessions: Iterable[str | None]) -> list[EventRow]:
    """The uses, complete, of every open span of `sessions` whose end is stored."""
    done = []
    for session in set(sessions):
        for span in map(_Span._make, await db.execute_fetchall(_SPANS_OF_SESSION, (session,))):
            end = await (_agent_end(db, span) if span.kind == AGENT else _work_end(db, span))
            if end is not None:
                done.append(_use(span, end))
    return done


async def stale(db: aiosqlite.Connection, now: float) -> list[EventRow]:
    """The uses of spans open since SPAN_TIMEOUT_S before `now`, ended at the last event
    seen of their work (an agent run's outcome unknown)."""
    done = []
    for span in map(_Span._make, await db.execute_fetchall(_STALE, (now - SPAN_TIMEOUT_S,))):
        last = await _last_seen(db, span, now)
        done.append(_use(span, _End(TIMEOUT, last, span.prompt_id, None)))
    return done


def _use(span: _Span, end: _End) -> EventRow:
    """The events row of a span's use, ended by `end`."""
    row = span.use
    # An agent run ends as its end says; a skill's work in an error if its turn did.
    success = end.success if span.kind == AGENT else row.success and end.by != "StopFailure"
    duration = max(0, round((end.at - span.started_at) * 1000))
    return row._replace(
        success=success,
        duration_ms=duration,
        duration_bucket=bucket(duration),
        ended_by=end.by,
        call_ms=row.duration_ms,
    )


async def _work_end(db: aiosqlite.Connection, span: _Span) -> _End | None:
    where = _where(span)
    candidates = []
    for hook_event, at, prompt_id, is_use in await db.execute_fetchall(_WORK_END, where):
        candidates.append(_End(NEXT_USE if is_use else hook_event, at, prompt_id, None))
    for at, prompt_id in await db.execute_fetchall(_NEXT_OPEN_WORK, where):
        candidates.append(_End(NEXT_USE, at, prompt_id, None))
    if not candidates:
        return None
    end = min(candidates, key=lambda e: e.at)
    # The turn's own end is the end, or a next use in the same prompt; anything else (a
    # later prompt, the session's end) came after an end that was not seen.
    if end.by in ("Stop", "StopFailure", "SubagentStop") or end.prompt_id == span.prompt_id:
        return end
    return end._replace(at=await _last_seen(db, span, end.at))


async def _agent_end(db: aiosqlite.Connection, span: _Span) -> _End | None:
    rows = await db.execute_fetchall(_AGENT_END, _where(span))
    if not rows:
        return None
    ((hook_event, at, prompt_id, success),) = rows
    if hook_event == "SessionEnd":
        return _End(hook_event, await _last_seen(db, span, at), prompt_id, False)
    outcome = {"SubagentStop": True, "StopFailure": False}.get(hook_event, bool(success))
    return _End(hook_event, at, prompt_id, outcome)


async def _last_seen(db: aiosqlite.Connection, span: _Span, until: float) -> float:
    """The time of the last stored event of the span's work up to `until`, or of its use."""
    query = _LAST_OF_AGENT if span.kind == AGENT else _LAST_IN_THREAD
    ((last,),) = await db.execute_fetchall(query, {**_where(span), "until": until})
    used_at = span.use.client_ts
    return max(used_at, last or used_at)


def _where(span: _Span) -> dict[str, Any]:
    return {
        "session": span.session_id,
        "start": span.started_at,
        "thread": span.thread,
        "prompt": span.prompt_id,
        "agent": span.agent_id,
        "tool_use_id": span.tool_use_id,
    }
