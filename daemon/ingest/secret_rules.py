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

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass

_KEY = r"[A-Za-z0-9_\-]"
# A value already replaced by an earlier, more specific rule is not replaced again.
_NOT_DONE = r"(?!\[REDACTED:)"
# Where a line ends, in text or in JSON text (`\\n`, or the string's closing quote).
LINE_END = r"(?=[ \t]*(?:[\r\n\"]|\\[nr\"]|$))"
# A private key's line: 16 characters of base64 are not prose, fewer must end the line. Not a
# JWT's header (`eyJ….eyJ…`), which the JWT rule would not find again.
_BASE64_RUN = rf"(?:[A-Za-z0-9+/=]{{16,}}+(?!\.eyJ)|[A-Za-z0-9+/=]+{LINE_END})"
_PYPI = "pypi-AgEIcHlwaS5vcmc"  # `pypi-`, then a macaroon naming pypi.org, in base64


def after_escape(head: str = "") -> str:
    """Lookbehinds for `head` right after a JSON escape whose letter the decoded text does not
    have (`\\n`, `\\t`…): what follows it starts a word, as after a line break. The escape's
    backslash ends an odd run; runs of up to 9 are told from escaped backslashes (`\\\\n` is a
    backslash and the letter n), which is as far as fixed-width lookbehinds go."""
    return "|".join(rf"(?<=(?<!\\)(?:\\\\){{{k}}}\\[nrtbf]{head})" for k in range(5))


