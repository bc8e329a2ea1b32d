"""`skilltrack export`: every stored event, streamed as JSON Lines or CSV, in constant memory.

The fields are the stored ones, already sanitized and capped, under the names `events --json`
gives them (skilltrack/fields.py), with `--payload` (the payload as JSON in JSON Lines, as its
JSON text in CSV); `client_ts` is kept beside `client_time`, the name it had before. With
`--requests`, the API requests read from transcripts instead (tokens, cost and owners); with
`--ratings`, the ratings given (`rate`: comment and hours saved included).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import sys
from typing import IO, TYPE_CHECKING

from skilltrack.cli.parsing import CommandError
from skilltrack.fields import REQUEST_FIELDS, event_column, event_fields, request_fields
from skilltrack.format import iso
from skilltrack.paths import Paths, check_private_dir

if TYPE_CHECKING:
    import sqlite3

PROGRESS_EVERY = 100_000


def export_command(args: argparse.Namespace, paths: Paths) -> int:
    import asyncio

    write, what = (
        (export_ratings, "ratings")
        if args.ratings
        else (export_requests, "requests")
        if args.requests
        else (export, "events")
    )
    # A closed standard output (`| head`) ends the command quietly: see parsing.run.
    if not args.output:
        asyncio.run(write(paths, args, sys.stdout))
        return 0
    try:
        out = open(args.output, "w", encoding="utf-8", newline="")  # noqa: SIM115 (closed below)
    except OSError as exc:  # the output's fault, not the database's (as cli.main would say)
        raise CommandError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    with out:
        count = asyncio.run(write(paths, args, out))
    print(f"exported {count} {what} to {args.output}", file=sys.stderr)
    return 0


RATING_FIELDS = ("skill", "user_id", "rating", "comment", "hours_saved", "rated_at")


async def export_ratings(paths: Paths, args: argparse.Namespace, out: IO[str]) -> int:
    """Every current rating (one per user and skill), rated within --since/--until."""
    from skilltrack.daemon.report.filters import Filters
    from skilltrack.daemon.report.queries import ReportStore

    ratings = []
    if paths.db.exists():
        store = await ReportStore.open_readonly(paths.db)
        try:
            ratings = await store.ratings(Filters())
        finally:
            await store.close()
    ratings = [
        {**r, "rated_at": iso(r["rated_at"])}
        for r in ratings
        if (args.since is None or r["rated_at"] >= args.since)
        and (args.until is None or r["rated_at"] < args.until)
    ]
    if args.format == "csv":
        writer = csv.writer(out)
        writer.writerow(RATING_FIELDS)
        writer.writerows([r[f] for f in RATING_FIELDS] for r in ratings)
    else:
        out.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in ratings)
    return len(ratings)


async def export(paths: Paths, args: argparse.Namespace, out: IO[str]) -> int:
    from skilltrack.daemon.store.database import Store

    if not paths.db.exists():
        if args.format == "csv":
            csv.writer(out).writerow(header(columns()))
        return 0
    check_private_dir(paths.data_dir)  # else others could read or swap it
    store = await Store.open_readonly(paths.db)
    count = 0
    writer = csv.writer(out) if args.format == "csv" else None
    names = columns()
    at = names.index("client_ts")
    if writer is not None:
        writer.writerow(header(names))
    try:
        # aclosing: the rows' cursor is closed before the store, even when the reader of
        # standard output goes away halfway (`| head`).
        async with contextlib.aclosing(store.iter_events(args.since, args.until)) as rows:
            async for row in rows:
                if writer is not None:
                    values = [iso(v) if c in ("client_ts", "received_at") else v
                              for c, v in zip(names, row, strict=True)]  # fmt: skip
                    writer.writerow([*values, values[at]])  # again, under its old name
                else:
                    out.write(_json_line(row, names))
                count += 1
                if count % PROGRESS_EVERY == 0 and out is not sys.stdout and sys.stderr.isatty():
                    print(f"\r{count:,} events", end="", file=sys.stderr)
    finally:
        await store.close()
    return count


def columns() -> list[str]:
    """The columns exported: the stored event's fields, but its duration's bucket (the
    reports' index, not a fact about the event)."""
    from skilltrack.daemon.store.records import EventRow

    return [c for c in EventRow._fields if c != "duration_bucket"]


def header(names: list[str]) -> list[str]:
    """The CSV header: the public names, then `client_ts` again, under its old name."""
    return [event_column(c) for c in names] + [OLD_TIME]


OLD_TIME = "client_ts"  # what `client_time` was called in export before it had one name


async def export_requests(paths: Paths, args: argparse.Namespace, out: IO[str]) -> int:
    """Every API request read from transcripts, in the range, oldest first."""
    from skilltrack.daemon.store.tokens import TokenStore

    writer = csv.writer(out) if args.format == "csv" else None
    if writer is not None:
        writer.writerow(REQUEST_FIELDS)
    if not paths.db.exists():
        return 0
    check_private_dir(paths.data_dir)
    store = await TokenStore.open_readonly(paths.db)
    count = 0
    try:
        async with contextlib.aclosing(store.iter_requests(args.since, args.until)) as rows:
            async for row in rows:
                fields = request_fields(row)
                if writer is not None:
                    writer.writerow(fields.values())
                else:
                    out.write(json.dumps(fields, ensure_ascii=False) + "\n")
                count += 1
    finally:
        await store.close()
    return count


def _json_line(row: sqlite3.Row, names: list[str]) -> str:
    fields = event_fields({c: row[c] for c in names if c != "payload"})
    fields[OLD_TIME] = fields["client_time"]
    head = json.dumps(fields, ensure_ascii=False)
    # The stored payload is JSON text already: spliced in, not parsed and dumped again,
    # unless it spans lines (stored as Claude Code sent it: with a final newline, or
    # indented), which a JSON Lines record may not.
    stored: str = row["payload"]
    if "\n" in stored or "\r" in stored:
        stored = json.dumps(json.loads(stored), ensure_ascii=False, separators=(",", ":"))
    return f'{head[:-1]}, "payload": {stored}}}\n'
