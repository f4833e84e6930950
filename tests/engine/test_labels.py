"""Bars labelled by open time or by close time give the same bars and the same trades."""

from __future__ import annotations

import pandas as pd

from quantkit import DataFrameFeed, Engine, SmaCross, load_sample


def test_open_and_close_labels_give_identical_trades() -> None:
    by_open = load_sample("BTC/USDT").iloc[:3000]
    by_close = by_open.copy()
    by_close.index = by_close.index + pd.Timedelta(hours=1)  # the same bars, stamped at their close
    feeds = (
        DataFrameFeed(by_open, symbol="BTC/USDT", timeframe="1h", label="open"),
        DataFrameFeed(by_close, symbol="BTC/USDT", timeframe="1h", label="close"),
    )
    results = [Engine(feed=feed, strategy=SmaCross(fast=8, slow=21)).run() for feed in feeds]
    a, b = results
    assert len(a.trades) > 20
    pd.testing.assert_frame_equal(a.trades, b.trades)
    pd.testing.assert_frame_equal(a.fills, b.fills)
    pd.testing.assert_series_equal(a.equity, b.equity)
    # the first fill happens at the open of a bar, i.e. at a bar's open-time label
    first = a.fills["time"].iloc[0]
    assert first in by_open.index