def word(head: str) -> str:
    """`head` (a fixed-width regex) at the start of a word: after anything but an ASCII letter,
    digit or `_` (`é` too; after `_` is the middle of a name: `test_pk_test_…`, `use_bearer`),
    after a JSON escape, or after what ends in a letter or digit but is no part of a word: a
    terminal's colour code (`\\x1b[32m`, in JSON text `\\u001b[32m`: coloured output of `gh`,
    `aws`, CI logs), a URL's percent-escape (`%3D`) and a JSON `\\uXXXX` escape. The check
    comes after `head`, so that the regex starts with a literal and `re` can skip ahead to
    it: 1 µs, not 45, for an event of 1.75 KB."""
    starts = [
        rf"(?<![A-Za-z0-9_]{head})",
        after_escape(head),
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
    """A rule; the group whose name starts with `v` that took part in the match (`v`, `v2`…,
    for the alternatives of one regex) marks the part to replace, else the whole match.
    `accept` vetoes a match, for checks that would make the regex slow."""
    pattern = _VALUE_GROUP.sub(lambda m: m.group(0) + _NOT_DONE, pattern)
    return Rule(kind, re.compile(pattern, re.DOTALL), needles, folded, _replacer(kind, accept))


_VALUE_GROUP = re.compile(r"\(\?P<v\w*>")


def _replacer(
    kind: str, accept: Callable[[re.Match[str]], bool] | None
) -> Callable[[re.Match[str]], str]:
    marker = f"[REDACTED:{kind}]"

    def replace(match: re.Match[str]) -> str:
        if (accept is not None and not accept(match)) or _between_strings(match):
            return match.group(0)
        start, end = match.span()
        group = value_group(match)
        if group is not None:
            start, end = match.span(group)
        if escaped(match.string, start):
            # `\npm_…` is a newline and `pm_…` in JSON, and `npm_…` after a backslash in other
            # text: the escape's letter stays (a backslash before `[` is not JSON), the rest goes.
            if match.string[start] == "u":  # `\u` needs its four hex digits
                return match.group(0)
            start += 1
        offset = match.start()
        whole = match.group(0)
        return whole[: start - offset] + marker + whole[end - offset :]

    return replace


_STRUCTURE = re.compile(r"\s*[:,\]}]")


def _between_strings(match: re.Match[str]) -> bool:
    """Whether a value "quoted" by an unescaped `"` lies between two JSON strings. In JSON text
    that quote ends a string (`{"TOKEN=": null, "": 1}`), or starts one: what follows the end
    of a string is `:`, `,`, `]` or `}`, a string's content hardly ever. Replacing the former
    would take JSON's own structure out."""
    for group in match.re.groupindex:
        if group[0] == "q" and match.group(group) == '"' and not match.group("e" + group[1:]):
            return _STRUCTURE.match(match.string, match.end(group)) is not None
    return False


def value_group(match: re.Match[str]) -> str | None:
    """The name of the value group that took part in `match`, if any."""
    return next((g for g in match.re.groupindex if g[0] == "v" and match.start(g) >= 0), None)


def escaped(text: str, i: int) -> bool:
    """Whether `text[i]` is the letter of a JSON escape (after an odd run of backslashes)."""
    if not i or text[i - 1] != "\\" or text[i] not in 'bfnrtu"\\/':
        return False
    j = i - 1
    while j and text[j - 1] == "\\":
        j -= 1
    return (i - j) % 2 == 1


_DIGIT_AND_UPPER = re.compile(r"(?=.*\d)(?=.*[A-Z])", re.DOTALL)


def _mixed(match: re.Match[str]) -> bool:
    return _DIGIT_AND_UPPER.match(match.group(0)) is not None


# GitLab's tokens: personal, runner, deploy, pipeline trigger, OAuth app, service account,
# CI job, incoming mail, agent, feature flag, feed, workspace.
_GITLAB_NEEDLES = ("glpat-", "glrt-", "gldt-", "glptt-", "gloas-", "glsoat-", "glcbt-", "glimt-",
                   "glagent-", "glffct-", "glft-", "glwt-")  # fmt: skip
_GITLAB = "(?:" + "|".join(_GITLAB_NEEDLES) + ")"
_ALNUM = "[A-Za-z0-9]"
_TOKEN = r"[A-Za-z0-9_\-]"
_HEX = "[a-f0-9]"
_Accept = Callable[[re.Match[str]], bool] | None

# Tokens that start with their issuer's prefix: (kind, regex, needles, accept). Each is taken
# whole, and only at the start of a word where its prefix could end one.
_PREFIXED: tuple[tuple[str, str, tuple[str, ...], _Accept], ...] = (
    ("bitbucket_token", rf"{word('ATBB')}[A-Za-z0-9_=.\-]{{28,}}", ("ATBB",), None),
    ("gitlab_token", rf"{word('GR1348941')}{_TOKEN}{{20,}}", ("GR1348941",), None),
    ("google_oauth", rf"{word('GOCSPX-')}{_TOKEN}{{20,}}", ("GOCSPX-",), None),
    ("google_oauth", rf"{word('ya29')}\.{_TOKEN}{{20,}}", ("ya29.",), None),
    ("google_oauth", rf"{word('1//0')}{_TOKEN}{{30,}}", ("1//0",), None),
    ("huggingface_token", rf"{word('hf_')}{_ALNUM}{{30,}}{_NO_MORE_ALNUM}", ("hf_",), None),
    ("digitalocean_token", rf"{word('do[opr]_v1_')}{_HEX}{{64}}{_NO_MORE_ALNUM}", ("_v1_",), None),
    ("docker_token", rf"{word('dckr_(?:pat|oat)_')}{_TOKEN}{{20,}}", ("dckr_",), None),
    ("rubygems_key", rf"{word('rubygems_')}{_HEX}{{48}}{_NO_MORE_ALNUM}", ("rubygems_",), None),
    ("nuget_key", rf"{word('oy2')}[a-z0-9]{{43}}{_NO_MORE_ALNUM}", ("oy2",), None),
    ("crates_token", rf"{word('cio')}{_ALNUM}{{32}}{_NO_MORE_ALNUM}", ("cio",), _mixed),
    ("shopify_token", rf"{word('shp(?:at|ss|ca|pa)_')}[a-fA-F0-9]{{32}}{_NO_MORE_ALNUM}",
     ("shp",), None),
    ("sendgrid_key", rf"{word('SG')}\.{_TOKEN}{{20,}}\.{_TOKEN}{{40,}}", ("SG.",), None),
    ("twilio_key", rf"{word('SK')}{_HEX}{{32}}{_NO_MORE_ALNUM}", ("SK",), None),
    ("stripe_key", rf"{word('whsec_')}{_ALNUM}{{24,}}", ("whsec_",), None),
    ("slack_token", rf"{word('xapp-')}[A-Za-z0-9\-]{{20,}}", ("xapp-",), None),
    ("databricks_token", rf"{word('dapi')}{_HEX}{{32}}(?:-\d)?{_NO_MORE_ALNUM}", ("dapi",), None),
    ("vault_token", rf"{word('hv[sbr]')}\.{_TOKEN}{{24,}}", ("hvs.", "hvb.", "hvr."), None),
    ("terraform_token", rf"{_ALNUM}{{14}}\.atlasv1\.[A-Za-z0-9_=\-]{{60,}}", (".atlasv1.",), None),
    ("pulumi_token", rf"{word('pul-')}{_HEX}{{40}}{_NO_MORE_ALNUM}", ("pul-",), None),
    ("doppler_token", rf"{word('dp')}\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9_.\-]{{30,}}",
     ("dp.pt.", "dp.st.", "dp.sa.", "dp.ct.", "dp.scim.", "dp.audit."), None),
    ("atlassian_token", rf"{word('ATATT3')}[A-Za-z0-9_=\-]{{150,}}", ("ATATT3",), None),
    ("linear_key", rf"{word('lin_api_')}{_ALNUM}{{40}}{_NO_MORE_ALNUM}", ("lin_api_",), None),
    ("notion_token", rf"{word('ntn_')}{_ALNUM}{{40,}}", ("ntn_",), None),
    ("postman_key", rf"{word('PMAK-')}{_HEX}{{24}}-{_HEX}{{34}}{_NO_MORE_ALNUM}", ("PMAK-",), None),
    ("sentry_token", rf"{word('sntry[su]_')}[A-Za-z0-9_+/=]{{40,}}", ("sntry",), None),
    ("grafana_token", rf"{word('glsa_')}[A-Za-z0-9_+/=]{{32,}}", ("glsa_",), None),
    ("grafana_token", rf"{word('glc_')}[A-Za-z0-9_+/=]{{32,}}", ("glc_",), None),
    ("supabase_token", rf"{word('sbp_')}{_HEX}{{40}}{_NO_MORE_ALNUM}", ("sbp_",), None),
    ("supabase_token", rf"{word('sb_secret_')}{_TOKEN}{{20,}}", ("sb_secret_",), None),
    ("groq_key", rf"{word('gsk_')}{_ALNUM}{{48,}}", ("gsk_",), None),
    ("age_secret_key", rf"AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{{58}}{_NO_MORE_ALNUM}",
     ("AGE-SECRET-KEY-1",), None),
    ("discord_webhook", r"discord(?:app)?\.com/api/webhooks/\d+/(?P<v>[A-Za-z0-9_\-]{30,})",
     ("/api/webhooks/",), None),
    ("telegram_token", r"(?<!\d)\d{8,10}:AA[A-Za-z0-9_\-]{32,}", (":AA",), None),
)  # fmt: skip


# Secrets known by their own shape (a prefix, a fixed form), wherever they stand. They run before
# those known by where they stand (`secret_fields`), so that `api_key="sk-…"` is named an OpenAI
# key, not an assignment.
FORMATS: tuple[Rule, ...] = (
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
        rf"(?:{_BASE64_RUN}|(?:(?:Proc-Type|DEK-Info): [^\r\n\"\\]*)?{LINE_END}))*",
        ("PRIVATE KEY-----",),
    ),
    rule("anthropic_key", rf"{word('sk-ant-')}{_KEY}{{20,}}", ("sk-",)),
    # Mixed case and a digit: `sk-learn-style-package-names` are not keys. Checked on the match:
    # as lookaheads, the check ran once per `sk-` of a long `sk-sk-sk-…` run.
    rule(
        "openai_key",
        rf"{word('sk-')}{_KEY}{{20,}}",
        ("sk-",),
        accept=lambda match: _DIGIT_AND_UPPER.match(match.group(0)) is not None,
    ),
    rule(
        "aws_access_key",
        rf"{word('(?:AKIA|ASIA|ABIA|ACCA)')}[A-Z0-9]{{16}}{_NO_MORE_ALNUM}",
        ("AKIA", "ASIA", "ABIA", "ACCA"),
    ),
    rule(
        "aws_secret_key",
        r"(?i:(?:(?<=aws)|(?<=aws_))secret_?(?:access_?)?key|secret_?access_?key)"
        r"(?:\\*[\"'])?\s*[=:]\s*(?:\\*[\"'])?"
        r"(?P<v>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=]|\[REDACTED:)",
        ("secret",),
        folded=True,
    ),
    # AWS session tokens: base64 that starts with the same few bytes.
    rule(
        "aws_session_token",
        r"(?:IQoJb3JpZ2luX2Vj|FwoGZXIvYXdzE)[A-Za-z0-9+/]{40,}+=*",
        ("IQoJb3JpZ2luX2Vj", "FwoGZXIvYXdzE"),
    ),
    rule(
        "github_token",
        rf"{word('gh[pousr]_')}[A-Za-z0-9]{{36,}}{_NO_MORE_ALNUM}",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    ),
    # Prefixes that end no word (`laughs_…` does end in `ghs_`): found wherever they are.
    rule("github_token", r"github_pat_[A-Za-z0-9_]{50,}", ("github_pat_",)),
    rule("gitlab_token", rf"{_GITLAB}{_KEY}{{20,}}", tuple(_GITLAB_NEEDLES)),
    rule("slack_token", rf"{word('xox[abposr]-')}[A-Za-z0-9\-]{{10,}}", ("xox",)),
    rule(
        "slack_webhook",
        r"https://hooks\.slack\.com/services/[A-Za-z0-9/]+",
        ("hooks.slack.com/services/",),
    ),
    rule(
        "stripe_key",
        rf"{word('(?:sk|rk|pk)_(?:live|test)_')}[A-Za-z0-9]{{16,}}{_NO_MORE_ALNUM}",
        ("k_live_", "k_test_"),
    ),
    rule(
        "google_api_key",
        rf"{word('AIza')}[0-9A-Za-z_\-]{{35}}(?![0-9A-Za-z\-]|\[REDACTED:)",
        ("AIza",),
    ),
    rule("npm_token", rf"{word('npm_')}[A-Za-z0-9]{{36}}{_NO_MORE_ALNUM}", ("npm_",)),
    rule("pypi_token", rf"{_PYPI}{_KEY}{{40,}}", (_PYPI,)),
    *(rule(kind, pattern, needles, accept=accept) for kind, pattern, needles, accept in _PREFIXED),
    # Azure AD client secrets: three characters, a digit, `Q~`, then 31 to 34. Not glued to a
    # marker either side: the first pass saw there what the marker replaced.
    rule(
        "azure_secret",
        r"(?<![A-Za-z0-9_~.\-\]])[A-Za-z0-9_~.\-]{3}\dQ~[A-Za-z0-9_~.\-]{31,34}+"
        r"(?![A-Za-z0-9_~.\-]|\[REDACTED:)",
        ("Q~",),
    ),
    # A PEM private key in base64 (Kubernetes secrets: `tls.key: LS0tLS1CRUdJTi…`); a
    # certificate is no secret, so the start is decoded.
    rule(
        "private_key",
        r"LS0tLS1CRUdJTi[A-Za-z0-9+/]{40,}+={0,2}",
        ("LS0tLS1CRUdJTi",),
        accept=lambda match: b"PRIVATE KEY" in base64.b64decode(match.group(0)[:64]),
    ),
    # header.payload.signature. The header's characters are taken at once and for good, and a
    # match without the rest (`accept`) skips them: as `eyJ[…]{8,}\.eyJ…`, each `eyJ` of an
    # `eyJ-eyJ-eyJ-…` run scanned the rest of the run.
    rule(
        "jwt",
        rf"{word('eyJ')}(?=[A-Za-z0-9_\-]{{8}})[A-Za-z0-9_\-]*+"
        r"(?P<rest>\.eyJ[A-Za-z0-9_\-]{8,}+\.[A-Za-z0-9_\-]{8,})?",
        ("eyJ",),
        accept=lambda match: match.group("rest") is not None,
    ),
    rule(
        "bearer_token",
        rf"{word('(?i:bearer)')}\s+(?P<v>[A-Za-z0-9._~+/\-]{{16,}}=*)",
        ("bearer",),
        folded=True,
    ),
)
