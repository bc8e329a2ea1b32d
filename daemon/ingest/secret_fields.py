"""Secrets known by where they stand, not by their shape: the value of a key whose name says it is
secret (`password=`, `"clientSecret": "…"`, `PGPASSWORD=`, YAML `password: …`), a command's
password option (`curl -u user:pw`, `mysql -pX`, `--password X`), a URL's userinfo, Basic
credentials, and the lines of `.netrc` and `.pgpass`.

These run after the rules of `secret_rules.FORMATS`: a value already replaced there is not
replaced again. What they keep is as important as what they take: a type hint
(`password: str`), a variable (`password: ${DB_PASSWORD}`, `-u "$USER:$PASS"`), a call
(`password = get_password()`), a count (`"max_tokens": 4096`), prose ("enter your password:").

JSON text holds JSON in its strings (AWS Secrets Manager's `SecretString`), so a quote here may
come escaped at any depth (`"`, `\\"`, `\\\\\\"`); a quoted value ends at a quote escaped as its
opening one was, and holds no backslash but an escaped backslash, so that a replacement never
cuts an escape in two.
"""

from __future__ import annotations

import base64
import binascii
import re

from skilltrack.daemon.ingest.secret_rules import (
    LINE_END,
    Rule,
    after_escape,
    escaped,
    rule,
    value_group,
    word,
)

# Names that hold a secret, ending a key (the key may start with anything: `PGPASSWORD`,
# `clientSecret`, `_authToken`, `AWS_SECRET_ACCESS_KEY`): `tokens`, `password_file` and
# `SecretId` do not end with one.
_SECRET_NAME = (
    r"(?:passw(?:or)?d|passphrase|pwd|token"
    r"|secret(?:[_-]?(?:access[_-]?)?key|[_-]?string)?"
    r"|(?:api|access|account|private)[_-]?key)"
)
_NAME_NEEDLES = (
    "passw", "passphrase", "pwd", "token", "secret", "api_key", "apikey", "api-key",
    "access_key", "accesskey", "access-key", "accountkey", "account_key", "private_key",
    "privatekey", "private-key",
)  # fmt: skip


def _quoted(n: str = "") -> str:
    """A quoted value, in group `v{n}`: opened by a quote (escaped or not), closed by the same
    quote escaped the same way, spaces allowed, no line break, no unescaped `"` (in JSON text,
    that ends the string), no backslash but an escaped one that no quote follows."""
    return (
        rf"(?P<e{n}>\\*)(?P<q{n}>[\"'])"
        rf"(?P<v{n}>(?:(?!(?P=q{n}))[^\\\r\n\"]|\\\\(?![\\\"'])){{3,}}+)"
        rf"(?=(?P=e{n})(?P=q{n}))"
    )


# An unquoted value: up to what ends a shell word, a URL parameter or a connection string's
# field (`AccountKey=…;EndpointSuffix=…`).
_BARE = r"[^\s\"'\\&;,()<>{}\[\]]{3,}+"

# Not secrets, though they stand where one would: types, literals, placeholders, references to
# a variable or a template.
_NOT_A_VALUE = re.compile(
    r"(?i:none|null|nil|true|false|undefined|str|string|bytes|int|integer|float|number|bool"
    r"|boolean|any|object|secret(?:str|bytes)|(?:optional|list|dict)\[.*|\*+|x{3,}|<[^>]*>"
    r"|\$\{.*|\$\(.*|\$[A-Za-z_]\w*|\{\{.*|%\(\w+\)s)\Z",
    re.DOTALL,
)
_IDENTIFIERS = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+\Z")  # `args.password`, `self.x`
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def _key_start(text: str, i: int) -> int:
    """Where the key whose secret name starts at `i` starts (`db.password`, `X-Api-Key`)."""
    while i and text[i - 1] in _KEY_CHARS:
        i -= 1
    return i


def _starts_line(text: str, i: int) -> bool:
    """Whether only indentation or a list's `- ` stands before `i` on its line: a line of a
    file, or of a JSON string (after `\\n`), or a string's first (after a quote: `-H 'X-Key:
    …'`)."""
    i = _key_start(text, i)
    while i and text[i - 1] in " \t":
        i -= 1
    if i >= 2 and text[i - 2 : i] == "- ":
        i -= 2
        while i and text[i - 1] in " \t":
            i -= 1
    return not i or text[i - 1] in "\r\n\"'" or (text[i - 1] in "nr" and escaped(text, i - 1))


