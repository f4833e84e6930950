"""MaxMarginUsage and MinLiquidationDistance on a futures account, with hand-computed figures."""

from __future__ import annotations

import pytest

from quantkit.brokers.perpetual_setup import futures_account
from quantkit.brokers.settings import SimSettings
from quantkit.domain.futures_portfolio import FuturesPortfolio
from quantkit.domain.market import Market
from quantkit.domain.perpetual import PerpetualSpec, brackets_with_cum
from quantkit.errors import ConfigError
from quantkit.risk import MaxMarginUsage, MinLiquidationDistance, RiskAction
from tests.risk.helpers import FakeContext, request

PERP = "BTC/USDT:USDT"
SPEC = PerpetualSpec(
    "USDT", brackets=brackets_with_cum([(0, 50_000, 125, 0.004), (50_000, 250_000, 100, 0.005)])
)
MARKET = Market(PERP, "BTC", "USDT", amount_increment=0.001, perpetual=SPEC)


def futures_context(*, leverage: float = 10.0, mode: str = "cross") -> FakeContext:
    settings = SimSettings(markets={PERP: MARKET}, leverage=leverage, margin_mode=mode)  # type: ignore[arg-type]
    account = futures_account(settings, 10_000.0)
    assert isinstance(account, FuturesPortfolio)
    context = FakeContext({PERP: 100.0, "BTC/USDT": 100.0}, markets={PERP: MARKET})
    context.portfolio = account
    return context


def hold(context: FakeContext, amount: float, price: float, mark: float) -> None:
    """A position as a fill books it (cash moves amount * price), marked at ``mark``."""
    portfolio = context.portfolio
    portfolio.cash["USDT"] -= amount * price
    portfolio.position(PERP).apply(amount, price)
    portfolio.last_price[PERP] = mark


# --- MaxMarginUsage ----------------------------------------------------------------------------


def test_margin_usage_approves_within_the_cap() -> None:
    # 60 BTC at 100, 10x: initial margin 600 <= 0.5 * 10,000
    decision = MaxMarginUsage(max_usage=0.5).check(
        request(symbol=PERP, amount=60.0), futures_context()
    )
    assert decision.action is RiskAction.APPROVE


def test_margin_usage_resizes_to_what_fits() -> None:
    policy = MaxMarginUsage(max_usage=0.5)
    # 1,000 BTC would tie up 10,000; 5,000 fits: 5,000 * 10 / 100 = 500 BTC
    decision = policy.check(request(symbol=PERP, amount=1_000.0), futures_context())
    assert decision.action is RiskAction.RESIZE
    assert decision.request is not None and decision.request.amount == 500.0
    # holding 400 long (margin 4,000 at the mark 100): 1,000 of room = 100 BTC more
    context = futures_context()
    hold(context, 400.0, 100.0, 100.0)
    decision = policy.check(request(symbol=PERP, amount=200.0), context)
    assert decision.request is not None and decision.request.amount == pytest.approx(100.0)
    assert "margin usage would exceed 0.5 of the margin balance 10,000.00" in decision.reason


def test_margin_usage_lets_a_flip_use_the_margin_it_releases() -> None:
    context = futures_context()
    hold(context, 400.0, 100.0, 100.0)
    # selling 500 closes the 400 (releasing 4,000) and opens 100 short (1,000 of margin)
    decision = MaxMarginUsage(max_usage=0.5).check(
        request("sell", symbol=PERP, amount=500.0), context
    )
    assert decision.action is RiskAction.APPROVE


def test_margin_usage_ignores_spot_and_reductions() -> None:
    context = futures_context()
    hold(context, 400.0, 100.0, 100.0)
    policy = MaxMarginUsage(max_usage=0.01)
    assert policy.check(request(amount=1_000.0), context).action is RiskAction.APPROVE
    reduce = request("sell", symbol=PERP, amount=100.0)
    assert policy.check(reduce, context).action is RiskAction.APPROVE
    with pytest.raises(ConfigError, match="max_usage"):
        MaxMarginUsage(max_usage=0.0)


# --- MinLiquidationDistance -------------------------------------------------------------------


