"""`skilltrack rate SKILL 1..5`: your own rating of a skill you have used."""

from __future__ import annotations

import argparse
import json

from skilltrack.cli import db
from skilltrack.cli.parsing import CommandError
from skilltrack.paths import Paths

MAX_COMMENT = 2000


def rating(text: str) -> int:
    if text.strip() not in {"1", "2", "3", "4", "5"}:
        raise argparse.ArgumentTypeError(f"a rating is a whole number from 1 to 5, not {text!r}")
    return int(text)


def comment(text: str) -> str:
    if len(text) > MAX_COMMENT:
        raise argparse.ArgumentTypeError(f"at most {MAX_COMMENT} characters, got {len(text)}")
    return text


def hours(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"hours are a number, not {text!r}") from None
    if not 0 <= value <= 10_000:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"hours saved must be from 0 to 10000, got {text}")
    return value


def rate_command(args: argparse.Namespace, paths: Paths) -> int:
    # Imported here: `skilltrack` builds every command's arguments, and these cost any
    # command's start-up ~100 ms (pydantic, the sanitizer's patterns).
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
    average = result["avg_rating_x100"] / 100
    if args.json:
        print(json.dumps({**result, "avg_rating": average}))
    else:
        count = result["ratings"]
        print(
            f"rated {args.skill} {args.rating}/5; its average is now {average:.1f} "
            f"from {count} rating{'s' if count != 1 else ''}"
        )
    return 0
