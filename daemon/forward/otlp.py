"""The `otlp` sink: events as OpenTelemetry logs, OTLP/HTTP JSON to `{endpoint}/v1/logs`.

The body is an ExportLogsServiceRequest in OTLP's JSON encoding (64-bit integers as strings),
one resource per tenant and user, one log record per event; tests check it against the
official protobuf schema. An API request read from the transcripts is a log record of its own
(`eventName` skilltrack.usage) with OpenTelemetry's GenAI attributes (`gen_ai.request.model`,
`gen_ai.usage.input_tokens` counting cached input too, as the conventions ask, …) and the
event id of the use it is charged to.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from skilltrack import __version__
from skilltrack.config import OtlpSink
from skilltrack.daemon.forward.retry import Verdict
from skilltrack.daemon.forward.sinks import (
    BatchingSink,
    Delivery,
    Item,
    Post,
    as_bool,
    compact_json,
    json_headers,
    read_answer,
)
from skilltrack.daemon.store.outbox import OutboxEvent, OutboxUsage


def _attribute(key: str, value: Any) -> dict[str, Any] | None:
    """An OTLP/JSON KeyValue; 64-bit integers are strings in OTLP's JSON mapping."""
    if value is None:
        return None
    if isinstance(value, bool):
        typed: dict[str, Any] = {"boolValue": value}
    elif isinstance(value, int):
        typed = {"intValue": str(value)}
    elif isinstance(value, float):
        typed = {"doubleValue": value}
    else:
        typed = {"stringValue": str(value)}
    return {"key": key, "value": typed}


def _attributes(pairs: Sequence[tuple[str, Any]]) -> list[dict[str, Any]]:
    return [a for a in (_attribute(k, v) for k, v in pairs) if a is not None]


def _nanos(ts: float) -> str:
    # Times are kept to the microsecond; `ts * 1e9` would show float noise in the last digits.
    return str(round(ts * 1_000_000) * 1000)


def log_record(e: OutboxEvent) -> dict[str, Any]:
    """One event as an OTLP LogRecord."""
    failed = e.success == 0
    what = e.artifact_name or e.tool_name or ""
    return {
        "timeUnixNano": _nanos(e.client_ts),
        "observedTimeUnixNano": _nanos(e.received_at),
        "severityNumber": 17 if failed else 9,  # ERROR, INFO
        "severityText": "ERROR" if failed else "INFO",
        "body": {"stringValue": f"{e.hook_event} {e.artifact_type or 'event'} {what}".strip()},
        "attributes": _attributes(
            [
                ("skilltrack.event_id", e.event_id),
                ("skilltrack.hook_event", e.hook_event),
                ("skilltrack.artifact.type", e.artifact_type),
                ("skilltrack.artifact.name", e.artifact_name),
                ("skilltrack.plugin", e.plugin),
                ("skilltrack.mcp.server", e.mcp_server),
                ("skilltrack.tool.name", e.tool_name),
                ("skilltrack.tool.use_id", e.tool_use_id),
                ("skilltrack.success", as_bool(e.success)),
                ("skilltrack.duration_ms", e.duration_ms),
                ("skilltrack.skill.id", e.skill_id),
                ("skilltrack.skill.version", e.skill_version),
                ("session.id", e.session_id),
                ("skilltrack.prompt_id", e.prompt_id),
                ("skilltrack.agent.id", e.agent_id),
                ("skilltrack.agent.type", e.agent_type),
                ("skilltrack.cwd", e.cwd),
                ("skilltrack.input_snippet", e.input_snippet),
                ("skilltrack.output_snippet", e.output_snippet),
            ]
        ),
    }


