"""Exposure limits: gross, leverage, net and concentration on the pro-forma account.

Prices are BTC 100 and ETH 10 unless a case says otherwise. `FakeContext.hold` adds a
position without touching cash, so equity = cash + sum(amount x price); every expected size
is worked out by hand in the comments.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantkit.domain.market import Market
from quantkit.domain.order import OrderRequest
from quantkit.errors import ConfigError
from quantkit.risk.exposure import MaxConcentration, MaxGrossExposure, MaxLeverage, MaxNetExposure
from quantkit.risk.policy import RiskAction, RiskChain, RiskPolicy
from tests.strategies import RiskBook, entry_requests, risk_books

from .helpers import SYMBOL, FakeContext, Scripted, make_series, request, run_engine

APPROVE, RESIZE, REJECT = RiskAction.APPROVE, RiskAction.RESIZE, RiskAction.REJECT
ETH = "ETH/USDT"
PRICES = {SYMBOL: 100.0, ETH: 10.0}


def account(cash: float, **held: float) -> FakeContext:
    """A context with ``cash`` and positions by base name (``BTC=50``), at PRICES."""
    context = FakeContext(dict(PRICES), cash=cash)
    for base, amount in held.items():
        symbol = f"{base}/USDT"
        context.hold(amount, PRICES[symbol], symbol)
    return context


def expect(
    policy: RiskPolicy,
    context: FakeContext,
    order: OrderRequest,
    action: RiskAction,
    sent: float | None = None,
) -> str:
    """Check the decision's action and sent amount; return its reason."""
    decision = policy.check(order, context)
    assert decision.action is action, decision.reason
    assert decision.policy == policy.name
    if action is APPROVE:
        assert decision.request is order
    elif action is RESIZE:
        assert decision.request is not None
        got = decision.request.amount
        if got is None:
            got = (decision.request.cost or 0.0) / context.price(order.symbol)
        assert got == pytest.approx(sent, rel=1e-12)
    else:
        assert decision.request is None
    return decision.reason


# -- MaxGrossExposure (2x) and MaxLeverage (2x) --


@pytest.mark.parametrize(
    "policy", [MaxGrossExposure(max_multiple=2.0), MaxLeverage(max_leverage=2.0)]
)
@pytest.mark.parametrize(
    ("cash", "held", "order", "action", "sent"),
    [
        (10_000.0, {}, {"amount": 150.0}, APPROVE, None),  # 15,000 <= 2 x 10,000
        (10_000.0, {}, {"amount": 200.0}, APPROVE, None),  # on the limit
        (10_000.0, {}, {"amount": 250.0}, RESIZE, 200.0),  # 20,000 / 100
        (10_000.0, {}, {"side": "sell", "amount": 250.0}, RESIZE, 200.0),  # shorts count too
        (10_000.0, {}, {"cost": 25_000.0}, RESIZE, 200.0),  # cost 25,000 -> 20,000
        # equity 5,000 + 5,000 = 10,000; room 20,000 / 100 - 50 = 150
        (5_000.0, {"BTC": 50.0}, {"amount": 200.0}, RESIZE, 150.0),
        # ETH short -5,000: equity 5,000, limit 10,000, ETH takes 5,000 -> 50 BTC
        (10_000.0, {"ETH": -500.0}, {"amount": 80.0}, RESIZE, 50.0),
        # flips 50 -> -200: gross 20,000, on the limit; -250 would be 25,000
        (5_000.0, {"BTC": 50.0}, {"side": "sell", "amount": 250.0}, APPROVE, None),
        (5_000.0, {"BTC": 50.0}, {"side": "sell", "amount": 300.0}, RESIZE, 250.0),
        # 300 BTC on equity 10,000: gross 30,000 is beyond 20,000
        (-20_000.0, {"BTC": 300.0}, {"side": "sell", "amount": 100.0}, APPROVE, None),  # reduces
        (-20_000.0, {"BTC": 300.0}, {"amount": 1.0}, REJECT, None),
        (-20_000.0, {"BTC": 300.0}, {"side": "sell", "amount": 400.0}, APPROVE, None),  # to -100
        (-20_000.0, {"BTC": 300.0}, {"side": "sell", "amount": 600.0}, RESIZE, 500.0),  # to -200
        (-20_000.0, {"BTC": 300.0}, {"amount": 9.0, "reduce_only": True}, APPROVE, None),
    ],
)
def test_gross_exposure(
    policy: RiskPolicy,
    cash: float,
    held: dict[str, float],
    order: dict[str, Any],
    action: RiskAction,
    sent: float | None,
) -> None:
    expect(policy, account(cash, **held), request(**order), action, sent)


