"""Screened policies: a chain calls their ``screen`` and decides exactly as their ``check`` do."""

from __future__ import annotations

import copy
import math
import pickle
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantkit.domain.order import OrderRequest, OrderType, Side
from quantkit.domain.portfolio import Portfolio
from quantkit.risk.breakers import DailyLossLimit
from quantkit.risk.exposure import (
    MaxConcentration,
    MaxGrossExposure,
    MaxLeverage,
    MaxNetExposure,
)
from quantkit.risk.limits import MaxPositionSize
from quantkit.risk.order_limits import MaxOrderNotional
from quantkit.risk.policy import (
    Decision,
    RiskAction,
    RiskChain,
    RiskContext,
    RiskPolicy,
    ScreenedPolicy,
)
from quantkit.risk.reset import Breaker
from quantkit.risk.validation import PriceBand, ReduceOnlyCheck, SaneOrder, StaleSignal
from quantkit.strategy.library.sma_cross import SmaCross
from tests.risk.helpers import HOUR, SYMBOL, FakeContext, make_series, run_engine
from tests.risk.test_fast_paths import GeneralDailyLoss, Toy, reference_chain


class Tripped(Breaker):
    """A breaker that trips on its first bar (and stays halted: manual reset)."""

    def evaluate(self, context: RiskContext) -> str:
        return "down"


def tripped() -> Tripped:
    breaker = Tripped()
    breaker.on_bar(FakeContext())
    assert breaker.halted
    return breaker


OTHER = "ETH/USDT"


class Elsewhere(RiskPolicy):
    """Approves by handing on the order as one on another symbol (priced differently)."""

    def check(self, request: OrderRequest, context: RiskContext) -> Decision:
        moved = OrderRequest(OTHER, request.side, amount=request.amount, cost=request.cost)
        return Decision.approve(moved, self.name)


POLICIES: dict[str, Any] = {
    "sane": SaneOrder,
    "sane_cap": lambda: SaneOrder(max_amount=3.0),
    "notional": lambda: MaxOrderNotional(max_notional=250.0),
    "position": lambda: MaxPositionSize(max_amount=4.0),
    "position_value": lambda: MaxPositionSize(max_notional=300.0),
    "gross": lambda: MaxGrossExposure(max_multiple=0.05),
    "net": lambda: MaxNetExposure(max_multiple=0.03),
    "concentration": lambda: MaxConcentration(max_fraction=0.02),
    "leverage": lambda: MaxLeverage(max_leverage=1.0),
    "daily": lambda: DailyLossLimit(0.1),
    "halted": tripped,
    "band": lambda: PriceBand(max_deviation=0.2),
    "stale": lambda: StaleSignal(max_bars=0),
    "reduce_only": ReduceOnlyCheck,
    "elsewhere": Elsewhere,
    "approve": lambda: Toy("approve", "a"),
    "swap": lambda: Toy("swap", "s"),
    "resize": lambda: Toy("resize", "r"),
    "reject": lambda: Toy("reject", "x"),
}

requests = st.builds(
    lambda side, size, by_cost, reduce_only, limit: OrderRequest(
        SYMBOL,
        Side(side),
        OrderType.MARKET if by_cost or limit is None else OrderType.LIMIT,
        amount=None if by_cost else size,
        cost=size * 100.0 if by_cost else None,
        reduce_only=reduce_only,
        limit_price=None if by_cost else limit,
    ),
    st.sampled_from(["buy", "sell"]),
    st.sampled_from([0.001, 0.5, 1.0, 2.5, 6.0, 50.0]),
    st.booleans(),
    st.booleans(),
    st.sampled_from([None, 90.0, 130.0]),
)


@settings(max_examples=300)
@given(
    st.lists(st.sampled_from(sorted(POLICIES)), min_size=1, max_size=6),
    requests,
    st.sampled_from([-3.0, -1.0, 0.0, 1.0, 3.0]),
    st.sampled_from([100.0, math.nan]),
    st.sampled_from([100.0, 10_000.0, -50.0]),
    st.booleans(),
)
def test_a_chain_of_screened_policies_decides_as_their_checks_do(
    names: list[str], request: OrderRequest, held: float, price: float, cash: float, stale: bool
) -> None:
    chain = RiskChain([POLICIES[name]() for name in names])
    context = FakeContext({SYMBOL: price, OTHER: 4.0}, cash=cash)
    if held:
        context.hold(held)
        context.hold(-held / 2, symbol=OTHER)
    if stale:
        context.bar_times[SYMBOL] = context.now - 2 * HOUR
    assert chain.check(request, context) == reference_chain(chain, request, context)


class CountingContext(FakeContext):
    """A FakeContext that counts reads of ``portfolio``."""

    reads = 0

    @property  # type: ignore[override]
    def portfolio(self) -> Portfolio:
        self.reads += 1
        return self._account

    @portfolio.setter
    def portfolio(self, account: Portfolio) -> None:
        self._account = account


