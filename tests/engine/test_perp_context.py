"""What a strategy and its risk policies see of a perpetual account: the mark, in contract value.

Every figure is computed by hand from the wallet and ``contracts * CS * (mark - entry)``
(linear) or ``contracts * CS * (1/entry - 1/mark)`` (inverse); the trade closes are chosen
apart from the marks so that a figure at the trade price cannot pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from quantkit import BacktestBroker, Engine
from quantkit.data.series_feed import SeriesFeed
from quantkit.domain.futures_portfolio import FuturesPortfolio
from quantkit.domain.market import Market
from quantkit.domain.order import OrderRequest, OrderStatus
from quantkit.domain.perpetual import PerpetualSpec, brackets_with_cum
from quantkit.engine.result import Result
from quantkit.risk.breakers import DailyLossLimit
from quantkit.risk.perp_limits import MaxMarginUsage, MinLiquidationDistance
from quantkit.risk.policy import RiskAction, RiskContext, RiskPolicy
from quantkit.strategy.base import Strategy
from quantkit.strategy.data import SymbolData
from tests.builders import HOUR, T0, make_series
from tests.strategy.helpers import Scripted

BRACKETS = brackets_with_cum([(0, 50_000, 125, 0.004), (50_000, 250_000, 100, 0.005)])
LIN = "BTC/USDT:USDT"
LIN_1 = Market(
    LIN, "BTC", "USDT", maker_fee=0.0, taker_fee=0.0,
    perpetual=PerpetualSpec("USDT", brackets=BRACKETS),
)  # fmt: skip
LIN_CS = Market(
    LIN, "BTC", "USDT", amount_increment=1.0, maker_fee=0.0, taker_fee=0.0,
    perpetual=PerpetualSpec("USDT", contract_size=0.01, brackets=BRACKETS),
)  # fmt: skip
INV = "BTC/USD:BTC"
INV_MARKET = Market(
    INV, "BTC", "USD", amount_increment=1.0, maker_fee=0.0, taker_fee=0.0,
    perpetual=PerpetualSpec(
        "BTC", inverse=True, contract_size=100.0,
        brackets=brackets_with_cum([(0, 5, 125, 0.004), (5, 10, 100, 0.005)]),
    ),
)  # fmt: skip


def run(
    market: Market,
    closes: list[float],
    marks: list[float] | None,
    script: dict[int, Any],
    *,
    cash: float = 10_000.0,
    currency: str = "USDT",
    risk: RiskPolicy | None = None,
    **options: Any,
) -> tuple[Result, BacktestBroker, Scripted]:
    """A scripted run; trade bars open and close at ``closes`` (fills at the next bar's open)."""
    symbol = market.symbol
    trade = make_series([(c, c * 1.001, c * 0.999, c, 1e9) for c in closes], symbol)
    extra: dict[str, Any] = {}
    if marks is not None:
        rows = [(m, m * 1.002, m * 0.998, m, 0.0) for m in marks]
        extra["marks"] = {symbol: make_series(rows, symbol)}
    broker = BacktestBroker(
        cash=cash, currency=currency, markets={symbol: market}, **extra, **options
    )
    strategy = Scripted(script)
    engine = Engine(feed=SeriesFeed([trade]), strategy=strategy, broker=broker, risk=risk)
    return engine.run(), broker, strategy


def equities(strategy: Scripted) -> list[float]:
    return [strategy.seen[k][1] for k in sorted(strategy.seen)]


def margin_balance(broker: BacktestBroker) -> float:
    portfolio = broker.portfolio
    assert isinstance(portfolio, FuturesPortfolio)
    return portfolio.margin_balance()


def test_a_linear_perpetual_is_seen_at_the_mark_not_the_trade_close() -> None:
    # long 1 BTC at 100 (bar 1's open); marks 101, 95, 103 while the trade closes 100, 104, 96
    closes, marks = [100.0, 100.0, 104.0, 96.0], [100.0, 101.0, 95.0, 103.0]
    result, broker, strategy = run(LIN_1, closes, marks, {0: lambda s: s.buy(amount=1.0)})
    assert equities(strategy) == pytest.approx([10_000.0, 10_001.0, 9_995.0, 10_003.0], abs=1e-9)
    assert result.equity.tolist() == pytest.approx([10_000.0, 10_001.0, 9_995.0, 10_003.0])
    # the account after the run is marked at the last bar's mark, as the equity curve is
    assert margin_balance(broker) == pytest.approx(10_003.0, abs=1e-9)
    assert margin_balance(broker) == pytest.approx(result.equity.iloc[-1], abs=1e-9)
    assert broker.portfolio.last_price[LIN] == 103.0


class BuyOnce(Strategy):
    """Buys ``amount`` on the first bar and never reads the account again."""

    def __init__(self, amount: float) -> None:
        super().__init__()
        self.amount = amount

    def on_bar(self, bar: SymbolData) -> None:
        if bar.index == 0:
            self.buy(amount=self.amount)


@pytest.mark.parametrize(("market", "amount"), [(LIN_1, 1.0), (LIN_CS, 100.0)])
def test_the_account_after_the_run_is_at_the_last_bars_mark(market: Market, amount: float) -> None:
    # the perpetual gate skips the held bars 2-4 (no funding, no liquidation in reach): the
    # account must still end at bar 4's mark, where the equity curve ends
    symbol = market.symbol
    closes, marks = [100.0, 100.0, 104.0, 96.0, 97.0], [100.0, 101.0, 95.0, 103.0, 102.0]
    trade = make_series([(c, c * 1.001, c * 0.999, c, 1e9) for c in closes], symbol)
    mark = make_series([(m, m * 1.002, m * 0.998, m, 0.0) for m in marks], symbol)
    broker = BacktestBroker(cash=10_000.0, markets={symbol: market}, marks={symbol: mark})
    result = Engine(feed=SeriesFeed([trade]), strategy=BuyOnce(amount), broker=broker).run()
    assert result.equity.iloc[-1] == pytest.approx(10_002.0, abs=1e-9)
    assert margin_balance(broker) == pytest.approx(10_002.0, abs=1e-9)
    assert broker.portfolio.equity() == pytest.approx(10_002.0, abs=1e-9)
    assert broker.portfolio.last_price[symbol] == 102.0


def test_without_marks_the_trade_close_is_the_mark() -> None:
    closes = [100.0, 100.0, 104.0, 96.0]
    result, broker, strategy = run(LIN_1, closes, None, {0: lambda s: s.buy(amount=1.0)})
    assert equities(strategy) == pytest.approx([10_000.0, 10_000.0, 10_004.0, 9_996.0], abs=1e-9)
    assert margin_balance(broker) == pytest.approx(9_996.0, abs=1e-9)
    assert result.equity.iloc[-1] == pytest.approx(9_996.0, abs=1e-9)


def test_a_contract_size_of_a_hundredth_is_valued_per_contract() -> None:
    # 100 contracts of 0.01 BTC = 1 BTC at 100: the same P&L as the linear case
    closes, marks = [100.0, 100.0, 104.0, 96.0], [100.0, 101.0, 95.0, 103.0]
    result, broker, strategy = run(LIN_CS, closes, marks, {0: lambda s: s.buy(amount=100.0)})
    assert [strategy.seen[k][2] for k in (1, 3)] == [100.0, 100.0]
    assert equities(strategy) == pytest.approx([10_000.0, 10_001.0, 9_995.0, 10_003.0], abs=1e-9)
    assert margin_balance(broker) == pytest.approx(10_003.0, abs=1e-9)
    assert margin_balance(broker) == pytest.approx(result.equity.iloc[-1], abs=1e-9)


def test_an_inverse_perpetual_is_seen_in_the_coin_at_the_mark() -> None:
    # 10 contracts of 100 USD long from 20,000, in a 1 BTC account; the trade close stays put
    closes, marks = [20_000.0] * 4, [20_000.0, 25_000.0, 16_000.0, 20_000.0]
    result, broker, strategy = run(
        INV_MARKET,
        closes,
        marks,
        {0: lambda s: s.buy(amount=10.0)},
        cash=1.0,
        currency="BTC",
    )
    upnl = [1_000.0 * (1 / 20_000 - 1 / m) for m in marks]  # 0, +0.01, -0.0125, 0
    expected = [1.0, 1.0 + upnl[1], 1.0 + upnl[2], 1.0 + upnl[3]]
    assert expected[1:] == pytest.approx([1.01, 0.9875, 1.0])
    assert equities(strategy) == pytest.approx(expected, abs=1e-12)
    assert margin_balance(broker) == pytest.approx(1.0, abs=1e-12)
    assert margin_balance(broker) == pytest.approx(result.equity.iloc[-1], abs=1e-12)


def halts(result: Result) -> list[int]:
    events = result.risk_events
    rows = events[events["action"] == RiskAction.HALT.value]
    return [int((t.value - T0) // HOUR) - 1 for t in rows["time"]]


class CountedDaily(DailyLossLimit):
    """`DailyLossLimit` counting its on_bar calls; ``gated=False``: called on every bar."""

    gated = True

    def __init__(self, max_loss: float) -> None:
        super().__init__(max_loss, relative=False)
        self.calls = 0

    @classmethod
    def gates_its_bars(cls) -> bool:
        return cls.gated

    @property
    def name(self) -> str:
        return "DailyLossLimit"

    def on_bar(self, context: RiskContext) -> Sequence[OrderRequest]:
        self.calls += 1
        return super().on_bar(context)


class UngatedDaily(CountedDaily):
    gated = False


def test_daily_loss_limit_trips_on_the_mark_not_on_the_trade_close() -> None:
    # long 10 BTC at 100; the trade close drops to 94 on bar 3 (a 60 loss at the trade price),
    # the mark only on bar 4: the limit of 50 trips on bar 4, with the risk gate and without
    closes = [100.0, 100.0, 100.0, 94.0, 100.0, 100.0, 100.0, 100.0]
    marks = [100.0, 100.0, 100.0, 100.0, 94.0, 100.0, 100.0, 100.0]
    calls = {}
    for kind in (CountedDaily, UngatedDaily):
        limit = kind(50.0)
        result, _, strategy = run(
            LIN_1, closes, marks, {0: lambda s: s.buy(amount=10.0)}, risk=limit
        )
        assert equities(strategy)[3:5] == pytest.approx([10_000.0, 9_940.0])
        assert halts(result) == [4]
        calls[kind] = limit.calls
    assert calls[UngatedDaily] == len(closes)
    assert calls[CountedDaily] < len(closes)  # the gate skipped bars, at the marks' values


def test_min_liquidation_distance_measures_from_the_mark() -> None:
    # 400 BTC long at 100, cross, 10x, wallet 10,000: adding 1 BTC at 100 puts the liquidation
    # price at (10,000 - 401 * 100) / (401 * 0.004 - 401) = 75.364...; 24.6 % below a mark of
    # 100 (approved) but 16.3 % below a mark of 90 (refused), with the trade close at 100
    liquidation = (10_000.0 - 401 * 100.0) / (401 * 0.004 - 401)
    assert liquidation == pytest.approx(75.3638, abs=1e-4)
    assert (100.0 - liquidation) / 100.0 > 0.2 > (90.0 - liquidation) / 90.0
    script = {0: lambda s: s.buy(amount=400.0), 2: lambda s: s.buy(amount=1.0)}
    closes = [100.0] * 4
    seen = {}
    for marks in ([100.0] * 4, [100.0, 100.0, 90.0, 90.0]):
        policy = MinLiquidationDistance(min_distance=0.2)
        _, _, strategy = run(
            LIN_1, closes, marks, dict(script), risk=policy, leverage=10.0, margin_mode="cross"
        )
        assert strategy.seen[1][2] == 400.0
        seen[marks[2]] = strategy.returned[2].status
    assert seen[100.0] is not OrderStatus.REJECTED
    assert seen[90.0] is OrderStatus.REJECTED


def test_max_margin_usage_counts_margin_and_balance_at_the_mark() -> None:
    # 100 BTC long at 100, cross, 10x, wallet 10,000; on bar 2 the mark is 80, the trade close
    # 100. At the mark: used margin 100 * 80 / 10 = 800, margin balance 10,000 - 100 * 20 =
    # 8,000, room 0.5 * 8,000 - 800 = 3,200, so a buy of 500 at 100 is cut to 3,200 * 10 / 100
    # = 320 (at the trade close it would have been (5,000 - 1,000) * 10 / 100 = 400)
    script = {0: lambda s: s.buy(amount=100.0), 2: lambda s: s.buy(amount=500.0)}
    _, _, strategy = run(
        LIN_1,
        [100.0] * 4,
        [100.0, 100.0, 80.0, 80.0],
        script,
        risk=MaxMarginUsage(max_usage=0.5),
        leverage=10.0,
        margin_mode="cross",
    )
    assert strategy.returned[0].amount == 100.0
    assert strategy.returned[2].amount == pytest.approx(320.0, abs=1e-9)


def test_two_perpetuals_each_at_its_own_mark_or_close() -> None:
    # 1 BTC long at 100 (marks given) and 2 ETH long at 50 (no marks: the trade close is the
    # mark) in one cross account; equity = 10,000 + (BTC mark - 100) + 2 * (ETH close - 50)
    eth = "ETH/USDT:USDT"
    eth_market = Market(
        eth, "ETH", "USDT", maker_fee=0.0, taker_fee=0.0,
        perpetual=PerpetualSpec("USDT", brackets=BRACKETS),
    )  # fmt: skip
    btc_closes, btc_marks = [100.0, 100.0, 104.0, 96.0], [100.0, 101.0, 95.0, 103.0]
    eth_closes = [50.0, 50.0, 53.0, 50.0]
    series = [
        make_series([(c, c * 1.001, c * 0.999, c, 1e9) for c in btc_closes], LIN),
        make_series([(c, c * 1.001, c * 0.999, c, 1e9) for c in eth_closes], eth),
    ]
    marks = {LIN: make_series([(m, m * 1.002, m * 0.998, m, 0.0) for m in btc_marks], LIN)}
    broker = BacktestBroker(cash=10_000.0, markets={LIN: LIN_1, eth: eth_market}, marks=marks)
    strategy = Scripted({0: lambda s: (s.buy(amount=1.0), s.buy(symbol=eth, amount=2.0))})
    result = Engine(feed=SeriesFeed(series), strategy=strategy, broker=broker).run()
    expected = [
        10_000.0 + (m - 100.0) + 2 * (c - 50.0) for m, c in zip(btc_marks, eth_closes, strict=True)
    ]
    assert expected == [10_000.0, 10_001.0, 10_001.0, 10_003.0]
    assert equities(strategy)[1:] == pytest.approx(expected[1:], abs=1e-9)
    assert result.equity.tolist() == pytest.approx(expected, abs=1e-9)
    assert margin_balance(broker) == pytest.approx(expected[-1], abs=1e-9)