def test_gross_exposure_closing_is_allowed_even_when_other_positions_breach() -> None:
    # 1x; ETH 30,000 and BTC 1,000 on cash -25,000: equity 6,000, the others alone breach it.
    # Selling 15 BTC would flip to -5; the room is clamped to closing the 10 held.
    context = account(-25_000.0, ETH=3_000.0, BTC=10.0)
    reason = expect(
        MaxGrossExposure(max_multiple=1.0),
        context,
        request("sell", amount=15.0),
        RESIZE,
        10.0,
    )
    assert reason == (
        "gross exposure would exceed its limit 6,000.00 (1x equity 6,000.00); resized from 15 "
        "to 10 BTC/USDT"
    )


def test_gross_exposure_reasons() -> None:
    policy = MaxGrossExposure(max_multiple=2.0)
    resized = expect(policy, account(10_000.0), request(amount=250.0), RESIZE, 200.0)
    assert resized == (
        "gross exposure would exceed its limit 20,000.00 (2x equity 10,000.00); resized from "
        "250 to 200 BTC/USDT"
    )
    refused = expect(policy, account(-20_000.0, BTC=300.0), request(amount=1.0), REJECT)
    assert refused == (
        "gross exposure 30,000.00 leaves no room under its limit 20,000.00 (2x equity "
        "10,000.00); order of 1 BTC/USDT refused"
    )
    leverage = expect(
        MaxLeverage(max_leverage=2.0), account(10_000.0), request(amount=250.0), RESIZE, 200.0
    )
    assert "(leverage 2x on equity 10,000.00)" in leverage


def test_leverage_refuses_entries_when_equity_is_not_positive() -> None:
    context = account(-100.0)  # equity -100
    reason = expect(MaxLeverage(max_leverage=3.0), context, request(amount=0.01), REJECT)
    assert reason == "equity -100.00 is not positive: leverage is undefined"
    gross = expect(MaxGrossExposure(max_multiple=3.0), context, request(amount=0.01), REJECT)
    assert gross.startswith("gross exposure 0.00 leaves no room under its limit -300.00")
    # closing still passes under both
    short = account(-100.0, BTC=-1.0)
    expect(MaxLeverage(max_leverage=3.0), short, request("buy", amount=1.0), APPROVE)


# -- MaxNetExposure --


@pytest.mark.parametrize(
    ("multiple", "cash", "held", "order", "action", "sent"),
    [
        (1.0, 10_000.0, {}, {"amount": 150.0}, RESIZE, 100.0),  # 10,000 / 100
        # ETH short -5,000: equity 5,000, net -5,000; a buy may take the net to +5,000
        (1.0, 10_000.0, {"ETH": -500.0}, {"amount": 80.0}, APPROVE, None),  # net +3,000
        (1.0, 10_000.0, {"ETH": -500.0}, {"amount": 150.0}, RESIZE, 100.0),  # (5,000 + 5,000) / 100
        (1.0, 10_000.0, {"ETH": -500.0}, {"side": "sell", "amount": 10.0}, REJECT, None),
        # 0.5x; ETH -20,000 on cash 30,000: equity 10,000, limit 5,000, net -20,000
        (0.5, 30_000.0, {"ETH": -2_000.0}, {"amount": 100.0}, APPROVE, None),  # net -10,000: closer
        (0.5, 30_000.0, {"ETH": -2_000.0}, {"amount": 300.0}, RESIZE, 250.0),  # net +5,000
        # a hedge: long BTC 10,000 and short ETH 10,000 on cash 10,000 is net 0
        (
            0.5,
            10_000.0,
            {"BTC": 100.0},
            {"symbol": ETH, "side": "sell", "amount": 1_000.0},
            APPROVE,
            None,
        ),
    ],
)
def test_net_exposure(
    multiple: float,
    cash: float,
    held: dict[str, float],
    order: dict[str, Any],
    action: RiskAction,
    sent: float | None,
) -> None:
    expect(
        MaxNetExposure(max_multiple=multiple), account(cash, **held), request(**order), action, sent
    )


def test_net_exposure_reason() -> None:
    reason = expect(
        MaxNetExposure(max_multiple=1.0),
        account(10_000.0, ETH=-500.0),
        request("sell", amount=10.0),
        REJECT,
    )
    # the net is -5,000; in the direction of a sell that is 5,000, already at the limit
    assert reason == (
        "net exposure 5,000.00 leaves no room under its limit 5,000.00 (1x equity 5,000.00); "
        "order of 10 BTC/USDT refused"
    )


# -- MaxConcentration (25 %) --


