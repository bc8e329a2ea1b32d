"""What reading usage from transcripts costs per API request, in-process.

A main-thread transcript of Claude Code 2.1.328's shape (tests/support/transcripts.py): each
request a user line with a ~2 KB tool result, then its response as one to three lines (one
per content block, parallel calls), a skill called every 50 requests. Timed:

- parsing the whole file at once (`transcripts.read_new` from offset 0), best of five;
- reading it as the daemon does, by offset, ten requests appended between two passes;
- the daemon's whole pass the same way: the usage task (`UsageReader`) reading, attributing
  and storing each pass into a real SQLite file (triggers included), on its own connection.

Checks: every request stored once, and the stored input tokens equal the transcript's.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.hooktime import Check
from bench.mdparts import Row
from skilltrack.daemon.ingest import transcripts
from skilltrack.daemon.server.usage import UsageReader
from skilltrack.daemon.store.records import EventRow, Record
from skilltrack.daemon.store.tokens import TokenStore
from tests.support.transcripts import SESSION, Transcript, project_dir

SLICE = 10  # requests appended between two passes
FIGURE = "Transcript reading per request"


@dataclass(frozen=True)
class TranscriptResult:
    requests: int
    file_bytes: int
    parse_us: float  # per request, the whole file at once (best of five)
    incremental_us: float  # per request, by offset, SLICE at a time
    stored_us: float  # per request, the usage task's whole pass into SQLite
    checks: list[Check]


def _transcript(path: Path, requests: int) -> tuple[list[bytes], int]:
    """The file's bytes in slices of SLICE requests, and the input tokens it holds."""
    t = Transcript(path)
    slices, expected = [], 0
    for n in range(1, requests + 1):
        t.user("result " + "x" * 2000, prompt_id="p1")
        calls = [(f"toolu_{n}_{i}", "Read", {"file_path": f"/src/f{n}_{i}.py"}) for i in
                 range(1 + n % 3)]  # fmt: skip
        if n % 50 == 1:
            calls = [(f"toolu_skill_{n}", "Skill", {"skill": "pdf-helper"})]
        t.request(n, *calls)
        expected += 1000 + n
        if n % SLICE == 0 or n == requests:
            slices.append("".join(json.dumps(line) + "\n" for line in t.lines).encode())
            t.lines.clear()
    return slices, expected


def measure(requests: int, log: Callable[[str], None]) -> TranscriptResult:
    log(f"transcripts: {requests:,} requests")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        path = project_dir(home) / f"{SESSION}.jsonl"
        path.parent.mkdir(parents=True)
        slices, expected = _transcript(path, requests)
        path.write_bytes(b"".join(slices))
        size = path.stat().st_size
        best = min(_timed(lambda: transcripts.read_new(path, 0, None)) for _ in range(5))
        parsed = transcripts.read_new(path, 0, None)

        path.write_bytes(b"")
        offset, prompt, elapsed = 0, None, 0.0
        for part in slices:
            with path.open("ab") as f:
                f.write(part)
            start = time.perf_counter()
            chunk = transcripts.read_new(path, offset, prompt)
            elapsed += time.perf_counter() - start
            offset, prompt = chunk.end, chunk.prompt_id

        path.write_bytes(b"")
        stored, stored_input, stored_s = asyncio.run(_through_store(home, path, slices))
    return TranscriptResult(
        requests=requests,
        file_bytes=size,
        parse_us=best / requests * 1e6,
        incremental_us=elapsed / requests * 1e6,
        stored_us=stored_s / requests * 1e6,
        checks=[
            Check("transcripts: requests parsed", requests, len(parsed.requests)),
            Check("transcripts: requests stored", requests, stored),
            Check("transcripts: input tokens stored", expected, stored_input),
        ],
    )


def _timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


async def _through_store(home: Path, path: Path, slices: list[bytes]) -> tuple[int, int, float]:
    store = await TokenStore.open(home.parent / "bench.db")
    reader = UsageReader(store, home, {})
    task = asyncio.create_task(reader.run())
    stop = Record(
        EventRow(str(uuid.uuid4()), "Stop", 0.0, 0.0, SESSION, "p1", None, None, None, None,
                 None, None, None, None, None, None, None, False, "{}"),
        transcript=str(path),
    )  # fmt: skip
    elapsed = 0.0
    try:
        for part in slices:
            with path.open("ab") as f:
                f.write(part)
            start = time.perf_counter()
            reader.notify([stop])
            await reader.idle()
            elapsed += time.perf_counter() - start
        rows = await store._db.execute_fetchall("SELECT count(*), sum(input_tokens) FROM requests")
        count, tokens = next(iter(rows))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await store.close()
    return int(count), int(tokens or 0), elapsed


def rows(result: TranscriptResult) -> list[Row]:
    return [
        Row(
            FIGURE,
            f"{result.stored_us:.0f} µs (parse alone {result.incremental_us:.0f} µs)",
            "informational: off the hooks' and the writer's path",
            f"{result.file_bytes / result.requests / 1024:.1f} KiB of transcript per request; "
            f"whole file at once {result.parse_us:.0f} µs per request",
            "—",
        )
    ]


def section(result: TranscriptResult) -> list[str]:
    return [
        "## Reading usage from transcripts",
        "",
        f"A main-thread transcript of {result.requests:,} requests "
        f"({result.file_bytes / 1e6:.1f} MB: a ~2 KB tool result and one to three response "
        f"lines per request, a skill every 50), read as the daemon's usage task reads it: "
        f"by byte offset, {SLICE} requests appended between two passes. Per request: parsing "
        f"alone {result.incremental_us:.0f} µs; the whole pass (read in a thread, attribute, "
        f"store with the token triggers on its own SQLite connection) "
        f"{result.stored_us:.0f} µs; the whole file parsed at once {result.parse_us:.0f} µs. "
        "None of it runs on the hooks' or the writer's path.",
        "",
    ]
