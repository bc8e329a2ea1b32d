"""Secrets and home paths out of everything kept: pure functions over text, no I/O.

The daemon applies `sanitize` to an event's JSON text before it is parsed, so every field
derived from it (the stored payload, cwd, error texts) is already clean. Replacements never
contain a quote or a backslash and matches never end inside a JSON escape, so JSON text stays
valid JSON.

Each secret becomes `[REDACTED:<kind>]`; for a `key=value` or `user:password@` form only the
value is replaced, so what is left still says what was there.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# (kind, pattern), applied in this order: specific kinds first, so that `api_key="sk-…"` is
# named an OpenAI key, not an assignment. A group named `v` (or `u`) marks the part to
# replace; without one, the whole match.
_KEY = r"[A-Za-z0-9_\-]"
_PATTERNS: tuple[tuple[str, str], ...] = (
    (
        "private_key",
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----",
    ),
    # A private key cut short (a capped payload) still goes, to the end of its body.
    ("private_key", r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----(?:[A-Za-z0-9+/=\s]|\\[nr])*"),
    ("anthropic_key", rf"\bsk-ant-{_KEY}{{20,}}"),
    # Mixed case and a digit: `sk-learn-style-package-names` are not keys.
    ("openai_key", rf"\bsk-(?=[A-Za-z0-9_\-]*\d)(?=[A-Za-z0-9_\-]*[A-Z]){_KEY}{{20,}}"),
    ("aws_access_key", r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"),
    (
        "aws_secret_key",
        r"(?i:aws_?secret_?(?:access_?)?key)(?:\\?[\"'])?\s*[=:]\s*(?:\\?[\"'])?"
        r"(?P<v>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])",
    ),
    ("github_token", r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,}\b"),
    ("github_token", r"\bgithub_pat_[A-Za-z0-9_]{50,}\b"),
    ("gitlab_token", rf"\bglpat-{_KEY}{{20,}}"),
    ("slack_token", r"\bxox[abposr]-[A-Za-z0-9\-]{10,}"),
    ("slack_webhook", r"https://hooks\.slack\.com/services/[A-Za-z0-9/]+"),
    ("stripe_key", r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}\b"),
    ("google_api_key", r"\bAIza[0-9A-Za-z_\-]{35}(?![0-9A-Za-z_\-])"),
    ("npm_token", r"\bnpm_[A-Za-z0-9]{36}\b"),
    ("pypi_token", rf"\bpypi-AgEIcHlwaS5vcmc{_KEY}{{40,}}"),
    ("jwt", r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
    ("bearer_token", r"(?i:\bbearer)\s+(?P<v>[A-Za-z0-9._~+/\-]{16,}=*)"),
    # scheme://user:password@host: passwords in URLs and connection strings.
    ("url_password", r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@\"'\\\[]+:(?P<v>[^\s@/\"'\\]+)@"),
    # password="…" / token: '…' (quoted, = or :), password=… (unquoted, = only: `token: str`
    # is a type hint, `password = get_password()` a call).
    (
        "assignment",
        r"(?i:(?<![A-Za-z0-9])(?:password|passwd|pwd|secret|client_secret|token|access_token|auth_token"
        r"|refresh_token|api_?key|apikey|private_key))"
        r"(?:(?:\\?[\"'])?\s*[=:]\s*\\?[\"'](?P<v>[^\"'\\\s]{3,})(?=\\?[\"'])"
        r"|=(?P<u>[^\s\"'\\&;,()<>{}\[\]]{3,}))",
    ),
)


# Cheap guards: a pattern runs only when one of these (lowercase) strings is in the lowered
# text. Most events hold none of them, and a dozen full regex scans would cost most of the
# daemon's budget for an event.
_TRIGGERS: dict[str, tuple[str, ...]] = {
    "private_key": ("private key",),
    "anthropic_key": ("sk-ant-",),
    "openai_key": ("sk-",),
    "aws_access_key": ("akia", "asia", "abia", "acca"),
    "aws_secret_key": ("secret",),
    "github_token": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    "gitlab_token": ("glpat-",),
    "slack_token": ("xox",),
    "slack_webhook": ("hooks.slack.com",),
    "stripe_key": ("_live_", "_test_"),
    "google_api_key": ("aiza",),
    "npm_token": ("npm_",),
    "pypi_token": ("pypi-",),
    "jwt": ("eyj",),
    "bearer_token": ("bearer",),
    "url_password": ("://",),
    "assignment": (
        "password", "passwd", "pwd", "secret", "token", "api_key", "apikey", "private_key",
    ),
}  # fmt: skip
# A value already replaced by an earlier, more specific pattern is not replaced again.
_NOT_DONE = r"(?!\[REDACTED:)"
_RULES: tuple[tuple[str, tuple[str, ...], re.Pattern[str]], ...] = tuple(
    (
        kind,
        _TRIGGERS[kind],
        re.compile(
            pattern.replace("(?P<v>", f"(?P<v>{_NOT_DONE}").replace("(?P<u>", f"(?P<u>{_NOT_DONE}"),
            re.DOTALL,
        ),
    )
    for kind, pattern in _PATTERNS
)


def redact_secrets(text: str) -> str:
    """`text` with every secret the patterns know replaced by a marker naming its kind."""
    lowered = text.lower()
    for kind, triggers, pattern in _RULES:
        if any(t in lowered for t in triggers):
            text = pattern.sub(_replacer(f"[REDACTED:{kind}]"), text)
    return text


def _replacer(marker: str) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        for group in ("v", "u"):
            if group in match.re.groupindex and match.group(group) is not None:
                start, end = match.span(group)
                offset = match.start()
                whole = match.group(0)
                return whole[: start - offset] + marker + whole[end - offset :]
        return marker

    return replace


def home_redactor(home: str) -> Callable[[str], str]:
    """A function that writes `home` (and paths under it) as `~`."""
    home = home.rstrip("/")
    if not home or home == "/":
        return lambda text: text
    pattern = re.compile(re.escape(home) + r"(?=/|\"|'|\s|$|\\)")
    return lambda text: pattern.sub("~", text)


def sanitizer(home: str) -> Callable[[str], str]:
    """Secrets out, then home paths shortened: what the daemon applies to every event."""
    redact_home = home_redactor(home)

    def sanitize(text: str) -> str:
        return redact_home(redact_secrets(text))

    return sanitize
