"""One name per field: an event as `events --json`, `export` and the `http` sink give it, built
here so that the three cannot drift apart (tests/test_field_names.py compares them for the
same event).

Times are ISO 8601 in UTC (`client_time`, `received_at`), flags are booleans. Names an older
release used are still given beside the new ones by `export` and the `http` sink, for the
consumers that read them (docs/fields.md says which).
"""

from __future__ import annotations

from skilltrack.format import iso

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

# Stored column -> public name, where they differ.
EVENT_NAMES = {"client_ts": "client_time"}
_TIMES = frozenset(("client_ts", "received_at"))
_FLAGS = frozenset(("success", "truncated"))


def event_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored event's columns (those `row` has, in its order) under their public names:
    times as ISO 8601, `success` and `truncated` as booleans (`success` null: no outcome)."""
    fields: dict[str, Any] = {}
    for column, value in row.items():
        if column in _TIMES:
            value = iso(value)
        elif column in _FLAGS and value is not None:
            value = bool(value)
        fields[EVENT_NAMES.get(column, column)] = value
    return fields


def event_column(column: str) -> str:
    """The public name of a stored event's column."""
    return EVENT_NAMES.get(column, column)
