"""Bars that contradict their key: spacing is refused, a price-level seam is warned about."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from quantkit.data.store import ParquetStore
from quantkit.errors import DataError

from .bars import make_frame


def test_hourly_bars_filed_as_one_minute_bars_are_refused(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path)
    frame = make_frame("2024-01-01", 24, "1h")
    with (
        pytest.raises(
            DataError,
            match=r"1m: the usual gap between these 24 bars is 1h: they are not 1m bars, refused",
        ),
        pytest.warns(UserWarning, match="usual gap"),  # validate_bars's warning comes first
    ):
        store.write("binance", "BTC/USDT", "1m", frame)
    with pytest.raises(DataError, match="holds no bars"):
        store.read("binance", "BTC/USDT", "1m")


def test_day_first_dates_read_as_months_are_refused(tmp_path: Path) -> None:
    frame = make_frame("2024-01-01", 10, "1d")
    store = ParquetStore(tmp_path / "store")
    # What a month-first reading of 01/01/2024, 02/01/2024, ... (day-first) gives: months
    months = frame.set_index(pd.date_range("2024-01-01", periods=10, freq="MS", tz="UTC"))
    with (
        pytest.raises(DataError, match=r"usual gap .* is 31d: they are not 1d bars.*day-first"),
        pytest.warns(UserWarning, match="usual gap"),
    ):
        store.write("binance", "BTC/USDT", "1d", months)
    # from a CSV file, such dates are refused earlier, as ambiguous
    lines = ["time,open,high,low,close,volume"]
    for stamp, row in zip(frame.index, frame.itertuples(index=False), strict=True):
        values = ",".join(repr(float(v)) for v in row)
        lines.append(f"{stamp:%d/%m/%Y},{values}")  # 01/01/2024, 02/01/2024, ...
    path = tmp_path / "daily.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="both day-first and month-first"):
        store.import_csv(path, "binance", "BTC/USDT", "1d")
    with pytest.raises(DataError, match="holds no bars"):
        store.read("binance", "BTC/USDT", "1d")


def test_gaps_and_pairs_are_not_spacing_errors(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path)
    frame = make_frame("2024-01-01", 10)
    with pytest.warns(UserWarning, match="usual gap of 5h"):  # two bars: warned, not refused
        store.write("binance", "BTC/USDT", "1h", frame.iloc[[0, 5]])
    holey = frame.iloc[[1, 2, 7, 9]]  # gaps 1h, 5h, 2h: the smallest wins the tie
    assert store.write("binance", "BTC/USDT", "1h", holey).added == 4


def test_a_price_level_jump_where_new_bars_meet_stored_ones_is_warned(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path)
    frame = make_frame("2024-01-01", 48)
    store.write("binance", "BTC/USDT", "1h", frame.iloc[10:24])
    store.write("binance", "BTC/USDT", "1h", frame.iloc[24:30])  # same level: no warning
    other = frame.iloc[30:36] * 20.0  # another symbol's prices (volume scaled too: harmless)
    with pytest.warns(UserWarning, match=r"2024-01-02T06:00:00Z the price jumps .*another symbol"):
        store.write("binance", "BTC/USDT", "1h", other)
    before = frame.iloc[4:10] * 0.05  # new bars right before the stored ones
    with pytest.warns(UserWarning, match=r"2024-01-01T10:00:00Z the price jumps .*x20"):
        store.write("binance", "BTC/USDT", "1h", before)
    assert len(store.read("binance", "BTC/USDT", "1h")) == 32  # warned, not refused
