"""`skilltrack rate SKILL 1..5`: your own rating of a skill you have used."""

from __future__ import annotations

import argparse
import json

from skilltrack.cli import db
from skilltrack.cli.parsing import CommandError
from skilltrack.paths import Paths


def rate_command(args: argparse.Namespace, paths: Paths) -> int:
    # Imported here, as the other commands' modules do: importing a command's module stays
    # cheap (these cost ~100 ms: pydantic, the sanitizer's patterns).
    from skilltrack import config
    from skilltrack.daemon.ingest.sanitize import redact_secrets
    from skilltrack.daemon.report.queries import ReportStore

    try:
        settings = config.load(paths.config)
        text = None if args.comment is None else redact_secrets(args.comment)
        result = db.write(
            paths,
            ReportStore,
            lambda s: s.rate(settings.user_id, args.skill, args.rating, text, args.hours_saved),
            None,
        )
        if result is None:  # no database: nothing was ever used
            raise LookupError(args.skill)
    except LookupError:
        raise CommandError(
            f"no use of a skill named {args.skill!r} is recorded; "
            "`skilltrack report --type skill` lists the ones that are"
        ) from None
    if args.json:
        print(json.dumps(result))
        return 0
    count = result["ratings"]
    print(
        f"rated {args.skill} {args.rating}/5; its average is now {result['avg_rating']:.1f} "
        f"from {count} rating{'s' if count != 1 else ''}"
    )
    kept = [
        f"{what} kept: {value}"
        for what, value, given in (
            ("comment", result["comment"], args.comment),
            ("hours saved", result["hours_saved"], args.hours_saved),
        )
        if given is None and value is not None
    ]
    if kept:
        print(f"  (your earlier {'; '.join(kept)})")
    return 0
