"""docs/team.md's collector configuration, fed real skilltrack output.

No OpenTelemetry Collector can be installed on this project's machines (docs/team.md says
why), so the Collector's `otlp` receiver is stood in for where docs/otel-collector.yaml
declares it: a real aiohttp server on its path, with TLS as declared, checking a Bearer
token and answering as that receiver does, decoding each body with opentelemetry-proto's
schema. A real daemon, configured with the member's `config.toml` of docs/team.md (only the
host, the port and the token file's home changed), forwards real Claude Code hook events
sent through the real hook. The processors and the exporter are not run.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import secrets
import ssl
import threading
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import trustme
import yaml
from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)

from skilltrack import config
from skilltrack.daemon.forward.otlp import OtlpLogSink
from tests.support.events import real
from tests.support.home import WAIT_FOR_ACK, Home

ROOT = Path(__file__).resolve().parent.parent
COLLECTOR: dict[str, Any] = yaml.safe_load((ROOT / "docs" / "otel-collector.yaml").read_text())
PAGE = (ROOT / "docs" / "team.md").read_text(encoding="utf-8")
HTTP: dict[str, Any] = COLLECTOR["receivers"]["otlp"]["protocols"]["http"]


def member_config() -> str:
    """The member's config.toml of the OTLP section of docs/team.md, as written there."""
    blocks = re.findall(r"```toml\n(.*?)```", PAGE, re.DOTALL)
    (block,) = [b for b in blocks if 'type = "otlp"' in b]
    return str(block)


