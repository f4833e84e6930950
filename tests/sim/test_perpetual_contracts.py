"""Inverse (COIN-M) perpetuals and contract sizes other than 1 in the simulator, by hand.

A COIN-M contract is 100 USD; the account, margin, P&L, fees and funding are in BTC:
notional ``contracts * 100 / price``, P&L ``contracts * 100 * (1/entry - 1/exit)``, funding
``contracts * 100 / mark * rate``. Every expected figure is worked out in the comments.
"""

from __future__ import annotations

from typing import Any

import pytest

from quantkit.brokers.perpetual_setup import futures_account
from quantkit.brokers.settings import SimSettings
from quantkit.domain.contract_position import ContractPosition
from quantkit.domain.funding import FundingRates
from quantkit.domain.futures_portfolio import FuturesPortfolio
from quantkit.domain.market import Market
from quantkit.domain.order import OrderRequest, OrderStatus, OrderType, Side
from quantkit.domain.perp_math import liquidation_price_inverse
from quantkit.domain.perpetual import MarginBracket, PerpetualSpec, brackets_with_cum
from quantkit.errors import ConfigError
from quantkit.sim.perpetual import PerpetualExchange
from tests.builders import HOUR, T0

INV = "BTC/USD:BTC"
INV_SPEC = PerpetualSpec(
    "BTC",
    inverse=True,
    contract_size=100.0,
    brackets=brackets_with_cum([(0, 5, 125, 0.004), (5, 10, 100, 0.005)]),  # in BTC
)
INV_MARKET = Market(
    INV, "BTC", "USD", amount_increment=1.0, min_amount=1.0, maker_fee=0.0001,
    taker_fee=0.0005, perpetual=INV_SPEC,
)  # fmt: skip
INV_FREE = Market(
    INV, "BTC", "USD", amount_increment=1.0, maker_fee=0.0, taker_fee=0.0, perpetual=INV_SPEC
)
LIN = "BTC/USDT:USDT"
LIN_SPEC = PerpetualSpec("USDT", contract_size=0.001)  # 1 contract = 0.001 BTC
LIN_MARKET = Market(LIN, "BTC", "USDT", amount_increment=1.0, taker_fee=0.0005, perpetual=LIN_SPEC)


def exchange(market: Market, currency: str, cash: float, **extra: Any) -> PerpetualExchange:
    extra.setdefault("leverage", 10.0)
    extra.setdefault("margin_mode", "isolated")
    markets = {market.symbol: market}
    settings = SimSettings(cash=cash, currency=currency, markets=markets, **extra)
    account = futures_account(settings, cash)
    assert isinstance(account, FuturesPortfolio)
    return PerpetualExchange(markets, account, funding=settings.funding)


def order(symbol: str, side: Side, amount: float) -> OrderRequest:
    return OrderRequest(symbol, side, OrderType.MARKET, amount=amount)


def bar(
    ex: PerpetualExchange, symbol: str, k: int, price: float, mark: tuple[float, ...] | None = None
) -> None:
    """Bar ``k`` (open time T0 + k hours), flat at ``price``, with an optional mark bar."""
    if mark is not None:
        ex.set_mark(symbol, *mark)
    ex.process_bar(symbol, T0 + k * HOUR, price, price, price, price, 1e9)


