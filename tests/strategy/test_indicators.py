"""Indicators: TA-Lib and user functions over whole arrays, checked for look-ahead, updatable."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import talib
from numpy.lib.stride_tricks import sliding_window_view

from quantkit.errors import ConfigError, LookAheadError
from quantkit.strategy.indicators import Indicator, compute_indicator
from quantkit.strategy.series import Cursor, SeriesView

from .helpers import Scripted, run_engine, series_from_closes


def random_walk(count: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, count)))


def rolling_mean(values: np.ndarray, period: int) -> np.ndarray:
    out = np.full(len(values), np.nan)
    out[period - 1 :] = sliding_window_view(values, period).mean(axis=1)
    return out


def rolling_std(values: np.ndarray, period: int) -> np.ndarray:
    out = np.full(len(values), np.nan)
    out[period - 1 :] = sliding_window_view(values, period).std(axis=1, ddof=0)
    return out


def make_view(values: np.ndarray, name: str = "close", *, at: int | None = None) -> SeriesView:
    cursor = Cursor()
    cursor.i = len(values) - 1 if at is None else at
    return SeriesView(name, np.array(values, dtype=np.float64), cursor)


# -- TA-Lib ------------------------------------------------------------------------------------


@pytest.mark.parametrize("period", [2, 5, 20])
def test_talib_sma_equals_a_numpy_rolling_mean(period: int) -> None:
    values = random_walk(120)
    sma = compute_indicator(talib.SMA, [make_view(values)], {"timeperiod": period})
    assert isinstance(sma, Indicator)
    np.testing.assert_allclose(sma._array, rolling_mean(values, period), rtol=1e-12, equal_nan=True)
    assert sma.name == f"SMA(timeperiod={period})"
    assert sma.lookback == period - 1
    assert sma.output is None
    assert sma.func is talib.SMA
    assert sma.params == {"timeperiod": period}


def test_an_indicator_reads_like_a_series_up_to_the_cursor() -> None:
    values = random_walk(50)
    close = make_view(values, at=9)
    sma = compute_indicator(talib.SMA, [close], {"timeperiod": 4})
    expected = rolling_mean(values, 4)
    assert len(sma) == 10
    assert sma[-1] == pytest.approx(expected[9], rel=1e-12)
    assert sma[-7] == pytest.approx(expected[3], rel=1e-12)
    assert np.isnan(sma[0])
    assert len(sma.values) == 10
    with pytest.raises(LookAheadError):
        sma[10]
    close._cursor.i = 49
    assert sma[-1] == pytest.approx(expected[49], rel=1e-12)


def test_multi_output_bbands_returns_a_tuple_of_indicators() -> None:
    values = random_walk(80)
    bands = compute_indicator(
        talib.BBANDS, [make_view(values)], {"timeperiod": 5, "nbdevup": 2.0, "nbdevdn": 3.0}
    )
    assert isinstance(bands, tuple)
    assert len(bands) == 3
    assert all(isinstance(band, Indicator) for band in bands)
    upper, middle, lower = bands
    mean, std = rolling_mean(values, 5), rolling_std(values, 5)
    np.testing.assert_allclose(middle._array, mean, rtol=1e-9, equal_nan=True)
    np.testing.assert_allclose(upper._array, mean + 2.0 * std, rtol=1e-9, equal_nan=True)
    np.testing.assert_allclose(lower._array, mean - 3.0 * std, rtol=1e-9, equal_nan=True)
    assert [band.output for band in bands] == [0, 1, 2]
    assert upper.name.endswith("[0]")
    assert lower.name.endswith("[2]")
    assert all(band.lookback == 4 for band in bands)


def test_multi_output_macd_matches_talib_called_directly() -> None:
    values = random_walk(100)
    made = compute_indicator(talib.MACD, [make_view(values)], {})
    direct = talib.MACD(values)
    assert isinstance(made, tuple)
    assert len(made) == 3
    for indicator, expected in zip(made, direct, strict=True):
        np.testing.assert_array_equal(indicator._array, expected)


def test_talib_functions_of_several_inputs() -> None:
    high, low, close = random_walk(60, 1) + 1.0, random_walk(60, 1) - 1.0, random_walk(60, 1)
    cursor = Cursor()
    cursor.i = 59
    views = [SeriesView(n, a, cursor) for n, a in (("h", high), ("l", low), ("c", close))]
    atr = compute_indicator(talib.ATR, views, {"timeperiod": 3})
    assert isinstance(atr, Indicator)
    np.testing.assert_array_equal(atr._array, talib.ATR(high, low, close, timeperiod=3))
    assert atr.inputs == tuple(views)


# -- user functions ----------------------------------------------------------------------------


def test_a_user_function_is_accepted() -> None:
    values = random_walk(40)
    made = compute_indicator(lambda c: c / c[0], [make_view(values)], {}, name="rel")
    assert isinstance(made, Indicator)
    assert made.name == "rel"
    np.testing.assert_allclose(made._array, values / values[0])
    assert made.lookback is None


def test_a_user_function_with_params_gets_a_default_name() -> None:
    def scaled(close: np.ndarray, factor: float) -> np.ndarray:
        return close * factor

    values = random_walk(20)
    made = compute_indicator(scaled, [make_view(values)], {"factor": 3.0})
    assert made.name == "scaled(factor=3.0)"
    np.testing.assert_allclose(made._array, values * 3.0)


def test_a_user_function_may_take_an_indicator_as_input() -> None:
    values = random_walk(60)
    close = make_view(values)
    sma = compute_indicator(talib.SMA, [close], {"timeperiod": 5})
    spread = compute_indicator(np.subtract, [close, sma], {}, name="spread")
    np.testing.assert_allclose(
        spread._array, values - rolling_mean(values, 5), rtol=1e-9, equal_nan=True
    )


def test_a_user_function_returning_a_pandas_series_is_accepted() -> None:
    values = random_walk(30)
    made = compute_indicator(
        lambda c: pd.Series(c).rolling(3).max(), [make_view(values)], {}, name="max3"
    )
    expected = np.full(30, np.nan)
    expected[2:] = sliding_window_view(values, 3).max(axis=1)
    np.testing.assert_array_equal(made._array, expected)


def centred_mean(values: np.ndarray) -> np.ndarray:
    out = np.full(len(values), np.nan)
    out[1:-1] = (values[:-2] + values[1:-1] + values[2:]) / 3.0
    return out


@pytest.mark.parametrize(
    "func",
    [
        lambda c: np.roll(c, -1),
        centred_mean,
        lambda c: c - c.mean(),
        lambda c: c / c[-1],
        lambda c: np.maximum.accumulate(c[::-1])[::-1],
    ],
    ids=["roll", "centred-mean", "demean", "last-normalised", "future-max"],
)
def test_a_look_ahead_user_function_is_refused_by_name(func: object) -> None:
    values = random_walk(60)
    with pytest.raises(LookAheadError, match="'peek' looks ahead"):
        compute_indicator(func, [make_view(values)], {}, name="peek")  # type: ignore[arg-type]


def test_the_look_ahead_error_names_the_output_of_a_multi_output_function() -> None:
    values = random_walk(60)
    with pytest.raises(LookAheadError, match=r"'pair\[1\]' looks ahead"):
        compute_indicator(lambda c: (c * 2, np.roll(c, -1)), [make_view(values)], {}, name="pair")


def test_look_ahead_is_found_through_a_strategy_declaration() -> None:
    class Peeking(Scripted):
        def on_start(self) -> None:
            self.future = self.I(lambda c: np.roll(c, -1), self.data.close, name="tomorrow")

    with pytest.raises(LookAheadError, match="'tomorrow'"):
        run_engine(Peeking(), series_from_closes(random_walk(30)))


@pytest.mark.parametrize(
    "func",
    [
        lambda c: c[:-1],
        lambda c: np.column_stack([c, c]),
        lambda c: float(c.sum()),
        lambda c: (c, c[1:]),
    ],
    ids=["short", "2d", "scalar", "tuple-with-a-short-member"],
)
def test_a_wrong_output_shape_is_a_config_error(func: object) -> None:
    values = random_walk(20)
    with pytest.raises(ConfigError, match=r"'bad' returned shape .*\(20,\)"):
        compute_indicator(func, [make_view(values)], {}, name="bad")  # type: ignore[arg-type]


def test_inputs_of_two_symbols_are_a_config_error() -> None:
    btc = make_view(random_walk(20, 1))
    eth = make_view(random_walk(20, 2))
    with pytest.raises(ConfigError, match="same symbol"):
        compute_indicator(np.subtract, [btc, eth], {})


@pytest.mark.parametrize(
    "inputs", [[], [np.arange(10.0)], [[1.0, 2.0]]], ids=["none", "ndarray", "list"]
)
def test_inputs_that_are_not_series_are_a_config_error(inputs: list[object]) -> None:
    with pytest.raises(ConfigError, match="must be series"):
        compute_indicator(talib.SMA, inputs, {"timeperiod": 3})  # type: ignore[arg-type]


def test_only_talib_itself_is_trusted_without_a_look_ahead_check() -> None:
    def peek(close: np.ndarray) -> np.ndarray:
        return np.roll(close, -1)

    # A user module whose name merely starts with "talib" is not TA-Lib.
    for module in ("talib_helpers", "talibextra.indicators"):
        peek.__module__ = module
        with pytest.raises(LookAheadError, match="'peek' looks ahead"):
            compute_indicator(peek, [make_view(random_walk(40))], {}, name="peek")


# -- incremental updates -----------------------------------------------------------------------


def append_bars(view: SeriesView, chunk: np.ndarray) -> None:
    view._append(chunk)
    view._cursor.i = len(view._array) - 1


@pytest.mark.parametrize("period", [3, 10])
def test_update_of_talib_sma_matches_a_full_recompute(period: int) -> None:
    full = random_walk(100)
    close = make_view(full[:60])
    sma = compute_indicator(talib.SMA, [close], {"timeperiod": period})
    assert sma[-1] == pytest.approx(rolling_mean(full, period)[59], rel=1e-12)  # cache built
    position = 60
    for size in (1, 1, 5, 33):
        append_bars(close, full[position : position + size])
        position += size
        sma.update()
        assert len(sma._array) == position
        np.testing.assert_allclose(
            sma._array, rolling_mean(full[:position], period), rtol=1e-9, equal_nan=True
        )
        assert sma[-1] == pytest.approx(rolling_mean(full, period)[position - 1], rel=1e-9)


def test_update_of_a_user_function_without_lookback_recomputes_everything() -> None:
    full = random_walk(70)
    close = make_view(full[:40])
    total = compute_indicator(np.cumsum, [close], {}, name="cumsum")
    assert total.lookback is None
    append_bars(close, full[40:41])
    total.update()
    append_bars(close, full[41:])
    total.update()
    np.testing.assert_allclose(total._array, np.cumsum(full), rtol=1e-12)
    assert total[-1] == pytest.approx(full.sum(), rel=1e-12)


def test_update_of_a_user_function_with_a_declared_lookback() -> None:
    def max3(close: np.ndarray) -> np.ndarray:
        out = np.full(len(close), np.nan)
        out[2:] = sliding_window_view(close, 3).max(axis=1)
        return out

    full = random_walk(50)
    close = make_view(full[:30])
    top = compute_indicator(max3, [close], {}, lookback=2)
    append_bars(close, full[30:])
    top.update()
    np.testing.assert_array_equal(top._array, max3(full))


def test_update_of_every_output_of_a_multi_output_indicator() -> None:
    full = random_walk(90)
    close = make_view(full[:50])
    bands = compute_indicator(talib.BBANDS, [close], {"timeperiod": 6})
    append_bars(close, full[50:])
    for band in bands:
        band.update()
    for band, expected in zip(bands, talib.BBANDS(full, timeperiod=6), strict=True):
        np.testing.assert_allclose(band._array, expected, rtol=1e-9, equal_nan=True)


def test_update_without_new_bars_changes_nothing() -> None:
    full = random_walk(30)
    sma = compute_indicator(talib.SMA, [make_view(full)], {"timeperiod": 4})
    before = sma._array.copy()
    sma.update()
    np.testing.assert_array_equal(sma._array, before)


@pytest.mark.parametrize(
    ("func", "params"),
    [
        (talib.EMA, {"timeperiod": 10}),
        (talib.RSI, {"timeperiod": 14}),
        (talib.MACD, {}),  # built on EMAs, though TA-Lib does not flag it unstable
        (talib.KAMA, {"timeperiod": 5}),
    ],
    ids=["EMA", "RSI", "MACD", "KAMA"],
)
def test_update_of_seeded_talib_functions_matches_a_full_recompute(
    func: Any, params: dict[str, int]
) -> None:
    full = random_walk(200)
    close = make_view(full[:150])
    made = compute_indicator(func, [close], params)
    outputs = made if isinstance(made, tuple) else (made,)
    expected = func(full, **params)
    expected = expected if isinstance(expected, tuple) else (expected,)
    for size in (1, 49):
        append_bars(close, full[len(close._array) : len(close._array) + size])
        for indicator in outputs:
            indicator.update()
    for indicator, values in zip(outputs, expected, strict=True):
        np.testing.assert_allclose(indicator._array, values, rtol=1e-9, equal_nan=True)


def test_update_of_a_seeded_talib_function_of_several_inputs() -> None:
    close = random_walk(120, 4)
    high, low = close * 1.01, close * 0.99
    cursor = Cursor()
    cursor.i = 79
    views = [
        SeriesView(n, a[:80].copy(), cursor) for n, a in (("h", high), ("l", low), ("c", close))
    ]
    atr = compute_indicator(talib.ATR, views, {"timeperiod": 5})
    for view, values in zip(views, (high, low, close), strict=True):
        view._append(values[80:])
    cursor.i = 119
    atr.update()
    np.testing.assert_allclose(
        atr._array, talib.ATR(high, low, close, timeperiod=5), rtol=1e-9, equal_nan=True
    )