def test_a_chain_marks_the_account_once_per_order() -> None:
    chain = RiskChain(
        [
            MaxOrderNotional(max_notional=1e9),
            MaxPositionSize(max_amount=1e9),
            MaxGrossExposure(max_multiple=5.0),
            DailyLossLimit(0.1),
        ]
    )
    context = CountingContext()
    decision = chain.check(OrderRequest(SYMBOL, Side.BUY, amount=1.0), context)
    assert (decision.action, decision.policy, context.reads) == (RiskAction.APPROVE, "RiskChain", 1)
    for policy in chain.policies:  # each on its own reads it once
        context.reads = 0
        policy.check(OrderRequest(SYMBOL, Side.BUY, amount=1.0), context)
        assert context.reads == (0 if isinstance(policy, Breaker) else 1)


class Stricter(MaxPositionSize):
    """A subclass with its own ``check``: it refuses what its parent's ``screen`` approves."""

    def check(self, request: OrderRequest, context: RiskContext) -> Decision:
        return Decision.reject(self.name, "stricter")


class StricterBreaker(DailyLossLimit):
    """A breaker subclass with its own ``check``."""

    def check(self, request: OrderRequest, context: RiskContext) -> Decision:
        return Decision.reject(self.name, "never")


def test_a_subclass_overriding_check_is_called_through_it_in_a_chain() -> None:
    cases: list[tuple[ScreenedPolicy, str]] = [
        (Stricter(max_amount=10.0), "stricter"),
        (StricterBreaker(0.1), "never"),
    ]
    for policy, reason in cases:
        assert not type(policy).screens_its_check()
        chain = RiskChain([SaneOrder(), policy])
        decision = chain.check(OrderRequest(SYMBOL, Side.BUY, amount=1.0), FakeContext())
        assert (decision.action, decision.reason) == (RiskAction.REJECT, reason)


def test_shipped_screened_policies_screen_their_checks() -> None:
    toys = {"approve", "swap", "resize", "reject", "elsewhere"}
    shipped: list[RiskPolicy] = [make() for name, make in POLICIES.items() if name not in toys]
    assert len(shipped) == len(POLICIES) - len(toys)
    assert all(isinstance(p, ScreenedPolicy) and type(p).screens_its_check() for p in shipped)


class Checked(RiskPolicy):
    """Calls a policy through its ``check`` only, as chains did before screening."""

    def __init__(self, inner: RiskPolicy) -> None:
        self.inner = inner

    @property
    def name(self) -> str:
        return self.inner.name

    def check(self, request: OrderRequest, context: RiskContext) -> Decision:
        return self.inner.check(request, context)


class CheckedBreaker(Checked):
    """`Checked`, with the bar hook passed on."""

    def on_bar(self, context: RiskContext) -> Sequence[OrderRequest]:
        return self.inner.on_bar(context)


def chain_for_engine(daily: DailyLossLimit) -> list[RiskPolicy]:
    return [
        SaneOrder(),
        MaxOrderNotional(max_notional=7_000.0),
        MaxGrossExposure(max_multiple=0.6),
        MaxPositionSize(max_amount=60.0),
        daily,
    ]


def test_an_engine_run_decides_as_with_checks_and_the_general_breaker() -> None:
    rng = np.random.default_rng(7)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.012, 2_000)))
    opens = np.concatenate([[100.0], close[:-1]])
    rows = [
        (o, max(o, c) * 1.002, min(o, c) * 0.998, c, 1_000.0)
        for o, c in zip(opens, close, strict=True)
    ]
    series = make_series(rows)
    screened = run_engine(
        SmaCross(fast=3, slow=8),
        series,
        RiskChain(chain_for_engine(DailyLossLimit(0.01, flatten=True))),
    )
    members = chain_for_engine(GeneralDailyLoss(0.01, flatten=True))
    checked = run_engine(
        SmaCross(fast=3, slow=8),
        series,
        RiskChain([Checked(p) for p in members[:-1]] + [CheckedBreaker(members[-1])]),
    )
    events = screened.risk_events
    assert {"approve", "resize", "reject", "halt", "resume"} <= {str(a) for a in events["action"]}
    assert len(events) > 100
    pd.testing.assert_frame_equal(events, checked.risk_events)
    pd.testing.assert_frame_equal(screened.orders, checked.orders)
    pd.testing.assert_series_equal(screened.stats, checked.stats)


@pytest.mark.parametrize("duplicate", [copy.deepcopy, lambda c: pickle.loads(pickle.dumps(c))])
def test_a_copied_chain_screens_through_its_own_policies(duplicate: Any) -> None:
    original = RiskChain([SaneOrder(), Tripped()])
    twin = duplicate(original)
    twin.policies[1].on_bar(FakeContext())  # only the copy's breaker trips
    order = OrderRequest(SYMBOL, Side.BUY, amount=1.0)
    assert original.check(order, FakeContext()).action is RiskAction.APPROVE
    assert twin.check(order, FakeContext()).action is RiskAction.REJECT
