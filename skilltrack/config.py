"""The configuration file: TOML, validated by pydantic into one frozen `Settings` object.

Every key is optional; a missing file means the defaults. A file that cannot be read or does
not validate is a `ConfigError` whose message is one line naming the key and what it expects:
the daemon refuses to start with it rather than run half-configured.

```toml
tenant_id = "acme"          # the team this machine's usage belongs to
user_id = "ann"             # default: the local login name
retention_days = 90

[privacy]
paths = "home"              # "home": /home/ann/x -> ~/x; "project": keep only the project's name
max_input_chars = 4096      # what is kept of each tool input / output / error (per event)
max_output_chars = 4096

[capture]
snippets = false            # the team's policy; each user must also run `skilltrack consent grant`
snippet_chars = 1000
artifact_types = ["skill"]  # uses of these kinds are captured as training examples
```
"""

from __future__ import annotations

import getpass
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

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


class Settings(_Section):
    tenant_id: Identifier = "default"
    user_id: Identifier = Field(default_factory=_login_name)
    retention_days: int = Field(default=90, ge=1, le=36_500)
    privacy: Privacy = Privacy()
    capture: Capture = Capture()


class ConfigError(Exception):
    """The configuration file is unusable; the message is one line that says why."""


def load(path: Path) -> Settings:
    """The settings in `path`, or the defaults if there is no such file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
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


def describe(exc: ValidationError) -> str:
    """The first problem of a validation error, as `key: expected …, got …`."""
    error = exc.errors()[0]
    key = ".".join(str(part) for part in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown key"
    got = error.get("input")
    shown = repr(got) if isinstance(got, str | int | float | bool) else type(got).__name__
    message = error["msg"][0].lower() + error["msg"][1:]
    return f"{key}: {message}, got {shown}" if "input" in error else f"{key}: {message}"
