"""Claude Code's settings files: where each scope keeps them, read strictly, written safely.

These files are edited by hand and patched by other tools too, so: a file is refused
(InstallError, changing nothing) when it cannot be parsed or could not be written back as
Claude Code (Node's JSON.parse) reads it; it is written atomically (a temporary file in the
same folder, then a rename) keeping its permissions, through a symlink to its target so that
the link stays.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from skilltrack.errors import ConfigError
from skilltrack.installer.settings import SettingsShapeError, check_shape, installed_events

BACKUP_SUFFIX = ".skilltrack-backup"
PLUGIN_NAME = "skilltrack"


class InstallError(Exception):
    """A one-line reason to change nothing."""


class NumberOutOfRangeError(ValueError):
    """A JSON number too large for a double: read as infinity, it could not be written back."""


def settings_path(scope: str, cwd: Path, home: Path) -> Path:
    if scope == "user":
        return home / ".claude" / "settings.json"
    if scope == "project":
        return cwd / ".claude" / "settings.json"
    return cwd / ".claude" / "settings.local.json"


def hook_script() -> Path:
    """The installed hook script (resolved: an editable install points into the checkout)."""
    return Path(str(resources.files("skilltrack.hook") / "skilltrack_hook.py")).resolve()


def settings_target(path: Path) -> Path:
    """The file that holds `path`'s settings: a symlink's target (a dotfiles setup), so that
    writing replaces the target and the link stays. A link that leads nowhere is refused:
    writing there would silently replace the user's link with a file."""
    if not path.is_symlink():
        return path
    try:
        return Path(os.path.realpath(path, strict=True))
    except OSError as exc:
        raise InstallError(
            f"{path} is a symlink to {os.readlink(path)}, which cannot be read "
            f"({exc.strerror}); fix or remove the link, nothing was changed"
        ) from None


def parse(raw: bytes) -> Any:
    """The JSON in `raw`, refusing (ValueError) what we could not write back unchanged for
    Node's JSON.parse: NaN and Infinity are not JSON, and a number beyond a double's range
    would come back as Infinity."""
    return json.loads(raw, parse_constant=_not_json, parse_float=_finite_float)


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise NumberOutOfRangeError(f"the number {text} is too large for a JSON reader")
    return value


