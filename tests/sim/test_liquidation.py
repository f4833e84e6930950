"""A margin account never goes silently below zero: forced liquidation, and a leverage cap.

Every expected price and balance is worked out by hand in the comments.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantkit import BacktestBroker
from quantkit.brokers.paper import PaperBroker
from quantkit.config import parse_config
from quantkit.data.replay import ReplayStream
from quantkit.domain.fill import Fill
from quantkit.domain.order import OrderRequest, OrderStatus, OrderType, Side
from quantkit.domain.portfolio import MAX_LEVERAGE, MarginConfig
from quantkit.engine.live import LiveEngine
from quantkit.errors import ConfigError
from quantkit.sim.exchange import SimulatedExchange
from tests.builders import make_exchange
from tests.strategy.helpers import Scripted, make_market, make_series, run_engine

SYM = "BTC/USDT"
BUY, SELL = Side.BUY, Side.SELL


def market(side: Side, amount: float) -> OrderRequest:
    return OrderRequest(SYM, side, OrderType.MARKET, amount=amount)


def process(ex: SimulatedExchange, t: int, o: float, h: float, low: float, c: float) -> None:
    ex.process_bar(SYM, t, o, h, low, c, 1e9)


def leveraged_long(open_: float, high: float, low: float, close: float) -> SimulatedExchange:
    """Equity 1,000 holding 20 BTC bought at 100 with 2x leverage (cash -1,000), then a bar."""
    ex = make_exchange(cash=1_000.0, leverage=2.0)
    ex.submit(market(BUY, 20.0), 0, 100.0)
    process(ex, 1, 100.0, 100.0, 100.0, 100.0)
    assert ex.portfolio.balance == -1_000.0 and ex.portfolio.equity() == 1_000.0
    process(ex, 2, open_, high, low, close)
    return ex


# --- the simulated exchange -------------------------------------------------------------------


def test_long_is_closed_where_equity_reaches_zero() -> None:
    # equity(p) = -1,000 + 20 p is zero at p = 50; the bar trades down to 40 -> closed at 50
    ex = leveraged_long(open_=90.0, high=95.0, low=40.0, close=60.0)
    liquidation = ex.liquidation
    assert liquidation is not None
    assert (liquidation.symbol, liquidation.price, liquidation.deficit) == (SYM, 50.0, 0.0)
    fill = ex.fills[-1]
    assert (fill.side, fill.price, fill.amount, fill.fee, fill.timestamp) == (
        SELL,
        50.0,
        20.0,
        0.0,
        2,
    )
    assert ex.portfolio.position(SYM).amount == 0.0
    assert ex.portfolio.balance == 0.0 and ex.portfolio.equity() == 0.0
    order = ex.orders[fill.client_id]
    assert order.status is OrderStatus.FILLED and order.request.tag == "liquidation"
    assert "liquidated: equity reached zero as BTC/USDT traded at 50" in order.reason


def test_a_bar_that_stays_above_the_zero_price_does_not_liquidate() -> None:
    # the low 50.5 leaves equity -1,000 + 20 * 50.5 = 10 > 0
    ex = leveraged_long(open_=90.0, high=95.0, low=50.5, close=60.0)
    assert ex.liquidation is None
    assert ex.portfolio.equity() == pytest.approx(-1_000 + 20 * 60)


def test_a_gap_through_zero_closes_at_the_open_and_records_the_deficit() -> None:
    # opens at 45, below the zero price 50: sold at 45 -> cash -1,000 + 900 = -100, a deficit
    # of 100 absorbed; equity stays at 0, not -100
    ex = leveraged_long(open_=45.0, high=46.0, low=30.0, close=35.0)
    assert ex.liquidation is not None
    assert ex.liquidation.price == 45.0
    assert ex.liquidation.deficit == pytest.approx(100.0)
    assert ex.portfolio.equity() == 0.0
    assert "a deficit of 100 beyond zero was absorbed" in ex.orders[ex.fills[-1].client_id].reason


def test_short_is_closed_where_equity_reaches_zero() -> None:
    # leverage 1 with shorting: short 10 at 100 -> cash 2,000, equity(p) = 2,000 - 10 p,
    # zero at p = 200; the bar trades up to 250 -> bought back at 200
    ex = make_exchange(cash=1_000.0, allow_short=True)
    ex.submit(market(SELL, 10.0), 0, 100.0)
    process(ex, 1, 100.0, 100.0, 100.0, 100.0)
    process(ex, 2, 110.0, 250.0, 105.0, 240.0)
    assert ex.liquidation is not None and ex.liquidation.price == 200.0
    assert (ex.fills[-1].side, ex.fills[-1].amount) == (BUY, 10.0)
    assert ex.portfolio.equity() == 0.0


def test_after_liquidation_working_orders_are_canceled_and_new_ones_rejected() -> None:
    ex = make_exchange(cash=1_000.0, leverage=2.0)
    ex.submit(market(BUY, 20.0), 0, 100.0)
    process(ex, 1, 100.0, 100.0, 100.0, 100.0)
    resting = ex.submit(
        OrderRequest(SYM, SELL, OrderType.LIMIT, amount=20.0, limit_price=500.0), 1, 100.0
    )
    process(ex, 2, 90.0, 95.0, 40.0, 60.0)
    assert resting.status is OrderStatus.CANCELED and "liquidated" in resting.reason
    later = ex.submit(market(BUY, 1.0), 2, 60.0)
    assert later.status is OrderStatus.REJECTED
    assert "the account was liquidated" in later.reason and "no new orders" in later.reason
    assert not ex.needs_bar(SYM)


def test_a_cash_account_is_never_checked() -> None:
    # spot, no leverage: it cannot owe; a crash to 1 leaves the 10 BTC worth 10
    ex = make_exchange(cash=1_000.0)
    ex.submit(market(BUY, 10.0), 0, 100.0)
    process(ex, 1, 100.0, 100.0, 100.0, 100.0)
    process(ex, 2, 90.0, 90.0, 1.0, 1.0)
    assert ex.liquidation is None and ex.portfolio.equity() == pytest.approx(10.0)


# --- through the engine -----------------------------------------------------------------------


def crash_series() -> Any:
    # bars 0-2 at 100; bar 3 trades down to 40 (zero price 50); bars 4-5 recover to 200
    rows = [(100.0, 100.0, 100.0, 100.0, 1e6)] * 3
    rows += [(90.0, 95.0, 40.0, 60.0, 1e6), (60.0, 200.0, 60.0, 200.0, 1e6)]
    rows += [(200.0, 200.0, 200.0, 200.0, 1e6)]
    return make_series(rows)


def test_engine_liquidates_and_the_result_says_so() -> None:
    # buy 20 at bar 1's open (100) with equity 1,000 and leverage 2; no orders work afterwards,
    # the broker still watches the bars; bar 3 liquidates at 50; the buy at bar 4 is refused
    strategy = Scripted({0: lambda s: s.buy(amount=20.0), 4: lambda s: s.buy(amount=1.0)})
    result = run_engine(strategy, crash_series(), cash=1_000.0, leverage=2.0)
    assert result.equity.tolist() == pytest.approx([1_000.0, 1_000.0, 1_000.0, 0.0, 0.0, 0.0])
    assert (result.equity >= 0).all()
    liquidations = result.liquidations
    assert len(liquidations) == 1
    row = liquidations.iloc[0]
    assert (row["side"], row["status"], row["average_price"], row["filled"]) == (
        "sell",
        "filled",
        50.0,
        20.0,
    )
    assert "liquidated" in row["reason"]
    refused = result.orders.iloc[-1]
    assert refused["status"] == "rejected" and "no new orders" in refused["reason"]
    # the strategy was told: the liquidation's fill reached on_fill
    assert ("fill", row["client_id"], 50.0, 20.0, 3) in strategy.events
    assert result.stats["Final equity"] == 0.0
    assert "liquidated" in repr(result)


def test_a_margin_account_needs_every_bar_while_a_position_is_open() -> None:
    # the engine and the paper broker process a bar only when the exchange needs it
    ex = make_exchange(cash=1_000.0, leverage=2.0)
    assert not ex.needs_bar(SYM)  # nothing held, nothing working
    ex.submit(market(BUY, 20.0), 0, 100.0)
    assert ex.needs_bar(SYM)  # an order works
    process(ex, 1, 100.0, 100.0, 100.0, 100.0)
    assert ex.needs_bar(SYM)  # no order works, but a leveraged position is open
    spot = make_exchange(cash=1_000.0)
    spot.submit(market(BUY, 5.0), 0, 100.0)
    process(spot, 1, 100.0, 100.0, 100.0, 100.0)
    assert not spot.needs_bar(SYM)  # a cash account needs bars only for its orders


@settings(max_examples=40, deadline=None)
@given(
    moves=st.lists(st.floats(-0.4, 0.4), min_size=5, max_size=40),
    leverage=st.sampled_from([1.0, 2.0, 5.0, 20.0]),
    short=st.booleans(),
)
def test_margin_equity_never_goes_below_zero(
    moves: list[float], leverage: float, short: bool
) -> None:
    # a position of the full leverage taken at bar 1's open, then a random walk of closes
    closes = 100.0 * np.cumprod(1.0 + np.asarray([0.0, *moves]))
    opens = np.concatenate([[100.0], closes[:-1]])
    rows = [
        (o, max(o, c) * 1.02, min(o, c) * 0.98, c, 1e9)
        for o, c in zip(opens.tolist(), closes.tolist(), strict=True)
    ]
    amount = 0.99 * leverage * 1_000.0 / 100.0
    action = (lambda s: s.sell(amount=amount)) if short else (lambda s: s.buy(amount=amount))
    result = run_engine(
        Scripted({0: action}), make_series(rows), cash=1_000.0, leverage=leverage, allow_short=short
    )
    assert (result.equity >= 0.0).all()
    if result.liquidations.empty:
        return
    # from the close of the liquidation bar (opened at created_at) on, equity stays at zero
    opened = result.liquidations.iloc[0]["created_at"]
    first = int(np.searchsorted(result.equity.index, opened, side="right"))
    assert (result.equity.iloc[first:] == 0.0).all()


# --- the leverage cap -------------------------------------------------------------------------


@pytest.mark.parametrize("leverage", [1e9, 125.5, float("inf"), 0.5])
def test_unreasonable_leverage_is_a_configuration_error(leverage: float) -> None:
    with pytest.raises(ConfigError, match="leverage must be a finite number from 1 to 125"):
        MarginConfig(leverage=leverage)
    with pytest.raises(ConfigError, match="leverage"):
        BacktestBroker(leverage=leverage)


def test_the_largest_leverage_is_accepted() -> None:
    assert MAX_LEVERAGE == 125.0
    assert MarginConfig(leverage=125.0).leverage == 125.0


def test_configuration_file_names_the_leverage_field() -> None:
    data = {"strategy": {"name": "sma_cross"}, "broker": {"mode": "backtest", "leverage": 1e9}}
    with pytest.raises(
        ConfigError, match=r"broker\.backtest\.leverage: .*less than or equal to 125"
    ):
        parse_config(data, environ={})


def test_liquidation_fill_is_a_plain_fill() -> None:
    ex = leveraged_long(open_=90.0, high=95.0, low=40.0, close=60.0)
    assert isinstance(ex.fills[-1], Fill) and ex.fills[-1].fee_currency == "USDT"


def test_paper_trading_liquidates_like_the_backtest() -> None:
    # the crash of test_engine_liquidates_and_the_result_says_so, replayed through the live
    # engine and the paper broker: the same liquidation at 50 in bar 3, and equity 0 after
    series = crash_series()
    broker = PaperBroker(cash=1_000.0, leverage=2.0, markets={SYM: make_market(SYM)})
    strategy = Scripted({0: lambda s: s.buy(amount=20.0)})
    engine = LiveEngine(
        stream=ReplayStream({SYM: series}),
        strategy=strategy,
        broker=broker,
        warmup=0,
        handle_signals=False,
    )
    summary = engine.run()
    liquidation = broker.exchange.liquidation
    assert liquidation is not None and liquidation.price == 50.0
    assert summary.equity == 0.0
    fills = [event for event in strategy.events if event[0] == "fill"]
    assert fills[-1][2:] == (50.0, 20.0, 3)
