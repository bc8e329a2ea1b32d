"""The usage task: after a turn, a subagent or a session ends, read what its transcripts
added and store each API request's tokens, cost and owners.

The writer tells it which sessions to look at (`notify`, after their events are committed:
the uses that own requests are stored or held by then); it works on a connection of its own,
reading files in a thread, so hooks, ingest and acknowledgements never wait for it. Pending
sessions are bounded (MAX_PENDING); past that a session is skipped with a counted reason and
read at its next trigger (offsets make that lossless).

Each pass reads every thread of the session (the main transcript, then each
`<session>/subagents/agent-<id>.jsonl`) from where the last pass stopped. A subagent's file
is read once its run's use is known (a foreground run's `Agent` result comes after its
`SubagentStop`), or at the session's end without it. Whatever fails costs a counted reason
(`skilltrack-daemon status`: `counters.transcripts`), never the daemon.

A pass after a turn's end (Stop, StopFailure, SessionEnd) records that every use of the
session up to that end has its requests stored (`usage_known`): an `everyskill` sink holds a
skill use until then. The client may write a turn's last response after its Stop hook ran
(seen with 2.1.328 in print mode), so the turn counts as read only once the main transcript's
last request issued no tool call (a final answer); until then the session is read again,
after SETTLE_DELAYS_S, and after the last of them it counts as read with what was found.
The forwarder is woken after each pass (`on_read`): the requests it stored are queued for the
sinks, and held uses may be ready.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from skilltrack.config import Price
from skilltrack.daemon.ingest import prices, transcripts
from skilltrack.daemon.ingest.attribution import Cursor, attribute
from skilltrack.daemon.store.records import Record
from skilltrack.daemon.store.tokens import Owner, RequestRow, ThreadState, TokenStore

log = logging.getLogger(__name__)

MAX_PENDING = 1000  # sessions waiting to be read
MAX_META_BYTES = 64 * 1024
MAX_SUBAGENTS = 1000  # subagent files read per session and pass
QUEUE_FULL = "queue_full"
NO_RUN = "no_run"  # a subagent's file read at its session's end with its run unknown
STORE_ERROR = "store_error"
INTERNAL_ERROR = "internal_error"
# The events after which every use of the session before them has all its requests written
# (once the turn's final answer is in the transcript: see the module's docstring).
TURN_ENDS = frozenset({"Stop", "StopFailure", "SessionEnd"})
SETTLE_DELAYS_S = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
MAX_ANSWERED = 10_000  # sessions whose last answer is remembered


@dataclass(frozen=True, slots=True)
class _Job:
    path: str  # the main transcript, as the event named it
    project: str | None
    final: bool  # the session ended: read everything, run known or not
    through: float | None  # the latest turn end (client time) this pass reads past
    tries: int = 0  # passes after that turn end that found its final answer missing


class UsageReader:
    def __init__(
        self,
        store: TokenStore,
        home: Path,
        price_overrides: Mapping[str, Price],
        on_read: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        self._on_read = on_read  # told after each pass (the forwarder's wake-up)
        self._home = home
        self._prices = prices.table(price_overrides)
        self._pending: dict[str, _Job] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.reasons: Counter[str] = Counter()
        self.requests = 0  # requests stored
        # Per session: whether the main transcript's last request read was a final answer
        # (None: nothing to read there, or it cannot be read: no more will come).
        self._answered: dict[str, bool | None] = {}

    def notify(self, records: Sequence[Record]) -> None:
        """Queue the sessions of committed records that end a turn, a subagent or a session."""
        for record in records:
            path, session = record.transcript, record.row.session_id
            if path is None or not session:
                continue
            final = record.row.hook_event == "SessionEnd"
            through = record.row.client_ts if record.row.hook_event in TURN_ENDS else None
            if record.row.hook_event in ("Stop", "StopFailure"):
                # A new turn's end: its final answer is not read until a pass finds it.
                if len(self._answered) >= MAX_ANSWERED:
                    self._answered.clear()  # forgotten: at worst a few passes more
                self._answered[session] = False
            queued = self._pending.get(session)
            if queued is None and len(self._pending) >= MAX_PENDING:
                self.reasons[QUEUE_FULL] += 1
                continue
            if queued is not None and queued.through is not None:
                through = queued.through if through is None else max(through, queued.through)
            self._pending[session] = _Job(
                path, record.row.project, final or (queued is not None and queued.final), through
            )
            self._idle.clear()
            self._wake.set()

    async def idle(self) -> None:
        """Wait until every queued session has been read (for tests and shutdown)."""
        await self._idle.wait()

    async def run(self) -> None:
        while True:
            if not self._pending:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            session = next(iter(self._pending))
            job = self._pending.pop(session)
            try:
                await self._read_session(session, job)
                if job.through is not None:
                    await self._settle(session, job)
            except sqlite3.Error as exc:
                # The store busy or failing: this pass is lost, not the figures; the next
                # trigger reads from the same offsets.
                self.reasons[STORE_ERROR] += 1
                log.warning("could not store the usage of session %s: %s", session, exc)
            except Exception:
                # A task boundary: a transcript that trips our code must cost its figures,
                # not the daemon (a helper task that ends stops the daemon).
                self.reasons[INTERNAL_ERROR] += 1
                log.exception("could not read the usage of session %s", session)
            if self._on_read is not None:
                self._on_read()

    async def _settle(self, session: str, job: _Job) -> None:
        """Record the turn end as read past, or read the session again a little later if the
        client has not written the turn's final answer yet."""
        answered = self._answered.get(session, False)
        if job.final:
            self._answered.pop(session, None)
        if answered is False and job.tries < len(SETTLE_DELAYS_S):
            delay = SETTLE_DELAYS_S[job.tries]
            asyncio.get_running_loop().call_later(
                delay, self._again, session, replace(job, tries=job.tries + 1)
            )
            return
        await self._store.known_through(session, job.through or 0.0)

    def _again(self, session: str, job: _Job) -> None:
        queued = self._pending.get(session)
        if queued is not None:  # a newer trigger: its pass settles this turn end too
            through = max(queued.through or 0.0, job.through or 0.0)
            job = replace(queued, through=through, tries=min(queued.tries, job.tries))
        self._pending[session] = job
        self._idle.clear()
        self._wake.set()

    def status(self) -> dict[str, object]:
        return {"requests": self.requests, "pending": len(self._pending), **self.reasons}

    async def _read_session(self, session: str, job: _Job) -> None:
        main = transcripts.under_projects(job.path, self._home)
        if main is None:
            self.reasons[transcripts.OUTSIDE] += 1
            self._answered[session] = None
            return
        await self._read_thread(session, "", main, None, job)
        for agent_id, path in await asyncio.to_thread(_subagent_files, main):
            if transcripts.under_projects(path, self._home) is None:
                self.reasons[transcripts.OUTSIDE] += 1
                continue
            call = await asyncio.to_thread(_launching_call, path)
            run = await self._store.run(session, agent_id, call)
            if run is None and not job.final:
                continue  # its run's use is not stored yet: read at a later pass
            if run is None:
                self.reasons[NO_RUN] += 1
            await self._read_thread(session, agent_id, path, run, job)

    async def _read_thread(
        self, session: str, thread: str, path: Path, run: Owner | None, job: _Job
    ) -> None:
        state = await self._store.thread_state(session, thread)
        chunk = await asyncio.to_thread(transcripts.read_new, path, state.offset, state.line_prompt)
        self.reasons.update(chunk.problems)
        if not thread:
            if {transcripts.MISSING, transcripts.UNREADABLE} & set(chunk.problems):
                self._answered[session] = None
            elif chunk.requests:
                self._answered[session] = not chunk.requests[-1].tool_use_ids
        if chunk.end == state.offset and not chunk.requests:
            return
        calls = await self._store.calls(session, thread)
        typed = await self._store.typed(session) if not thread else {}
        owned, cursor = attribute(
            chunk.requests, Cursor(state.prompt_id, state.owner), calls, typed
        )
        rows, now = [], time.time()  # a line with no time: when it was read
        for request, use in owned:
            u = request.usage
            price = prices.price_of(request.model, self._prices)
            rows.append(
                RequestRow(
                    session, request.request_id, thread, request.prompt_id,
                    request.at if request.at is not None else now,
                    job.project, request.model,
                    u.input_tokens, u.output_tokens, u.cache_5m_tokens, u.cache_1h_tokens,
                    u.cache_read_tokens, prices.cost(u, price, request.model), use, run,
                )
            )  # fmt: skip
        new_state = ThreadState(chunk.end, chunk.prompt_id, cursor.prompt_id, cursor.owner)
        self.requests += await self._store.save(session, thread, rows, new_state)


def _subagent_files(main: Path) -> list[tuple[str, Path]]:
    """(agent id, file) of each subagent transcript beside the session's main one."""
    folder = main.with_suffix("") / "subagents"
    try:
        names = sorted(p.name for p in folder.iterdir())
    except OSError:
        return []
    found = []
    for name in names:
        if name.startswith("agent-") and name.endswith(".jsonl"):
            found.append((name.removeprefix("agent-").removesuffix(".jsonl"), folder / name))
    return found[:MAX_SUBAGENTS]


def _launching_call(path: Path) -> str | None:
    """The `Agent` call that launched a subagent (`toolUseId` of its `.meta.json`)."""
    meta = path.with_name(path.name.removesuffix(".jsonl") + ".meta.json")
    try:
        with meta.open("rb") as f:
            data = json.loads(f.read(MAX_META_BYTES))
    except (OSError, ValueError):
        return None
    call = data.get("toolUseId") if isinstance(data, dict) else None
    return call if isinstance(call, str) else None
