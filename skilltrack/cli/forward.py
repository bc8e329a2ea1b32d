"""`skilltrack dead-letters [list | resend]`: what a receiver refused for good, and sending it
again once the cause is fixed (a key, a URL, the receiver itself)."""

from __future__ import annotations

import argparse
import json

from skilltrack.cli import db
from skilltrack.format import iso, listing
from skilltrack.paths import Paths


def dead_letters_command(args: argparse.Namespace, paths: Paths) -> int:
    from skilltrack.daemon.store.outbox import ForwardStore

    if args.action == "resend":
        moved = db.write(paths, ForwardStore, lambda s: s.resend_dead_letters(args.sink), 0)
        if args.json:
            print(json.dumps({"resent": moved}))
        else:
            where = f"sink {args.sink}" if args.sink else "their sinks"
            print(f"{moved} dead letters back in the outbox of {where}")
        return 0
    rows = db.read_rows(paths, ForwardStore, lambda s: s.dead_letters(args.sink, args.limit))
    for row in rows:
        row["failed_at"] = iso(row["failed_at"])
    return listing(
        "dead_letters",
        rows,
        as_json=args.json,
        empty="no dead letters",
        headers=["FAILED", "SINK", "EVENT", "TYPE", "NAME", "STATUS", "REASON"],
        row=lambda r: (
            r["failed_at"],
            r["sink"],
            r["event_id"],
            r["artifact_type"],
            r["artifact_name"],
            r["status"],
            r["reason"],
        ),
    )
