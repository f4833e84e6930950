from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from quantkit import SmaCross, sample_feed
from quantkit.domain.bars import BarSeries
from quantkit.errors import ConfigError
from quantkit.optimize import WalkForwardResult, optimize, walk_forward
from quantkit.optimize.walkforward import make_windows, slice_bars
from tests.builders import make_series

BARS = sample_feed(end="2021-01-16").load()  # 360 hourly bars
PRIMARY = next(iter(BARS.values()))
SPACE = {"fast": [4, 8], "slow": [16, 32]}
HOUR = 3_600_000_000_000


def trades(result: Any) -> float:
    return float(result.stats["Trades"])


@pytest.fixture(scope="module")
def rolling() -> WalkForwardResult:
    return walk_forward(SmaCross, BARS, SPACE, train=150, test=70, executor="serial")


def test_windows_by_bars_roll_and_anchor() -> None:
    times = np.arange(10, dtype=np.int64)
    rolled = [(w.train_start, w.train_end, w.test_end) for w in make_windows(times, 4, 3)]
    assert rolled == [(0, 4, 7), (3, 7, 10)]
    anchored = make_windows(times, 4, 3, anchored=True)
    assert [(w.train_start, w.train_end, w.test_end) for w in anchored] == [(0, 4, 7), (0, 7, 10)]
    stepped = make_windows(times, 4, 3, step=2)
    assert [(w.train_start, w.test_start, w.test_end) for w in stepped] == [
        (0, 4, 7), (2, 6, 9), (4, 8, 10),
    ]  # fmt: skip
    assert [w.index for w in stepped] == [0, 1, 2]


def test_windows_by_time_match_windows_by_bars() -> None:
    times = np.arange(24, dtype=np.int64) * HOUR
    by_time = make_windows(times, "8h", "4h", step="4h")
    assert by_time == make_windows(times, 8, 4)
    grown = make_windows(times, "8h", "4h", anchored=True)
    assert grown == make_windows(times, 8, 4, anchored=True)


