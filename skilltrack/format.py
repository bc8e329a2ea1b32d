"""Turning stored values into what people and programs read."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

# typing.TYPE_CHECKING without importing typing (~3 ms of `skilltrack report`'s start-up, for
# names only annotations use): mypy honours the name wherever it is defined (see PEP 781).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def iso(ts: float | None) -> str | None:
    """A Unix time as ISO 8601 in UTC, to the millisecond."""
    if ts is None:
        return None
    try:
        return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")
    except (ValueError, OverflowError, OSError):  # beyond what a date can say (year 9999)
        return f"{ts:.3f} (Unix time)"


def iso_day(ts: float) -> str:
    """The UTC day of a Unix time, as an ISO 8601 date (or as `iso` says what it cannot)."""
    text = iso(ts) or ""
    return text[:10] if text[4:5] == "-" else text


def reporting_to_stdout(command: Callable[[], int]) -> int:
    """`command`'s exit status, its output flushed before it counts as done: a reader that
    closed standard output (`| head`) shows here, where it ends the command quietly, and not
    in the interpreter's flush at exit."""
    try:
        code = command()
        sys.stdout.flush()
    except BrokenPipeError:
        return stdout_closed()
    return code


def stdout_closed() -> int:
    """The exit status of a command whose reader closed standard output (`| head`): 0, with
    no message, as the reader has what it wanted."""
    # Nothing more may reach the closed pipe, not even the interpreter's final flush, which
    # would print "Exception ignored ... BrokenPipeError" and exit 120.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 0


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain text table, columns padded to their widest cell; numbers right-aligned."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    numeric = [
        all(isinstance(row[i], int | float) for row in rows if row[i] is not None)
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        padded = (
            v.rjust(w) if right else v.ljust(w)
            for v, w, right in zip(values, widths, numeric, strict=True)
        )
        return "  ".join(padded).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)])


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def listing(
    key: str,
    items: list[dict[str, Any]],
    *,
    as_json: bool,
    empty: str,
    headers: Sequence[str],
    row: Callable[[dict[str, Any]], Sequence[object]],
) -> int:
    """Print `items` as `{key: items}` JSON for programs, or as a table (or `empty`) for people."""
    if as_json:
        print(json.dumps({key: items}, indent=2))
    elif not items:
        print(empty)
    else:
        print(table(headers, [row(item) for item in items]))
    return 0
