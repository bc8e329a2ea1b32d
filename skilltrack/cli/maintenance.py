"""`skilltrack prune` and `skilltrack stats`: keeping the database to its retention, and
seeing what it holds."""

from __future__ import annotations

import argparse
import json
import time
from typing import TYPE_CHECKING, Any

from skilltrack.cli import db
from skilltrack.cli.parsing import UsageError
from skilltrack.format import iso
from skilltrack.paths import Paths

if TYPE_CHECKING:
    from skilltrack.daemon.store.database import Store

DAY_S = 86400


def stats_command(args: argparse.Namespace, paths: Paths) -> int:
    from skilltrack.daemon.store.database import Store

    _show(db.read(paths, Store, lambda s: stats(paths, s), {"database": None}), as_json=args.json)
    return 0


def prune_command(args: argparse.Namespace, paths: Paths) -> int:
    days = args.older_than
    if days is not None and days < 1:
        raise UsageError("--older-than must be at least 1 day")
    if days is None:
        from skilltrack import config  # pydantic: only where the file must be read

        days = config.load(paths.config).retention_days
    from skilltrack.daemon.store.database import Store

    before = time.time() - days * DAY_S
    result: dict[str, Any] = {
        "older_than_days": days,
        "before": iso(before),
        "deleted": 0,
        "dry_run": False,
    }
    pruned = db.write(paths, Store, lambda s: prune(s, before, days, args.dry_run, args.vacuum),
                      None)  # fmt: skip
    if pruned is not None:
        result = pruned
        if args.vacuum and not args.dry_run:
            result["bytes_after"] = paths.db_bytes()  # closed: the log is folded in
    if args.json:
        print(json.dumps(result))
    else:
        verb = "would delete" if result["dry_run"] else "deleted"
        print(f"{verb} {result['deleted']} events from before {result['before']}"
              f" ({result['older_than_days']} days)"
              + (f"; database now {result['bytes_after']:,} bytes" if "bytes_after" in result
                 else ""))  # fmt: skip
    return 0


async def prune(
    store: Store, before: float, days: int, dry_run: bool, vacuum: bool
) -> dict[str, Any]:
    result: dict[str, Any] = {"older_than_days": days, "before": iso(before), "dry_run": dry_run}
    if dry_run:
        result["deleted"] = await store.count_events_before(before)
        return result
    result["deleted"] = await store.prune(before)
    if vacuum:
        await store.vacuum()
    return result


async def stats(paths: Paths, store: Store) -> dict[str, Any]:
    return {
        "database": str(paths.db),
        "bytes": paths.db_bytes(),
        "rows": await store.table_counts(),
        "oldest_event": iso(await store.first_event_time()),
        "newest_event": iso(await store.last_event_time()),
        "schema_version": (await store.schema_version())[-1],
    }


def _show(result: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, indent=2))
        return
    if result["database"] is None:
        print("no database yet")
        return
    print(f"database   {result['database']} ({result['bytes']:,} bytes)")
    print(f"schema     {result['schema_version']}")
    print(f"events     {result['oldest_event'] or '-'} to {result['newest_event'] or '-'}")
    for table, count in result["rows"].items():
        print(f"  {table:<20} {count:>12,}")
