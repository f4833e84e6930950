"""Result: tables, stats wiring, text and HTML forms, report file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from quantkit import BacktestBroker, Engine, Market, SeriesFeed, SmaCross
from quantkit.domain.fill import Fill
from quantkit.domain.order import Side
from quantkit.engine.trades import round_trips
from tests.builders import make_series


@pytest.fixture(scope="module")
def result():  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(21)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 600)))
    rows = [(c, c * 1.01, c * 0.99, c, 10.0) for c in close]
    market = Market("BTC/USDT", "BTC", "USDT", maker_fee=0.0005, taker_fee=0.001)
    broker = BacktestBroker(cash=10_000, markets={"BTC/USDT": market})
    return Engine(
        feed=SeriesFeed(make_series(rows)), strategy=SmaCross(fast=5, slow=20), broker=broker
    ).run()


def test_tables_agree_with_each_other(result) -> None:  # type: ignore[no-untyped-def]
    fills, trades = result.fills, result.trades
    assert len(trades) > 5
    assert result.stats["Trades"] == len(trades)
    assert result.stats["Fees paid"] == pytest.approx(fills["fee"].sum())
    # every closed trade is one buy and one sell here; its pnl is proceeds - cost - fees
    buys = fills[fills["side"] == "buy"].reset_index(drop=True)
    sells = fills[fills["side"] == "sell"].reset_index(drop=True)
    expected = (
        sells["price"] * sells["amount"]
        - buys["price"][: len(sells)] * buys["amount"][: len(sells)]
        - sells["fee"]
        - buys["fee"][: len(sells)]
    )
    np.testing.assert_allclose(trades["pnl"].to_numpy(), expected.to_numpy(), rtol=1e-9)
    position = result.positions.loc["BTC/USDT"]
    open_value = position["amount"] * position["last_price"]
    open_cost = (result.open_trades["entry_price"] * result.open_trades["size"]).sum()
    open_fees = result.open_trades["fees"].sum()
    final_equity = 10_000 + trades["pnl"].sum() + open_value - open_cost - open_fees
    assert result.equity.iloc[-1] == pytest.approx(final_equity)
    assert (result.drawdown <= 0).all()
    assert set(result.orders["status"]) <= {"filled", "rejected", "open"}


def test_repr_and_html(result) -> None:  # type: ignore[no-untyped-def]
    text = repr(result)
    assert text.startswith(
        "Result: SmaCross(fast=5, slow=20, fraction=1.0) on BTC/USDT (1h, 600 bars)"
    )
    assert "Sharpe ratio" in text and "Ambiguous trades" in text
    html = result._repr_html_()
    assert html.count("<tr>") == len(result.stats)
    assert "<script" not in html


def test_report_is_self_contained(result, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = result.report(tmp_path / "out" / "report.html")
    page = path.read_text(encoding="utf-8")
    assert "Plotly.newPlot" in page or "plotly" in page.lower()
    assert '<script src="http' not in page and '<link href="http' not in page  # no CDN
    assert "Statistics" in page and "Trades" in page
    figure = result.plot()
    assert (
        len(figure.data) == 8
    )  # close, buys, sells, equity, before fees, hold, drawdown, exposure


def test_indicators_are_exposed_by_name(result) -> None:  # type: ignore[no-untyped-def]
    names = list(result.indicators)
    assert names == ["SMA(timeperiod=5)", "SMA(timeperiod=20)", "cross"]
    sma = result.indicators["SMA(timeperiod=5)"]
    assert len(sma) == 600 and np.isnan(sma.iloc[3]) and not np.isnan(sma.iloc[4])


def test_round_trips_split_a_reversal() -> None:
    def fill(side: Side, price: float, amount: float, t: int) -> Fill:
        return Fill("x", "BTC/USDT", side, price, amount, 1.0, "USDT", t)

    closed, still_open = round_trips(
        [fill(Side.BUY, 10.0, 2.0, 1), fill(Side.SELL, 12.0, 3.0, 2), fill(Side.BUY, 11.0, 1.0, 3)]
    )
    (long,) = [t for t in closed if t.direction == "long"]
    (short,) = [t for t in closed if t.direction == "short"]
    # long: 2 @ 10 -> 2 @ 12; fees 1 + 2/3 of 1 = 1.6667
    assert long.pnl == pytest.approx(4.0 - 1 - 2 / 3)
    # short: 1 @ 12 -> 1 @ 11; fees 1/3 + 1
    assert short.pnl == pytest.approx(1.0 - 1 / 3 - 1)
    assert still_open == []


def test_tiny_trades_are_still_trades() -> None:
    from quantkit.domain.position import Position

    def fill(side: Side, amount: float, t: int) -> Fill:
        return Fill("x", "BTC/USDT", side, 100.0, amount, 0.0, "USDT", t)

    tiny = 1e-15
    closed, still_open = round_trips(
        [fill(Side.BUY, tiny, 1), fill(Side.SELL, tiny, 2), fill(Side.BUY, tiny, 3)]
    )
    assert len(closed) == 1 and len(still_open) == 1
    position = Position("BTC/USDT")
    position.apply(tiny, 100.0)
    assert not position.is_flat
    position.apply(-tiny, 101.0)
    assert position.is_flat and position.amount == 0.0


def test_the_equity_index_is_the_bars_close_times_in_utc_without_a_copy() -> None:
    import pandas as pd

    rows = [(100.0 + k, 101.0 + k, 99.0 + k, 100.5 + k, 10.0) for k in range(40)]
    series = make_series(rows)
    result = Engine(feed=SeriesFeed(series), strategy=SmaCross(fast=2, slow=5)).run()
    index = result.equity.index
    expected = pd.to_datetime(series.close_time, unit="ns", utc=True)
    assert index.equals(expected)
    assert str(index.dtype) == "datetime64[ns, UTC]"
    assert index.name == "time"
    assert np.shares_memory(index.asi8, series.close_time)  # 8 bytes a bar saved
