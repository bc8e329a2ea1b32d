"""Secrets and home paths out of everything kept: pure functions over text, no I/O.

The daemon applies `sanitize` to an event's JSON text before it is parsed, so every field
derived from it (the stored payload, cwd, error texts) is already clean. Paths are shortened
first and secrets taken out after, so that whatever shortening leaves is searched too and
sanitizing twice changes nothing. Replacements never contain a quote or a backslash, and no
match starts on the letter of a JSON escape (the `n` of `\\n`) or ends inside one, so JSON
text stays valid JSON.

The rules, and what a secret is replaced by, are in `secret_rules`.

Most events hold no secret, and a dozen regex scans would cost most of the daemon's budget for
one, so every rule names needles (one of them is in each of its matches) and runs only if a
needle is in the text; see `_rules_to_run` for how that is found in a few scans.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable
from typing import Literal, NamedTuple, cast

from skilltrack.daemon.ingest.redact_paths import home_redactor, parent_remover
from skilltrack.daemon.ingest.secret_rules import RULES as _RULES
from skilltrack.daemon.ingest.secret_rules import Rule as _Rule

PathMode = Literal["home", "project"]


class _Needle(NamedTuple):
    text: str
    key: bytes  # `text` encoded, as looked for
    rules: frozenset[int]  # the rules it lets run


class _Gate(NamedTuple):
    """Needles looked for together: all of them contain `anchor`, a character rare in events,
    so one `find` skips the group when it is absent, and one regex, searched only between the
    anchor's first and last occurrence, finds them (on a hit, the group that matched says
    which needle it is)."""

    folded: bool
    anchor: bytes
    finder: re.Pattern[bytes]
    reach: int  # how far a needle goes past its anchor
    needles: tuple[_Needle, ...]


# Rarest first: capitals (`A` before `K`, so that `PRIVATE KEY` and `AKIA` share a gate), then
# the rarest small letters in code, prose and event JSON.
_RARE = "QZJXAKWVYGBCDEFHILMNOPRSTUqzjxkwvyg"


def _gates(rules: Iterable[_Rule]) -> tuple[tuple[_Gate, ...], tuple[tuple[bool, _Needle], ...]]:
    """The gates, and the needles with no rare character, looked for one by one. A needle
    without capitals is looked for in the lowercased text: the same answer for a folded rule,
    a few more false alarms for the others (`SK-`), and fewer gates."""
    runs: dict[tuple[bool, str], set[int]] = {}
    for i, rule in enumerate(rules):
        for needle in rule.needles:
            runs.setdefault((needle == needle.lower(), needle), set()).add(i)
    groups: dict[tuple[bool, str], list[str]] = {}
    alone = []
    for folded, text in runs:
        anchor = next((c for c in _RARE if c in text), None)
        if anchor is None:
            alone.append((folded, _Needle(text, text.encode(), frozenset(runs[folded, text]))))
        else:
            groups.setdefault((folded, anchor), []).append(text)
    gates = []
    for (folded, anchor), texts in groups.items():
        ats = [t.index(anchor) for t in texts]
        for i, j in itertools.combinations(range(len(texts)), 2):
            # The finder names one needle per anchor; make the shorter one the rules' needle.
            if _overlap(texts[i], ats[i], texts[j], ats[j]):
                raise ValueError(f"needles {texts[i]!r} and {texts[j]!r} share their anchor")
        # After the anchor (all that a match takes, so that every anchor is tried): the needle
        # up to it behind, the rest of it ahead, and an empty group that names the needle.
        tests = (
            (f"(?={re.escape(t[at + 1 :])})" if t[at + 1 :] else "")
            + f"(?<={re.escape(t[: at + 1])})()"
            for t, at in zip(texts, ats, strict=True)
        )
        finder = re.compile(f"{re.escape(anchor)}(?:{'|'.join(tests)})".encode())
        reach = max(len(t) - at for t, at in zip(texts, ats, strict=True))
        needles = tuple(_Needle(t, t.encode(), frozenset(runs[folded, t])) for t in texts)
        gates.append(_Gate(folded, anchor.encode(), finder, reach, needles))
    return tuple(gates), tuple(alone)


def _overlap(a: str, i: int, b: str, j: int) -> bool:
    """Whether a text can hold needles `a` and `b` with `a[i]` and `b[j]` one character."""
    return all(a[k] == b[k + j - i] for k in range(len(a)) if 0 <= k + j - i < len(b))


_GATES, _ALONE = _gates(_RULES)


def _rules_to_run(text: str) -> dict[int, set[str]]:
    """The rules with a needle in `text`, and those needles: 9 µs for an event of 1.75 KB,
    where `needle in text.lower()` for each of the 30 needles took 40."""
    exact = text.encode("utf-8", "surrogatepass")
    if text.isascii() or ("\u0130" not in text and "\u212a" not in text):
        folded = exact.lower()
    else:
        # İ and the Kelvin sign are the only non-ASCII characters that str.lower() makes ASCII.
        folded = text.lower().encode("utf-8", "surrogatepass")
    found: list[_Needle] = []
    for lowered, anchor, finder, reach, needles in _GATES:
        hay = folded if lowered else exact
        first = hay.find(anchor)  # memchr: 50 times faster than looking for a longer needle
        if first < 0:
            continue
        end = hay.rfind(anchor) + reach
        # search, then finditer from the first hit: an iterator costs 0.5 µs to make, a
        # search per hit 0.3 µs more than a step of one (a 20 KB file of `token`s has 150).
        match = finder.search(hay, first, end)
        if match is not None:
            hits = {match.lastindex} | {m.lastindex for m in finder.finditer(hay, match.end(), end)}
            found += (needles[cast(int, i) - 1] for i in hits)
    found += (n for lowered, n in _ALONE if n.key in (folded if lowered else exact))
    run: dict[int, set[str]] = {}
    for needle in found:
        for rule in needle.rules:
            run.setdefault(rule, set()).add(needle.text)
    return run


def redact_secrets(text: str) -> str:
    """`text` with every secret the rules know replaced by a marker naming its kind."""
    lowered_from: str | None = None  # the text that `lowered` is of
    lowered: str | None = None
    for i, needles in sorted(_rules_to_run(text).items()):
        rule = _RULES[i]
        if not rule.folded:
            text = rule.pattern.sub(rule.replace, text)
            continue
        if lowered_from is not text:  # lowered once, unless an earlier rule changed the text
            lowered_from, lowered = text, _lowered_in_place(text)
        if lowered is None:
            text = rule.pattern.sub(rule.replace, text)
        else:
            # The replacements of earlier rules make no needle (they are bracketed), but `re`
            # finds some the gate cannot see: `password` with a long s.
            look_for = needles if text.isascii() else rule.needles
            text = _sub_at(rule, text, _starts(lowered, look_for))
    return text


def _sub_at(rule: _Rule, text: str, starts: Iterable[int]) -> str:
    """What `rule.pattern.sub` makes of `text` when every match begins at one of `starts`
    (ascending). A case-insensitive regex cannot skip ahead to its first character: tried only
    where a needle starts, it takes 1 µs where a scan of 2 KB takes 140."""
    parts: list[str] = []
    done = 0
    for start in starts:
        if start < done:
            continue
        match = rule.pattern.match(text, start)
        if match is not None:
            parts += (text[done:start], rule.replace(match))
            done = match.end()
    if not parts:
        return text
    parts.append(text[done:])
    return "".join(parts)


def _lowered_in_place(text: str) -> str | None:
    """`text` lowercased, each character where it was, with what `re`'s case-insensitive
    matching takes for an ASCII letter made that letter; None if lowering moves characters."""
    if text.isascii():
        return text.lower()
    lowered = text.lower()
    if len(lowered) != len(text):  # İ lowers to two characters
        return None
    return lowered.replace("\u017f", "s").replace("\u0131", "i")  # long s, dotless i


def _starts(text: str, needles: Iterable[str]) -> list[int]:
    found: set[int] = set()
    for needle in needles:
        i = text.find(needle)
        while i >= 0:
            found.add(i)
            i = text.find(needle, i + 1)
    return sorted(found)


def sanitizer(home: str, paths: PathMode = "home") -> Callable[[str, str | None], str]:
    """sanitize(text, cwd): paths shortened, then secrets out. `cwd` is the event's working
    directory as Claude Code sent it (unsanitized), or None.

    With `paths="home"`, `home` and paths under it become `~` and `cwd` is not used. With
    `paths="project"`, only the project folder's name is kept: `<parent of cwd>/` goes
    everywhere (`/home/ann/work/proj/src/a.py` becomes `proj/src/a.py`), then the home rule
    applies to what is left. An event whose cwd is missing, `/` or a folder of `/`, holds a
    character JSON escapes, or is a folder of home's parent is shortened as with "home".
    """
    if paths not in ("home", "project"):
        raise ValueError(f"paths must be 'home' or 'project', not {paths!r}")
    redact_home = home_redactor(home)
    home = home.rstrip("/")

    def sanitize(text: str, cwd: str | None) -> str:
        if paths == "project" and cwd:
            remove = parent_remover(cwd, home)
            if remove is not None:
                text = remove(text)
        return redact_secrets(redact_home(text))

    return sanitize
