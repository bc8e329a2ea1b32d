"""`skilltrack dead-letters [list | resend]`: what a receiver refused for good, and sending it
again once the cause is fixed (a key, a URL, the receiver itself)."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from skilltrack.daemon.outbox import ForwardStore
from skilltrack.format import iso, listing
from skilltrack.paths import Paths

WRITE_WAIT_MS = 5_000  # a command waits this long for the daemon's commit to finish


def run(args: argparse.Namespace, paths: Paths) -> int:
    if args.action == "resend":
        moved = asyncio.run(_resend(paths, args.sink))
        if args.json:
            print(json.dumps({"resent": moved}))
        else:
            where = f"sink {args.sink}" if args.sink else "their sinks"
            print(f"{moved} dead letters back in the outbox of {where}")
        return 0
    rows = asyncio.run(_list(paths, args.sink, args.limit))
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


async def _list(paths: Paths, sink: str | None, limit: int) -> list[dict[str, Any]]:
    if not paths.db.exists():
        return []
    store = await ForwardStore.open_readonly(paths.db)
    try:
        return await store.dead_letters(sink, limit)
    finally:
        await store.close()


async def _resend(paths: Paths, sink: str | None) -> int:
    if not paths.db.exists():
        return 0
    store = await ForwardStore.open(paths.db, busy_timeout_ms=WRITE_WAIT_MS)
    try:
        return await store.resend_dead_letters(sink)
    finally:
        await store.close()
