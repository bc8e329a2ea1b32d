"""What a request cost, from its tokens and its model's prices.

The shipped table is the price catalog built into Claude Code 2.1.328 (the binary's own
`pricing_tiers` and `models`), in US dollars per million tokens: the prices the client's
`cost-state` is figured with, which are Anthropic's list prices. Anthropic's published table
(docs.claude.com, "Pricing") agrees for every model both list. Claude 3 Haiku, retired from
the catalog, keeps its published prices. `[prices."<model>"]` in config.toml adds models or
replaces these (skilltrack.config).

The cost is figured as the client figures it: cache writes kept an hour at their own price
and the rest at the 5-minute one; a model with a long-prompt tier priced by it when the
request's whole prompt (input, cache reads and writes) is above its threshold; each server
web search at a cent; US-only inference (`usage.inference_geo == "us"`) at 1.1 times the
tokens' price. Fast mode, batch discounts and an organisation's managed prices are not
modelled.

A model is found by its name as the API gives it or as a provider spells it
(`claude-sonnet-4-5-20250929`, `claude-sonnet-4-5@20250929`,
`us.anthropic.claude-sonnet-4-5-20250929-v1:0` are all `claude-sonnet-4-5`); one the table
does not have has tokens and no cost (None), never a guess: a newer model is not priced as
an older one whose name begins its own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from skilltrack.config import Price
from skilltrack.daemon.ingest.transcripts import Usage

PER_TOKEN = 1e-6  # the tables are per million tokens
WEB_SEARCH_USD = 0.01  # a server web search, every model in the catalog
US_INFERENCE = 1.1  # usage.inference_geo == "us"


@dataclass(frozen=True, slots=True)
class LongPrompt:
    """Prices that apply instead when a request's prompt is above `above_tokens`."""

    above_tokens: int
    price: Price


def _tier(input_: float, output: float, cache_read: float | None = None) -> Price:
    return Price(
        input=input_,
        output=output,
        cache_write_5m=input_ * 1.25,
        cache_write_1h=input_ * 2,
        cache_read=input_ * 0.1 if cache_read is None else cache_read,
    )


PRICES: dict[str, Price] = {
    "claude-3-haiku": Price(
        input=0.25, output=1.25, cache_write_5m=0.30, cache_write_1h=0.50, cache_read=0.03
    ),
    "claude-3-5-haiku": _tier(0.8, 4),
    "claude-haiku-4-5": _tier(1, 5),
    "claude-haiku-5-5": _tier(0.1, 0.5),
    "claude-3-5-sonnet": _tier(3, 15),
    "claude-3-7-sonnet": _tier(3, 15),
    "claude-sonnet-4": _tier(3, 15),
    "claude-sonnet-4-5": _tier(3, 15),
    "claude-sonnet-4-6": _tier(3, 15),
    "claude-sonnet-5": _tier(2, 10),
    "claude-sonnet-5-5": _tier(2, 10, cache_read=0.1),
    "claude-opus-4": _tier(15, 75),
    "claude-opus-4-1": _tier(15, 75),
    "claude-opus-4-5": _tier(5, 25),
    "claude-opus-4-6": _tier(5, 25),
    "claude-opus-4-7": _tier(5, 25),
    "claude-opus-4-8": _tier(5, 25),
    "claude-opus-5": _tier(5, 25),
    "claude-opus-5-5": _tier(4, 20, cache_read=0.2),
    "claude-fable-5": _tier(10, 50),
    "claude-fable-5-1": _tier(10, 50, cache_read=0.25),
    "claude-fable-5-2": _tier(8, 40, cache_read=0.2),
    "claude-mythos-5": _tier(10, 50),
    "claude-mythos-5-1": _tier(10, 50, cache_read=0.25),
}

LONG_PROMPTS: dict[str, LongPrompt] = {
    "claude-haiku-5-5": LongPrompt(100_000, _tier(0.5, 2.5)),
}

# A provider's spelling around the model's own name: Bedrock's region and vendor before it,
# a date (`-20250929`, Vertex's `@20250929`) and a revision (`-v1:0`, Vertex's `-v2`) after.
_PROVIDER_PREFIX = re.compile(r"^(?:[a-z0-9-]+\.)*anthropic\.")
_SUFFIXES = (re.compile(r"-v\d+(?::\d+)?$"), re.compile(r"[-@]\d{8}$"), re.compile(r"-v\d+$"))


def model_key(model: str) -> str:
    """The name the tables know a model by: `claude-opus-4-1@20250805` → `claude-opus-4-1`."""
    key = _PROVIDER_PREFIX.sub("", model.strip().lower())
    for suffix in _SUFFIXES:
        key = suffix.sub("", key)
    # The catalog's ids for the first Claude 4 models end in `-0`; the API's names do not.
    return key.removesuffix("-0") if re.fullmatch(r"claude-(?:opus|sonnet)-4-0", key) else key


def price_of(model: str, table: Mapping[str, Price]) -> Price | None:
    """The model's prices: an entry under its exact name first (a gateway's alias), then
    under the name it is known by; None when the table has neither."""
    return table.get(model) or table.get(model_key(model))


def cost(usage: Usage, price: Price | None, model: str = "") -> float | None:
    """The request's cost in US dollars, or None for a model with no price."""
    if price is None:
        return None
    long = LONG_PROMPTS.get(model_key(model)) if model else None
    prompt = usage.input_tokens + usage.cache_read_tokens + usage.cache_creation_tokens
    # Only the shipped prices have a long-prompt tier: a configured price is the price.
    if long is not None and price is PRICES.get(model_key(model)) and prompt > long.above_tokens:
        price = long.price
    tokens = PER_TOKEN * (
        usage.input_tokens * price.input
        + usage.output_tokens * price.output
        + usage.cache_5m_tokens * price.cache_write_5m
        + usage.cache_1h_tokens * price.cache_write_1h
        + usage.cache_read_tokens * price.cache_read
    )
    geo = US_INFERENCE if usage.us_inference else 1.0
    return tokens * geo + usage.web_search_requests * WEB_SEARCH_USD


def table(overrides: Mapping[str, Price]) -> dict[str, Price]:
    """The shipped prices with the configuration's in their place. As in Claude Code's own
    `modelPricing`, an entry under any spelling of a model prices every spelling of it, and
    one under another name (a gateway's alias) that name only."""
    return {**PRICES, **{model_key(name): p for name, p in overrides.items()}, **overrides}