@pytest.mark.parametrize(
    ("cash", "held", "order", "action", "sent"),
    [
        (10_000.0, {}, {"amount": 30.0}, RESIZE, 25.0),  # 2,500 / 100
        (8_000.0, {"BTC": 20.0}, {"amount": 10.0}, RESIZE, 5.0),  # equity 10,000: 25 - 20
        (0.0, {"ETH": 1_000.0}, {"amount": 25.0}, APPROVE, None),  # ETH's share does not count
        (8_000.0, {"BTC": 20.0}, {"side": "sell", "amount": 50.0}, RESIZE, 45.0),  # to -25
        (5_000.0, {"BTC": 50.0}, {"amount": 1.0}, REJECT, None),  # 5,000 of 10,000 already
        (5_000.0, {"BTC": 50.0}, {"side": "sell", "amount": 30.0}, APPROVE, None),  # reduces
    ],
)
def test_concentration(
    cash: float,
    held: dict[str, float],
    order: dict[str, Any],
    action: RiskAction,
    sent: float | None,
) -> None:
    expect(
        MaxConcentration(max_fraction=0.25), account(cash, **held), request(**order), action, sent
    )


def test_concentration_reason_and_market_precision() -> None:
    policy = MaxConcentration(max_fraction=0.25)
    reason = expect(policy, account(10_000.0), request(amount=30.0), RESIZE, 25.0)
    assert reason == (
        "position value would exceed its limit 2,500.00 (25% of equity 10,000.00); resized "
        "from 30 to 25 BTC/USDT"
    )
    stepped = account(10_000.0)
    stepped.markets[SYMBOL] = Market(SYMBOL, "BTC", "USDT", amount_increment=0.3)
    expect(policy, stepped, request(amount=30.0), RESIZE, 24.9)  # 83 steps of 0.3
    minimum = account(10_000.0)
    minimum.markets[SYMBOL] = Market(SYMBOL, "BTC", "USDT", min_amount=30.0)
    refused = expect(policy, minimum, request(amount=40.0), REJECT)
    assert refused == (
        "position value 0.00 leaves room for 25 BTC/USDT under its limit 2,500.00 (25% of "
        "equity 10,000.00), below the market's minimum"
    )


# -- Prices --


def test_an_entry_without_a_price_is_refused_but_an_exit_passes() -> None:
    context = account(10_000.0, BTC=5.0)
    del context.prices[SYMBOL]
    policy = MaxGrossExposure(max_multiple=2.0)
    refused = expect(policy, context, request(amount=1.0), REJECT)
    assert refused == "no price for BTC/USDT yet to value the order"
    expect(policy, context, request(cost=50.0, side="sell"), REJECT)  # a cost cannot be sized
    expect(policy, context, request("sell", amount=5.0), APPROVE)


def test_a_symbol_without_a_price_is_marked_at_its_last_mark_else_its_entry() -> None:
    context = account(0.0)
    context.hold(100.0, 50.0, ETH)  # ETH bought at 50
    del context.prices[ETH]
    # equity 0 + 100 x 50 = 5,000 at the entry price; 1x leaves no room for BTC
    expect(MaxGrossExposure(max_multiple=1.0), context, request(amount=1.0), REJECT)
    context.portfolio.last_price[ETH] = 100.0  # marked at 100: equity 10,000, gross 10,000
    expect(MaxGrossExposure(max_multiple=2.0), context, request(amount=150.0), RESIZE, 100.0)


# -- Properties: nothing approved or resized leaves the pro-forma account beyond the limit --

KINDS = ("gross", "leverage", "net", "concentration")


def build(kind: str, setting: float) -> RiskPolicy:
    if kind == "gross":
        return MaxGrossExposure(max_multiple=setting)
    if kind == "leverage":
        return MaxLeverage(max_leverage=max(setting, 1.0))
    if kind == "net":
        return MaxNetExposure(max_multiple=setting)
    return MaxConcentration(max_fraction=setting)


def measure(kind: str, values: dict[str, float], symbol: str) -> float:
    """The limited quantity, computed from position values on its own."""
    if kind in ("gross", "leverage"):
        return sum(abs(v) for v in values.values())
    if kind == "net":
        return abs(sum(values.values()))
    return abs(values.get(symbol, 0.0))


