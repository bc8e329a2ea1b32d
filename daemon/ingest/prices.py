"""What a request cost, from its tokens and its model's prices.

The shipped table is Anthropic's public list prices in US dollars per million tokens, as
published on https://docs.claude.com/en/docs/about-claude/pricing (read 2026-12-07):
input, output, cache writes kept 5 minutes (1.25 x input) and 1 hour (2 x input), cache
reads (0.1 x input). Long-context surcharges and batch discounts are not modelled.
`[prices."<model>"]` in config.toml adds models or replaces these (skilltrack.config).

A model matches the longest entry its name starts with (`claude-sonnet-4-5-20250929` →
`claude-sonnet-4-5`); a model with no entry has tokens and no cost (None), never a guess.
"""

from __future__ import annotations

from collections.abc import Mapping

from skilltrack.config import Price
from skilltrack.daemon.ingest.transcripts import Usage

PER_TOKEN = 1e-6  # the table is per million tokens


def _list(input_: float, output: float) -> Price:
    return Price(
        input=input_,
        output=output,
        cache_write_5m=input_ * 1.25,
        cache_write_1h=input_ * 2,
        cache_read=input_ * 0.1,
    )


PRICES: dict[str, Price] = {
    "claude-opus-4-5": _list(5, 25),
    "claude-opus-4-1": _list(15, 75),
    "claude-opus-4": _list(15, 75),
    "claude-sonnet-4-5": _list(3, 15),
    "claude-sonnet-4": _list(3, 15),
    "claude-3-7-sonnet": _list(3, 15),
    "claude-haiku-4-5": _list(1, 5),
    "claude-3-5-haiku": _list(0.8, 4),
    "claude-3-haiku": _list(0.25, 1.25),
}


def price_of(model: str, table: Mapping[str, Price]) -> Price | None:
    best = None
    for name in table:
        if model.startswith(name) and (best is None or len(name) > len(best)):
            best = name
    return None if best is None else table[best]


def cost(usage: Usage, price: Price | None) -> float | None:
    """The request's cost in US dollars, or None for a model with no price."""
    if price is None:
        return None
    return PER_TOKEN * (
        usage.input_tokens * price.input
        + usage.output_tokens * price.output
        + usage.cache_5m_tokens * price.cache_write_5m
        + usage.cache_1h_tokens * price.cache_write_1h
        + usage.cache_read_tokens * price.cache_read
    )


def table(overrides: Mapping[str, Price]) -> dict[str, Price]:
    """The shipped prices with the configuration's in their place."""
    return {**PRICES, **overrides}