def usage_record(r: OutboxUsage) -> dict[str, Any]:
    """One API request as an OTLP LogRecord with the GenAI semantic conventions' usage."""
    cache_writes = r.cache_5m_tokens + r.cache_1h_tokens
    return {
        "timeUnixNano": _nanos(r.at),
        "observedTimeUnixNano": _nanos(r.queued_at),
        "severityNumber": 9,
        "severityText": "INFO",
        "eventName": "skilltrack.usage",
        "body": {"stringValue": f"usage {r.model}"},
        "attributes": _attributes(
            [
                ("skilltrack.event_id", r.event_id),
                ("gen_ai.provider.name", "anthropic"),
                ("gen_ai.request.model", r.model),
                ("gen_ai.response.model", r.model),
                ("gen_ai.usage.input_tokens", r.input_tokens + cache_writes + r.cache_read_tokens),
                ("gen_ai.usage.output_tokens", r.output_tokens),
                ("gen_ai.usage.cache_creation.input_tokens", cache_writes),
                ("gen_ai.usage.cache_read.input_tokens", r.cache_read_tokens),
                ("skilltrack.cost_usd", r.cost_usd),
                ("skilltrack.request_id", r.request_id),
                ("skilltrack.use.event_id", r.use_event),
                ("skilltrack.artifact.type", r.use_type),
                ("skilltrack.artifact.name", r.use_name),
                ("skilltrack.run.event_id", r.run_event),
                ("skilltrack.agent.type", r.run_name),
                ("skilltrack.agent.id", r.thread or None),
                ("session.id", r.session_id),
                ("skilltrack.prompt_id", r.prompt_id),
            ]
        ),
    }


def encode(item: Item) -> bytes:
    if isinstance(item, OutboxUsage):
        return compact_json(usage_record(item))
    return compact_json(log_record(item))


def logs_request(events: Sequence[Item], records: Sequence[bytes] | None = None) -> bytes:
    """An ExportLogsServiceRequest in OTLP's JSON encoding: one resource per tenant and user."""
    parts = records if records is not None else [encode(e) for e in events]
    groups: dict[tuple[str | None, str | None], list[bytes]] = {}
    for e, part in zip(events, parts, strict=True):
        groups.setdefault((e.tenant_id, e.user_id), []).append(part)
    scope = compact_json({"name": "skilltrack", "version": __version__})
    resources = []
    for (tenant, user), records_of in groups.items():
        resource = compact_json(
            {
                "attributes": _attributes(
                    [
                        ("service.name", "skilltrack"),
                        ("service.version", __version__),
                        ("skilltrack.tenant_id", tenant),
                        ("enduser.id", user),
                    ]
                )
            }
        )
        resources.append(
            b'{"resource":%s,"scopeLogs":[{"scope":%s,"logRecords":[%s]}]}'
            % (resource, scope, b",".join(records_of))
        )
    return b'{"resourceLogs":[%s]}' % b",".join(resources)


class OtlpLogSink(BatchingSink):
    """OTLP/HTTP JSON logs to `{endpoint}/v1/logs`."""

    def __init__(self, name: str, settings: OtlpSink, key: str | None) -> None:
        url = settings.endpoint.rstrip("/") + "/v1/logs"
        super().__init__(name, url, settings, json_headers(key))

    def encode(self, item: Item) -> bytes:
        return encode(item)

    async def send(
        self, post: Post, events: Sequence[Item], parts: Sequence[bytes]
    ) -> tuple[Verdict, Delivery]:
        answer = await post(self.url, logs_request(events, parts), self._headers)
        verdict, delivery = read_answer(answer, events, self.policy)
        if verdict is Verdict.DELIVERED:
            # A partial success is final: the collector took the batch and says how many of
            # its records it dropped; re-sending would not change its mind.
            delivery.rejected = partial_rejections(answer.body)
            if delivery.rejected:
                delivery.error = f"collector rejected {delivery.rejected} log records"
        return verdict, delivery


def partial_rejections(body: bytes) -> int:
    try:
        answer = json.loads(body) if body.strip() else {}
        rejected = answer.get("partialSuccess", {}).get("rejectedLogRecords", 0)
        return max(0, int(rejected))
    except (ValueError, AttributeError, TypeError):
        return 0