@pytest.mark.parametrize(
    ("train", "test", "step", "message"),
    [
        (0, 3, None, "train must be >= 1"),
        (True, 3, None, "bar count or a time span"),
        (4.5, 3, None, "bar count or a time span"),
        ("soon", "1h", None, "not a time span"),
        ("-2h", "1h", None, "must be positive"),
        (4, "1h", None, "all be bar counts or all time spans"),
        (4, 3, "1h", "all be bar counts or all time spans"),
        (10, 3, None, "no window fits"),
    ],
)
def test_bad_windows_are_config_errors(train: Any, test: Any, step: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_windows(np.arange(10, dtype=np.int64) * HOUR, train, test, step=step)


def test_each_choice_is_the_in_sample_best(rolling: WalkForwardResult) -> None:
    windows = make_windows(PRIMARY.open_time, 150, 70)
    assert len(rolling.windows) == len(windows) == 3
    differs = 0
    for window, chosen, row in zip(
        windows, rolling.chosen_params, rolling.windows.itertuples(), strict=True
    ):
        in_sample = slice_bars(BARS, PRIMARY, window.train_start, window.train_end)
        assert len(in_sample["BTC/USDT"]) == 150
        alone = optimize(SmaCross, in_sample, SPACE, executor="serial")
        assert chosen == alone.best_params
        assert row.in_sample == alone.best_value
        assert {"fast": row.fast, "slow": row.slow} == chosen
        out = slice_bars(BARS, PRIMARY, window.test_start, window.test_end)
        differs += optimize(SmaCross, out, SPACE, executor="serial").best_params != chosen
    assert differs > 0  # some out-of-sample window favours another choice: it was not used


def _mutated_from(start: int) -> dict[str, BarSeries]:
    """The bars with everything from ``start`` on replaced by a different random walk."""
    rng = np.random.default_rng(99)
    n = len(PRIMARY) - start
    close = PRIMARY.close[start - 1] * np.exp(np.cumsum(rng.normal(0.0, 0.02, n)))
    opens = np.concatenate([[PRIMARY.close[start - 1]], close[:-1]])
    rows = [
        (o, max(o, c) * 1.001, min(o, c) * 0.999, c, 10.0)
        for o, c in zip(opens, close, strict=True)
    ]
    tail = make_series(rows, start=int(PRIMARY.open_time[start]), timeframe=PRIMARY.timeframe)
    head = PRIMARY.head(start)
    merged = BarSeries(
        head.symbol,
        head.timeframe,
        *(
            np.concatenate([getattr(head, c), getattr(tail, c)])
            for c in ("open_time", "close_time", "open", "high", "low", "close", "volume")
        ),
    )
    return {"BTC/USDT": merged}


@pytest.mark.parametrize("window", [0, 1])
def test_changing_out_of_sample_bars_never_changes_earlier_choices(
    rolling: WalkForwardResult, window: int
) -> None:
    start = make_windows(PRIMARY.open_time, 150, 70)[window].test_start
    changed = walk_forward(
        SmaCross, _mutated_from(start), SPACE, train=150, test=70, executor="serial"
    )
    keep = window + 1  # windows 0..window saw no changed bar in sample
    assert changed.chosen_params[:keep] == rolling.chosen_params[:keep]
    assert list(changed.windows["in_sample"][:keep]) == list(rolling.windows["in_sample"][:keep])
    # the mutation did reach the out-of-sample run of that window
    assert not changed.results[window].equity.equals(rolling.results[window].equity)


def test_stitched_equity_chains_the_window_returns(rolling: WalkForwardResult) -> None:
    equity = rolling.equity
    assert equity.index.is_monotonic_increasing and equity.index.is_unique
    assert len(equity) == 360 - 150
    assert equity.iloc[0] == pytest.approx(100_000.0)
    growth = math.prod(r.equity.iloc[-1] / r.equity.iloc[0] for r in rolling.results)
    assert equity.iloc[-1] / rolling.results[0].equity.iloc[0] == pytest.approx(growth)
    assert rolling.stats["Bars"] == len(equity)
    assert rolling.stats["Trades"] == sum(len(r.trades) for r in rolling.results)
    assert equity.index[0] == pd.Timestamp(int(PRIMARY.close_time[150]), tz="UTC")


def test_warmup_comes_from_the_in_sample_side() -> None:
    found = walk_forward(
        SmaCross, BARS, SPACE, train=150, test=70, warmup=40, executor="serial",
        objective=trades, anchored=True,
    )  # fmt: skip
    first = found.results[0]
    assert first.equity.index[0] == pd.Timestamp(int(PRIMARY.close_time[110]), tz="UTC")
    assert len(found.equity) == 360 - 150  # the warmup bars are not part of the curve
    assert found.objective == "trades"
    assert set(found.windows["train_start"]) == {found.windows["train_start"][0]}
    assert list(found.windows["out_of_sample"]) == [float(len(r.trades)) for r in found.results]


def test_warmup_longer_than_the_first_window_is_an_error() -> None:
    with pytest.raises(ConfigError, match="warmup=200 bars reaches before the first bar"):
        walk_forward(SmaCross, BARS, SPACE, train=150, test=70, warmup=200, executor="serial")


def test_time_spans_and_a_local_pool(rolling: WalkForwardResult) -> None:
    found = walk_forward(SmaCross, BARS, SPACE, train="150h", test="70h")  # executor=None
    pd.testing.assert_frame_equal(found.windows, rolling.windows)
    pd.testing.assert_series_equal(found.equity, rolling.equity)


def test_reprs(rolling: WalkForwardResult) -> None:
    text = repr(rolling)
    assert "WalkForwardResult: 3 windows" in text and "Sharpe ratio" in text
    assert "<table" in rolling._repr_html_()
