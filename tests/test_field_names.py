"""One name per field: the same stored event as `events --json`, `export` (JSON Lines and
CSV) and the `http` sink give it, with the real daemon, hook and a local receiver."""

from __future__ import annotations

import csv
import io
import json

from tests.support.events import payload
from tests.support.forwarding import KEY, configure, http_sink
from tests.support.home import Home
from tests.support.receiver import running

# Names kept beside the one name, for consumers of an older release (docs/fields.md).
EXPORT_ALIASES = {"client_ts"}
HTTP_ALIASES = {"client_ts", "time"}


def test_events_export_and_forwarding_name_each_field_alike(home: Home) -> None:
    with running(KEY) as receiver:
        configure(home, collector=http_sink(receiver))
        home.start_daemon()
        assert home.hook(payload("PostToolUse", tool_name="Read")).returncode == 0
        home.wait_for(lambda: len(receiver.ids()) == 1, what="the event forwarded")
        (shown,) = home.events()
        (exported,) = [
            json.loads(line) for line in home.cli("skilltrack", "export").stdout.splitlines()
        ]
        table = list(
            csv.reader(io.StringIO(home.cli("skilltrack", "export", "--format", "csv").stdout))
        )
        (sent,) = json.loads(receiver.requests[0].body)["events"]

    assert "client_time" in shown
    assert "received_at" in shown
    # export: every field `events` shows, under the same name and with the same value.
    assert set(exported) - EXPORT_ALIASES - {"payload"} == set(shown)
    assert {k: exported[k] for k in shown} == shown
    assert exported["client_ts"] == shown["client_time"]
    header, row = table
    assert set(header) - EXPORT_ALIASES - {"payload"} == set(shown)
    by_name = dict(zip(header, row, strict=True))
    assert by_name["client_time"] == by_name["client_ts"] == shown["client_time"]
    assert by_name["received_at"] == shown["received_at"]
    # http: a subset of those names (no payload, cwd's project and span details), same values.
    assert sent["kind"] == "event"
    named = set(sent) - HTTP_ALIASES - {"kind"}
    assert named <= set(shown), named - set(shown)
    assert {"event_id", "client_time", "received_at", "artifact_name", "success"} <= named
    assert {k: sent[k] for k in named} == {k: shown[k] for k in named}
