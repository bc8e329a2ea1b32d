"""One name per field: an event as `events --json`, `export` and the `http` sink give it, built
here so that the three cannot drift apart (tests/test_field_names.py compares them for the
same event); an API request as `export --requests` and the `http` sink's usage records give it.

Times are ISO 8601 in UTC (`client_time`, `received_at`), flags are booleans. Names an older
release used are still given beside the new ones by `export` and the `http` sink, for the
consumers that read them (docs/fields.md says which).
"""

from __future__ import annotations

from skilltrack.format import iso

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Mapping, Sequence
    from typing import Any

# Stored column -> public name, where they differ.
EVENT_NAMES = {"client_ts": "client_time"}
_PUBLIC_TIMES = ("client_time", "received_at")
_NAMES: dict[tuple[str, ...], tuple[str, ...]] = {}  # columns -> their public names
_FLAGS = ("success", "truncated")


def event_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored event's columns (those `row` has, in its order) under their public names:
    times as ISO 8601, `success` and `truncated` as booleans (`success` null: no outcome)."""
    return event_values(tuple(row), tuple(row.values()))


def event_values(columns: tuple[str, ...], values: Sequence[Any]) -> dict[str, Any]:
    """As event_fields, from the columns and their values (the http sink runs this per
    event: the names are looked up once per set of columns)."""
    names = _NAMES.get(columns)
    if names is None:
        names = _NAMES[columns] = tuple(EVENT_NAMES.get(c, c) for c in columns)
    fields = dict(zip(names, values, strict=True))
    for name in _PUBLIC_TIMES:
        if name in fields:
            fields[name] = iso(fields[name])
    for name in _FLAGS:
        value = fields.get(name)
        if value is not None:
            fields[name] = bool(value)
    return fields


def event_column(column: str) -> str:
    """The public name of a stored event's column."""
    return EVENT_NAMES.get(column, column)


# The request columns a consumer gets, under their public names (report --json's for tokens).
REQUEST_FIELDS = (
    "request_id",
    "session_id",
    "agent_id",  # the subagent whose transcript holds it; null on the main thread
    "prompt_id",
    "client_time",
    "project",
    "model",
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",  # both of the next two
    "cache_creation_5m_input_tokens",
    "cache_creation_1h_input_tokens",
    "cache_read_input_tokens",
    "cost_usd",  # null: no price known for its model
    "use_event_id",  # the skill or command use that owns it
    "artifact_type",  # that use's: skill or command
    "artifact_name",
    "run_event_id",  # the subagent run that owns it (its Agent call's event)
    "agent_type",  # that run's subagent type
)


def request_fields(r: Mapping[str, Any] | sqlite3.Row) -> dict[str, Any]:
    """A stored request (a row of `requests`) under its public names."""
    return {
        "request_id": r["request_id"],
        "session_id": r["session_id"],
        "agent_id": r["thread"] or None,
        "prompt_id": r["prompt_id"],
        "client_time": iso(r["at"]),
        "project": r["project"],
        "model": r["model"],
        "input_tokens": r["input_tokens"],
        "output_tokens": r["output_tokens"],
        "cache_creation_input_tokens": r["cache_5m_tokens"] + r["cache_1h_tokens"],
        "cache_creation_5m_input_tokens": r["cache_5m_tokens"],
        "cache_creation_1h_input_tokens": r["cache_1h_tokens"],
        "cache_read_input_tokens": r["cache_read_tokens"],
        "cost_usd": r["cost_usd"],
        "use_event_id": r["use_event"],
        "artifact_type": r["use_type"],
        "artifact_name": r["use_name"],
        "run_event_id": r["run_event"],
        "agent_type": r["run_name"],
    }