def test_a_coin_margined_round_trip_pays_its_fees_and_profit_in_btc() -> None:
    ex = exchange(INV_MARKET, "BTC", 1.0)
    ex.submit(order(INV, Side.BUY, 100.7), T0, 20_000.0)  # rounded down to 100 contracts
    bar(ex, INV, 0, 20_000.0)
    buy = ex.fills[0]
    # 100 contracts of 100 USD at 20,000 = 0.5 BTC of notional; taker 0.05 % = 0.00025 BTC
    assert (buy.amount, buy.price, buy.fee_currency) == (100.0, 20_000.0, "BTC")
    assert buy.fee == pytest.approx(0.00025)
    futures = ex.futures
    pos = futures.position(INV)
    assert isinstance(pos, ContractPosition)
    assert futures.wallet_balance() == pytest.approx(1.0 - 0.00025)
    # isolated margin: 0.5 BTC / 10 = 0.05 BTC; available = wallet - 0.05
    assert futures.isolated_wallet(INV) == pytest.approx(0.05)
    assert futures.available_margin() == pytest.approx(1.0 - 0.00025 - 0.05)
    bar(ex, INV, 1, 22_000.0)
    # unrealised at 22,000: 100 * 100 * (1/20,000 - 1/22,000) = 0.0454545... BTC
    assert futures.unrealized(INV) == pytest.approx(10_000 * (1 / 20_000 - 1 / 22_000))
    assert futures.equity() == pytest.approx(1.0 - 0.00025 + 10_000 * (1 / 20_000 - 1 / 22_000))
    ex.submit(order(INV, Side.SELL, 100.0), T0 + HOUR, 22_000.0)
    bar(ex, INV, 2, 25_000.0)
    sell = ex.fills[1]
    # 0.4 BTC of notional at 25,000; fee 0.0002 BTC; P&L 10,000 * (1/20,000 - 1/25,000) = 0.1
    assert sell.fee == pytest.approx(0.0002)
    assert pos.amount == 0.0
    assert pos.realized_pnl == pytest.approx(0.1)
    assert futures.wallet_balance() == pytest.approx(1.0 + 0.1 - 0.00025 - 0.0002)
    assert futures.equity() == pytest.approx(1.09955)
    assert futures.fees_paid == pytest.approx(0.00045)


def test_a_coin_margined_short_gains_btc_when_the_price_falls() -> None:
    ex = exchange(INV_MARKET, "BTC", 1.0)
    ex.submit(order(INV, Side.SELL, 50.0), T0, 25_000.0)
    bar(ex, INV, 0, 25_000.0)
    ex.submit(order(INV, Side.BUY, 50.0), T0, 25_000.0)
    bar(ex, INV, 1, 20_000.0)
    # 50 * 100 * (1/20,000 - 1/25,000) = 0.05 BTC; fees 0.0005 * (0.2 + 0.25) BTC
    assert ex.futures.position(INV).realized_pnl == pytest.approx(0.05)
    assert ex.futures.equity() == pytest.approx(1.0 + 0.05 - 0.0005 * 0.45)


def test_averaging_in_uses_the_harmonic_entry_price() -> None:
    ex = exchange(INV_MARKET, "BTC", 1.0)
    ex.submit(order(INV, Side.BUY, 10.0), T0, 20_000.0)
    bar(ex, INV, 0, 20_000.0)
    ex.submit(order(INV, Side.BUY, 10.0), T0, 30_000.0)
    bar(ex, INV, 1, 30_000.0)
    # 20 contracts / (10/20,000 + 10/30,000) = 24,000, the venue's average for inverse
    assert ex.futures.position(INV).entry_price == pytest.approx(24_000.0)
    # the wallet is what the fills moved: the P&L of each part is the P&L of the whole
    assert ex.futures.unrealized(INV) == pytest.approx(
        1_000 * (1 / 20_000 - 1 / 30_000) + 1_000 * (1 / 30_000 - 1 / 30_000)
    )


