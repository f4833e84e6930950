"""KellySizer: f* from closed trades or per-bar returns, checked on constructed cases.

Fills are booked in the FakeContext's portfolio first, then shown to the policy, as the
engine does. Price 100 and cash 10 000 unless a case says otherwise.
"""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest

from quantkit.brokers.backtest import BacktestBroker
from quantkit.data.series_feed import SeriesFeed
from quantkit.domain.bars import Bar
from quantkit.domain.fill import Fill
from quantkit.domain.market import Market
from quantkit.domain.order import Side
from quantkit.engine.engine import Engine
from quantkit.errors import ConfigError
from quantkit.risk import kelly as kelly_module
from quantkit.risk.kelly import KellyEstimate, KellySizer
from quantkit.risk.policy import RiskAction

from .helpers import HOUR, SYMBOL, FakeContext, Scripted, make_series, request

APPROVE, RESIZE, REJECT = RiskAction.APPROVE, RiskAction.RESIZE, RiskAction.REJECT


def fill(
    context: FakeContext,
    policy: KellySizer,
    side: str,
    amount: float,
    price: float,
    fee: float = 0.0,
    fee_currency: str = "USDT",
) -> None:
    """Book a fill in the context's portfolio, then tell the policy."""
    event = Fill("o", SYMBOL, Side(side), price, amount, fee, fee_currency, context.now)
    context.portfolio.apply_fill(event)
    policy.on_fill(event, context)


def trade(context: FakeContext, policy: KellySizer, pnl: float, amount: float = 1.0) -> None:
    """A long round trip of ``amount`` from 100 that makes ``pnl`` (before fees)."""
    fill(context, policy, "buy", amount, 100.0)
    fill(context, policy, "sell", amount, 100.0 + pnl / amount)


def trained(wins: int, win: float, losses: int, loss: float, **kwargs: object) -> KellySizer:
    policy = KellySizer(**kwargs)  # type: ignore[arg-type]
    context = FakeContext()
    for _ in range(wins):
        trade(context, policy, win)
    for _ in range(losses):
        trade(context, policy, -loss)
    return policy


# -- f* from trades --


@pytest.mark.parametrize(
    ("wins", "win", "losses", "loss", "expected"),
    [
        (6, 50.0, 4, 50.0, 0.2),  # p 0.6, b 1: 0.6 - 0.4 / 1
        (5, 40.0, 5, 20.0, 0.25),  # p 0.5, b 2: 0.5 - 0.5 / 2
        (3, 10.0, 7, 10.0, -0.4),  # p 0.3, b 1: 0.3 - 0.7
        (4, 30.0, 0, 0.0, 1.0),  # nothing lost: f* = p = 1
        (0, 0.0, 4, 30.0, -math.inf),  # nothing won
    ],
)
def test_kelly_fraction_from_trades(
    wins: int, win: float, losses: int, loss: float, expected: float
) -> None:
    policy = trained(wins, win, losses, loss, min_trades=4)
    stats = policy.stats()
    assert policy.kelly_fraction == pytest.approx(expected, rel=1e-12)
    assert stats.samples == wins + losses
    assert stats.ready
    assert stats.win_rate == pytest.approx(wins / (wins + losses))
    if wins and losses:
        assert stats.payoff_ratio == pytest.approx(win / loss)


def test_trades_net_their_fees() -> None:
    policy, context = KellySizer(), FakeContext()
    fill(context, policy, "buy", 2.0, 100.0, fee=1.0)
    fill(context, policy, "sell", 1.0, 110.0, fee=0.5)  # partial exit: still open
    assert policy.trades == ()
    fill(context, policy, "sell", 1.0, 90.0, fee=0.001, fee_currency="BTC")  # 0.001 BTC = 0.09
    # +10 - 10 realised, fees 1 + 0.5 + 0.09
    assert policy.trades == pytest.approx((-1.59,))


