"""Tokens and cost as the report gives them. Imports nothing: the empty report uses it."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

TOTAL = ("", "")  # the key of every request once
Sums = list[float]  # requests, input, output, cache creation, cache read, cost, unpriced


def figures(s: Sums | None) -> dict[str, Any]:
    """The report's token fields. The cost is None when a request had no price for its model
    (the sum would understate it): `unpriced_requests` says how many."""
    s = s or [0] * 7
    return {
        "input_tokens": int(s[1]),
        "output_tokens": int(s[2]),
        "cache_creation_input_tokens": int(s[3]),
        "cache_read_input_tokens": int(s[4]),
        "cost_usd": None if s[6] else round(float(s[5]), 6),
        "requests": int(s[0]),
        "unpriced_requests": int(s[6]),
    }