def _plausible(match: re.Match[str]) -> bool:
    """Whether a key's value is a value, not a type, a variable, a call or a count."""
    group = value_group(match)
    if group is None:
        return False
    value = match.group(group)
    name = match.group("name").lower()
    if _NOT_A_VALUE.match(value):
        return False
    if value.isdigit() and len(value) < 6 and "pass" not in name and name != "pwd":
        return False  # `max_token=4096`
    if group == "v4":  # YAML: `password: x` on its own line, not `def f(password: str)`
        return _starts_line(match.string, match.start())
    if group == "v3":  # `password = x` alone on its line: an ini file, not Python
        return not _IDENTIFIERS.match(value) and name not in value.lower()
    # The shell's working directories are no secret.
    start = match.start()
    prefix = match.string[_key_start(match.string, start) : start]
    return not (match.group("name") == "PWD" and prefix in ("", "OLD"))


def _basic_credentials(match: re.Match[str]) -> bool:
    """Whether the value is `user:password` in base64, as Basic authentication sends it."""
    value = match.group("v")
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    _user, colon, password = raw.partition(b":")
    return bool(colon and password) and all(32 <= c < 127 for c in raw)


def _flag(match: re.Match[str]) -> bool:
    """Whether the secret name ends a long option (`--password`, `--api-key`)."""
    start = _key_start(match.string, match.start())
    return match.string.startswith("--", start) and _plausible(match)


_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
_SCHEME_START = re.compile(rf"(?:\b|{after_escape()})[a-zA-Z]")


def _after_scheme(match: re.Match[str]) -> bool:
    """Whether the `://` that `match` starts with follows a URL scheme (`postgres`, `git+ssh`).
    Checked here, walking back over the scheme, because a regex starting at the scheme cannot
    skip ahead to `://` and costs 50 µs per event with a URL."""
    text, end = match.string, match.start()
    start = end
    while start and text[start - 1] in _SCHEME_CHARS:
        start -= 1
    return any(_SCHEME_START.match(text, p) for p in range(start, end))


# The rest of a command line, in text or JSON text (where a line break is `\\n`), bounded so
# that a megabyte of `curl curl curl` is not scanned once per `curl`, and not past a value
# already replaced: the next option would be found only on a second pass.
_SAME_LINE = r"(?:(?!\\[nr]|\[REDACTED:)[^\r\n|;&]){0,300}?[ \t]"


def _words(*names: str) -> str:
    return "(?:" + "|".join(word(name) for name in names) + ")"


def _option(kind: str, command: str, option: str, needles: tuple[str, ...]) -> Rule:
    """A password given to `command` by `option`, quoted or not."""
    return rule(
        kind,
        rf"{command}{_SAME_LINE}{option}(?:{_quoted()}|(?P<v2>[^\s\"'\\]+))",
        needles,
        accept=lambda match: not _NOT_A_VALUE.match(match.group(value_group(match) or 0)),
    )


_SEP = r"(?:[ \t\r\n]|\\[nrt])+"  # between the words of a .netrc, in text or JSON text
_WORD = r"[^\s\"'\\]+"