def test_a_flip_closes_one_trade_and_opens_the_next() -> None:
    policy, context = KellySizer(), FakeContext()
    fill(context, policy, "buy", 1.0, 100.0, fee=1.0)
    fill(context, policy, "sell", 3.0, 110.0, fee=3.0)  # closes 1 long (fee 1), 2 short (fee 2)
    assert policy.trades == pytest.approx((10.0 - 1.0 - 1.0,))
    fill(context, policy, "buy", 2.0, 100.0)  # the short makes 2 * 10, minus its fee 2
    assert policy.trades == pytest.approx((8.0, 18.0))


def test_a_position_opened_before_the_policy_saw_it_is_not_counted() -> None:
    policy = KellySizer()
    context = FakeContext().hold(2.0)
    fill(context, policy, "sell", 2.0, 120.0)  # closes a trade whose entry was never seen
    assert len(policy.trades) == 0
    trade(context, policy, 5.0)
    assert policy.trades == pytest.approx((5.0,))


def test_the_window_keeps_the_latest_trades() -> None:
    policy = trained(3, 10.0, 2, 10.0, window=3, min_trades=3)  # W W W L L -> W L L
    assert policy.trades == (10.0, -10.0, -10.0)
    assert policy.stats().win_rate == pytest.approx(1 / 3)
    assert policy.kelly_fraction == pytest.approx(1 / 3 - 2 / 3)  # b = 1


# -- sizing from trades --


@pytest.mark.parametrize(
    ("kwargs", "sent"),
    [
        ({}, 10.0),  # f* 0.2, half Kelly 0.1 of 10000 at 100
        ({"fraction": 1.0}, 20.0),  # full Kelly 0.2
        ({"fraction": 1.0, "max_fraction": 0.05}, 5.0),  # capped at 0.05
    ],
)
def test_kelly_sizes_the_position(kwargs: dict[str, object], sent: float) -> None:
    policy = trained(6, 50.0, 4, 50.0, min_trades=10, **kwargs)
    decision = policy.check(request(amount=1.0), FakeContext())
    assert decision.action is RESIZE
    assert decision.request is not None
    assert decision.request.amount == pytest.approx(sent, rel=1e-12)
    assert decision.reason.startswith(f"sized from 1 to {sent:g} (target {sent:g}: Kelly 0.2 x ")


def test_no_edge_rejects_entries() -> None:
    policy = trained(3, 10.0, 7, 10.0, min_trades=10)
    decision = policy.check(request(), FakeContext())
    assert (decision.action, decision.reason) == (REJECT, "no edge: Kelly fraction -0.4")


def test_reducing_orders_pass_without_an_edge() -> None:
    policy = trained(3, 10.0, 7, 10.0, min_trades=10)
    original = request("sell", amount=2.0)
    decision = policy.check(original, FakeContext().hold(5.0))
    assert (decision.action, decision.request) == (APPROVE, original)


def test_warm_up_rejects_without_a_fallback() -> None:
    policy = trained(2, 10.0, 1, 10.0)
    decision = policy.check(request(), FakeContext())
    assert (decision.action, decision.reason) == (REJECT, "warming up: 3 of 20 trades")
    assert not policy.stats().ready


def test_warm_up_sizes_with_the_fallback() -> None:
    policy = trained(2, 10.0, 1, 10.0, fallback=0.03)
    decision = policy.check(request(), FakeContext())
    assert decision.request is not None
    assert decision.request.amount == pytest.approx(3.0)  # 0.03 * 10000 / 100
    assert decision.reason == (
        "sized from 1 to 3 (target 3: fallback 0.03 while warming up: 0.03 of equity 10000 at 100)"
    )


def test_kelly_with_no_equity_rejects_entries() -> None:
    policy = KellySizer(fallback=0.1)
    decision = policy.check(request("buy", amount=300.0), FakeContext().hold(-200.0))
    assert decision.reason == "equity is -10000: nothing to size against"


# -- f* from returns --


