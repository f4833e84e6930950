"""The fast path's perpetual outcome: funding per trade and its totals, from the paying bars."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from quantkit import FundingRates
from quantkit.vector.perp_run import (
    PerpOutcome,
    funding_per_bar,
    funding_schedule,
    perp_stats_rows,
    trade_funding,
)


def _definition(trades: np.ndarray, funding: np.ndarray) -> np.ndarray:
    """A trade from bar e to bar x pays funding[e + 1 : x + 1], summed exactly."""
    return np.array([math.fsum(funding[int(e) + 1 : int(x) + 1]) for e, x in trades[:, :2]])


def _running(trades: np.ndarray, funding: np.ndarray) -> np.ndarray:
    """The same from a running sum over every bar (the rule before the paying bars)."""
    total = np.concatenate(([0.0], np.cumsum(funding)))
    entry, exit_ = trades[:, 0].astype(np.int64), trades[:, 1].astype(np.int64)
    paid: np.ndarray = total[exit_ + 1] - total[entry + 1]
    return paid


def test_each_trade_pays_what_was_booked_after_its_entry_bar_up_to_its_exit_bar() -> None:
    funding = np.array([0.0, 1.5, 0.0, -0.25, 0.0, 2.0, 0.0])
    trades = np.array([[0.0, 1.0], [1.0, 3.0], [3.0, 4.0], [4.0, 6.0], [0.0, 6.0]])
    # bar 1's payment belongs to the trade entered at bar 0 (booked at the open of bar 1)
    assert trade_funding(trades, funding).tolist() == [1.5, -0.25, 0.0, 2.0, 3.25]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(st.just(0.0), st.floats(-5.0, 5.0, allow_nan=False)), min_size=2, max_size=40
    ),
    st.data(),
)
def test_sums_over_the_paying_bars_equal_the_running_sum_over_every_bar(
    values: list[float], data: st.DataObject
) -> None:
    funding = np.array(values)
    n = len(funding)
    pairs = data.draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=8))
    trades = np.array([[min(a, b), max(a, b)] for a, b in pairs], dtype=np.float64).reshape(-1, 2)
    expected = _running(trades, funding)
    paying = np.flatnonzero(funding)
    # exactly the same floats as the running sum: the skipped bars only add zeros
    np.testing.assert_array_equal(trade_funding(trades, funding), expected)
    np.testing.assert_array_equal(trade_funding(trades, funding, paying), expected)
    np.testing.assert_allclose(expected, _definition(trades, funding), rtol=1e-12, atol=1e-12)


def test_totals_and_statistics_rows_read_the_paying_bars() -> None:
    funding = np.array([0.0, 0.1, 0.0, -0.7, 0.2, 0.0])
    outcome = PerpOutcome(funding, np.flatnonzero(funding), 2, 1.0, 0.0, "constant 0.01 %")
    assert outcome.funding_paid == math.fsum([0.1, 0.2])
    assert outcome.funding_received == 0.7
    stats = pd.Series({"Trades": 3, "Return [%]": 1.5}, dtype=object, name="stats")
    table = perp_stats_rows(stats, "BTC/USDT:USDT", outcome)
    assert table.index.tolist() == [
        "Trades", "Return [%]", "Funding paid", "Funding received", "Net funding",
        "Liquidations", "Funding source",
    ]  # fmt: skip
    assert table["Net funding"] == math.fsum([0.1, 0.2]) - 0.7
    assert table["Liquidations"] == 2
    assert table["Funding source"] == "BTC/USDT:USDT: constant 0.01 %"
    assert table.dtype == object and table.name is None  # as the event backtest's table


def test_the_schedule_of_a_funding_history_by_hand() -> None:
    minute = 60_000_000_000
    opens = np.arange(6, dtype=np.int64) * minute
    # due at 0 (the first bar: never paid), at 1.5 (paid at the open of 2), 3 and 3.2 (two
    # rates for bar 4, in time order), a zero rate at 5 and one after the last bar
    history = FundingRates.history(
        [0, int(1.5 * minute), 3 * minute, int(3.2 * minute), 5 * minute, 9 * minute],
        [0.5, 0.001, 0.002, -0.0005, 0.0, 0.7],
    )
    bars, due = funding_schedule(history, opens)
    assert bars.tolist() == [2, 3, 4]
    assert due.tolist() == [0.001, 0.002, 0.0 + -0.0005]
    assert bars.dtype == np.int64
    empty_bars, empty_due = funding_schedule(None, opens)
    assert empty_bars.tolist() == [] and empty_due.tolist() == []


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 30), min_size=0, max_size=12, unique=True),
    st.lists(
        st.one_of(st.just(0.0), st.just(-0.0), st.floats(-0.01, 0.01, allow_nan=False)),
        min_size=12,
        max_size=12,
    ),
    st.integers(1, 3),
)
def test_the_schedule_is_the_per_bar_rates_non_zero_entries(
    ticks: list[int], values: list[float], step: int
) -> None:
    """Sparse and dense agree float for float: rates at any times, several per bar too."""
    times = sorted(ticks)
    history = FundingRates.history(times, values[: len(times)])
    opens = np.arange(0, 25, step, dtype=np.int64)
    dense = funding_per_bar(history, opens)
    bars, due = funding_schedule(history, opens)
    assert bars.tolist() == np.flatnonzero(dense).tolist()
    assert due.tolist() == dense[np.flatnonzero(dense)].tolist()