FIELDS: tuple[Rule, ...] = (
    # scheme://user:password@host: passwords in URLs and connection strings, the user may be
    # empty (`redis://:pw@host`) and the password hold an `@`: up to the last before the host.
    rule(
        "url_password",
        r"://[^\s:/@\"'\\\[]*:(?P<v>[^\s/\"'\\]+)@",
        ("://",),
        accept=_after_scheme,
    ),
    # Basic authentication: `Authorization: Basic <base64 of user:password>`, and the `auth`
    # of Docker's config.json and npm's `_auth=`, when the value decodes to user:password.
    rule(
        "basic_auth",
        rf"{word('(?i:basic)')}[ \t]+(?P<v>[A-Za-z0-9+/]{{8,}}={{0,2}})(?![A-Za-z0-9+/=])",
        ("basic",),
        folded=True,
        accept=_basic_credentials,
    ),
    rule(
        "basic_auth",
        r"(?<![A-Za-z0-9])(?i:auth)(?:\\*[\"'])?[ \t]*[:=][ \t]*(?:\\*[\"'])?"
        r"(?P<v>[A-Za-z0-9+/]{8,}={0,2})(?![A-Za-z0-9+/=])",
        ("auth",),
        folded=True,
        accept=_basic_credentials,
    ),
    # Commands that take a password on their command line.
    rule(
        "cli_password",
        rf"{word('curl')}{_SAME_LINE}(?:-u|--user)(?:[ \t]+|=)"
        rf"(?:(?P<e>\\*)(?P<q>[\"'])[^:\"'\\\r\n]*:"
        rf"(?P<v>(?:(?!(?P=q))[^\\\r\n\"])+)(?=(?P=e)(?P=q))"
        r"|[^\s:\"'\\]*:(?P<v2>[^\s\"'\\]+))",
        ("curl",),
        accept=lambda match: not _NOT_A_VALUE.match(match.group(value_group(match) or 0)),
    ),
    _option(
        "cli_password",
        _words("mysql", "mariadb") + r"[\w-]*",
        r"-p(?=[^\s])",
        ("mysql", "mariadb"),
    ),
    _option("cli_password", rf"{word('redis-cli')}", r"(?:-a|--pass)[ \t]+", ("redis-cli",)),
    _option("cli_password", rf"{word('sshpass')}", r"-p[ \t]*", ("sshpass",)),
    _option(
        "cli_password",
        _words("docker", "podman", "nerdctl", "buildah", "skopeo", "oras") + r"[ \t]+login",
        r"-p[ \t]+",
        ("login",),
    ),
    # --password X, --api-key X: a long option whose name ends in a secret's.
    rule(
        "cli_password",
        rf"(?P<name>(?i:{_SECRET_NAME}))[ \t]+(?:{_quoted()}|(?P<v2>[^\s\"'\\\-][^\s\"'\\]*))",
        _NAME_NEEDLES,
        folded=True,
        accept=_flag,
    ),
    # ~/.netrc: `machine HOST login USER password PASSWORD`, on one line or several. (Not its
    # `default` entry: `"permission_mode": "default"` is in every event.)
    rule(
        "netrc",
        rf"{word('machine')}{_SEP}{_WORD}"
        rf"(?:{_SEP}(?:login|account){_SEP}{_WORD}){{0,2}}{_SEP}password{_SEP}(?P<v>{_WORD})",
        ("machine",),
    ),
    # ~/.pgpass lines, `host:port:database:user:password`, where the event names the file.
    rule(
        "pgpass",
        r"(?:(?m:^)|(?<=[\r\n\"'])|(?<=\\n))[A-Za-z0-9_.\-*]+:(?:\d{1,5}|\*)"
        r":[^\s:\"'\\]+:[^\s:\"'\\]+:(?P<v>[^\s\"'\\]+)",
        ("pgpass",),
    ),
    # Presigned URLs: Azure's SAS signature, AWS's.
    rule(
        "assignment",
        r"(?i:(?<=[?&;])sig|(?<=[?&]x-amz-)signature)=(?P<v>[^\s\"'\\&;#]{8,})",
        ("sig=", "signature="),
        folded=True,
    ),
    # A key that names a secret, then its value: quoted (`"clientSecret": "…"`, `password =
    # 'two words'`, `\"password\":\"…\"` in JSON in JSON), bare after `=` (`PGPASSWORD=…`,
    # `AccountKey=…;`), alone on its line after ` = ` (ini) or after `: ` (YAML).
    rule(
        "assignment",
        rf"(?P<name>(?i:{_SECRET_NAME}))"
        rf"(?:(?:\\*[\"'])?[ \t]*(?::=|=>|[=:])[ \t]*{_quoted()}"
        rf"|=(?P<v2>{_BARE})"
        rf"|[ \t]+=[ \t]+(?P<v3>{_BARE}){LINE_END}"
        rf"|:[ \t]+(?P<v4>[^\s\"'\\#]{{3,}}+){LINE_END})",
        _NAME_NEEDLES,
        folded=True,
        accept=_plausible,
    ),
)
