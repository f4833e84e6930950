"""R20 -- the fee asset: fees charged in the quote currency or in the asset received.

Hand-computed cases first, then a hypothesis property of the accounting identity
``cash + position * mark == start + realised + unrealised - fees_paid``.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantkit import BacktestBroker, Engine, SeriesFeed, Strategy, SymbolData
from quantkit.analysis.plots import gross_equity_series
from quantkit.domain.market import Market
from quantkit.domain.order import OrderRequest, OrderStatus, OrderType, Side
from quantkit.domain.portfolio import MarginConfig, Portfolio
from quantkit.engine.trades import round_trips
from quantkit.errors import ConfigError
from quantkit.sim.exchange import SimulatedExchange
from quantkit.sim.fees import FlatFees, MarketFees
from quantkit.sim.rules import FillRules
from quantkit.vector.run import FastSettings
from tests.builders import make_exchange, make_series

SYM = "BTC/USDT"
BUY, SELL = Side.BUY, Side.SELL
RECEIVED = FillRules(fees=FlatFees(maker=0.001, taker=0.001, charged_in="received"))


def market_order(side: Side, **kw: float) -> OrderRequest:
    return OrderRequest(SYM, side, OrderType.MARKET, **kw)  # type: ignore[arg-type]


class Bars:
    """Feeds one bar at a time at a flat price (open = high = low = close)."""

    def __init__(self, ex: SimulatedExchange) -> None:
        self.ex, self.t = ex, 0

    def at(self, price: float) -> None:
        self.t += 1
        self.ex.process_bar(SYM, self.t, price, price, price, price, 1e9)


def identity_gap(ex: SimulatedExchange, start: float, mark: float) -> float:
    """``cash + amount * mark - (start + realised + unrealised - fees)``: zero when exact."""
    p = ex.portfolio
    pos = p.position(SYM)
    left = p.balance + pos.amount * mark
    right = start + pos.realized_pnl + pos.unrealized_pnl(mark) - p.fees_paid
    return left - right


# -- hand-computed cases ---------------------------------------------------------------------


def test_r20_received_buy_credits_base_less_fee_and_debits_the_full_quote() -> None:
    ex = make_exchange(cash=100_000.0, rules=RECEIVED)
    order = ex.submit(market_order(BUY, amount=0.1), 0, 40_000.0)
    Bars(ex).at(40_000.0)
    (fill,) = ex.fills
    assert (fill.fee, fill.fee_currency) == (pytest.approx(0.0001), "BTC")
    assert fill.fee_in_base and fill.fee_in_quote == pytest.approx(4.0)
    assert ex.portfolio.balance == pytest.approx(96_000.0)  # 100,000 - 0.1 x 40,000
    assert ex.portfolio.position(SYM).amount == pytest.approx(0.0999)
    assert ex.portfolio.fees_paid == pytest.approx(4.0)  # 0.0001 BTC at the fill price
    assert order.fee == pytest.approx(4.0)  # an order's fee stays in quote


def test_r20_received_sell_credits_quote_less_fee_and_the_identity_holds() -> None:
    ex = make_exchange(cash=100_000.0, rules=RECEIVED)
    bars = Bars(ex)
    ex.submit(market_order(BUY, amount=0.1), 0, 40_000.0)
    bars.at(40_000.0)
    ex.submit(market_order(SELL, amount=0.0999), 1, 40_000.0)
    bars.at(41_000.0)
    sell = ex.fills[1]
    # 0.0999 x 41,000 = 4,095.9; fee 4.0959 USDT; credited 4,091.8041
    assert (sell.fee, sell.fee_currency) == (pytest.approx(4.0959), "USDT")
    assert ex.portfolio.balance == pytest.approx(96_000.0 + 4_091.8041)
    assert ex.portfolio.position(SYM).amount == 0.0
    pos = ex.portfolio.position(SYM)
    assert pos.realized_pnl == pytest.approx(99.9)  # 0.0999 x (41,000 - 40,000)
    assert ex.portfolio.fees_paid == pytest.approx(8.0959)
    assert ex.portfolio.balance == pytest.approx(100_000.0 + 99.9 - 8.0959)
    closed, still_open = round_trips(ex.fills)
    (trade,) = closed
    assert not still_open
    assert trade.entry_amount == pytest.approx(0.0999)
    assert trade.fees == pytest.approx(8.0959)
    assert trade.pnl == pytest.approx(ex.portfolio.balance - 100_000.0)


def test_r20_quote_default_is_unchanged() -> None:
    ex = make_exchange(cash=100_000.0, taker_fee=0.001)
    ex.submit(market_order(BUY, amount=0.1), 0, 40_000.0)
    Bars(ex).at(40_000.0)
    (fill,) = ex.fills
    assert (fill.fee, fill.fee_currency, fill.fee_in_base) == (pytest.approx(4.0), "USDT", False)
    assert ex.portfolio.balance == pytest.approx(95_996.0)
    assert ex.portfolio.position(SYM).amount == 0.1


def test_r20_selling_the_bought_amount_is_refused_after_a_received_fee() -> None:
    ex = make_exchange(cash=100_000.0, rules=RECEIVED)
    bars = Bars(ex)
    ex.submit(market_order(BUY, amount=0.1), 0, 40_000.0)
    bars.at(40_000.0)
    sell = ex.submit(market_order(SELL, amount=0.1), 1, 40_000.0)
    bars.at(40_000.0)
    assert sell.status is OrderStatus.REJECTED
    assert "insufficient BTC" in sell.reason


def test_r20_received_cost_buy_spends_exactly_cost_and_pays_in_base() -> None:
    ex = make_exchange(cash=10_000.0, rules=RECEIVED)
    ex.submit(market_order(BUY, cost=1_000.0), 0, 100.0)
    Bars(ex).at(100.0)
    (fill,) = ex.fills
    assert fill.amount == pytest.approx(10.0) and fill.fee == pytest.approx(0.01)
    assert ex.portfolio.balance == pytest.approx(9_000.0)
    assert ex.portfolio.position(SYM).amount == pytest.approx(9.99)


def test_r20_market_fees_take_the_fee_asset_too() -> None:
    rules = FillRules(fees=MarketFees(charged_in="received"))
    ex = make_exchange(cash=10_000.0, rules=rules, taker_fee=0.002)
    ex.submit(market_order(BUY, amount=1.0), 0, 100.0)
    Bars(ex).at(100.0)
    assert (ex.fills[0].fee, ex.fills[0].fee_currency) == (pytest.approx(0.002), "BTC")
    assert repr(MarketFees(charged_in="received")) == "MarketFees(charged_in='received')"
    assert repr(MarketFees()) == "MarketFees()"


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: FlatFees(charged_in="base"), "charged_in must be 'quote' or 'received'"),
        (lambda: MarketFees(charged_in="bnb"), "charged_in must be 'quote' or 'received'"),  # type: ignore[arg-type]
        (lambda: FlatFees(per_order=1.0, charged_in="received"), "per_order"),
    ],
)
def test_r20_bad_fee_asset_settings_are_refused(make: object, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        make()  # type: ignore[operator]


def test_r20_received_fees_on_a_margin_account_are_refused() -> None:
    market = Market(SYM, "BTC", "USDT")
    portfolio = Portfolio("USDT", {"USDT": 1_000.0}, MarginConfig(allow_short=True))
    with pytest.raises(ConfigError, match="spot account"):
        SimulatedExchange({SYM: market}, portfolio, RECEIVED)


def test_r20_the_fast_path_refuses_received_fees() -> None:
    with pytest.raises(ConfigError, match="fast path: fees charged in the asset received"):
        FastSettings(fees=FlatFees(charged_in="received"))
    assert FastSettings(fees=FlatFees()).fees == FlatFees()  # quote fees still go


def test_r20_close_after_a_received_buy_sells_the_holding_rounded_down_and_leaves_dust() -> None:
    class BuyThenClose(Strategy):
        def on_bar(self, bar: SymbolData) -> None:
            if bar.index == 0:
                self.buy(amount=0.1)
            elif bar.index == 1:
                self.close()

    market = Market(SYM, "BTC", "USDT", amount_increment=0.001, min_amount=0.001)
    broker = BacktestBroker(
        cash=100_000.0, markets={SYM: market}, fees=FlatFees(charged_in="received")
    )
    rows = [(40_000.0, 40_000.0, 40_000.0, 40_000.0, 1e6)] * 4
    result = Engine(
        feed=SeriesFeed(make_series(rows)), strategy=BuyThenClose(), broker=broker
    ).run()
    fills = result.fills
    # held 0.1 x 0.999 = 0.0999; the step 0.001 rounds the close down to 0.099
    assert list(fills["side"]) == ["buy", "sell"]
    assert list(fills["amount"]) == pytest.approx([0.1, 0.099])
    assert list(fills["fee_currency"]) == ["BTC", "USDT"]
    position = broker.portfolio.position(SYM)
    assert position.amount == pytest.approx(0.0009) and position.is_dust and position.is_flat
    # cash: 100,000 - 4,000 + 0.099 x 40,000 x 0.999 = 99,956.04
    assert broker.portfolio.balance == pytest.approx(99_956.04)
    assert result.stats["Fees paid"] == pytest.approx(4.0 + 3.96)
    # the dust closes the round trip: one trade, 0.099 x 0 gross less both fees
    assert result.stats["Trades"] == 1
    assert list(result.trades["pnl"]) == pytest.approx([-(4.0 + 3.96)])
    gross = gross_equity_series(result)  # the report's equity before fees: base fee at price
    assert gross.iloc[-1] - result.equity.iloc[-1] == pytest.approx(4.0 + 3.96)


# -- properties --------------------------------------------------------------------------------

prices = st.floats(min_value=1.0, max_value=100_000.0, allow_nan=False)
rates = st.floats(min_value=0.0, max_value=0.01, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    rate=rates,
    steps=st.lists(
        st.tuples(st.sampled_from([BUY, SELL]), st.floats(0.01, 1.0), prices), max_size=8
    ),
    mark=prices,
)
def test_r20_received_fees_keep_the_equity_identity_and_never_go_negative(
    rate: float, steps: list[tuple[Side, float, float]], mark: float
) -> None:
    start = 1_000_000.0
    rules = FillRules(fees=FlatFees(maker=rate, taker=rate, charged_in="received"))
    ex = make_exchange(cash=start, rules=rules)
    bars = Bars(ex)
    for side, share, price in steps:
        held = ex.portfolio.position(SYM).amount
        amount = share * held if side is SELL else share * 5.0
        if amount <= 0:
            continue
        ex.submit(market_order(side, amount=amount), bars.t, price)
        bars.at(price)
        assert ex.portfolio.position(SYM).amount >= 0.0
        assert ex.portfolio.balance >= -1e-6
        assert identity_gap(ex, start, price) == pytest.approx(0.0, abs=1e-6 * start)
    ex.portfolio.last_price[SYM] = mark
    gap = identity_gap(ex, start, mark)
    assert gap == pytest.approx(0.0, abs=1e-6 * start)
    assert ex.portfolio.equity() == pytest.approx(start + gap + _pnl(ex, mark), rel=1e-9)


def _pnl(ex: SimulatedExchange, mark: float) -> float:
    pos = ex.portfolio.position(SYM)
    return pos.realized_pnl + pos.unrealized_pnl(mark) - ex.portfolio.fees_paid


@settings(max_examples=60, deadline=None)
@given(
    units=st.integers(1, 10_000),
    rate=st.floats(min_value=0.0001, max_value=0.01),
    step=st.sampled_from([0.00001, 0.001, 0.01]),
    buy_price=prices,
    sell_price=prices,
)
def test_r20_a_round_trip_leaves_the_fee_shortfall_as_dust(
    units: int, rate: float, step: float, buy_price: float, sell_price: float
) -> None:
    amount = round(units * step, 8)
    rules = FillRules(fees=FlatFees(maker=rate, taker=rate, charged_in="received"))
    ex = make_exchange(cash=1e12, rules=rules, amount_increment=step, min_amount=step)
    bars = Bars(ex)
    ex.submit(market_order(BUY, amount=amount), 0, buy_price)
    bars.at(buy_price)
    pos = ex.portfolio.position(SYM)
    assert pos.amount == pytest.approx(amount * (1 - rate), rel=1e-12)
    market = ex.markets[SYM]
    to_sell = market.round_amount(pos.amount)  # what close() sells
    if to_sell >= step:
        ex.submit(market_order(SELL, amount=to_sell), bars.t, buy_price)
        bars.at(sell_price)
        assert ex.fills[-1].amount == pytest.approx(to_sell)
    left = pos.amount
    assert left == pytest.approx(amount * (1 - rate) - to_sell, abs=1e-9 * amount)
    assert 0.0 <= left < step  # the base fee's shortfall, below the step: dust
    assert pos.is_flat
