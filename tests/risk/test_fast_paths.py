"""The cheap paths of the hot risk checks decide exactly as the general code does."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from quantkit.domain.market import Market
from quantkit.domain.order import OrderRequest, OrderType, Side
from quantkit.errors import OrderError
from quantkit.risk.breakers import DailyLossLimit, MaxDrawdownBreaker
from quantkit.risk.policy import Decision, RiskAction, RiskChain, RiskContext, RiskPolicy
from quantkit.risk.reset import Breaker, utc_day
from quantkit.risk.validation import SaneOrder
from tests.risk.helpers import SYMBOL, FakeContext

HOUR = 3_600_000_000_000
DAY = 24 * HOUR


class EquityContext(FakeContext):
    """A RiskContext whose equity and clock the test sets bar by bar."""

    def __init__(self) -> None:
        super().__init__(cash=0.0)
        self.value = math.nan

    def equity(self) -> float:
        return self.value


class GeneralDailyLoss(DailyLossLimit):
    """`DailyLossLimit.on_bar` as it was before the fast path: integer days, the base class."""

    _previous = math.nan  # equity at the previous bar (this reference keeps its own)

    @property
    def name(self) -> str:
        return "DailyLossLimit"

    def on_bar(self, context: RiskContext) -> Sequence[OrderRequest]:
        equity = context.equity()
        day = utc_day(context.now)
        self._new_day = day != self._day
        if self._new_day:
            self._day = day
            self._start = self._previous
        self._equity = equity
        orders = Breaker.on_bar(self, context)
        self._previous = equity
        return orders


class GeneralDrawdown(MaxDrawdownBreaker):
    """`MaxDrawdownBreaker` through the base class's ``on_bar`` and ``evaluate``."""

    @property
    def name(self) -> str:
        return "MaxDrawdownBreaker"

    def on_bar(self, context: RiskContext) -> Sequence[OrderRequest]:
        return Breaker.on_bar(self, context)


class WrappedDailyLoss(DailyLossLimit):
    """A subclass with its own ``evaluate``: the fast path must step aside for it."""

    @property
    def name(self) -> str:
        return "DailyLossLimit"

    def evaluate(self, context: RiskContext) -> str:
        return super().evaluate(context)


class WrappedDrawdown(MaxDrawdownBreaker):
    """A subclass with its own ``evaluate``: the fast path must step aside for it."""

    @property
    def name(self) -> str:
        return "MaxDrawdownBreaker"

    def evaluate(self, context: RiskContext) -> str:
        return super().evaluate(context)


equities = st.one_of(
    st.floats(min_value=-50.0, max_value=200.0),
    st.sampled_from([math.nan, math.inf, 0.0, 100.0]),
)
gaps = st.sampled_from([0, 1, HOUR, 5 * HOUR, DAY - 1, DAY, 3 * DAY])
bars = st.lists(st.tuples(equities, gaps, st.booleans()), min_size=1, max_size=60)
rules = st.sampled_from([{}, {"reset": "manual"}, {"reset": "next_day"}, {"cooldown": 2}])


def drive(breaker: Breaker, steps: list[tuple[float, int, bool]]) -> list[Any]:
    """Feed the bars to ``breaker``; everything it said and did, bar by bar."""
    context = EquityContext()
    seen: list[Any] = []
    for equity, gap, reset in steps:
        context.now += gap
        context.value = equity
        if reset and gap == 1:  # now and then a manual reset between bars
            breaker.reset()
        orders = list(breaker.on_bar(context))
        decision = breaker.check(OrderRequest(SYMBOL, Side.BUY, amount=1.0), context)
        seen.append((orders, breaker.halted, breaker.why, decision.action, decision.reason))
    seen.append(context.recorded)
    return seen


@given(bars, st.sampled_from([0.02, 0.3]), st.booleans(), rules)
def test_daily_loss_fast_path_matches_the_general_path(
    steps: list[tuple[float, int, bool]], max_loss: float, relative: bool, rule: dict[str, Any]
) -> None:
    limit = max_loss if relative else max_loss * 100
    expected = drive(GeneralDailyLoss(limit, relative=relative, **rule), steps)
    assert drive(DailyLossLimit(limit, relative=relative, **rule), steps) == expected
    assert drive(WrappedDailyLoss(limit, relative=relative, **rule), steps) == expected


@given(bars, st.sampled_from([0.05, 0.5]), rules)
def test_drawdown_fast_path_matches_the_general_path(
    steps: list[tuple[float, int, bool]], max_drawdown: float, rule: dict[str, Any]
) -> None:
    expected = drive(GeneralDrawdown(max_drawdown, **rule), steps)
    assert drive(MaxDrawdownBreaker(max_drawdown, **rule), steps) == expected
    assert drive(WrappedDrawdown(max_drawdown, **rule), steps) == expected


