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
    assert prices.cost(u, prices.price_of("claude-opus-5-5", table)) is None
    mine = Price(input=1, output=2, cache_write_5m=3, cache_write_1h=4, cache_read=5)
    assert prices.cost(
        u, prices.price_of("claude-opus-5-5", prices.table({"claude-opus-5": mine}))
    ) == (pytest.approx(15))


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