@pytest.mark.parametrize(
    ("amount", "rates"), [(100.0, (0.0004, -0.00025)), (-100.0, (-0.0004, 0.00025))]
)
def test_coin_margined_funding_is_paid_in_btc_with_both_signs(
    amount: float, rates: tuple[float, float]
) -> None:
    funding = {INV: FundingRates.history([T0 + 2 * HOUR, T0 + 4 * HOUR], [0.001, -0.0005])}
    ex = exchange(INV_MARKET, "BTC", 1.0, funding=funding, leverage=2.0)
    side = Side.BUY if amount > 0 else Side.SELL
    ex.submit(order(INV, side, abs(amount)), T0, 25_000.0)
    bar(ex, INV, 0, 25_000.0)
    bar(ex, INV, 1, 25_000.0)
    bar(ex, INV, 2, 25_000.0, mark=(25_000.0, 25_000.0, 25_000.0, 25_000.0))
    bar(ex, INV, 3, 21_000.0)
    bar(ex, INV, 4, 21_000.0, mark=(20_000.0, 20_000.0, 20_000.0, 20_000.0))
    # T0+2h: 100 * 100 / 25,000 * 0.001 = 0.0004 BTC, paid by the long, received by the short
    # T0+4h: 100 * 100 / 20,000 * -0.0005 = -0.00025 BTC: the long receives, the short pays
    paid = [p.amount for p in ex.futures.funding]
    assert paid == pytest.approx(list(rates))
    assert [p.mark for p in ex.futures.funding] == [25_000.0, 20_000.0]
    fee = 0.0005 * 0.4
    assert ex.futures.wallet_balance() == pytest.approx(1.0 - fee - sum(rates))
    # funding moves the isolated margin too: 0.4 BTC at 2x = 0.2 BTC, less what was paid
    assert ex.futures.isolated_wallet(INV) == pytest.approx(0.2 - sum(rates))


def test_an_isolated_inverse_long_is_liquidated_at_the_venue_formula_price() -> None:
    ex = exchange(INV_FREE, "BTC", 1.0)
    ex.submit(order(INV, Side.BUY, 100.0), T0, 25_000.0)
    bar(ex, INV, 0, 25_000.0)
    # isolated 10x: wallet 100 * 100 / 25,000 / 10 = 0.04 BTC; the COIN-M formula:
    # LP = 100 * 100 * (0.004 + 1) / (0.04 + 100 * 100 / 25,000) = 10,040 / 0.44 = 22,818.18
    lp = 10_040 / 0.44
    assert ex.futures.liquidation_price(INV) == pytest.approx(lp)
    bar(ex, INV, 1, 23_000.0, mark=(23_000.0, 23_000.0, 22_900.0, 23_000.0))
    assert not ex.liquidations  # the mark's low 22,900 stays above it
    bar(ex, INV, 2, 23_000.0, mark=(23_000.0, 23_100.0, 22_500.0, 22_600.0))
    (event,) = ex.liquidations
    assert event.price == pytest.approx(lp)
    forced = ex.fills[-1]
    assert (forced.price, forced.amount, forced.side) == (pytest.approx(lp), 100.0, Side.SELL)
    # margin left at LP = maintenance = 0.4 % of 10,000 / LP = 0.0017528 BTC, less than the
    # 1.25 % fee on the notional (0.0054781 BTC): the fee is capped, the account loses
    # exactly its isolated margin of 0.04 BTC
    assert event.fee == pytest.approx(0.004 * 10_000 / lp)
    assert ex.futures.equity() == pytest.approx(1.0 - 0.04)
    assert ex.futures.position(INV).amount == 0.0


def test_the_venue_calculator_figure_for_a_cross_coin_margined_long() -> None:
    # A cross COIN-M long quoted on Binance's developer forum: wallet 101 BTC, 100,000
    # contracts of 100 USD (10,000,000 USD) at 45,000; the venue's calculator showed
    # 33,599.40. At that price the position is 297.6 BTC, the level Binance's COIN-M FAQ
    # gives a 12.5 % maintenance rate and an 11.605 BTC maintenance amount.
    lp = liquidation_price_inverse(101.0, 0.0, 0.0, 11.605, 100_000.0, 45_000.0, 0.125, 100.0)
    assert lp == pytest.approx(33_599.40, abs=0.05)  # shown to the 0.1 tick
    spec = PerpetualSpec(
        "BTC",
        inverse=True,
        contract_size=100.0,
        brackets=(
            MarginBracket(0.0, 250.0, 20.0, 0.1, 5.355),
            MarginBracket(250.0, 500.0, 10.0, 0.125, 11.605),
        ),
    )
    # the first level's answer (notional below 250 BTC) does not fall in it: recomputed
    assert spec.liquidation_price(101.0, 100_000.0, 45_000.0) == pytest.approx(lp)