def test_liquidation_distance_approves_a_safe_position() -> None:
    # isolated 10x long 1 at 100: LP = (10 - 100) / (0.004 - 1) = 90.36, 9.6 % below the mark
    context = futures_context(mode="isolated")
    decision = MinLiquidationDistance(min_distance=0.05).check(request(symbol=PERP), context)
    assert decision.action is RiskAction.APPROVE


def test_liquidation_distance_rejects_a_position_too_close() -> None:
    # isolated 25x: margin 4; LP = (4 - 100) / (0.004 - 1) = 96.3855, 3.6 % from the mark
    context = futures_context(leverage=25.0, mode="isolated")
    decision = MinLiquidationDistance(min_distance=0.05).check(request(symbol=PERP), context)
    assert decision.action is RiskAction.REJECT
    assert "would be liquidated at 96.385542, 3.61% from the mark 100" in decision.reason


def test_liquidation_distance_of_averaging_in_uses_the_new_entry() -> None:
    # 25x long 1 at 100, mark 98; buying 1 more at 98: entry 99, margin 2 * 99 / 25 = 7.92;
    # LP = (7.92 - 198) / (0.008 - 2) = 95.42, 2.63 % below the mark 98
    context = futures_context(leverage=25.0, mode="isolated")
    hold(context, 1.0, 100.0, 98.0)
    context.prices[PERP] = 98.0
    decision = MinLiquidationDistance(min_distance=0.03).check(request(symbol=PERP), context)
    assert decision.action is RiskAction.REJECT
    assert "liquidated at 95.421687" in decision.reason
    loose = MinLiquidationDistance(min_distance=0.02).check(request(symbol=PERP), context)
    assert loose.action is RiskAction.APPROVE


def test_cross_margin_with_a_deep_wallet_is_never_close() -> None:
    # cross: the whole 10,000 backs 1 BTC: no positive price liquidates it
    decision = MinLiquidationDistance(min_distance=0.5).check(
        request(symbol=PERP), futures_context()
    )
    assert decision.action is RiskAction.APPROVE


@pytest.mark.parametrize(
    "policy", [MaxMarginUsage(max_usage=0.5), MinLiquidationDistance(min_distance=0.2)]
)
def test_an_entry_with_no_price_yet_is_refused_and_a_reduction_is_not_checked(
    policy: MaxMarginUsage | MinLiquidationDistance,
) -> None:
    context = futures_context()
    context.prices[PERP] = float("nan")  # no bar of the symbol yet
    decision = policy.check(request(symbol=PERP, amount=1.0), context)
    assert decision.action is RiskAction.REJECT
    assert f"no price for {PERP}" in decision.reason
    hold(context, 5.0, 100.0, 100.0)  # a sell of what is held only reduces: nothing to check
    decision = policy.check(request(symbol=PERP, amount=2.0, side="sell"), context)
    assert decision.action is RiskAction.APPROVE


def test_margin_usage_counts_an_inverse_contract_by_its_coin_notional() -> None:
    # a 1 BTC COIN-M account at 10x, contracts of 100 USD marked at 25,000 (0.004 BTC each):
    # half the margin balance, 0.5 BTC, carries 5 BTC of notional = 1,250 contracts
    symbol = "BTC/USD:BTC"
    spec = PerpetualSpec("BTC", inverse=True, contract_size=100.0)
    market = Market(symbol, "BTC", "USD", amount_increment=1.0, perpetual=spec)
    settings = SimSettings(currency="BTC", markets={symbol: market}, leverage=10.0)
    account = futures_account(settings, 1.0)
    assert isinstance(account, FuturesPortfolio)
    context = FakeContext({symbol: 25_000.0}, markets={symbol: market})
    context.portfolio = account
    policy = MaxMarginUsage(max_usage=0.5)
    assert policy.check(request(symbol=symbol, amount=1_000.0), context).action is (
        RiskAction.APPROVE
    )
    decision = policy.check(request(symbol=symbol, amount=2_000.0), context)
    assert decision.action is RiskAction.RESIZE
    assert decision.request is not None and decision.request.amount == 1_250.0
