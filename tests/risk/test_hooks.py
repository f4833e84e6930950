"""Risk policies' bar and fill hooks: called in order, in backtests and live runs alike."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from quantkit.brokers.paper import PaperBroker
from quantkit.data.replay import ReplayStream
from quantkit.domain.fill import Fill
from quantkit.domain.market import Market
from quantkit.domain.order import OrderRequest, Side
from quantkit.engine.live import LiveEngine
from quantkit.risk.policy import (
    Decision,
    RiskAction,
    RiskChain,
    RiskContext,
    RiskPolicy,
    overrides,
)
from tests.risk.helpers import SYMBOL, Scripted, make_series, run_engine


class FlattenAfterThree(RiskPolicy):
    """Counts bars and fills; on the third bar holding a position, flattens and halts."""

    def __init__(self) -> None:
        self.bars = 0
        self.fills: list[float] = []
        self.tripped = False

    def check(self, request: OrderRequest, context: RiskContext) -> Decision:
        if self.tripped and not request.reduce_only:
            return Decision.reject(self.name, "tripped")
        return Decision.approve(request, self.name)

    def on_bar(self, context: RiskContext) -> Sequence[OrderRequest]:
        self.bars += 1
        held = context.portfolio.position(SYMBOL).amount
        if held and not self.tripped and len(self.fills) == 1 and self.bars >= 3:
            self.tripped = True
            context.record(self.name, RiskAction.HALT, "third bar in the trade", SYMBOL)
            return [OrderRequest(SYMBOL, Side.SELL, amount=held, reduce_only=True)]
        return ()

    def on_fill(self, fill: Fill, context: RiskContext) -> None:
        self.fills.append(fill.amount)


ROWS = [(100.0, 101.0, 99.0, 100.0, 10.0)] * 8


def test_hooks_run_before_the_strategy_and_flatten_orders_reach_the_broker() -> None:
    policy = FlattenAfterThree()
    seen: list[tuple[int, float]] = []

    def buy(s: Scripted) -> None:
        s.buy(amount=1.0)

    def look(s: Scripted) -> None:
        seen.append((s.data.index, s.position().amount))

    script = {0: buy, **{i: look for i in range(1, 8)}}
    strategy = Scripted(script)
    strategy.script[5] = lambda s: s.buy(amount=1.0)  # refused: the policy tripped at bar 2
    result = run_engine(strategy, make_series(ROWS), policy)
    # bar 0: buy sent; bar 1: filled (fill hook); bar 2: third bar -> flatten sent before
    # the strategy; bar 3: the flatten filled.
    assert policy.bars == len(ROWS)
    assert policy.fills == [1.0, 1.0]
    assert seen[:3] == [(1, 1.0), (2, 1.0), (3, 0.0)]
    events = result.risk_events
    halts = events[events["action"] == "halt"]
    assert list(halts["reason"]) == ["third bar in the trade"]
    rejects = events[events["action"] == "reject"]
    assert list(rejects["reason"]) == ["tripped"]


def test_the_same_hooks_act_the_same_in_a_paper_run() -> None:
    series = make_series(ROWS)
    market = Market(SYMBOL, "BTC", "USDT", maker_fee=0.0, taker_fee=0.0)
    backtest_policy, paper_policy = FlattenAfterThree(), FlattenAfterThree()

    def buy(s: Scripted) -> None:
        s.buy(amount=1.0)

    run_engine(Scripted({0: buy}), series, backtest_policy)
    engine = LiveEngine(
        stream=ReplayStream({SYMBOL: series}),
        strategy=Scripted({0: buy}),
        broker=PaperBroker(cash=10_000, markets={SYMBOL: market}),
        risk=paper_policy,
        warmup=0,
        handle_signals=False,
    )
    engine.run()
    assert paper_policy.fills == backtest_policy.fills == [1.0, 1.0]
    assert paper_policy.bars == backtest_policy.bars
    halts = [e for e in engine.context.risk_events if e.action is RiskAction.HALT]
    assert [e.reason for e in halts] == ["third bar in the trade"]


@pytest.mark.parametrize(
    ("policy", "on_bar", "on_fill"),
    [
        (FlattenAfterThree(), True, True),
        (RiskChain([]), False, False),
        (RiskChain([FlattenAfterThree()]), True, True),
    ],
)
def test_engines_skip_hooks_nobody_overrides(
    policy: RiskPolicy, on_bar: bool, on_fill: bool
) -> None:
    assert overrides(policy, "on_bar") is on_bar
    assert overrides(policy, "on_fill") is on_fill


def shipped_chain() -> RiskChain:
    from quantkit.risk.config import build_risk

    return build_risk(
        [
            {"type": "sane_order"},
            {"type": "fixed_fraction", "fraction": 0.8},
            {"type": "max_concentration", "max_fraction": 0.5},
            {"type": "order_rate_limit", "max_orders": 3, "per_seconds": 86_400},
            {"type": "max_drawdown_breaker", "max_drawdown": 0.03, "flatten": True, "cooldown": 5},
        ]
    )


def test_a_shipped_chain_decides_the_same_in_a_backtest_and_a_paper_run() -> None:
    from quantkit import BacktestBroker, Engine, SeriesFeed, SmaCross
    from tests.engine.test_live_paper import walk

    series = walk(400, seed=11)
    market = Market(SYMBOL, "BTC", "USDT", maker_fee=0.001, taker_fee=0.001)
    backtest = Engine(
        feed=SeriesFeed(series),
        strategy=SmaCross(fast=5, slow=20),
        broker=BacktestBroker(cash=10_000, markets={SYMBOL: market}),
        risk=shipped_chain(),
        warmup=30,
    ).run()
    paper = LiveEngine(
        stream=ReplayStream({SYMBOL: series}),
        strategy=SmaCross(fast=5, slow=20),
        broker=PaperBroker(cash=10_000, markets={SYMBOL: market}),
        risk=shipped_chain(),
        warmup=30,
        handle_signals=False,
    )
    paper.run()
    expected = [
        (e.time, e.policy, str(e.action), e.reason) for e in backtest.risk_events.itertuples()
    ]
    got = [(e.time, e.policy, str(e.action), e.reason) for e in paper.context.risk_events]
    actions = {action for _, _, action, _ in expected}
    assert {"resize", "reject", "halt"} <= actions  # the chain acted in several ways
    assert len(got) == len(expected)
    for (t1, p1, a1, r1), (t2, p2, a2, r2) in zip(expected, got, strict=True):
        assert (int(t1.value) if hasattr(t1, "value") else t1, p1, a1, r1) == (t2, p2, a2, r2)
