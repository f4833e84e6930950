"""SeriesFeed serves BarSeries as they are and refuses inconsistent sets."""

from __future__ import annotations

import pytest

from quantkit.data.series_feed import SeriesFeed
from quantkit.errors import ConfigError
from tests.builders import HOUR, make_series


def test_one_many_and_mapping() -> None:
    btc = make_series([(1.0, 1.0, 1.0, 1.0, 1.0)])
    eth = make_series([(2.0, 2.0, 2.0, 2.0, 1.0)], symbol="ETH/USDT")
    assert SeriesFeed(btc).load() == {"BTC/USDT": btc}
    assert SeriesFeed([eth, btc]).symbols == ("ETH/USDT", "BTC/USDT")
    assert SeriesFeed({"x": btc}).load()["BTC/USDT"] is btc


def test_bad_sets() -> None:
    btc = make_series([(1.0, 1.0, 1.0, 1.0, 1.0)])
    daily = make_series([(1.0, 1.0, 1.0, 1.0, 1.0)], symbol="ETH/USDT", timeframe=24 * HOUR)
    with pytest.raises(ConfigError, match="at least one"):
        SeriesFeed([])
    with pytest.raises(ConfigError, match="repeat"):
        SeriesFeed([btc, btc])
    with pytest.raises(ConfigError, match="one timeframe"):
        SeriesFeed([btc, daily])
