"""Tests of the bundled SYNTHETIC sample data and its generator."""

from __future__ import annotations

import gzip
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantkit.data import DataFrameFeed, load_sample, sample_feed, samples, validate_bars
from quantkit.data.samples import generate
from quantkit.errors import ConfigError

HOUR = 3600 * 10**9


def bundled(symbol: str) -> bytes:
    return resources.files(samples).joinpath(samples.SAMPLE_FILES[symbol]).read_bytes()


@pytest.mark.parametrize(("symbol", "first_open"), [("BTC/USDT", 30_000.0), ("ETH/USDT", 2_000.0)])
def test_sample_loads_with_the_documented_shape(symbol: str, first_open: float) -> None:
    frame = load_sample(symbol)
    assert len(frame) == samples.SAMPLE_ROWS == 17_520
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert all(dtype == np.float64 for dtype in frame.dtypes)
    assert isinstance(frame.index, pd.DatetimeIndex)
    assert frame.index.name == "time"
    assert str(frame.index.tz) == "UTC"
    assert frame.index[0] == pd.Timestamp(samples.SAMPLE_START)
    assert frame.index[-1] == pd.Timestamp("2022-12-31T23:00:00Z")
    assert frame.attrs["symbol"] == symbol
    assert frame["open"].iloc[0] == first_open


@pytest.mark.parametrize("symbol", ["BTC/USDT", "ETH/USDT"])
def test_sample_validates_as_gapless_hourly_bars(symbol: str) -> None:
    frame = load_sample(symbol)
    series = validate_bars(frame, symbol=symbol)
    assert series.timeframe == HOUR == samples.SAMPLE_TIMEFRAME_NS
    assert len(series) == samples.SAMPLE_ROWS
    assert np.all(np.diff(series.open_time) == HOUR)
    for name in ("open", "high", "low", "close"):
        values = frame[name].to_numpy()
        np.testing.assert_array_equal(np.round(values, 2), values)  # whole cents
    assert np.all(frame["volume"] > 0)
    # each bar opens at the previous close, as continuous markets do
    np.testing.assert_array_equal(frame["open"].to_numpy()[1:], frame["close"].to_numpy()[:-1])


def test_sample_paths_are_plausible_and_correlated() -> None:
    btc, eth = load_sample("BTC/USDT"), load_sample("ETH/USDT")
    assert btc["low"].min() > 10_000
    assert btc["high"].max() < 100_000
    assert eth["low"].min() > 500
    assert eth["high"].max() < 10_000
    btc_returns = np.diff(np.log(btc["close"].to_numpy()))
    eth_returns = np.diff(np.log(eth["close"].to_numpy()))
    assert 0.6 < np.corrcoef(btc_returns, eth_returns)[0, 1] < 0.95
    yearly_volatility = btc_returns.std() * np.sqrt(24 * 365)
    assert 0.3 < yearly_volatility < 1.0
    ranges = (btc["high"] - btc["low"]) / btc["close"]
    assert 0.001 < ranges.mean() < 0.03


def test_each_load_returns_a_fresh_frame() -> None:
    first = load_sample()
    first.iloc[0, 0] = -1.0
    assert load_sample().iloc[0, 0] == 30_000.0


@pytest.mark.parametrize("spelling", ["btc/usdt", "BTC-USDT", "btc_usdt"])
def test_sample_symbol_spellings(spelling: str) -> None:
    assert load_sample(spelling).attrs["symbol"] == "BTC/USDT"


def test_unknown_sample_symbol_suggests_a_close_one() -> None:
    with pytest.raises(
        ConfigError,
        match="no sample data for 'ETH/USD'; available: BTC/USDT, "
        "ETH/USDT; did you mean 'ETH/USDT'\\?",
    ):
        load_sample("ETH/USD")
    with pytest.raises(
        ConfigError, match=r"no sample data for 'AAPL'; available: BTC/USDT, ETH/USDT$"
    ):
        load_sample("AAPL")


def test_sample_feed() -> None:
    feed = sample_feed()
    assert isinstance(feed, DataFrameFeed)
    assert feed.symbols == ("BTC/USDT",)
    assert len(feed.load()["BTC/USDT"]) == samples.SAMPLE_ROWS
    both = sample_feed(["eth/usdt", "BTC/USDT"], start="2022-12-31", end="2023-01-01")
    assert both.symbols == ("ETH/USDT", "BTC/USDT")
    loaded = both.load()
    assert [len(series) for series in loaded.values()] == [24, 24]
    assert loaded["ETH/USDT"].timeframe == HOUR
    assert sample_feed("ETH/USDT").symbols == ("ETH/USDT",)
    with pytest.raises(ConfigError, match="at least one symbol"):
        sample_feed([])


def test_docstrings_say_synthetic_and_licence() -> None:
    for documented in (samples, load_sample, sample_feed, generate):
        text = documented.__doc__ or ""
        assert "SYNTHETIC" in text
        assert "not real market history" in text.replace("NOT", "not")
        assert "MIT" in text


def test_bundled_files_are_small_gzip_without_timestamp() -> None:
    for symbol in samples.SAMPLE_SYMBOLS:
        raw = bundled(symbol)
        assert len(raw) < 600_000
        assert raw[:2] == b"\x1f\x8b"
        assert raw[4:8] == b"\x00\x00\x00\x00"  # gzip mtime 0: reproducible bytes


def test_generator_reproduces_the_bundled_files() -> None:
    texts = generate.render_csv()
    assert list(texts) == list(samples.SAMPLE_SYMBOLS)
    for symbol, text in texts.items():
        assert gzip.decompress(bundled(symbol)).decode("ascii") == text


def test_generator_writes_files(tmp_path: Path) -> None:
    assert generate.main(["--out", str(tmp_path / "out")]) == 0
    for symbol in samples.SAMPLE_SYMBOLS:
        written = tmp_path / "out" / samples.SAMPLE_FILES[symbol]
        assert gzip.decompress(written.read_bytes()) == gzip.decompress(bundled(symbol))
