"""The configuration file: TOML, validated by pydantic into one frozen `Settings` object.

Every key is optional; a missing file means the defaults. A file that cannot be read or does
not validate is a `ConfigError` whose message is one line naming the key and what it expects:
the daemon refuses to start with it rather than run half-configured.

```toml
enabled = true              # false: hooks keep nothing, as `skilltrack pause` (see pause.md)
tenant_id = "acme"          # the team this machine's usage belongs to
user_id = "ann"             # default: the local login name
retention_days = 90
dashboard = false           # serve the local dashboard (`skilltrack dashboard` opens it anyway)
dashboard_port = 17391      # the same at each start, so a bookmark keeps working; 0: a free
                            # port picked at each start; always on 127.0.0.1 only

[privacy]
paths = "home"              # "home": /home/ann/x -> ~/x; "project": keep only the project's name
max_input_chars = 4096      # what is kept of each tool input / output / error (per event)
max_output_chars = 4096

[capture]
snippets = false            # the team's policy; each user must also run `skilltrack consent grant`
snippet_chars = 1000
artifact_types = ["skill"]  # uses of these kinds are captured as training examples

# Forwarding (optional): one table per sink, named as you like; docs/forwarding.md has each type.
[forward.marketplace]
type = "everyskill"         # one POST {url}/api/track per skill event
url = "https://everyskill.example.com"
api_key_env = "EVERYSKILL_API_KEY"   # or api_key_file = "~/.config/everyskill.key"
sign = true                 # x-everyskill-signature: HMAC-SHA256 of the body, keyed by the key

[forward.collector]
type = "http"               # batches of JSON (gzip) for any HTTP collector
url = "https://collector.example.com/skilltrack"
api_key_file = "~/.config/skilltrack/collector.key"

[forward.otel]
type = "otlp"               # OTLP/HTTP JSON logs to {endpoint}/v1/logs
endpoint = "http://localhost:4318"

# Prices per model (US dollars per million tokens), over the shipped table's.
[prices."claude-opus-4-5"]
input = 5
output = 25
cache_write_5m = 6.25
cache_write_1h = 10
cache_read = 0.5
```
"""

from __future__ import annotations

import getpass
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    ValidationError,
    model_validator,
)

# Raised here; defined apart so that catching it does not import pydantic.
from skilltrack.errors import ConfigError as ConfigError

ArtifactType = Literal["skill", "agent", "mcp", "command", "tool"]
Identifier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER: a container, say
        return "unknown"


class _Section(BaseModel):
    # A misspelt key must be an error, not a setting silently left at its default; and TOML
    # has real types, so `snippets = 1` is a mistake to point out, not a `true` to guess.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Privacy(_Section):
    paths: Literal["home", "project"] = "home"
    max_input_chars: int = Field(default=4096, ge=64, le=1_000_000)
    max_output_chars: int = Field(default=4096, ge=64, le=1_000_000)


class Capture(_Section):
    snippets: bool = False
    snippet_chars: int = Field(default=1000, ge=16, le=100_000)
    # (TOML arrays arrive as lists; strict mode would refuse them for a tuple.)
    artifact_types: tuple[ArtifactType, ...] = Field(default=("skill",), strict=False)


HttpUrl = Annotated[
    str, StringConstraints(pattern=r"^https?://[^\s/?#]+[^\s?#]*$", max_length=2000)
]
SinkName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]


class _Sink(_Section):
    """What every sink has: where its key comes from, and the bounds of its outbox."""

    # One of the three (or none, for a receiver without authentication). The key itself is
    # kept as a SecretStr, so no repr, log line or error can show it.
    api_key: SecretStr | None = None
    api_key_file: Path | None = Field(default=None, strict=False)
    api_key_env: Identifier | None = None
    timeout_s: float = Field(default=10.0, gt=0, le=300, strict=False)
    verify_tls: bool = True
    # The outbox: events older than this are dropped (counted) rather than sent; past
    # `max_backlog` events waiting, the oldest are dropped (counted).
    max_age_days: float = Field(default=7.0, gt=0, le=3650, strict=False)
    max_backlog: int = Field(default=1_000_000, ge=100, le=100_000_000)
    retry_initial_s: float = Field(default=1.0, gt=0, le=60, strict=False)
    retry_max_s: float = Field(default=60.0, gt=0, le=3600, strict=False)

    @model_validator(mode="after")
    def _one_key_source(self) -> _Sink:
        given = [k for k in ("api_key", "api_key_file", "api_key_env") if getattr(self, k)]
        if len(given) > 1:
            raise ValueError(f"give one of {', '.join(given)}, not several")
        return self

    def key(self) -> str | None:
        """The API key, read now from where the settings say; ValueError names what is
        missing (never the key)."""
        if self.api_key is not None:
            return self.api_key.get_secret_value()
        if self.api_key_env is not None:
            value = os.environ.get(self.api_key_env, "").strip()
            if not value:
                raise ValueError(f"api_key_env: ${self.api_key_env} is not set")
            return value
        if self.api_key_file is not None:
            path = self.api_key_file.expanduser()
            try:
                value = path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ValueError(f"api_key_file: cannot read {path}: {exc.strerror}") from None
            except UnicodeDecodeError:
                raise ValueError(f"api_key_file: {path} is not UTF-8 text") from None
            if not value:
                raise ValueError(f"api_key_file: {path} is empty")
            return value
        return None


