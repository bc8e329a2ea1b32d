"""Forwarding sinks configured against a local receiver (support.receiver), and what the
daemon says about them."""

from __future__ import annotations

import json
from typing import Any

from tests.support.home import Home
from tests.support.receiver import Receiver

KEY = "st-test-key-4f1d0c9a7e2b"


def configure(home: Home, **sinks: dict[str, Any]) -> None:
    """Write a config file holding these sinks (by name), and nothing else."""
    lines = []
    for name, sink in sinks.items():
        lines.append(f"[forward.{name}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in sink.items()]
    home.paths.config.parent.mkdir(parents=True, exist_ok=True)
    home.paths.config.write_text("\n".join(lines) + "\n")


def http_sink(receiver: Receiver, **extra: Any) -> dict[str, Any]:
    return {"type": "http", "url": receiver.url + "/ingest", "api_key": KEY,
            "retry_initial_s": 0.05, "retry_max_s": 0.2, "timeout_s": 2, **extra}  # fmt: skip


def otlp_sink(receiver: Receiver, **extra: Any) -> dict[str, Any]:
    return {"type": "otlp", "endpoint": receiver.url, "api_key": KEY, "retry_initial_s": 0.05,
            "retry_max_s": 0.2, "timeout_s": 2, **extra}  # fmt: skip


def everyskill_sink(receiver: Receiver, **extra: Any) -> dict[str, Any]:
    return {"type": "everyskill", "url": receiver.url, "api_key": KEY, "sign": True,
            "retry_initial_s": 0.05, "retry_max_s": 0.2, "timeout_s": 2, **extra}  # fmt: skip


def sink_status(home: Home, name: str) -> dict[str, Any]:
    sinks: list[dict[str, Any]] = home.status()["forwarding"]
    (sink,) = [s for s in sinks if s["name"] == name]
    return sink
