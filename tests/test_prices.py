"""A request's cost from its model's prices; prices in the configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from skilltrack import config
from skilltrack.config import ConfigError, Price, Settings
from skilltrack.daemon.ingest import prices
from skilltrack.daemon.ingest.transcripts import Usage


def test_a_request_costs_its_models_prices_and_an_unknown_model_costs_nothing() -> None:
    u = Usage(input_tokens=1_000_000, output_tokens=1_000_000, cache_5m_tokens=1_000_000,
              cache_1h_tokens=1_000_000, cache_read_tokens=1_000_000)  # fmt: skip
    table = prices.table({})
    sonnet = prices.price_of("claude-sonnet-4-5-20250929", table)
    assert sonnet is not None
    assert prices.cost(u, sonnet) == pytest.approx(3 + 15 + 3.75 + 6 + 0.3)
    assert prices.price_of("claude-opus-4-1-20250805", table) == prices.PRICES["claude-opus-4-1"]
    assert prices.cost(u, prices.price_of("claude-opus-9-9", table)) is None
    mine = Price(input=1, output=2, cache_write_5m=3, cache_write_1h=4, cache_read=5)
    assert prices.cost(
        u, prices.price_of("claude-opus-9-9", prices.table({"claude-opus-9-9": mine}))
    ) == (pytest.approx(15))


def test_the_cost_is_the_clients_own_for_its_worked_example() -> None:
    # claude-code-transcripts.md: the session's modelUsage and its costUSD, 0.167606.
    u = Usage(input_tokens=10055, output_tokens=1055, cache_5m_tokens=20055,
              cache_read_tokens=30055)  # fmt: skip
    price = prices.price_of("claude-opus-5-5", prices.table({}))
    assert prices.cost(u, price, "claude-opus-5-5") == pytest.approx(0.167606, abs=1e-9)


@pytest.mark.parametrize(
    ("spelling", "known_as"),
    [
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
        ("claude-3-5-sonnet-v2@20241022", "claude-3-5-sonnet"),
        ("claude-sonnet-4-20250514", "claude-sonnet-4"),
        ("claude-opus-4@20250514", "claude-opus-4"),
        ("claude-opus-4-0", "claude-opus-4"),
        ("us.anthropic.claude-opus-4-6-v1", "claude-opus-4-6"),
        ("claude-opus-4-6", "claude-opus-4-6"),
    ],
)
def test_a_model_is_found_under_every_providers_spelling(spelling: str, known_as: str) -> None:
    assert prices.model_key(spelling) == known_as
    assert prices.price_of(spelling, prices.table({})) is prices.PRICES[known_as]


def test_a_newer_model_is_not_priced_as_the_older_one_its_name_begins_with() -> None:
    # `claude-opus-4` costs three times what `claude-opus-4-6` does.
    assert prices.price_of("claude-opus-4-6", prices.table({})) == prices.PRICES["claude-opus-4-6"]
    assert prices.price_of("claude-opus-4-9", prices.table({})) is None
    assert prices.price_of("claude-sonnet-4-5-turbo", prices.table({})) is None


def test_a_configured_price_covers_every_spelling_and_an_alias_only_itself() -> None:
    mine = Price(input=1, output=2, cache_write_5m=3, cache_write_1h=4, cache_read=5)
    table = prices.table({"claude-sonnet-4-5-20250929": mine, "team-gateway-fast": mine})
    assert prices.price_of("us.anthropic.claude-sonnet-4-5-20250929-v1:0", table) is mine
    assert prices.price_of("claude-sonnet-4-5", table) is mine
    assert prices.price_of("team-gateway-fast", table) is mine
    assert prices.price_of("team-gateway", table) is None


def test_long_prompts_web_searches_and_us_inference_cost_what_the_client_says() -> None:
    table = prices.table({})
    haiku = prices.price_of("claude-haiku-5-5", table)
    short = Usage(input_tokens=100_000, output_tokens=1_000_000)
    assert prices.cost(short, haiku, "claude-haiku-5-5") == pytest.approx(0.01 + 0.5)
    long = Usage(input_tokens=60_000, cache_read_tokens=40_001, output_tokens=1_000_000)
    assert prices.cost(long, haiku, "claude-haiku-5-5") == pytest.approx(
        0.06 * 0.5 + 0.040001 * 0.05 + 2.5
    )
    # A configured price is the price, whatever the prompt's length.
    mine = prices.table({"claude-haiku-5-5": Price(input=1, output=1, cache_write_5m=1,
                                                    cache_write_1h=1, cache_read=1)})  # fmt: skip
    assert prices.cost(long, prices.price_of("claude-haiku-5-5", mine), "claude-haiku-5-5") == (
        pytest.approx(1.100001)
    )
    sonnet = prices.price_of("claude-sonnet-4-5", table)
    searching = Usage(output_tokens=1_000_000, web_search_requests=3, us_inference=True)
    assert prices.cost(searching, sonnet, "claude-sonnet-4-5") == pytest.approx(15 * 1.1 + 0.03)


def test_prices_in_the_configuration_are_validated(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[prices."claude-opus-5-5"]\ninput = 1\noutput = 2\ncache_write_5m = 1.25\n'
                    "cache_write_1h = 2\ncache_read = 0.1\n")  # fmt: skip
    settings = config.load(good)
    assert settings.prices["claude-opus-5-5"].cache_read == 0.1
    bad = tmp_path / "bad.toml"
    bad.write_text('[prices."claude-opus-5-5"]\ninput = -1\noutput = 2\n')
    with pytest.raises(ConfigError, match="prices"):
        config.load(bad)
    assert Settings().prices == {}