class EverySkillSink(_Sink):
    """A skill marketplace's `/api/track`: one POST per skill event."""

    type: Literal["everyskill"]
    url: HttpUrl
    sign: bool = False
    concurrency: int = Field(default=4, ge=1, le=64)
    # A skill use is sent once its tokens are read from the transcripts, or after this long
    # without them (its receiver counts every POST as a use: no follow-up record).
    usage_wait_s: float = Field(default=600.0, ge=0, le=86400, strict=False)


class HttpSink(_Sink):
    """Any HTTP collector: batches of events as gzip JSON."""

    type: Literal["http"]
    url: HttpUrl
    batch_events: int = Field(default=500, ge=1, le=500)
    batch_bytes: int = Field(default=1024 * 1024, ge=16 * 1024, le=1024 * 1024)
    artifact_types: tuple[ArtifactType, ...] | None = Field(default=None, strict=False)


class OtlpSink(_Sink):
    """An OpenTelemetry collector: OTLP/HTTP JSON logs to `{endpoint}/v1/logs`."""

    type: Literal["otlp"]
    endpoint: HttpUrl
    batch_events: int = Field(default=500, ge=1, le=500)
    batch_bytes: int = Field(default=1024 * 1024, ge=16 * 1024, le=1024 * 1024)
    artifact_types: tuple[ArtifactType, ...] | None = Field(default=None, strict=False)


class Price(_Section):
    """A model's prices, US dollars per million tokens (daemon/ingest/prices.py)."""

    input: float = Field(ge=0, le=10_000, strict=False)
    output: float = Field(ge=0, le=10_000, strict=False)
    cache_write_5m: float = Field(ge=0, le=10_000, strict=False)
    cache_write_1h: float = Field(ge=0, le=10_000, strict=False)
    cache_read: float = Field(ge=0, le=10_000, strict=False)


ModelName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,199}$")]


Sink = Annotated[EverySkillSink | HttpSink | OtlpSink, Field(discriminator="type")]
_SINK_TYPES = frozenset(("everyskill", "http", "otlp"))


DASHBOARD_PORT = 17391


class Settings(_Section):
    # False pauses tracking (skilltrack/pause.py): the daemon and `skilltrack config`
    # put the marker the hook looks for.
    enabled: bool = True
    tenant_id: Identifier = "default"
    user_id: Identifier = Field(default_factory=_login_name)
    retention_days: int = Field(default=90, ge=1, le=36_500)
    dashboard: bool = False
    # Fixed, so that the dashboard's URL (a bookmark) survives a restart; below Linux's
    # ephemeral range (32768-60999), where an outgoing connection could be holding it.
    dashboard_port: int = Field(default=DASHBOARD_PORT, ge=0, le=65_535)
    privacy: Privacy = Privacy()
    capture: Capture = Capture()
    forward: dict[SinkName, Sink] = Field(default_factory=dict)
    # Per model, replacing or adding to the shipped price table.
    prices: dict[ModelName, Price] = Field(default_factory=dict)


def load(path: Path) -> Settings:
    """The settings in `path`, or the defaults if there is no such file."""
    try:
        # utf-8-sig: a byte order mark, as some Windows editors write one, is no statement.
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        return Settings()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse(data, source=str(path))


def parse(data: dict[str, Any], source: str = "config") -> Settings:
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {describe(exc)}") from None


def read_sink_keys(settings: Settings) -> dict[str, str | None]:
    """Each forwarding sink's API key, read now; a ConfigError names the first that cannot
    be read (and never shows a key)."""
    keys = {}
    for name, sink in settings.forward.items():
        try:
            keys[name] = sink.key()
        except ValueError as exc:
            raise ConfigError(f"forward.{name}.{exc}") from None
    return keys


def describe(exc: ValidationError) -> str:
    """The first problem of a validation error, as `key: expected …, got …`."""
    error = exc.errors()[0]
    loc = list(error["loc"])
    if len(loc) > 2 and loc[0] == "forward" and loc[2] in _SINK_TYPES:
        del loc[2]  # the union member's tag: `forward.x.url`, not `forward.x.http.url`
    key = ".".join(str(part) for part in loc) or "(top level)"
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown key"
    got = error.get("input")
    message = error["msg"][0].lower() + error["msg"][1:]
    if "input" not in error or isinstance(got, dict):  # a table: its keys are the problem
        return f"{key}: {message}"
    shown = repr(got) if isinstance(got, str | int | float | bool) else type(got).__name__
    return f"{key}: {message}, got {shown}"