@given(
    book=risk_books(),
    order=entry_requests(),
    kind=st.sampled_from(KINDS),
    setting=st.floats(0.05, 5.0),
    step=st.sampled_from([0.0, 0.01]),
)
def test_no_allowed_order_leaves_the_account_beyond_the_limit(
    book: RiskBook, order: OrderRequest, kind: str, setting: float, step: float
) -> None:
    context = FakeContext(dict(book.prices), cash=book.cash)
    for symbol, (amount, entry) in book.positions.items():
        context.hold(amount, entry, symbol)
    context.markets[order.symbol] = Market.from_symbol(order.symbol, amount_increment=step)
    policy = build(kind, setting)
    decision = policy.check(order, context)

    prices, symbol, sign = book.prices, order.symbol, order.side.sign
    held = {s: a for s, (a, _) in book.positions.items()}
    before = {s: a * prices[s] for s, a in held.items()}
    equity = book.cash + sum(before.values())
    multiple = max(setting, 1.0) if kind == "leverage" else setting
    limit = multiple * equity
    h = held.get(symbol, 0.0)
    wanted = order.amount if order.amount is not None else (order.cost or 0.0) / prices[symbol]
    if order.reduce_only or (h * sign < 0 and wanted <= abs(h)):
        assert decision.action is APPROVE
        assert decision.request is order
        return

    def after(amount: float) -> float:
        values = dict(before)
        values[symbol] = (h + sign * amount) * prices[symbol]
        return measure(kind, values, symbol)

    tol = 1e-7 * max(1.0, abs(limit), measure(kind, before, symbol))
    sent = decision.request
    if sent is None:
        # nothing could be added: the smallest amount the market takes breaches the limit
        assert (kind == "leverage" and equity <= 0) or after(max(step, 1e-6)) > limit - tol
        return
    amount = sent.amount if sent.amount is not None else (sent.cost or 0.0) / prices[symbol]
    new = after(amount)
    only_reduces = h * sign < 0 and amount <= abs(h) * (1 + 1e-12)  # exempt, like any exit
    assert only_reduces or new <= limit + tol or new <= measure(kind, before, symbol) + tol
    if kind == "leverage":
        assert equity > 0
    if decision.action is RESIZE:
        assert amount < wanted
        # a flip cut back to closing the position (rounded down to the step) is fine too
        closes = h * sign < 0 and abs(h) - step - 1e-9 * abs(h) <= amount <= abs(h) * (1 + 1e-9)
        step_value = step * prices[symbol]
        target = max(limit, 0.0)  # the net may go to zero under a negative limit
        assert closes or abs(new - target) <= tol + step_value


# -- Settings, representation, and a run --


@pytest.mark.parametrize(
    ("factory", "kwargs"),
    [
        (MaxGrossExposure, {"max_multiple": 0.0}),
        (MaxGrossExposure, {"max_multiple": math.inf}),
        (MaxGrossExposure, {"max_multiple": None}),
        (MaxLeverage, {"max_leverage": 0.5}),
        (MaxLeverage, {"max_leverage": math.nan}),
        (MaxNetExposure, {"max_multiple": -1.0}),
        (MaxConcentration, {"max_fraction": 0.0}),
        (MaxConcentration, {"max_fraction": True}),
    ],
)
def test_bad_settings_are_a_config_error(factory: Any, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=factory.__name__):
        factory(**kwargs)


def test_reprs() -> None:
    assert repr(MaxGrossExposure(max_multiple=1.5)) == "MaxGrossExposure(max_multiple=1.5)"
    assert repr(MaxLeverage(max_leverage=3.0)) == "MaxLeverage(max_leverage=3.0)"
    assert repr(MaxNetExposure(max_multiple=0.5)) == "MaxNetExposure(max_multiple=0.5)"
    assert repr(MaxConcentration(max_fraction=0.2)) == "MaxConcentration(max_fraction=0.2)"


def test_exposure_limits_in_a_run() -> None:
    rows = [(100.0, 101.0, 99.0, 100.0, 10.0)] * 5
    chain = RiskChain([MaxConcentration(max_fraction=0.5), MaxLeverage(max_leverage=1.0)])
    strategy = Scripted(
        {
            0: lambda s: s.buy(amount=80.0),  # 8,000 of equity 10,000: cut to 5,000 = 50
            1: lambda s: s.sell(amount=20.0),  # reduces to 30
            2: lambda s: s.buy(amount=40.0),  # 3,000 held: room for 2,000 = 20
            3: lambda s: s.buy(amount=1.0),  # 5,000 held: at the limit
        }
    )
    result = run_engine(strategy, make_series(rows), chain)
    events = result.risk_events
    assert events["action"].tolist() == ["resize", "approve", "resize", "reject"]
    assert events["policy"].tolist() == [
        "MaxConcentration",
        "RiskChain",
        "MaxConcentration",
        "MaxConcentration",
    ]
    assert result.fills["amount"].tolist() == [50.0, 20.0, 20.0]
    assert strategy.position().amount == 50.0


def test_a_subclass_that_refuses_is_asked_and_the_base_is_not() -> None:
    """The screen skips ``_refuse`` only for classes that keep the base's (no refusal)."""

    class Closed(MaxGrossExposure):
        def _refuse(self, book: Any) -> str:
            return f"closed at equity {book.equity:,.2f}"

    # 150 BTC x 100 = 15,000 <= 2 x 10,000: the plain limit approves it
    expect(MaxGrossExposure(max_multiple=2.0), account(10_000.0), request(amount=150.0), APPROVE)
    reason = expect(Closed(max_multiple=2.0), account(10_000.0), request(amount=150.0), REJECT)
    assert reason == "closed at equity 10,000.00"
    assert Closed._may_refuse and MaxLeverage._may_refuse and not MaxGrossExposure._may_refuse