def test_daily_loss_rolls_the_day_at_midnight_utc() -> None:
    breaker = DailyLossLimit(10.0, relative=False)
    context = EquityContext()
    context.value = 100.0
    context.now = 20 * DAY - 1  # the last nanosecond of a day
    breaker.on_bar(context)
    context.value = 95.0
    context.now = 20 * DAY  # the next day's first bar: the day starts from 100
    breaker.on_bar(context)
    assert breaker._day == 20
    context.value = 89.0  # 11 below the day's start
    context.now = 21 * DAY - 1
    breaker.on_bar(context)
    assert breaker.halted
    assert "against 100.00" in breaker.why


class CountedDailyLoss(DailyLossLimit):
    """Counts the bars that took the general way (``_on_bar``) instead of the two comparisons."""

    general = 0

    def _on_bar(self, context: RiskContext, equity: float, now: int) -> Sequence[OrderRequest]:
        self.general += 1
        return super()._on_bar(context, equity, now)


def test_daily_loss_takes_the_general_way_only_when_a_bar_has_more_to_do() -> None:
    breaker = CountedDailyLoss(500.0, relative=False)
    context = EquityContext()
    context.now = 20 * DAY
    for k in range(100):  # a quiet day: the first bar and the one after it go the general way
        context.now += 60_000_000_000
        context.value = 10_000.0 - k
        breaker.on_bar(context)
    assert (breaker.general, breaker.halted) == (2, False)
    breaker.reset()  # not halted: it restarts the day's reference, so the next bar goes in full
    breaker.on_bar(context)
    assert breaker.general == 3
    context.now = 21 * DAY  # a new day, and the bar after it
    breaker.on_bar(context)
    context.now += 1
    breaker.on_bar(context)
    assert breaker.general == 5
    context.now += 1
    breaker.on_bar(context)
    assert breaker.general == 5


def test_daily_loss_measures_against_a_limit_changed_between_bars() -> None:
    breaker = DailyLossLimit(500.0, relative=False)
    context = EquityContext()
    context.now = 20 * DAY + HOUR
    for equity in (10_000.0, 9_800.0, 9_800.0):  # 200 lost: within 500
        context.now += HOUR
        context.value = equity
        breaker.on_bar(context)
    assert not breaker.halted
    breaker.max_loss = 100.0
    context.now += HOUR
    breaker.on_bar(context)
    assert breaker.halted
    assert "lost 200.00" in breaker.why
    assert "limit 100.00" in breaker.why


def test_daily_loss_measures_against_a_relative_switch_between_bars() -> None:
    breaker = DailyLossLimit(0.05, relative=True)  # 5 % of the day's start: 5 of 100
    context = EquityContext()
    context.now = 20 * DAY + HOUR
    for equity in (100.0, 99.0, 99.0):  # 1 lost: within 5
        context.now += HOUR
        context.value = equity
        breaker.on_bar(context)
    assert not breaker.halted
    breaker.relative = False  # now 0.05 of the account currency: 1 lost is beyond it
    context.now += HOUR
    breaker.on_bar(context)
    assert breaker.halted
    assert "limit 0.05" in breaker.why


def reference_sane(policy: SaneOrder, request: OrderRequest, context: RiskContext) -> Decision:
    """`SaneOrder.check` as it was before the fast path."""
    name = policy.name
    symbol = request.symbol
    problem = policy._number_problem(request)
    if problem:
        return Decision.reject(name, f"order on {symbol}: {problem}")
    price = request.limit_price or request.stop_price or context.price(symbol)
    market = context.market(symbol)
    amount = request.amount
    if amount is None and math.isfinite(price) and price > 0:
        amount = (request.cost or 0.0) / price
    if amount is None:
        if policy.max_amount is not None:
            return Decision.reject(
                name, f"no price for {symbol} yet to check the cost order's amount"
            )
    else:
        floor = max(market.amount_increment, market.min_amount)
        if amount < floor * (1 - 1e-9):
            return Decision.reject(
                name,
                f"amount {amount:g} on {symbol} is below the market's minimum "
                f"{floor:g} {market.base}",
            )
        if policy.max_amount is not None and amount > policy.max_amount * (1 + 1e-9):
            return Decision.reject(
                name,
                f"amount {amount:g} on {symbol} is above the sanity cap "
                f"{policy.max_amount:g} {market.base}",
            )
    notional = request.cost if request.amount is None else request.amount * price
    if notional is not None and notional < market.min_notional * (1 - 1e-9):
        return Decision.reject(
            name,
            f"order value {notional:g} on {symbol} is below the market's minimum "
            f"{market.min_notional:g} {market.quote}",
        )
    return Decision.approve(request, name)