def promised_attributes() -> dict[str, str]:
    """The table of docs/team.md's "What arrives": attribute -> where it is ("on")."""
    section = PAGE.split("## What arrives", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^\| `([^`]+)` \| ([^|]+?) \|", section, re.MULTILINE))


def otlp_sink(text: str) -> tuple[str, config.OtlpSink]:
    settings = config.parse(tomllib.loads(text), "docs/team.md")
    ((name, sink),) = settings.forward.items()
    assert isinstance(sink, config.OtlpSink)
    return name, sink


# -- the configuration as written ---------------------------------------------------------


def test_the_collector_config_wires_a_logs_pipeline_from_the_otlp_receiver() -> None:
    service = COLLECTOR["service"]
    logs = service["pipelines"]["logs"]
    assert "otlp" in logs["receivers"]
    for kind in ("receivers", "processors", "exporters"):
        for component in logs[kind]:
            assert component in COLLECTOR[kind], f"{kind}: {component} is used, not defined"
    for extension in service.get("extensions", []):
        assert extension in COLLECTOR["extensions"], f"extension {extension} is not defined"
    # The receiver checks a Bearer token, with an authenticator the service runs.
    authenticator = HTTP["auth"]["authenticator"]
    assert authenticator in service["extensions"]
    assert COLLECTOR["extensions"][authenticator]["scheme"] == "Bearer"
    # memory_limiter first, batch last: how the Collector's own documentation orders them.
    assert logs["processors"][0] == "memory_limiter"
    assert logs["processors"][-1] == "batch"


def test_the_members_config_points_at_the_receiver_as_declared() -> None:
    name, sink = otlp_sink(member_config())
    endpoint = urlsplit(str(sink.endpoint))
    _, _, port = HTTP["endpoint"].rpartition(":")
    assert endpoint.port == int(port)
    assert endpoint.scheme == ("https" if "tls" in HTTP else "http")
    # Where the sink posts is the receiver's logs path (the Collector's default if unset).
    sink_path = urlsplit(OtlpLogSink(name, sink, None).url).path
    assert sink_path == HTTP.get("logs_url_path", "/v1/logs")
    assert sink.api_key_file is not None  # the receiver refuses requests without a token


# -- real skilltrack output through the receiver -------------------------------------------


class OtlpReceiver:
    """The Collector's OTLP/HTTP logs receiver as docs/otel-collector.yaml declares it: one
    path, a Bearer token, JSON or protobuf bodies decoded with the official schema."""

    def __init__(self, path: str, token: str, tls: ssl.SSLContext) -> None:
        self.path, self.token, self.tls = path, token, tls
        self.requests: list[ExportLogsServiceRequest] = []
        self.answers: list[int] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def received(self) -> list[ExportLogsServiceRequest]:
        with self._lock:
            return list(self.requests)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post(self.path, self._logs)
        self._runner = web.AppRunner(app, handle_signals=False, auto_decompress=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.tls).start()
        self.port = self._runner.addresses[0][1]

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        for _ in range(5):  # let closing transports finish before the loop stops
            await asyncio.sleep(0.01)

    async def _logs(self, request: web.Request) -> web.Response:
        status, message = self._read(request, await request.read())
        with self._lock:
            self.answers.append(status)
            if message is not None:
                self.requests.append(message)
        if status != 200:
            return web.Response(status=status)
        answer = json_format.MessageToJson(ExportLogsServiceResponse())
        return web.Response(status=200, text=answer, content_type="application/json")

    def _read(self, request: web.Request, raw: bytes) -> tuple[int, Any]:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return 401, None
        if request.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        message = ExportLogsServiceRequest()
        try:
            if request.content_type == "application/json":
                json_format.Parse(raw, message)  # unknown fields refused, as the Collector does
            elif request.content_type == "application/x-protobuf":
                message.ParseFromString(raw)
            else:
                return 415, None
        except (json_format.ParseError, DecodeError):
            return 400, None
        return 200, message


TOKEN = secrets.token_urlsafe(24)


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[OtlpReceiver, Path]]:
    """The receiver, serving TLS with a certificate for 127.0.0.1 from a throwaway CA; and
    that CA's file, for the daemon to trust (SSL_CERT_FILE) as a member's machine trusts the
    team's CA."""
    assert "tls" in HTTP  # the receiver is declared with TLS, so it is served so
    ca = trustme.CA()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(tls)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    running = OtlpReceiver(HTTP.get("logs_url_path", "/v1/logs"), TOKEN, tls)
    running.start()
    try:
        yield running, ca_file
    finally:
        running.stop()


def configure_member(home: Home, port: int, ca_file: Path) -> None:
    """docs/team.md's config.toml as written, but for where the receiver really is; its
    token file, at the path it names, under a home of the test's own."""
    text = member_config()
    _, sink = otlp_sink(text)
    local = f"{urlsplit(str(sink.endpoint)).scheme}://127.0.0.1:{port}"
    text = text.replace(str(sink.endpoint).rstrip("/"), local)
    assert local in text
    assert sink.api_key_file is not None
    member_home = home.dir / "member"
    key_file = Path(str(sink.api_key_file).replace("~", str(member_home), 1))
    key_file.parent.mkdir(parents=True)
    key_file.write_text(TOKEN + "\n")
    key_file.chmod(0o600)
    home.paths.config.parent.mkdir(parents=True, exist_ok=True)
    home.paths.config.write_text(text)
    home.env.update(HOME=str(member_home), SSL_CERT_FILE=str(ca_file))


def attributes(values: Any) -> dict[str, Any]:
    """OTLP KeyValues as a dict of plain values."""
    return {kv.key: getattr(kv.value, kv.value.WhichOneof("value")) for kv in values}


def records(receiver: OtlpReceiver) -> dict[str, tuple[Any, Any]]:
    """Each log record received, by its event id, with its ResourceLogs."""
    found: dict[str, tuple[Any, Any]] = {}
    for message in receiver.received():
        for resource_logs in message.resource_logs:
            for scope_logs in resource_logs.scope_logs:
                for record in scope_logs.log_records:
                    event_id = attributes(record.attributes)["skilltrack.event_id"]
                    assert event_id not in found, f"{event_id} arrived twice"
                    found[event_id] = (resource_logs, record)
    return found


SENT = (
    "SessionStart",
    "PostToolUse — Skill",
    "PostToolUse — mcp__echo__echo",
    "PostToolUseFailure — Bash",
    "PostToolUse — Bash — inside a subagent",
    "Stop",  # ends the skill's turn: a skill's use is stored once its work has ended
    "SessionEnd",
)


def test_real_skilltrack_output_reaches_the_receiver_as_the_page_promises(
    home: Home, receiver: tuple[OtlpReceiver, Path]
) -> None:
    otlp, ca_file = receiver
    configure_member(home, otlp.port, ca_file)
    home.start_daemon()
    for title in SENT:
        done = home.hook(json.dumps(real(title)).encode(), extra_env=WAIT_FOR_ACK)
        assert done.returncode == 0
        assert done.stdout == b""
    home.wait_for(lambda: len(home.events()) == len(SENT), what="every event stored")
    stored = {e["event_id"]: e for e in home.events()}
    home.wait_for(lambda: set(records(otlp)) == set(stored), what="every stored event received")

    assert set(otlp.answers) == {200}
    promised = promised_attributes()
    tenant = config.parse(tomllib.loads(member_config())).tenant_id
    for event_id, (resource_logs, record) in records(otlp).items():
        event = stored[event_id]
        resource = attributes(resource_logs.resource.attributes)
        assert resource["service.name"] == "skilltrack"
        assert resource["skilltrack.tenant_id"] == tenant == event["tenant_id"]
        assert resource["enduser.id"] == event["user_id"]
        assert set(resource) <= {k for k, on in promised.items() if on == "resource"}
        assert resource_logs.scope_logs[0].scope.name == "skilltrack"
        attrs = attributes(record.attributes)
        # Every attribute sent is on the page; those it says every record has, every one has.
        assert set(attrs) <= {k for k, on in promised.items() if on != "resource"}, attrs
        assert {k for k, on in promised.items() if on == "every record"} <= set(attrs)
        # The values are the stored event's, as `skilltrack events --json` shows it.
        expected = {
            "skilltrack.hook_event": event["hook_event"],
            "skilltrack.artifact.type": event["artifact_type"],
            "skilltrack.artifact.name": event["artifact_name"],
            "skilltrack.tool.name": event["tool_name"],
            "skilltrack.tool.use_id": event["tool_use_id"],
            "skilltrack.duration_ms": event["duration_ms"],
            "skilltrack.agent.type": event.get("agent_type"),
            "skilltrack.agent.id": event.get("agent_id"),
            "session.id": event["session_id"],
        }
        for key, value in expected.items():
            assert attrs.get(key) == value, (key, event)
        success = event["success"]
        assert attrs.get("skilltrack.success") == success
        assert record.severity_text == ("ERROR" if success is False else "INFO")
        happened = datetime.fromisoformat(event["client_time"]).timestamp()
        assert abs(record.time_unix_nano / 1e9 - happened) < 0.001
    kinds = {(e["artifact_type"], e["success"]) for e in stored.values()}
    # What the events were sent to cover: a skill, an MCP tool, a failed tool, a subagent's.
    assert {("skill", True), ("mcp", True), ("tool", False)} <= kinds, kinds
    assert any(e.get("agent_type") for e in stored.values())


def test_the_receiver_refuses_what_the_collector_would(
    receiver: tuple[OtlpReceiver, Path],
) -> None:
    """The stand-in is no pushover: without the token, in another content type, or with a
    body that is not an ExportLogsServiceRequest, a request is refused as the Collector's
    receiver refuses it."""
    otlp, ca_file = receiver
    url = f"https://127.0.0.1:{otlp.port}{otlp.path}"
    tls = ssl.create_default_context(cafile=str(ca_file))
    good = b'{"resourceLogs": []}'
    cases = [
        ({}, "application/json", good, 401),
        ({"Authorization": f"Bearer {TOKEN}"}, "text/plain", good, 415),
        ({"Authorization": f"Bearer {TOKEN}"}, "application/json", b'{"logs": []}', 400),
        ({"Authorization": f"Bearer {TOKEN}"}, "application/x-protobuf", b"\xff\xff", 400),
        ({"Authorization": f"Bearer {TOKEN}"}, "application/json", good, 200),
    ]
    for headers, content_type, body, status in cases:
        request = urllib.request.Request(
            url, body, {**headers, "Content-Type": content_type}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, context=tls, timeout=10) as answer:
                got = answer.status
        except urllib.error.HTTPError as refused:
            got = refused.code
            refused.close()
        assert got == status, (headers, content_type, body)
