"""`skilltrack demo`: a month of made-up usage in a database of its own."""

from __future__ import annotations

import hashlib
import json
import signal
import sqlite3
import subprocess
import time
import urllib.request

from skilltrack.daemon.demo import month as demo
from tests.support.cli import BIN
from tests.support.events import payload
from tests.support.home import Home

END = 1_796_000_000.0  # a fixed "now", 2026-11-30


def _digest(home: Home) -> str:
    # The database and its log: what holds the data (-shm is only the log's index, which a
    # reader may touch).
    files = [home.paths.db, home.paths.db.with_name("skilltrack.db-wal")]
    files = [f for f in files if f.exists()]
    return hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()


def test_demo_never_touches_the_real_database_and_remove_deletes_it(home: Home) -> None:
    home.hook(payload(tool_use_id="toolu_real"), extra_env={"SKILLTRACK_NO_AUTOSTART": "1"})
    daemon = home.start_daemon()
    home.wait_for(lambda: len(home.events()) == 1, what="the real event")
    daemon.terminate()
    before = _digest(home)

    made = home.json("skilltrack", "demo", "--days", "7")
    assert made["events"] > 0
    assert made["path"] == str(home.paths.data_dir / "demo" / "skilltrack.db")
    shown = home.json("skilltrack", "events", "--demo", "--limit", "100000")["events"]
    assert len(shown) == made["events"]
    assert "toolu_real" not in {e["tool_use_id"] for e in shown}

    assert _digest(home) == before
    assert [e["tool_use_id"] for e in home.events()] == ["toolu_real"]

    assert home.json("skilltrack", "demo", "--remove")["removed"] is True
    assert not (home.paths.data_dir / "demo").exists()
    gone = home.cli("skilltrack", "report", "--demo", check=False)
    assert gone.returncode == 1
    assert gone.stderr == "skilltrack: there is no demo data: make it with skilltrack demo\n"
    assert _digest(home) == before


def test_the_same_seed_makes_the_same_events_and_another_seed_others() -> None:
    def ids(seed: int) -> list[tuple[str, str]]:
        made = demo.generate(seed, END, days=3)
        return [(r.row.event_id, r.row.payload) for batch in made.batches for r in batch]

    first = ids(7)
    assert first
    made = demo.generate(7, END, days=3)
    assert all(r.row.client_ts <= END for batch in made.batches for r in batch)
    assert ids(7) == first
    assert ids(8) != first


def test_the_demo_has_every_kind_of_use_and_consistent_summaries(home: Home) -> None:
    home.cli("skilltrack", "demo")
    report = home.json("skilltrack", "report", "--demo")
    kinds = {a["artifact_type"] for a in report["artifacts"]}
    assert kinds == {"skill", "agent", "mcp", "command", "tool"}
    assert sum(a["failures"] for a in report["artifacts"]) > 0
    assert report["totals"]["cost_usd"] > 0
    assert report["totals"]["unpriced_requests"] == 0
    rated = [r for r in report["ratings"] if r["comment"] and r["hours_saved"]]
    assert rated
    skills = home.json("skilltrack", "skills", "--demo")
    assert max(len(s["versions"]) for s in skills["skills"]) >= 2

    # The summaries are the triggers' work on the events stored: they agree with the events.
    db = sqlite3.connect(home.paths.data_dir / "demo" / "skilltrack.db")
    events = dict(db.execute(
        "SELECT artifact_type || ':' || artifact_name, count(*) FROM events "
        "WHERE artifact_type IS NOT NULL GROUP BY 1"
    ).fetchall())  # fmt: skip
    summary = dict(db.execute(
        "SELECT artifact_type || ':' || artifact_name, uses FROM artifact_summary"
    ).fetchall())  # fmt: skip
    assert events == summary
    once = db.execute("SELECT sum(requests) FROM token_days WHERE artifact_type = ''")
    assert once.fetchone()[0] == db.execute("SELECT count(*) FROM requests").fetchone()[0]
    newest = db.execute("SELECT max(client_ts) FROM events").fetchone()[0]
    assert newest <= time.time()  # a month up to now, nothing after it


def test_the_demo_dashboard_is_served_by_the_command_until_interrupted(home: Home) -> None:
    home.cli("skilltrack", "demo", "--days", "3")
    proc = subprocess.Popen(
        [str(BIN / "skilltrack"), "dashboard", "--demo", "--no-open", "--json"],
        env=home.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the process flushes it once serving
        url = json.loads(line)["url"]
        with urllib.request.urlopen(f"{url}api/report", timeout=30) as answer:
            report = json.loads(answer.read())
        events = home.json("skilltrack", "events", "--demo", "--limit", "100000")["events"]
        uses = [e for e in events if e["artifact_type"] is not None]
        assert sum(a["uses"] for a in report["artifacts"]) == len(uses) > 0
        assert not home.paths.socket.exists()  # no daemon was started for it
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
