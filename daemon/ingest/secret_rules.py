"""The secrets `sanitize` takes out, as rules: a regex, the kind its marker names, and needles.

Each secret becomes `[REDACTED:<kind>]`; for a `key=value` or `user:password@` form only the
value is replaced, so what is left still says what was there. Replacements never contain a
quote or a backslash, and no match starts on the letter of a JSON escape (the `n` of `\\n`) or
ends inside one, so JSON text stays valid JSON. A secret right after a JSON escape such as
`\\n` starts a word, as it does in the decoded text: in JSON text, a line's first word follows
the letter `n`.

Every rule names needles, one of which is in each of its matches: `sanitize` runs a rule only
if one of its needles is in the text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_KEY = r"[A-Za-z0-9_\-]"
# A value already replaced by an earlier, more specific rule is not replaced again.
_NOT_DONE = r"(?!\[REDACTED:)"
# Where a line ends, in text or in JSON text (`\\n`, or the string's closing quote).
_LINE_END = r"(?=[ \t]*(?:[\r\n\"]|\\[nr\"]|$))"
# A private key's line: 16 characters of base64 are not prose, fewer must end the line. Not a
# JWT's header (`eyJ….eyJ…`), which the JWT rule would not find again.
_BASE64_RUN = rf"(?:[A-Za-z0-9+/=]{{16,}}+(?!\.eyJ)|[A-Za-z0-9+/=]+{_LINE_END})"
_PYPI = "pypi-AgEIcHlwaS5vcmc"  # `pypi-`, then a macaroon naming pypi.org, in base64


def _after_escape(head: str = "") -> str:
    """Lookbehinds for `head` right after a JSON escape whose letter the decoded text does not
    have (`\\n`, `\\t`…): what follows it starts a word, as after a line break. The escape's
    backslash ends an odd run; runs of up to 9 are told from escaped backslashes (`\\\\n` is a
    backslash and the letter n), which is as far as fixed-width lookbehinds go."""
    return "|".join(rf"(?<=(?<!\\)(?:\\\\){{{k}}}\\[nrtbf]{head})" for k in range(5))


def _word(head: str) -> str:
    """`head` (a fixed-width regex) at the start of a word: after anything but an ASCII letter,
    digit or `_` (`é` too; after `_` is the middle of a name: `test_pk_test_…`, `use_bearer`),
    after a JSON escape, or after what ends in a letter or digit but is no part of a word: a
    terminal's colour code (`\\x1b[32m`, in JSON text `\\u001b[32m`: coloured output of `gh`,
    `aws`, CI logs), a URL's percent-escape (`%3D`) and a JSON `\\uXXXX` escape. The check
    comes after `head`, so that the regex starts with a literal and `re` can skip ahead to
    it: 1 µs, not 45, for an event of 1.75 KB."""
    starts = [
        rf"(?<![A-Za-z0-9_]{head})",
        _after_escape(head),
        *(rf"(?<=\[[0-9;]{{{k}}}m{head})" for k in range(20)),  # up to `38;2;255;255;255`
        rf"(?<=%[0-9A-Fa-f]{{2}}{head})",
        rf"(?<=\\u[0-9A-Fa-f]{{4}}{head})",
    ]
    return rf"{head}(?:{'|'.join(starts)})"


# After a token's characters: not one more of them, though `_` and what is not ASCII may
# follow (`ghp_…_old`), where `\b` would give the whole token up. Nor a marker: a token
# glued to one that a later rule replaced would be found on a second pass, not the first
# (and a fixed-length token glued to more of its characters is not taken apart: what was
# left of it would start a token on the second pass).
_NO_MORE_ALNUM = r"(?![A-Za-z0-9]|\[REDACTED:)"


@dataclass(frozen=True)
class Rule:
    kind: str
    pattern: re.Pattern[str]
    # One of these is in every match, in the text as it is or, if `folded`, lowercased (the
    # rule is case-insensitive, and every match starts at a needle).
    needles: tuple[str, ...]
    folded: bool
    replace: Callable[[re.Match[str]], str]


def rule(
    kind: str,
    pattern: str,
    needles: tuple[str, ...],
    *,
    folded: bool = False,
    accept: Callable[[re.Match[str]], bool] | None = None,
) -> Rule:
    """A rule; a group named `v` (or `u`) marks the part to replace, else the whole match.
    `accept` vetoes a match, for checks that would make the regex slow."""
    for group in ("(?P<v>", "(?P<u>"):
        pattern = pattern.replace(group, group + _NOT_DONE)
    return Rule(kind, re.compile(pattern, re.DOTALL), needles, folded, _replacer(kind, accept))


def _replacer(
    kind: str, accept: Callable[[re.Match[str]], bool] | None
) -> Callable[[re.Match[str]], str]:
    marker = f"[REDACTED:{kind}]"

    def replace(match: re.Match[str]) -> str:
        if accept is not None and not accept(match):
            return match.group(0)
        start, end = match.span()
        for group in ("v", "u"):
            if group in match.re.groupindex and match.start(group) >= 0:
                start, end = match.span(group)
                break
        if _escaped(match.string, start):
            # `\npm_…` is a newline and `pm_…` in JSON, and `npm_…` after a backslash in other
            # text: the escape's letter stays (a backslash before `[` is not JSON), the rest goes.
            if match.string[start] == "u":  # `\u` needs its four hex digits
                return match.group(0)
            start += 1
        offset = match.start()
        whole = match.group(0)
        return whole[: start - offset] + marker + whole[end - offset :]

    return replace


def _escaped(text: str, i: int) -> bool:
    """Whether `text[i]` is the letter of a JSON escape (after an odd run of backslashes)."""
    if not i or text[i - 1] != "\\" or text[i] not in 'bfnrtu"\\/':
        return False
    j = i - 1
    while j and text[j - 1] == "\\":
        j -= 1
    return (i - j) % 2 == 1


_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
_SCHEME_START = re.compile(rf"(?:\b|{_after_escape()})[a-zA-Z]")


def _after_scheme(match: re.Match[str]) -> bool:
    """Whether the `://` that `match` starts with follows a URL scheme (`postgres`, `git+ssh`).
    Checked here, walking back over the scheme, because a regex starting at the scheme cannot
    skip ahead to `://` and costs 50 µs per event with a URL."""
    text, end = match.string, match.start()
    start = end
    while start and text[start - 1] in _SCHEME_CHARS:
        start -= 1
    return any(_SCHEME_START.match(text, p) for p in range(start, end))


_DIGIT_AND_UPPER = re.compile(r"(?=.*\d)(?=.*[A-Z])", re.DOTALL)


# Applied in this order: specific kinds first, so that `api_key="sk-…"` is named an OpenAI
# key, not an assignment.
RULES: tuple[Rule, ...] = (
    rule(
        "private_key",
        # Within one JSON string (no unescaped quote), and not over another BEGIN: a lazy `.*`
        # from each of a megabyte of BEGINs with no END would take minutes.
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----(?:(?!-----BEGIN )[^\"\\]|\\.)*?"
        r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----",
        ("PRIVATE KEY-----",),
    ),
    # A private key cut short (a capped payload) still goes, to the end of its body: lines of
    # base64 and its `Proc-Type:` and `DEK-Info:` headers. A short run must end its line: the
    # next line's `psql postgres://u:p@…` or `password: …` would keep its secret once its
    # scheme or keyword was gone.
    rule(
        "private_key",
        rf"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----(?:{_BASE64_RUN})?"
        r"(?:(?:\r?\n|\\[nr])[ \t]*"
        rf"(?:{_BASE64_RUN}|(?:(?:Proc-Type|DEK-Info): [^\r\n\"\\]*)?{_LINE_END}))*",
        ("PRIVATE KEY-----",),
    ),
    rule("anthropic_key", rf"{_word('sk-ant-')}{_KEY}{{20,}}", ("sk-",)),
    # Mixed case and a digit: `sk-learn-style-package-names` are not keys. Checked on the match:
    # as lookaheads, the check ran once per `sk-` of a long `sk-sk-sk-…` run.
    rule(
        "openai_key",
        rf"{_word('sk-')}{_KEY}{{20,}}",
        ("sk-",),
        accept=lambda match: _DIGIT_AND_UPPER.match(match.group(0)) is not None,
    ),
    rule(
        "aws_access_key",
        rf"{_word('(?:AKIA|ASIA|ABIA|ACCA)')}[A-Z0-9]{{16}}{_NO_MORE_ALNUM}",
        ("AKIA", "ASIA", "ABIA", "ACCA"),
    ),
    rule(
        "aws_secret_key",
        r"(?i:(?:(?<=aws)|(?<=aws_))secret_?(?:access_?)?key)(?:\\?[\"'])?\s*[=:]\s*(?:\\?[\"'])?"
        r"(?P<v>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=]|\[REDACTED:)",
        ("secret",),
        folded=True,
    ),
    rule(
        "github_token",
        rf"{_word('gh[pousr]_')}[A-Za-z0-9]{{36,}}{_NO_MORE_ALNUM}",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    ),
    # Prefixes that end no word (`laughs_…` does end in `ghs_`): found wherever they are.
    rule("github_token", r"github_pat_[A-Za-z0-9_]{50,}", ("github_pat_",)),
    rule("gitlab_token", rf"glpat-{_KEY}{{20,}}", ("glpat-",)),
    rule("slack_token", rf"{_word('xox[abposr]-')}[A-Za-z0-9\-]{{10,}}", ("xox",)),
    rule(
        "slack_webhook",
        r"https://hooks\.slack\.com/services/[A-Za-z0-9/]+",
        ("hooks.slack.com/services/",),
    ),
    rule(
        "stripe_key",
        rf"{_word('(?:sk|rk|pk)_(?:live|test)_')}[A-Za-z0-9]{{16,}}{_NO_MORE_ALNUM}",
        ("k_live_", "k_test_"),
    ),
    rule(
        "google_api_key",
        rf"{_word('AIza')}[0-9A-Za-z_\-]{{35}}(?![0-9A-Za-z\-]|\[REDACTED:)",
        ("AIza",),
    ),
    rule("npm_token", rf"{_word('npm_')}[A-Za-z0-9]{{36}}{_NO_MORE_ALNUM}", ("npm_",)),
    rule("pypi_token", rf"{_PYPI}{_KEY}{{40,}}", (_PYPI,)),
    # header.payload.signature. The header's characters are taken at once and for good, and a
    # match without the rest (`accept`) skips them: as `eyJ[…]{8,}\.eyJ…`, each `eyJ` of an
    # `eyJ-eyJ-eyJ-…` run scanned the rest of the run.
    rule(
        "jwt",
        rf"{_word('eyJ')}(?=[A-Za-z0-9_\-]{{8}})[A-Za-z0-9_\-]*+"
        r"(?P<rest>\.eyJ[A-Za-z0-9_\-]{8,}+\.[A-Za-z0-9_\-]{8,})?",
        ("eyJ",),
        accept=lambda match: match.group("rest") is not None,
    ),
    rule(
        "bearer_token",
        rf"{_word('(?i:bearer)')}\s+(?P<v>[A-Za-z0-9._~+/\-]{{16,}}=*)",
        ("bearer",),
        folded=True,
    ),
    # scheme://user:password@host: passwords in URLs and connection strings.
    rule(
        "url_password",
        r"://[^\s:/@\"'\\\[]+:(?P<v>[^\s@/\"'\\]+)@",
        ("://",),
        accept=_after_scheme,
    ),
    # password="…" / token: '…' (quoted, = or :), password=… (unquoted, = only: `token: str`
    # is a type hint, `password = get_password()` a call). `_` before a keyword is a word
    # start, so `client_secret` and `access_token` are found by their last word.
    rule(
        "assignment",
        rf"(?:(?i:(?<![A-Za-z0-9]))|{_after_escape()})"
        r"(?i:password|passwd|pwd|secret|token|api_?key|private_key)"
        r"(?:(?:\\?[\"'])?\s*[=:]\s*\\?[\"'](?P<v>[^\"'\\\s]{3,})(?=\\?[\"'])"
        r"|=(?P<u>[^\s\"'\\&;,()<>{}\[\]]{3,}))",
        ("passw", "pwd", "secret", "token", "api_key", "apikey", "private_key"),
        folded=True,
    ),
)
