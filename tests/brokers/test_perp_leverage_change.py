"""Changing a perpetual's leverage with a position open, in the simulator, by hand.

Brackets: 0.4 % up to 10,000 of notional at 50x at most, then 1 % (cum 60) at 20x at most; no
fees. 1,000 USDT; a long of 0.5 BTC at 10,000 (notional 5,000) at 10x.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from quantkit import BacktestBroker
from quantkit.domain.fill import Fill
from quantkit.domain.futures_portfolio import FuturesPortfolio
from quantkit.domain.market import Market
from quantkit.domain.order import Side
from quantkit.domain.perpetual import PerpetualSpec, brackets_with_cum
from quantkit.errors import ExchangeError
from quantkit.testing.futures.accounts import FuturesAccounts, OrderRequest
from quantkit.testing.futures.brackets import BracketTable
from quantkit.testing.futures.contracts import ContractRules
from quantkit.testing.futures.liquidation import liquidation_price

SYM = "BTC/USDT:USDT"
SPEC = PerpetualSpec(
    "USDT", brackets=brackets_with_cum([(0, 10_000, 50, 0.004), (10_000, 1e12, 20, 0.01)])
)
PERP = Market(SYM, "BTC", "USDT", maker_fee=0.0, taker_fee=0.0, perpetual=SPEC)


def holding(mode: str, amount: float = 0.5) -> tuple[BacktestBroker, FuturesPortfolio]:
    broker = BacktestBroker(cash=1_000.0, markets={SYM: PERP}, leverage=10, margin_mode=mode)
    portfolio = broker.portfolio
    assert isinstance(portfolio, FuturesPortfolio)
    portfolio.apply_fill(Fill("o1", SYM, Side.BUY, 10_000.0, amount, 0.0, "USDT", 0))
    portfolio.last_price[SYM] = 10_000.0
    return broker, portfolio


def refused(broker: BacktestBroker, leverage: float) -> str:
    with pytest.raises(ExchangeError) as caught:
        broker.set_leverage(SYM, leverage)
    assert caught.value.reason == "leverage_refused"
    return str(caught.value)


def test_cross_raise_then_lowering_needs_the_extra_margin() -> None:
    broker, portfolio = holding("cross")
    broker.set_leverage(SYM, 50)  # raising: always carried by the bracket (5,000 < 10,000)
    assert portfolio.leverage[SYM] == 50
    assert portfolio.available_margin() == pytest.approx(1_000 - 5_000 / 50)  # 900
    # to 4x: 5,000 / 4 - 5,000 / 50 = 1,150 more initial margin, 900 available
    message = refused(broker, 4)
    assert "-2028" in message and "1150" in message and "900" in message
    assert portfolio.leverage[SYM] == 50
    broker.set_leverage(SYM, 5)  # 1,000 - 100 = 900 more: exactly what is available
    assert portfolio.available_margin() == pytest.approx(0.0, abs=1e-9)


def test_a_position_grown_into_a_lower_bracket_caps_the_leverage() -> None:
    broker, portfolio = holding("cross")
    portfolio.last_price[SYM] = 30_000.0  # notional 15,000: the second bracket, 20x at most
    message = refused(broker, 25)
    assert "-2027" in message and "at most 20x" in message
    broker.set_leverage(SYM, 20)
    assert portfolio.leverage[SYM] == 20


def test_isolated_may_only_raise_and_keeps_its_wallet_and_liquidation_price() -> None:
    broker, portfolio = holding("isolated")
    assert portfolio.isolated_wallet(SYM) == pytest.approx(500.0)  # 5,000 / 10
    before = portfolio.liquidation_price(SYM)
    # by hand: (500 - 0.5 x 10,000) / (0.5 x (0.004 - 1)) = 9,036.1446
    assert before == pytest.approx(4_500 / 0.498)
    broker.set_leverage(SYM, 25)
    assert portfolio.isolated_wallet(SYM) == pytest.approx(500.0)
    assert portfolio.liquidation_price(SYM) == pytest.approx(before, rel=1e-12)
    assert "-4161" in refused(broker, 20)
    assert portfolio.leverage[SYM] == 25
    # averaging in at the new leverage adds 0.5 x 10,000 / 25 = 200 of isolated margin
    portfolio.apply_fill(Fill("o2", SYM, Side.BUY, 10_000.0, 0.5, 0.0, "USDT", 1))
    assert portfolio.isolated_wallet(SYM) == pytest.approx(700.0)


def test_flat_symbols_take_any_leverage_in_range() -> None:
    broker = BacktestBroker(cash=1_000.0, markets={SYM: PERP}, margin_mode="isolated")
    broker.set_leverage(SYM, 50)
    broker.set_leverage(SYM, 2)
    portfolio = broker.portfolio
    assert isinstance(portfolio, FuturesPortfolio) and portfolio.leverage[SYM] == 2


def test_the_venue_model_agrees_on_the_isolated_raise_and_the_average_in() -> None:
    table = BracketTable.from_rows([(0, "0.004", 50), (10_000, "0.01", 20)])
    venue = FuturesAccounts(
        [ContractRules("BTCUSDT", brackets=table)], {"k": ("s", 1_000)}, {"BTCUSDT": 10_000}
    )
    account = venue.account("k")
    account.maker = account.taker = Decimal(0)
    venue.set_leverage("k", "BTCUSDT", 10, now=1)
    venue.set_margin_type("k", "BTCUSDT", "ISOLATED", now=1)
    venue.place("k", OrderRequest("BTCUSDT", "BUY", "MARKET", Decimal("0.5")), now=2)
    venue.set_leverage("k", "BTCUSDT", 25, now=3)
    position = account.position("BTCUSDT")
    assert position.isolated_wallet == 500
    lp = liquidation_price(position.amount, position.entry, position.isolated_wallet, table)
    assert float(lp) == pytest.approx(4_500 / 0.498)
    venue.place("k", OrderRequest("BTCUSDT", "BUY", "MARKET", Decimal("0.5")), now=4)
    assert position.isolated_wallet == 700


def test_an_inverse_isolated_raise_keeps_its_coin_margin() -> None:
    # 100 contracts of 100 USD at 40,000: notional 100 x 100 / 40,000 = 0.25 BTC, at 10x an
    # isolated margin of 0.025 BTC; at 20x it stays 0.025 BTC, and so does the liquidation price
    spec = PerpetualSpec(
        "BTC", inverse=True, contract_size=100.0,
        brackets=brackets_with_cum([(0, 5, 125, 0.004), (5, 1e12, 50, 0.005)]),
    )  # fmt: skip
    inverse = Market("BTC/USD:BTC", "BTC", "USD", maker_fee=0.0, taker_fee=0.0, perpetual=spec)
    broker = BacktestBroker(
        cash=1.0,
        markets={inverse.symbol: inverse},
        leverage=10,
        margin_mode="isolated",
        currency="BTC",
    )
    portfolio = broker.portfolio
    assert isinstance(portfolio, FuturesPortfolio) and portfolio.currency == "BTC"
    portfolio.apply_fill(Fill("o1", inverse.symbol, Side.BUY, 40_000.0, 100.0, 0.0, "BTC", 0))
    portfolio.last_price[inverse.symbol] = 40_000.0
    assert portfolio.isolated_wallet(inverse.symbol) == pytest.approx(0.025)
    before = portfolio.liquidation_price(inverse.symbol)
    broker.set_leverage(inverse.symbol, 20)
    assert portfolio.isolated_wallet(inverse.symbol) == pytest.approx(0.025)
    assert portfolio.liquidation_price(inverse.symbol) == pytest.approx(before, rel=1e-12)
    with pytest.raises(ExchangeError, match="-4161"):
        broker.set_leverage(inverse.symbol, 10)