def read_settings(path: Path) -> tuple[Any, bytes | None]:
    """(parsed settings, the file's bytes), an empty object if there is no file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}, None
    try:
        return parse(raw), raw
    except NumberOutOfRangeError as exc:
        raise InstallError(
            f"{path}: {exc} (it would be written back as Infinity, which is not JSON); "
            "fix it, nothing was changed"
        ) from None
    except RecursionError:
        raise InstallError(
            f"{path} is nested too deeply to edit safely; nothing was changed"
        ) from None
    except ValueError as exc:  # UnicodeDecodeError is one too
        raise InstallError(
            f"{path} is not valid JSON ({exc}); comments and trailing commas are not "
            "JSON either; fix it or remove it, nothing was changed"
        ) from None


def render(settings: Any, like: bytes | None) -> bytes:
    """JSON text for `settings`, written as the file it replaces was, as far as we can.

    When only the top-level `hooks` differs (all the installer changes), the file's own text
    is kept and only that member is written anew, indented as the file is (a user's compact
    arrays, key order and spacing elsewhere stay as they were). Otherwise the whole file is
    written, indented like it (two spaces if new). Either way its final newline, or lack of
    one, is kept; a new file ends in one."""
    if like is None:
        return _dumps(settings, 2).encode() + b"\n"
    indent = _indent_of(like)
    text = like.decode("utf-8")
    spliced = _splice_hooks(settings, text, indent)
    if spliced is not None:
        return spliced.encode()
    end = "\n" if text.endswith("\n") else ""
    return (_dumps(settings, indent) + end).encode()


def _dumps(value: Any, indent: int | str) -> str:
    # allow_nan=False: never write a literal that JSON.parse refuses (parse() keeps them out).
    text = json.dumps(value, indent=indent, ensure_ascii=False, allow_nan=False)
    return _escape_lone_surrogates(text)


_SPACE = re.compile(r"[ \t\n\r]*")


def _splice_hooks(settings: Any, text: str, indent: int | str) -> str | None:
    """`text` with its top-level `hooks` member replaced by `settings`' (added, or removed),
    or None when more than that changed or the text is not laid out one member a line."""
    before = parse(text.encode())
    if not (isinstance(before, dict) and isinstance(settings, dict)):
        return None
    others = [(k, v) for k, v in settings.items() if k != "hooks"]
    if others != [(k, v) for k, v in before.items() if k != "hooks"]:
        return None
    scanned = _members(text)
    if scanned is None:
        return None
    members, close = scanned
    hooks = [m for m in members if m[0] == "hooks"]
    if len(hooks) > 1 or "\n" not in text[:close]:  # a repeated key, or all on one line
        return None
    unit = "\t" if indent == "\t" else " " * int(indent)
    if hooks:
        _, key_start, value_start, value_end = hooks[0]
        if "hooks" not in settings:  # removed: with the comma that joined it to a neighbour
            i = members.index(hooks[0])
            if i > 0:
                return text[: members[i - 1][3]] + text[value_end:]
            if len(members) > 1:
                return text[:key_start] + text[members[1][1] :]
            return text[:key_start].rstrip(" \t\r\n") + text[close:]
        lead = _line_lead(text, key_start)
        value = _dumps(settings["hooks"], indent).replace("\n", "\n" + lead)
        return text[:value_start] + value + text[value_end:]
    if "hooks" not in settings:
        return text
    if not members:
        return None  # `{}`: nothing to take the layout from
    last_end = members[-1][3]
    lead = _line_lead(text, members[-1][1]) or unit
    value = _dumps(settings["hooks"], indent).replace("\n", "\n" + lead)
    return f'{text[:last_end]},\n{lead}"hooks": {value}{text[last_end:]}'


def _line_lead(text: str, at: int) -> str:
    """The whitespace before `at` on its line ("" if anything else comes before it)."""
    start = text.rfind("\n", 0, at) + 1
    lead = text[start:at]
    return lead if not lead.strip(" \t") else ""


def _members(text: str) -> tuple[list[tuple[str, int, int, int]], int] | None:
    """The top-level object's members in `text` as (key, where the key starts, where its
    value starts, where it ends), and where the closing brace is; None if `text` is not one
    object. `text` has been parsed already: this only finds where things are."""
    decoder = json.JSONDecoder()
    i = _skip(text, 0)
    if not text.startswith("{", i):
        return None
    i = _skip(text, i + 1)
    members: list[tuple[str, int, int, int]] = []
    if text.startswith("}", i):
        return members, i
    while text.startswith('"', i):
        key, after_key = decoder.raw_decode(text, i)
        colon = _skip(text, after_key)
        value_start = _skip(text, colon + 1)
        _, value_end = decoder.raw_decode(text, value_start)
        members.append((key, i, value_start, value_end))
        follow = _skip(text, value_end)
        if text.startswith("}", follow):
            return members, follow
        i = _skip(text, follow + 1)  # past the comma
    return None


def _skip(text: str, i: int) -> int:
    match = _SPACE.match(text, i)
    return match.end() if match else i


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape_lone_surrogates(text: str) -> str:
    """`text` with each lone surrogate written as the escape it was read from.

    Only an escape such as `\\ud83d` puts one in a parsed string (UTF-8 cannot hold one, and
    a valid pair is read as one character); it cannot be encoded as UTF-8, and written back
    as an escape it is exactly what the file held. It can only be inside a string literal.
    """
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _indent_of(raw: bytes) -> int | str:
    for line in raw.decode("utf-8", "replace").splitlines()[1:]:
        stripped = line.lstrip(" \t")
        if stripped and len(stripped) < len(line):
            lead = line[: len(line) - len(stripped)]
            return "\t" if lead.startswith("\t") else len(lead)
    return 2


def write_atomically(path: Path, data: bytes, mode: int | None = None) -> None:
    """Replace `path` with `data` in one rename, with `mode`, else the mode `path` has, else
    the umask's default. The temporary file is created private (mkstemp: 0600) and given its
    mode before it takes the name, so the file never appears more readable than that."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_config() -> None:
    """Refuse, before anything is written, a configuration file the daemon would not start
    with: otherwise the hooks would be registered for a daemon that cannot run. (Not the
    sinks' keys from the environment: a daemon the hook starts has Claude Code's.)"""
    from skilltrack import config, paths

    try:
        config.load(paths.resolve().config)
    except ConfigError as exc:
        raise InstallError(
            f"{exc}; the daemon cannot start with it (check with: skilltrack config), "
            "nothing was changed"
        ) from None


def _every_scope(home: Path, cwd: Path) -> Iterator[tuple[str, Path, Any]]:
    """Each scope, its settings file and what it holds, for the files that read as JSON:
    Claude Code runs the hooks and plugins of all of them."""
    for scope in ("user", "project", "local"):
        path = settings_path(scope, cwd, home)
        try:
            settings = json.loads(path.read_bytes())
        except (OSError, ValueError):
            continue
        yield scope, path, settings


def scope_settings(home: Path, cwd: Path) -> Iterator[tuple[Path, Any]]:
    """Each settings file Claude Code reads (once: from the home folder, the project's are
    the user's) with what it holds, for those that read as JSON."""
    seen: list[Path] = []
    for _, path, settings in _every_scope(home, cwd):
        if path not in seen:
            seen.append(path)
            yield path, settings


def plugin_enabled(home: Path, cwd: Path) -> Path | None:
    """The settings file that enables the skilltrack plugin, if any does."""
    for _, path, settings in _every_scope(home, cwd):
        enabled = settings.get("enabledPlugins", {}) if isinstance(settings, dict) else {}
        if isinstance(enabled, dict) and any(
            on and str(name).split("@")[0] == PLUGIN_NAME for name, on in enabled.items()
        ):
            return path
    return None


def registered_elsewhere(scope: str, home: Path, cwd: Path) -> tuple[str, Path] | None:
    """Another scope (and its settings file) that already registers skilltrack's hook, if
    any: each event would be counted twice."""
    here = settings_path(scope, cwd, home).resolve()
    for other, path, settings in _every_scope(home, cwd):
        if path.resolve() == here:  # this scope, or the same file (cwd is home)
            continue
        try:
            check_shape(settings)
        except SettingsShapeError:
            continue  # not ours to judge: its own install would refuse it
        if installed_events(settings):
            return other, path
    return None