sizes = st.one_of(
    st.none(),
    st.floats(min_value=1e-6, max_value=1e6),
    st.integers(min_value=1, max_value=1000),
    st.sampled_from([0.0, -1.0, math.nan, math.inf, True]),
)
prices = st.one_of(st.none(), st.floats(min_value=1.0, max_value=1000.0))


@st.composite
def requests(draw: st.DrawFn) -> OrderRequest:
    """Requests of every shape, some altered after construction to carry bad numbers."""
    amount, cost = draw(st.sampled_from([(1.0, None), (None, 1.0)]))
    limit, stop = draw(prices), draw(prices)
    kind = OrderType.LIMIT if limit is not None else OrderType.MARKET
    if stop is not None:
        kind = OrderType.STOP_LIMIT if limit is not None else OrderType.STOP
    try:
        request = OrderRequest(
            SYMBOL,
            draw(st.sampled_from([Side.BUY, Side.SELL])),
            kind,
            amount=amount,
            cost=cost,
            limit_price=limit,
            stop_price=stop,
            stop_loss=draw(prices),
        )
    except OrderError:
        request = OrderRequest(SYMBOL, Side.BUY, amount=1.0)
    for field in draw(st.sets(st.sampled_from(["amount", "cost", "limit_price", "take_profit"]))):
        object.__setattr__(request, field, draw(sizes))
    return request


@given(
    requests(),
    st.sampled_from([None, 5.0, 1e9]),
    st.sampled_from([math.nan, 0.0, 50.0, 1e5]),
    st.sampled_from([(0.0, 0.0), (0.01, 1.0), (1.0, 100.0)]),
)
def test_sane_order_fast_path_matches_the_general_path(
    request: OrderRequest, max_amount: float | None, last: float, minimums: tuple[float, float]
) -> None:
    market = Market(SYMBOL, "BTC", "USDT", min_amount=minimums[0], min_notional=minimums[1])
    context = FakeContext({SYMBOL: last}, markets={SYMBOL: market})
    policy = SaneOrder(max_amount=max_amount)
    assert policy.check(request, context) == reference_sane(policy, request, context)


class Toy(RiskPolicy):
    """Approves, resizes (to a new request), passes another request, or rejects, by script."""

    def __init__(self, what: str, label: str) -> None:
        self.what = what
        self.label = label

    @property
    def name(self) -> str:
        return self.label

    def check(self, request: OrderRequest, context: RiskContext) -> Decision:
        if self.what == "approve":
            return Decision.approve(request, self.name)
        if self.what == "swap":  # an approval that hands on another request
            return Decision.approve(OrderRequest(SYMBOL, Side.SELL, amount=9.0), self.name)
        if self.what == "resize":
            smaller = OrderRequest(request.symbol, request.side, amount=0.5)
            return Decision.resize(smaller, self.name, "smaller")
        if self.what == "halt":
            return Decision.halt(self.name, "stop")
        return Decision.reject(self.name, "no")


def reference_chain(chain: RiskChain, request: OrderRequest, context: RiskContext) -> Decision:
    """`RiskChain.check` as it was before the tight loop."""
    final = Decision.approve(request, chain.name)
    for policy in chain.policies:
        decision = policy.check(request, context)
        if decision.request is None:
            return decision
        if decision.action is RiskAction.RESIZE:
            final = decision
        request = decision.request
    return final


@given(st.lists(st.sampled_from(["approve", "swap", "resize", "reject", "halt"]), max_size=6))
def test_chain_loop_matches_the_plain_fold(script: list[str]) -> None:
    chain = RiskChain([Toy(what, f"p{k}") for k, what in enumerate(script)])
    request = OrderRequest(SYMBOL, Side.BUY, amount=2.0)
    context = FakeContext()
    assert chain.check(request, context) == reference_chain(chain, request, context)


class Flattening(Breaker):
    """Trips on every bar it trades and asks for its flatten orders."""

    def evaluate(self, context: RiskContext) -> str:
        return "always"


def test_chain_on_bar_collects_only_what_policies_ask_for() -> None:
    context = FakeContext().hold(2.0)
    quiet = DailyLossLimit(0.5)
    loud = Flattening(flatten=True)
    chain = RiskChain([quiet, loud])
    orders = chain.on_bar(context)
    assert [(o.side, o.amount, o.reduce_only) for o in orders] == [(Side.SELL, 2.0, True)]
    assert chain.on_bar(context) == []  # halted, manual reset: nothing more
