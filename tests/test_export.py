"""`skilltrack export`: the stored fields, streamed; memory does not grow with the database."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from skilltrack.daemon.store.database import Store
from skilltrack.daemon.store.records import EventRow, Record
from tests.support.cli import BIN
from tests.support.events import payload
from tests.support.home import DaemonProcess, Home


def test_jsonl_holds_what_events_shows_with_the_payload(home: Home, daemon: DaemonProcess) -> None:
    for _ in range(3):
        home.hook(payload("PostToolUse"))
    home.wait_for(lambda: len(home.events()) == 3, what="3 events stored")
    lines = home.cli("skilltrack", "export").stdout.splitlines()
    exported = [json.loads(line) for line in lines]
    shown = home.json("skilltrack", "events", "--payload")["events"]
    by_id = {e["event_id"]: e for e in shown}
    assert len(exported) == 3
    for e in exported:
        want = by_id[e["event_id"]]
        assert e["payload"] == want["payload"]
        assert e["client_time"] == e["client_ts"] == want["client_time"]
        for key in ("hook_event", "tool_name", "artifact_type", "success", "duration_ms", "cwd"):
            assert e[key] == want[key], key
    assert [e["client_ts"] for e in exported] == sorted(e["client_ts"] for e in exported)


def test_each_jsonl_record_is_one_line_whatever_the_payload_looked_like(
    home: Home, daemon: DaemonProcess
) -> None:
    # Claude Code's stdin ends in a newline, and a payload may come indented: stored as
    # received, each is still one line in the export.
    home.hook(payload("PostToolUse") + b"\n")
    home.hook(json.dumps(json.loads(payload("PostToolUse", tool_name="Read")), indent=2).encode())
    home.wait_for(lambda: len(home.events()) == 2, what="2 events stored")
    lines = home.cli("skilltrack", "export").stdout.splitlines()
    assert len(lines) == 2
    assert {json.loads(line)["payload"]["tool_name"] for line in lines} == {"Bash", "Read"}


def test_csv_has_a_header_and_a_row_per_event_in_the_range(
    home: Home, daemon: DaemonProcess
) -> None:
    for _ in range(4):
        home.hook(payload("PostToolUse"))
    home.wait_for(lambda: len(home.events()) == 4, what="4 events stored")
    rows = list(csv.reader(io.StringIO(home.cli("skilltrack", "export", "--format", "csv").stdout)))
    # client_time where it always was, and again last under its old name client_ts.
    assert rows[0][:3] == ["event_id", "hook_event", "client_time"]
    assert rows[0][-1] == "client_ts"
    assert rows[1][2] == rows[1][-1]
    assert len(rows) == 5
    assert json.loads(rows[1][rows[0].index("payload")])["hook_event_name"] == "PostToolUse"
    later = home.cli("skilltrack", "export", "--since", "1d").stdout.splitlines()
    assert len(later) == 4
    none = home.cli("skilltrack", "export", "--until", "2020-01-01").stdout
    assert none == ""


def test_export_of_nothing(home: Home) -> None:
    assert home.cli("skilltrack", "export").stdout == ""
    assert home.cli("skilltrack", "export", "--format", "csv").stdout.startswith("event_id,")
    assert not home.paths.db.exists()


def _record(ts: float, now: float, blob: str) -> Record:
    fields = (str(uuid.uuid4()), "PostToolUse", ts, now, "s", None, None, "Bash", "tool",
              "Bash", None, None, None, None, True, 5, "~/p", False, blob)  # fmt: skip
    return Record(EventRow(*fields))


async def _fill(db: Path, n: int) -> None:
    store = await Store.open(db)
    blob = json.dumps({"hook_event_name": "PostToolUse", "tool_response": "x" * 200})
    now = time.time()
    for start in range(0, n, 5000):
        await store.insert(
            [_record(now - i, now, blob) for i in range(start, min(n, start + 5000))]
        )
    await store.close()


def _peak_rss_kib(home: Home, out: Path) -> int:
    """The peak RSS of one `skilltrack export` run, measured from a parent of its own."""
    probe = (
        "import resource, subprocess, sys;"
        f"subprocess.run([{str(BIN / 'skilltrack')!r}, 'export', '-o', {str(out)!r}],"
        " check=True, stderr=subprocess.DEVNULL);"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], env=home.env, capture_output=True, text=True, check=True
    )
    return int(result.stdout)


@pytest.mark.timeout(300)
def test_export_memory_does_not_grow_with_the_database(home: Home, tmp_path: Path) -> None:
    asyncio.run(_fill(home.paths.db, 5_000))
    small = _peak_rss_kib(home, tmp_path / "small.jsonl")
    asyncio.run(_fill(home.paths.db, 45_000))
    large = _peak_rss_kib(home, tmp_path / "large.jsonl")
    with (tmp_path / "large.jsonl").open() as exported:
        assert sum(1 for _ in exported) == 50_000
    # 45,000 more events are ~38 MB of output (~850 bytes each), and keeping only each row's
    # payload (a ~300-byte str) ~13 MB: memory must not follow.
    assert large - small < 8 * 1024, (small, large)


def test_an_output_file_that_cannot_be_written_is_named_not_the_database(
    home: Home, tmp_path: Path
) -> None:
    asyncio.run(_fill(home.paths.db, 1))
    out = tmp_path / "missing" / "x.jsonl"
    result = home.cli("skilltrack", "export", "--format", "jsonl", "-o", str(out), check=False)
    assert result.returncode == 1
    assert result.stderr == f"skilltrack: cannot write {out}: No such file or directory\n"


def test_export_ratings_gives_each_rating_with_its_comment_and_hours_saved(
    home: Home, daemon: DaemonProcess, tmp_path: Path
) -> None:
    home.hook(payload("PostToolUse", tool_name="Skill", tool_input={"skill": "pdf-helper"}))
    home.hook(payload("Stop"))  # a skill's use is stored once its turn has ended
    home.wait_for(lambda: len(home.events()) == 2, what="the skill use stored")
    home.paths.config.write_text('user_id = "ann"\n')
    home.cli("skilltrack", "rate", "pdf-helper", "4", "--comment", 'saves "a lot", really',
             "--hours-saved", "2")  # fmt: skip

    (line,) = home.cli("skilltrack", "export", "--ratings").stdout.splitlines()
    rating = json.loads(line)
    assert {k: v for k, v in rating.items() if k != "rated_at"} == {
        "skill": "pdf-helper", "user_id": "ann", "rating": 4,
        "comment": 'saves "a lot", really', "hours_saved": 2.0,
    }  # fmt: skip
    out = tmp_path / "ratings.csv"
    done = home.cli("skilltrack", "export", "--ratings", "--format", "csv", "-o", str(out))
    assert done.stderr == f"exported 1 ratings to {out}\n"
    with out.open(newline="") as f:
        header, row = list(csv.reader(f))
    assert header == ["skill", "user_id", "rating", "comment", "hours_saved", "rated_at"]
    assert row == ["pdf-helper", "ann", "4", 'saves "a lot", really', "2.0", rating["rated_at"]]
    assert home.cli("skilltrack", "export", "--ratings", "--until", "2020-01-01").stdout == ""
