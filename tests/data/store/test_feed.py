"""StoreFeed: stored series through a real quantkit backtest."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import quantkit
from quantkit.data import DataFeed, DataFrameFeed
from quantkit.data.store import ParquetStore, StoreFeed
from quantkit.errors import ConfigError, DataError

from .bars import make_frame


@pytest.fixture
def store(tmp_path: Path) -> ParquetStore:
    store = ParquetStore(tmp_path)
    for symbol in ("BTC/USDT", "ETH/USDT"):
        store.write("binance", symbol, "1h", quantkit.load_sample(symbol))
    return store


def test_a_backtest_over_the_store_trades_like_one_over_the_frame(store: ParquetStore) -> None:
    start, end = "2021-03-01", "2021-09-01"
    feed = store.feed("binance", "BTC/USDT", "1h", start, end)
    assert isinstance(feed, DataFeed)
    from_store = quantkit.Engine(feed=feed, strategy=quantkit.SmaCross(fast=5, slow=20)).run()
    frame = quantkit.load_sample("BTC/USDT")
    reference = quantkit.Engine(
        feed=DataFrameFeed(frame, symbol="BTC/USDT", start=start, end=end),
        strategy=quantkit.SmaCross(fast=5, slow=20),
    ).run()
    assert len(from_store.trades) > 10
    pd.testing.assert_frame_equal(from_store.trades, reference.trades)
    assert from_store.stats["Bars"] == reference.stats["Bars"] == 184 * 24


def test_several_symbols_in_the_order_given(store: ParquetStore) -> None:
    feed = store.feed("binance", ["ETH/USDT", "BTC/USDT"], "1h", end="2021-01-02")
    assert feed.symbols == ("ETH/USDT", "BTC/USDT")
    loaded = feed.load()
    assert list(loaded) == ["ETH/USDT", "BTC/USDT"]
    assert all(len(series) == 24 for series in loaded.values())
    assert feed.load()["BTC/USDT"] is loaded["BTC/USDT"]  # loaded once
    assert "StoreFeed(ParquetStore(" in repr(feed)
    assert "symbols=('ETH/USDT', 'BTC/USDT'), timeframe='1h'" in repr(feed)
    checked = StoreFeed(store, "binance", "BTC/USDT", "60m", validate=True).load()["BTC/USDT"]
    assert len(checked) == 17_520


def test_feed_arguments_are_checked_up_front(store: ParquetStore) -> None:
    with pytest.raises(ConfigError, match="at least one symbol"):
        store.feed("binance", [], "1h")
    with pytest.raises(ConfigError, match="repeat"):
        store.feed("binance", ["BTC/USDT", "BTC/USDT"], "1h")
    with pytest.raises(ConfigError, match="must be before end"):
        store.feed("binance", "BTC/USDT", "1h", "2022-01-01", "2021-01-01")
    with pytest.raises(ConfigError, match="not understood"):
        store.feed("binance", "BTC/USDT", "1 hour")


def test_loading_what_is_not_there_is_a_data_error(store: ParquetStore) -> None:
    with pytest.raises(DataError, match="holds no bars"):
        store.feed("binance", "SOL/USDT", "1h").load()
    with pytest.raises(DataError, match="no bars open between 2030"):
        store.feed("binance", "BTC/USDT", "1h", "2030-01-01").load()


def test_minute_bars_across_partitions_feed_the_engine(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path)
    frame = make_frame("2024-01-30", 60 * 24 * 3, "1m")
    store.write("binance", "BTC/USDT", "1m", frame)
    result = quantkit.Engine(
        feed=store.feed("binance", "BTC/USDT", "1m"), strategy=quantkit.SmaCross(fast=5, slow=20)
    ).run()
    assert result.stats["Bars"] == len(frame)


def test_store_feed_applies_its_gap_policy(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    from quantkit.data.store import ParquetStore
    from quantkit.errors import ConfigError, DataError

    index = pd.date_range("2024-01-01", periods=5, freq="1h", tz="UTC").delete([2])
    frame = pd.DataFrame(
        {"open": 10.0, "high": 11.0, "low": 9.0, "close": [10.1, 10.2, 10.4, 10.5], "volume": 2.0},
        index=index,
    )
    store = ParquetStore(tmp_path)
    store.write("x", "A/B", "1h", frame)
    assert len(store.feed("x", "A/B", "1h").load()["A/B"]) == 4
    filled = store.feed("x", "A/B", "1h", gap_policy="ffill").load()["A/B"]
    assert filled.close.tolist() == [10.1, 10.2, 10.2, 10.4, 10.5]
    assert filled.volume.tolist() == [2.0, 2.0, 0.0, 2.0, 2.0]
    with pytest.raises(DataError, match=r"row 2: 1 bar\(s\) missing"):
        store.feed("x", "A/B", "1h", gap_policy="fail").load()
    with pytest.raises(ConfigError, match="gap_policy"):
        store.feed("x", "A/B", "1h", gap_policy="nope")  # type: ignore[arg-type]