def test_admission_is_by_available_margin_in_the_coin() -> None:
    ex = exchange(INV_MARKET, "BTC", 0.05)
    # 100 contracts at 25,000 need 0.4 / 10 = 0.04 BTC + fee 0.0002: admitted
    ex.submit(order(INV, Side.BUY, 100.0), T0, 25_000.0)
    bar(ex, INV, 0, 25_000.0)
    assert ex.futures.position(INV).amount == 100.0
    # 30 more need 0.012 + 0.00006 BTC; 0.05 - 0.0002 - 0.04 = 0.0098 is left: refused
    late = ex.submit(order(INV, Side.BUY, 30.0), T0, 25_000.0)
    bar(ex, INV, 1, 25_000.0)
    assert ex.orders[late.client_id].status is OrderStatus.REJECTED
    assert "insufficient margin" in (ex.orders[late.client_id].reason or "")
    assert "BTC" in (ex.orders[late.client_id].reason or "")


def test_a_cost_sized_order_buys_whole_contracts_of_that_notional() -> None:
    ex = exchange(INV_MARKET, "BTC", 1.0)
    # inverse: a buy gets 0.1 BTC of notional, 0.1 / (100 / 25,000) = 25 contracts; a sell
    # pays its fee from the budget (the kernel's rule in 1/price): 0.1 / (0.004 * 1.0005)
    # = 24.99 -> 24 contracts
    ex.submit(OrderRequest(INV, Side.BUY, OrderType.MARKET, cost=0.1), T0, 25_000.0)
    bar(ex, INV, 0, 25_000.0)
    assert ex.fills[0].amount == 25.0
    short = exchange(INV_MARKET, "BTC", 1.0)
    short.submit(OrderRequest(INV, Side.SELL, OrderType.MARKET, cost=0.1), T0, 25_000.0)
    bar(short, INV, 0, 25_000.0)
    assert short.fills[0].amount == 24.0
    lin = exchange(LIN_MARKET, "USDT", 10_000.0)
    # 1,000 USDT at 20,000 with 0.05 % fee: 1,000 / (0.001 * 20,000 * 1.0005) = 49.98 -> 49
    lin.submit(OrderRequest(LIN, Side.BUY, OrderType.MARKET, cost=1_000.0), T0, 20_000.0)
    bar(lin, LIN, 0, 20_000.0)
    assert lin.fills[0].amount == 49.0


def test_a_linear_contract_size_scales_pnl_fees_and_funding() -> None:
    funding = {LIN: FundingRates.history([T0 + HOUR], [0.0001])}
    ex = exchange(LIN_MARKET, "USDT", 10_000.0, funding=funding)
    ex.submit(order(LIN, Side.BUY, 1_000.0), T0, 20_000.0)
    bar(ex, LIN, 0, 20_000.0)
    # 1,000 contracts of 0.001 BTC = 1 BTC = 20,000 USDT; fee 0.05 % = 10; margin 2,000 at 10x
    assert ex.fills[0].fee == pytest.approx(10.0)
    assert ex.futures.isolated_wallet(LIN) == pytest.approx(2_000.0)
    bar(ex, LIN, 1, 21_000.0)
    # funding: 1,000 * 0.001 * 21,000 * 0.0001 = 2.1 USDT
    assert [p.amount for p in ex.futures.funding] == pytest.approx([2.1])
    ex.submit(order(LIN, Side.SELL, 1_000.0), T0 + HOUR, 21_000.0)
    bar(ex, LIN, 2, 21_000.0)
    # P&L 1,000 * 0.001 * (21,000 - 20,000) = 1,000; exit fee 10.5
    assert ex.futures.position(LIN).realized_pnl == pytest.approx(1_000.0)
    assert ex.futures.equity() == pytest.approx(10_000 + 1_000 - 10 - 10.5 - 2.1)


def test_a_coin_margined_market_in_a_quote_account_is_one_error() -> None:
    with pytest.raises(ConfigError, match="settled in BTC"):
        exchange(INV_MARKET, "USD", 1_000.0)
