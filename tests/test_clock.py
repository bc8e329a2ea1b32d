"""Client times from a broken clock: taken as the daemon's own at intake, and harmless to
every read command when a database already holds one."""

from __future__ import annotations

import json
import time
import uuid

from skilltrack.daemon.store.database import Store
from skilltrack.daemon.store.records import Record
from skilltrack.wire import encode_frame
from tests.support.events import payload, row
from tests.support.home import DaemonProcess, Home, exchange

YEAR_318857 = 1e13


def test_a_frame_from_a_clock_far_ahead_is_stored_at_the_daemons_time(
    home: Home, daemon: DaemonProcess
) -> None:
    before = time.time()
    frame = encode_frame(str(uuid.uuid4()), YEAR_318857, payload())
    assert exchange(home, frame) == b"OK\n"
    [event] = home.json("skilltrack", "events")["events"]
    assert event["client_time"] >= time.strftime("%Y-%m-%d", time.gmtime(before))
    assert event["client_time"][:4] != "3188"
    assert home.status()["counters"]["clock_clamped"] == 1
    [bash] = home.report()
    assert bash["uses"] == 1


async def test_read_commands_stay_bounded_over_a_stored_time_from_a_broken_clock(
    home: Home,
) -> None:
    # As a database written before times were checked may hold: a use in year 318857 beside
    # one of today.
    store = await Store.open(home.paths.db)
    now = time.time()
    await store.insert([Record(row(ts=now)), Record(row(ts=YEAR_318857))])
    await store.close()

    report = home.json("skilltrack", "report")
    [bash] = report["artifacts"]
    assert bash["uses"] == 2
    assert len(report["per_day"]) == 2  # the two days with use, not the 116 million between
    events = home.json("skilltrack", "events")["events"]
    assert {e["client_time"] for e in events} >= {f"{YEAR_318857:.3f} (Unix time)"}
    lines = home.cli("skilltrack", "export").stdout.splitlines()
    assert len(lines) == 2
    assert {json.loads(line)["client_ts"] for line in lines} >= {f"{YEAR_318857:.3f} (Unix time)"}
    assert "Bash" in home.cli("skilltrack", "report").stdout