class BarFeed(FakeContext):
    """Bars of chosen closes, one per ``push``, for any symbol."""

    def __init__(self) -> None:
        super().__init__()
        self.bars: dict[str, Bar] = {}

    def push(self, close: float, symbol: str = SYMBOL) -> None:
        self.now += HOUR
        self.prices[symbol] = close
        self.bars[symbol] = Bar(symbol, self.now - HOUR, self.now, close, close, close, close, 1)

    def last_bar(self, symbol: str) -> Bar | None:
        return self.bars.get(symbol)


def fed(returns: np.ndarray, window: int, **kwargs: object) -> tuple[KellySizer, BarFeed]:
    policy = KellySizer(source="returns", window=window, symbols=[SYMBOL], **kwargs)  # type: ignore[arg-type]
    context = BarFeed()
    close = 100.0
    context.push(close)
    policy.on_bar(context)
    for r in returns:
        close *= 1 + r
        context.push(close)
        policy.on_bar(context)
        policy.on_bar(context)  # the same bar twice counts once
    return policy, context


def test_kelly_from_gaussian_returns_is_mean_over_variance() -> None:
    mu, sigma, n = 0.001, 0.01, 40_000  # f* = 0.001 / 0.0001 = 10
    returns = np.random.default_rng(11).normal(mu, sigma, n)
    policy, _ = fed(returns, window=n)
    stats = policy.stats(SYMBOL)
    assert stats.mean == pytest.approx(returns.mean(), rel=1e-9)
    assert stats.variance == pytest.approx(returns.var(), rel=1e-9)
    assert policy.kelly_fraction == pytest.approx(returns.mean() / returns.var(), rel=1e-9)
    # the mean's standard error is sigma / sqrt(n) = 5e-5, 0.5 in f*: allow 4 of them
    assert policy.kelly_fraction == pytest.approx(mu / sigma**2, abs=2.0)


def test_returns_use_the_last_window_bars() -> None:
    returns = np.array([0.05, -0.05, 0.02, 0.01, 0.03])
    policy, _ = fed(returns, window=3)
    last = returns[-3:]
    assert policy.kelly_fraction == pytest.approx(last.mean() / last.var(), rel=1e-9)


def test_returns_size_longs_and_shorts_by_the_drift() -> None:
    returns = np.array([0.02, -0.01] * 10)  # mean 0.005, var 0.000225: f* 22.2
    policy, context = fed(returns, window=20, fraction=0.5, max_fraction=0.5)
    decision = policy.check(request("buy", amount=1.0), context)
    assert decision.request is not None
    equity, price = 10_000.0, context.prices[SYMBOL]
    assert decision.request.amount == pytest.approx(0.5 * equity / price)  # capped at 0.5
    short = policy.check(request("sell", amount=1.0), context)
    assert short.reason == "no edge: Kelly fraction -22.22"  # a short bets against the drift


def test_returns_warm_up_and_constant_returns() -> None:
    policy, context = fed(np.array([0.01] * 4), window=5)
    assert policy.check(request(), context).reason == "warming up: 4 of 5 returns"
    policy, context = fed(np.array([0.01] * 5), window=5)  # no variance, positive drift
    assert policy.kelly_fraction == math.inf
    assert policy.check(request(), context).action is RESIZE  # sized at max_fraction
    policy, _ = fed(np.array([0.0] * 5), window=5)
    assert policy.kelly_fraction == 0.0


def test_stats_of_several_symbols_need_a_name() -> None:
    policy = KellySizer(source="returns", window=5)
    assert math.isnan(policy.kelly_fraction)  # nothing measured yet
    assert policy.stats("ETH/USDT") == KellyEstimate(math.nan, 0, False)
    context = BarFeed()
    for symbol in (SYMBOL, "ETH/USDT"):
        context.push(100.0, symbol)
        policy.check(request(symbol=symbol), context)  # starts measuring the symbol
    with pytest.raises(ConfigError, match="name the symbol"):
        policy.stats()
    assert policy.stats(SYMBOL).samples == 0


