"""Bar panels: time x symbol x field DataArrays, missing bars NaN, nothing dropped."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantkit import bar_panel
from quantkit.data.store import ParquetStore
from quantkit.domain.bars import BarSeries
from quantkit.errors import ConfigError
from tests.builders import make_series

xr = pytest.importorskip("xarray")

HOUR = 3600 * 10**9


def _bars(closes: list[float]) -> list[tuple[float, float, float, float, float]]:
    return [(c - 0.5, c + 1.0, c - 1.0, c, 2.0 + k) for k, c in enumerate(closes)]


def _series() -> dict[str, BarSeries]:
    btc = make_series(_bars([100.0, 101.0, 102.0, 103.0]), symbol="BTC/USDT")
    eth = make_series(_bars([10.0, 11.0, 12.0]), symbol="ETH/USDT")
    return {"BTC/USDT": btc, "ETH/USDT": eth}


def test_a_panel_has_the_union_of_times_and_nan_where_a_symbol_has_no_bar() -> None:
    data = _series()
    btc, eth = data["BTC/USDT"], data["ETH/USDT"]
    panel = bar_panel(data)
    assert panel.dims == ("time", "symbol", "field")
    assert panel["symbol"].values.tolist() == ["BTC/USDT", "ETH/USDT"]
    assert panel["field"].values.tolist() == ["open", "high", "low", "close", "volume"]
    np.testing.assert_array_equal(panel["time"].values.view(np.int64), btc.open_time)
    np.testing.assert_array_equal(panel.sel(symbol="BTC/USDT", field="close"), btc.close)
    np.testing.assert_array_equal(
        panel.sel(symbol="ETH/USDT", field="close").values, [*eth.close, np.nan]
    )
    np.testing.assert_array_equal(panel.sel(symbol="ETH/USDT", field="volume")[:3], eth.volume)
    assert panel.attrs == {"timeframe": "1h", "timezone": "UTC"}


def test_symbols_and_fields_choose_and_order_the_panel() -> None:
    panel = bar_panel(_series(), symbols=["ETH/USDT"], fields=["close", "open"])
    assert panel.shape == (3, 1, 2)
    assert panel["field"].values.tolist() == ["close", "open"]
    with pytest.raises(ConfigError, match=r"\['XRP/USDT'\] not in the data"):
        bar_panel(_series(), symbols=["XRP/USDT"])
    with pytest.raises(ConfigError, match="fields must be distinct names"):
        bar_panel(_series(), fields=["close", "vwap"])


def test_a_panel_from_a_store_feed_holds_the_stored_bars(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path)
    times = pd.date_range("2024-01-01", periods=5, freq="h", tz="UTC")
    for k, symbol in enumerate(["BTC/USDT", "ETH/USDT"]):
        close = np.arange(5.0) + 10 * (k + 1)
        index = times
        if k == 1:  # ETH lacks 02:00
            close, index = np.delete(close, 2), times.delete(2)
        store.write(
            "binance",
            symbol,
            "1h",
            pd.DataFrame(
                {"open": close, "high": close + 1, "low": close - 1, "close": close, "volume": 1.0},
                index=index,
            ),
        )
    panel = bar_panel(store.feed("binance", ["BTC/USDT", "ETH/USDT"], "1h"), fields=["close"])
    np.testing.assert_array_equal(
        panel.sel(field="close").values,
        [[10.0, 20.0], [11.0, 21.0], [12.0, np.nan], [13.0, 23.0], [14.0, 24.0]],
    )
    assert panel["time"].values[2] == np.datetime64("2024-01-01T02:00", "ns")


def test_mixed_timeframes_are_refused() -> None:
    data = _series()
    data["ETH/USDT"] = make_series(_bars([1.0, 2.0]), symbol="ETH/USDT", timeframe=2 * HOUR)
    with pytest.raises(ConfigError, match="a panel needs one timeframe"):
        bar_panel(data)


def test_without_xarray_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "xarray", None)
    with pytest.raises(ConfigError, match=r"pip install 'quantkit\[xarray\]'"):
        bar_panel(_series())
