"""The statistics say what fees did: P&L before fees and fees as a share of it and of the net."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import quantkit as qk
from quantkit.metrics.stats import compute_stats, format_stats, metrics_table

NO_TRADES = pd.DataFrame({"pnl": pd.Series([], dtype=float)})


def equity(values: list[float]) -> pd.Series:
    index = pd.date_range("2024-01-01", periods=len(values), freq="1D", tz="UTC")
    return pd.Series(values, index=index, dtype=float)


def test_fee_rows_by_hand() -> None:
    # 100 -> 90 with 9.7 of fees: net -10, gross -10 + 9.7 = -0.3;
    # fees / |net| = 9.7 / 10 = 97 %; fees / |gross| = 9.7 / 0.3 = 3,233.3 %
    stats = compute_stats(equity([100.0, 95.0, 90.0]), NO_TRADES, periods_per_year=365, fees=9.7)
    assert stats["Gross P&L"] == pytest.approx(-0.3)
    assert stats["Fees [% of net P&L]"] == pytest.approx(97.0)
    assert stats["Fees [% of gross P&L]"] == pytest.approx(9.7 / 0.3 * 100)


def test_profitable_run_shows_the_share_of_the_gross_profit_fees_took() -> None:
    # 100 -> 120 with 5 of fees: gross 25; fees took 5/25 = 20 % of it, 5/20 = 25 % of the net
    stats = compute_stats(equity([100.0, 120.0]), NO_TRADES, periods_per_year=365, fees=5.0)
    assert stats["Gross P&L"] == pytest.approx(25.0)
    assert stats["Fees [% of gross P&L]"] == pytest.approx(20.0)
    assert stats["Fees [% of net P&L]"] == pytest.approx(25.0)


def test_zero_pnl_and_unknown_fees_give_nan() -> None:
    flat = compute_stats(equity([100.0, 100.0]), NO_TRADES, periods_per_year=365, fees=0.0)
    assert flat["Gross P&L"] == 0.0
    assert math.isnan(flat["Fees [% of gross P&L]"]) and math.isnan(flat["Fees [% of net P&L]"])
    unknown = compute_stats(equity([100.0, 110.0]), NO_TRADES, periods_per_year=365)
    assert math.isnan(unknown["Gross P&L"]) and math.isnan(unknown["Fees [% of net P&L]"])


def test_metrics_table_reads_the_fees_of_the_trades() -> None:
    trades = pd.DataFrame({"pnl": [-4.0, -6.0], "fees": [2.0, 3.0]})
    table = metrics_table(equity([100.0, 96.0, 90.0]), trades=trades)
    # net -10, fees 5 -> gross -5; 50 % of the net loss, 100 % of the gross loss
    assert table["Gross P&L"] == pytest.approx(-5.0)
    assert table["Fees [% of net P&L]"] == pytest.approx(50.0)
    assert table["Fees [% of gross P&L]"] == pytest.approx(100.0)


def test_the_demo_shows_that_fees_made_most_of_the_loss() -> None:
    # examples/01: SmaCross(10, 30) on the BTC/USDT sample with 100,000 and 0.1 % fees
    result = qk.Engine(
        feed=qk.sample_feed("BTC/USDT"),
        strategy=qk.SmaCross(fast=10, slow=30),
        broker=qk.BacktestBroker(cash=100_000),
    ).run()
    fees = float(result.fills["fee"].sum())
    loss = 100_000.0 - float(result.equity.iloc[-1])
    assert round(100 * loss / 100_000, 1) == 48.9  # the demo loses 48.9 %
    assert result.stats["Fees [% of net P&L]"] == pytest.approx(100 * fees / loss)
    assert round(result.stats["Fees [% of net P&L]"]) == 97
    assert result.stats["Gross P&L"] == pytest.approx(fees - loss)
    assert "Fees [% of net P&L]" in format_stats(result.stats)