def test_fills_do_not_count_for_a_returns_sizer() -> None:
    policy, context = fed(np.array([0.01, 0.02]), window=5)
    fill(context, policy, "buy", 1.0, 100.0)
    fill(context, policy, "sell", 1.0, 110.0)
    assert policy.trades == ()


def test_a_returns_sizer_needs_a_window() -> None:
    with pytest.raises(ConfigError, match="window"):
        KellySizer(source="returns")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"fraction": 0.0},
        {"fraction": 1.5},
        {"source": "bars"},
        {"min_trades": 0},
        {"window": 1},
        {"max_fraction": 11.0},
        {"fallback": -0.1},
    ],
)
def test_bad_settings_are_a_config_error(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="KellySizer"):
        KellySizer(**kwargs)  # type: ignore[arg-type]


def test_repr() -> None:
    assert repr(KellySizer(fallback=0.1)) == (
        "KellySizer(fraction=0.5, source='trades', min_trades=20, window=None, "
        "max_fraction=0.25, fallback=0.1)"
    )


# -- in a backtest --


def test_kelly_learns_from_the_strategys_own_trades_in_a_backtest() -> None:
    # Bar opens (where market orders fill): 100, then each trade's exit as listed.
    opens = [100.0, 100.0, 110.0, 100.0, 95.0, 100.0, 120.0, 100.0, 100.0, 100.0]
    rows = [(o, o + 1, o - 1, o, 10.0) for o in opens]

    def buy(s: Scripted) -> None:
        s.buy(amount=1.0)

    def close(s: Scripted) -> None:
        s.close()

    policy = KellySizer(fraction=1.0, min_trades=3, max_fraction=1.0, fallback=0.1)
    # Trades (fills at the next bar's open): buy@100 sell@110, buy@100 sell@95,
    # buy@100 sell@120; each sized at the fallback 10 % of equity.
    script = {0: buy, 1: close, 2: buy, 3: close, 4: buy, 5: close, 8: buy}
    market = Market(SYMBOL, "BTC", "USDT", maker_fee=0.0, taker_fee=0.001)
    broker = BacktestBroker(cash=10_000.0, markets={SYMBOL: market})
    strategy = Scripted(script)
    result = Engine(
        feed=SeriesFeed(make_series(rows)), strategy=strategy, broker=broker, risk=policy
    ).run()
    # the policy's trades are the engine's round trips, fees included
    assert policy.trades == pytest.approx(tuple(result.trades["pnl"]))
    assert len(policy.trades) == 3
    wins = [p for p in policy.trades if p > 0]
    losses = [-p for p in policy.trades if p <= 0]
    b = (sum(wins) / len(wins)) / (sum(losses) / len(losses))
    expected = 2 / 3 - (1 / 3) / b
    assert policy.kelly_fraction == pytest.approx(expected)
    # bar 8: sized at f* of equity (the last fill's cash, marked at 100)
    entry = result.fills.iloc[-1]
    equity_at_8 = 10_000.0 + sum(policy.trades)
    assert entry["amount"] == pytest.approx(expected * equity_at_8 / 100.0, rel=1e-9)


def test_docstring_examples_run() -> None:
    result = doctest.testmod(kelly_module)
    assert result.attempted >= 1
    assert result.failed == 0


def test_a_buy_s_fee_in_the_base_asset_is_followed_like_the_account() -> None:
    policy, context = KellySizer(), FakeContext()
    fill(context, policy, "buy", 1.0, 100.0, fee=0.001, fee_currency="BTC")  # holds 0.999
    fill(context, policy, "sell", 0.999, 110.0, fee=0.10989)
    # 0.999 x 10 realised, fees 0.001 BTC at 100 (0.1) + 0.10989
    assert policy.trades == pytest.approx((9.99 - 0.1 - 0.10989,))
