"""Circuit breakers: when they trip, what they let through while halted, and when they resume.

Engine runs use fee-free hourly bars from 2024-01-01 00:00 UTC (bar i closes at (i + 1) h), 10,000
USDT cash; every equity in a comment is worked out by hand.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantkit.domain.fill import Fill
from quantkit.domain.order import Order, OrderStatus, OrderType, Side
from quantkit.domain.portfolio import Portfolio
from quantkit.errors import ConfigError
from quantkit.risk.breakers import ConsecutiveLosses, DailyLossLimit, MaxDrawdownBreaker
from quantkit.risk.policy import RiskAction, RiskChain, RiskContext
from quantkit.risk.reset import DAY_NS, Breaker, ResetRule, flatten_orders
from tests.strategies import breaker_resets, breaker_steps

from .helpers import HOUR, SYMBOL, T0, FakeContext, Scripted, make_series, request, run_engine

HALT, RESUME = RiskAction.HALT, RiskAction.RESUME
ETH = "ETH/USDT"


Row = tuple[float, float, float, float, float]


def rows(closes: list[float], opens: list[float] | None = None) -> list[Row]:
    """Hourly rows closing at ``closes``; each opens at the previous close unless given."""
    out: list[Row] = []
    for i, close in enumerate(closes):
        open_ = opens[i] if opens is not None else (closes[i - 1] if i else close)
        out.append((open_, max(open_, close), min(open_, close), close, 10.0))
    return out


def buy(amount: float) -> Callable[[Scripted], Order]:
    return lambda s: s.buy(amount=amount)


def sell(amount: float) -> Callable[[Scripted], Order]:
    return lambda s: s.sell(amount=amount)


def probe(s: Scripted) -> Order:
    """An entry that never fills (a buy limit far below the market): is it refused?"""
    return s.buy(amount=1.0, limit=1.0)


def rejected(strategy: Scripted, index: int) -> bool:
    order = strategy.returned[index]
    assert isinstance(order, Order)
    return order.status is OrderStatus.REJECTED


def breaker_events(result: Any) -> list[tuple[Any, str, str]]:
    events = result.risk_events
    rows_ = events[events["action"].isin(["halt", "resume"])]
    return list(zip(rows_["time"], rows_["action"], rows_["reason"], strict=True))


def hour(i: int) -> pd.Timestamp:
    """The time ``i`` hours after 2024-01-01 00:00 UTC (bar ``i - 1``'s close)."""
    return pd.Timestamp(T0 + i * HOUR, unit="ns", tz="UTC")


# -- MaxDrawdownBreaker in a backtest -------------------------------------------------------------

# bar 0: buy 50 (fills at bar 1's open, 100): cash 5,000.
# bar 1 close 100: equity 10,000 (peak). bar 2 close 90: 9,500 (5 %).
# bar 3 close 76: 5,000 + 50 * 76 = 8,800, 12 % below the peak -> trips at bar 3.
# bar 4 opens at 80: the flatten sell fills there -> cash 5,000 + 4,000 = 9,000, flat.
DRAWDOWN_ROWS = rows(
    [100.0, 100.0, 90.0, 76.0] + [80.0] * 24, [100.0, 100.0, 100.0, 90.0] + [80.0] * 24
)
DRAWDOWN_WHY = "equity 8,800.00 is 12.00% below its peak 10,000.00 (limit 10.00%)"


def test_drawdown_trips_at_the_right_bar_flattens_at_the_next_open_and_resumes_next_day() -> None:
    breaker = MaxDrawdownBreaker(0.1, flatten=True, reset="next_day")
    positions: dict[int, float] = {}

    def look(s: Scripted) -> Order:
        positions[s.data.index] = s.position().amount
        return probe(s)

    strategy = Scripted({0: buy(50.0), 2: probe, 3: look, 4: look, 22: look, 23: look})
    result = run_engine(strategy, make_series(DRAWDOWN_ROWS), breaker)
    assert not rejected(strategy, 2)  # 5 % down: trading
    # the trip happened before the strategy saw bar 3; the position is still open there
    assert positions[3] == 50.0
    assert rejected(strategy, 3) and rejected(strategy, 4) and rejected(strategy, 22)
    fills = result.fills
    flatten = fills[fills["side"] == "sell"]
    assert list(zip(flatten["price"], flatten["amount"], strict=True)) == [(80.0, 50.0)]
    assert positions[4] == 0.0  # filled at bar 4's open, before the strategy saw bar 4
    # bar 23 closes at 2024-01-02 00:00: the first bar of the next UTC day
    assert not rejected(strategy, 23)
    assert breaker_events(result) == [
        (hour(4), "halt", DRAWDOWN_WHY),
        (hour(24), "resume", "new UTC day 2024-01-02"),
    ]
    assert not breaker.halted


def test_drawdown_rejection_names_the_numbers() -> None:
    breaker = MaxDrawdownBreaker(0.1)
    strategy = Scripted({0: buy(50.0), 3: buy(1.0), 5: sell(10.0)})
    result = run_engine(strategy, make_series(DRAWDOWN_ROWS[:8]), breaker)
    (halt,) = breaker_events(result)
    assert halt == (hour(4), "halt", DRAWDOWN_WHY)
    assert strategy.returned[3].reason == (
        f"risk: MaxDrawdownBreaker: halted by MaxDrawdownBreaker: {DRAWDOWN_WHY}"
    )
    assert not rejected(strategy, 5)  # selling 10 of 50 reduces: it passes while halted
    assert breaker.halted  # manual: still halted at the end
    assert result.positions["amount"].iloc[-1] == 40.0  # no flatten asked


@pytest.mark.parametrize("bars", [1, 3])
def test_cooldown_resumes_n_bars_after_the_trip(bars: int) -> None:
    breaker = MaxDrawdownBreaker(0.1, cooldown=bars)
    script = {0: buy(50.0), **{i: buy(1.0) for i in range(3, 8)}}
    strategy = Scripted(script)
    result = run_engine(strategy, make_series(DRAWDOWN_ROWS[:9]), breaker)
    # tripped at bar 3; halted for bars 3 .. 3 + bars - 1; trading again at bar 3 + bars
    assert [rejected(strategy, i) for i in range(3, 8)] == [i < 3 + bars for i in range(3, 8)]
    resume = breaker_events(result)[1]
    label = "bar" if bars == 1 else "bars"
    assert resume == (hour(4 + bars), "resume", f"cooldown of {bars} {label} over")


def test_manual_reset_resumes_only_after_reset() -> None:
    breaker = MaxDrawdownBreaker(0.1, flatten=True)

    def reset_and_buy(s: Scripted) -> Order:
        breaker.reset()
        return s.buy(amount=1.0)

    strategy = Scripted({0: buy(50.0), 3: buy(1.0), 20: buy(1.0), 25: reset_and_buy, 26: buy(1.0)})
    result = run_engine(strategy, make_series(DRAWDOWN_ROWS), breaker)
    assert rejected(strategy, 3) and rejected(strategy, 20)  # the next day did not help
    assert not rejected(strategy, 25) and not rejected(strategy, 26)
    _, resume = breaker_events(result)
    assert resume == (hour(27), "resume", "reset() called")  # noted at the next bar


# -- DailyLossLimit in a backtest -----------------------------------------------------------------


def test_daily_loss_trips_and_measures_the_next_day_from_the_previous_close() -> None:
    # bar 0 (closes 01:00, the run's first bar): 10,000, day 1's start. Buy 50 at 100: cash 5,000.
    # bar 2 close 96: 9,800, 2 % down. bar 3 close 88: 9,400, lost 600 = 6 % > 5 % -> trips.
    # bar 22 (closes 23:00) at 88: 9,400. bar 23 closes at 00:00 on Jan 2, the new day's first
    # bar: the day started with bar 22's 9,400; at 84 it is 9,200 (2.1 %) and trading resumes.
    # bar 24 close 80: 9,000, lost 400 = 4.26 %. bar 25 close 78: 8,900, lost 500 = 5.32 %
    # -> trips. (Measured from bar 23's own 9,200 it would be 3.3 % and not trip.)
    closes = [100.0, 100.0, 96.0, 88.0] + [88.0] * 19 + [84.0, 80.0, 78.0, 78.0]
    breaker = DailyLossLimit(0.05)
    strategy = Scripted({0: buy(50.0), 2: probe, 22: probe, 24: probe, 26: probe})
    result = run_engine(strategy, make_series(rows(closes)), breaker)
    assert [rejected(strategy, i) for i in (2, 22, 24, 26)] == [False, True, False, True]
    assert breaker_events(result) == [
        (
            hour(4),
            "halt",
            "lost 600.00 (6.00%) today: equity 9,400.00 against 10,000.00 "
            "at the start of the UTC day (limit 5.00% of it)",
        ),
        (hour(24), "resume", "new UTC day 2024-01-02"),
        (
            hour(26),
            "halt",
            "lost 500.00 (5.32%) today: equity 8,900.00 against 9,400.00 "
            "at the start of the UTC day (limit 5.00% of it)",
        ),
    ]


# -- ConsecutiveLosses in a backtest --------------------------------------------------------------


def test_two_losing_round_trips_in_a_row_trip_the_breaker() -> None:
    # buy 1 at bar 1's open 100, sell at bar 2's open 95: -5 (streak 1).
    # buy at bar 3's open 96, sell at bar 4's open 90: -6 (streak 2) -> trips at bar 4.
    opens = [100.0, 100.0, 95.0, 96.0, 90.0, 90.0, 90.0]
    breaker = ConsecutiveLosses(2, cooldown=2)
    strategy = Scripted(
        {0: buy(1.0), 1: sell(1.0), 2: buy(1.0), 3: sell(1.0), 4: buy(1.0), 6: buy(1.0)}
    )
    result = run_engine(strategy, make_series(rows(opens, opens)), breaker)
    assert rejected(strategy, 4) and not rejected(strategy, 6)
    halt, resume = breaker_events(result)
    assert halt == (
        hour(5),
        "halt",
        "2 losing trades in a row (limit 2); the last lost 6.00 on BTC/USDT",
    )
    assert resume[:2] == (hour(7), "resume")
    assert breaker.streak == 0  # restarted on resume


def test_breakers_in_a_chain_each_record_their_own_events() -> None:
    chain = RiskChain([DailyLossLimit(0.5), MaxDrawdownBreaker(0.1, flatten=True)])
    strategy = Scripted({0: buy(50.0), 3: buy(1.0)})
    result = run_engine(strategy, make_series(DRAWDOWN_ROWS[:6]), chain)
    ((_, action, reason),) = breaker_events(result)
    assert (action, reason) == ("halt", DRAWDOWN_WHY)
    events = result.risk_events
    refusal = events[(events["action"] == "reject")]
    assert list(refusal["policy"]) == ["MaxDrawdownBreaker"]


# -- check() while halted -------------------------------------------------------------------------


def tripped(held: float = 10.0) -> tuple[MaxDrawdownBreaker, FakeContext]:
    """A drawdown breaker tripped on a FakeContext holding ``held`` at 100 (cash 9,000)."""
    context = FakeContext(cash=9_000.0).hold(held)
    context.portfolio.last_price[SYMBOL] = 100.0
    breaker = MaxDrawdownBreaker(0.1)
    breaker.on_bar(context)  # peak 9,000 + 1,000 = 10,000
    context.portfolio.last_price[SYMBOL] = 0.0  # equity 9,000: 10 %, not more
    breaker.on_bar(context)
    assert not breaker.halted
    context.portfolio.last_price[SYMBOL] = -0.01  # hand-made mark: 8,999.9
    breaker.on_bar(context)
    assert breaker.halted
    return breaker, context


@pytest.mark.parametrize(
    ("fields", "allowed"),
    [
        ({"side": "sell", "amount": 4.0}, True),  # reduces 10 to 6
        ({"side": "sell", "amount": 10.0}, True),  # closes
        ({"side": "sell", "amount": 10.5}, False),  # would flip short
        ({"side": "buy", "amount": 1.0}, False),  # adds
        ({"side": "buy", "amount": 20.0, "reduce_only": True}, True),
        ({"side": "sell", "cost": 1_000.0}, True),  # 1,000 / 100 = 10: closes
        ({"side": "sell", "cost": 1_100.0}, False),  # 11 > 10
        ({"side": "sell", "amount": 5.0, "type": OrderType.LIMIT, "limit_price": 110.0}, True),
        ({"side": "sell", "amount": 5.0, "type": OrderType.STOP, "stop_price": 90.0}, True),
    ],
)
def test_while_halted_only_reducing_orders_pass(fields: dict[str, Any], allowed: bool) -> None:
    breaker, context = tripped()
    side = fields.pop("side")
    decision = breaker.check(request(side, **fields), context)
    assert decision.allowed is allowed
    assert decision.policy == "MaxDrawdownBreaker"
    if not allowed:
        assert decision.action is RiskAction.REJECT  # never HALT: that would stop the run
        assert decision.reason.startswith("halted by MaxDrawdownBreaker: equity 8,999.90 is")


def test_a_cost_sized_close_without_a_price_is_refused_while_halted() -> None:
    breaker, context = tripped()
    del context.prices[SYMBOL]
    assert not breaker.check(request("sell", cost=100.0), context).allowed


def test_nothing_is_refused_before_a_trip() -> None:
    context = FakeContext()
    breaker = MaxDrawdownBreaker(0.1)
    breaker.on_bar(context)
    assert breaker.check(request("buy", amount=1e6), context).allowed
    assert breaker.why == ""
    breaker.reset()  # nothing to lift: no RESUME event
    breaker.on_bar(context)
    assert context.recorded == []


def test_flatten_orders_close_every_open_position() -> None:
    portfolio = Portfolio("USDT", {"USDT": 0.0})
    portfolio.position(SYMBOL).apply(2.0, 100.0)
    portfolio.position(ETH).apply(-3.0, 10.0)
    portfolio.position("SOL/USDT")  # flat: nothing to close
    orders = flatten_orders(portfolio)
    assert [(o.symbol, o.side, o.amount, o.reduce_only) for o in orders] == [
        (SYMBOL, Side.SELL, 2.0, True),
        (ETH, Side.BUY, 3.0, True),
    ]


def test_a_trip_with_flatten_returns_the_orders_and_records_the_halt() -> None:
    context = FakeContext(cash=0.0).hold(2.0).hold(-3.0, 10.0, ETH)
    context.portfolio.last_price.update({SYMBOL: 100.0, ETH: 10.0})  # 200 - 30 = 170
    breaker = MaxDrawdownBreaker(0.5, flatten=True)
    assert breaker.on_bar(context) == ()
    context.portfolio.last_price[SYMBOL] = 50.0  # 100 - 30 = 70: 58.8 % down
    orders = breaker.on_bar(context)
    assert [(o.symbol, o.side, o.amount) for o in orders] == [
        (SYMBOL, Side.SELL, 2.0),
        (ETH, Side.BUY, 3.0),
    ]
    assert context.recorded == [
        (
            "MaxDrawdownBreaker",
            HALT,
            "equity 70.00 is 58.82% below its peak 170.00 (limit 50.00%)",
            "",
        )
    ]
    assert breaker.on_bar(context) == ()  # halted: no second flatten


@pytest.mark.parametrize("breaker", [MaxDrawdownBreaker(0.1), DailyLossLimit(0.1)])
def test_an_unmarked_equity_is_skipped(breaker: Breaker) -> None:
    context = FakeContext(cash=0.0).hold(1.0)
    context.portfolio.last_price[SYMBOL] = 100.0
    breaker.on_bar(context)
    context.portfolio.last_price[SYMBOL] = math.nan
    breaker.on_bar(context)
    context.portfolio.last_price[SYMBOL] = 95.0  # 5 % below the peak of 100
    breaker.on_bar(context)
    assert not breaker.halted
    context.portfolio.last_price[SYMBOL] = 80.0  # 20 % below: the peak survived the gap
    breaker.on_bar(context)
    assert breaker.halted


def test_a_non_positive_peak_never_trips() -> None:
    context = FakeContext(cash=0.0)  # equity 0: the peak
    breaker = MaxDrawdownBreaker(0.1)
    breaker.on_bar(context)
    context.hold(-1.0)
    context.portfolio.last_price[SYMBOL] = 100.0  # equity -100
    breaker.on_bar(context)
    assert not breaker.halted


# -- DailyLossLimit by hand -----------------------------------------------------------------------


def test_absolute_daily_loss() -> None:
    # cash 9,000 + 10 at 100 = 10,000 at the day's first bar; 950 lost at 5 is within 1,000?
    context = FakeContext(cash=9_000.0).hold(10.0)
    breaker = DailyLossLimit(1_000.0, relative=False)
    context.portfolio.last_price[SYMBOL] = 100.0
    breaker.on_bar(context)
    context.now += HOUR
    context.portfolio.last_price[SYMBOL] = 5.0  # 9,050: lost 950
    breaker.on_bar(context)
    assert not breaker.halted
    context.now += HOUR
    context.portfolio.last_price[SYMBOL] = 0.0  # 9,000: lost 1,000, not more
    breaker.on_bar(context)
    assert not breaker.halted
    context.now += HOUR
    context.portfolio.last_price[SYMBOL] = -1.0  # 8,990: lost 1,010
    breaker.on_bar(context)
    assert context.recorded[-1][2] == (
        "lost 1,010.00 (10.10%) today: equity 8,990.00 against 10,000.00 "
        "at the start of the UTC day (limit 1,000.00)"
    )


def test_a_day_starting_without_equity_names_no_share() -> None:
    context = FakeContext(cash=0.0)
    breaker = DailyLossLimit(10.0, relative=False)
    breaker.on_bar(context)
    context.hold(-1.0)
    context.portfolio.last_price[SYMBOL] = 20.0  # equity -20: lost 20
    breaker.on_bar(context)
    assert breaker.why.startswith("lost 20.00 today: equity -20.00 against 0.00")


def test_a_cooldown_resume_within_the_day_restarts_the_reference() -> None:
    # day start 10,000; 8,000 trips (20 % > 10 %); one bar later trading resumes at 8,000,
    # the new reference: 7,500 is 6.25 % below it (no trip), 7,000 is 12.5 % (trips).
    context = FakeContext(cash=0.0).hold(100.0)
    breaker = DailyLossLimit(0.1, cooldown=1)
    for price, halted in [(100.0, False), (80.0, True), (80.0, False), (75.0, False)]:
        context.portfolio.last_price[SYMBOL] = price
        breaker.on_bar(context)
        context.now += HOUR
        assert breaker.halted is halted
    context.portfolio.last_price[SYMBOL] = 70.0
    breaker.on_bar(context)
    assert breaker.halted
    assert [a for _, a, _, _ in context.recorded] == [HALT, RESUME, HALT]


def test_a_manual_reset_on_a_new_days_first_bar_keeps_the_days_start() -> None:
    # day 1 ends at 10,000; day 2's first bar closes at 8,000: 20 % -> trips (manual).
    # reset() on that same bar keeps day 2's start (10,000), so the next bar trips again.
    context = FakeContext(cash=0.0).hold(100.0)
    breaker = DailyLossLimit(0.1, reset="manual")
    context.portfolio.last_price[SYMBOL] = 100.0
    breaker.on_bar(context)
    context.now += DAY_NS
    context.portfolio.last_price[SYMBOL] = 80.0
    breaker.on_bar(context)
    assert breaker.halted
    breaker.reset()
    assert not breaker.halted
    context.now += HOUR
    breaker.on_bar(context)
    assert breaker.halted
    assert [a for _, a, _, _ in context.recorded] == [HALT, RESUME, HALT]


# -- ConsecutiveLosses by hand --------------------------------------------------------------------


def fill(side: str, amount: float, price: float, fee: float = 0.0, symbol: str = SYMBOL) -> Fill:
    return Fill("c", symbol, Side(side), price, amount, fee, "USDT", T0)


def book(breaker: ConsecutiveLosses, context: FakeContext, *fills: Fill) -> None:
    for f in fills:
        context.portfolio.apply_fill(f)
        breaker.on_fill(f, context)


def test_net_pnl_counts_fees_and_a_win_ends_the_streak() -> None:
    context = FakeContext()
    breaker = ConsecutiveLosses(3)
    # +1 before fees, 0.6 + 0.6 fees: net -0.2, a loss
    book(breaker, context, fill("buy", 1.0, 100.0, 0.6), fill("sell", 1.0, 101.0, 0.6))
    assert breaker.streak == 1
    assert breaker.last_trade[0] == SYMBOL
    assert breaker.last_trade[1] == pytest.approx(-0.2)
    # partial closes: -1 then -1: one losing trade when flat
    book(breaker, context, fill("buy", 2.0, 100.0), fill("sell", 1.0, 99.0))
    assert breaker.streak == 1
    book(breaker, context, fill("sell", 1.0, 99.0))
    assert breaker.streak == 2
    book(breaker, context, fill("buy", 1.0, 100.0), fill("sell", 1.0, 100.0))  # break-even
    assert breaker.streak == 0
    book(breaker, context, fill("sell", 1.0, 100.0, symbol=ETH), fill("buy", 1.0, 102.0, 0.0, ETH))
    assert breaker.last_trade == (ETH, -2.0)


def test_a_base_asset_fee_and_the_dust_it_leaves_close_the_trade() -> None:
    context = FakeContext()
    context.portfolio.dust_below[SYMBOL] = 0.01  # the market's step
    breaker = ConsecutiveLosses(3)
    # buy 1 at 100, fee 0.001 BTC (0.1 USDT): holds 0.999; sell 0.99 at 100 leaves 0.009 dust
    buy = Fill("c", SYMBOL, Side.BUY, 100.0, 1.0, 0.001, SYMBOL.split("/")[0], T0)
    book(breaker, context, buy, fill("sell", 0.99, 100.0, 0.0))
    assert context.portfolio.position(SYMBOL).is_dust
    assert breaker.streak == 1
    assert breaker.last_trade[1] == pytest.approx(-0.1)


def test_a_flip_splits_the_fee_between_the_closed_and_the_new_trade() -> None:
    # long 1 at 100; sell 3 at 104 with fee 0.3: closes 1 (+4, fee 0.1: net 3.9, a win) and
    # opens short 2 carrying fee 0.2; buy 2 at 104.05, fee 0: -0.1 - 0.2 = -0.3, a loss.
    context = FakeContext()
    breaker = ConsecutiveLosses(1, reset="manual")
    book(breaker, context, fill("buy", 1.0, 100.0), fill("sell", 3.0, 104.0, 0.3))
    assert breaker.last_trade[1] == pytest.approx(3.9)
    assert breaker.streak == 0
    book(breaker, context, fill("buy", 2.0, 104.05))
    assert breaker.last_trade[1] == pytest.approx(-0.3)
    assert breaker.on_bar(context) == ()
    assert breaker.halted


def test_a_new_account_starts_the_trade_bookkeeping_afresh() -> None:
    breaker = ConsecutiveLosses(5)
    first = FakeContext()
    book(breaker, first, fill("buy", 1.0, 100.0), fill("sell", 1.0, 90.0))  # -10 realised
    second = FakeContext()  # a new run: realised PnL starts at 0 again
    book(breaker, second, fill("buy", 1.0, 100.0), fill("sell", 1.0, 103.0))
    assert breaker.last_trade == (SYMBOL, 3.0)


def loose(value: object) -> Any:
    """A wrongly typed setting, as user code without a type checker could pass it."""
    return value


# -- settings -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: MaxDrawdownBreaker(0.0), "max_drawdown must be a fraction in (0, 1), got 0.0"),
        (lambda: MaxDrawdownBreaker(1.0), "got 1.0"),
        (lambda: MaxDrawdownBreaker(math.nan), "got nan"),
        (lambda: MaxDrawdownBreaker(True), "got True"),
        (lambda: MaxDrawdownBreaker(loose("0.1")), "got '0.1'"),
        (lambda: DailyLossLimit(1.5), "DailyLossLimit: max_loss must be a fraction"),
        (lambda: DailyLossLimit(-5.0, relative=False), "max_loss must be a finite number > 0"),
        (lambda: DailyLossLimit(math.inf, relative=False), "got inf"),
        (lambda: DailyLossLimit(0.1, relative=loose(1)), "relative must be True or False, got 1"),
        (lambda: ConsecutiveLosses(0), "max_losses must be a whole number >= 1, got 0"),
        (lambda: ConsecutiveLosses(loose(2.0)), "got 2.0"),
        (lambda: ConsecutiveLosses(True), "got True"),
        (lambda: MaxDrawdownBreaker(0.1, flatten=loose(1)), "flatten must be True or False, got 1"),
        (
            lambda: MaxDrawdownBreaker(0.1, reset=loose("nextday")),
            "reset must be one of 'manual', 'next_day', 'cooldown', got 'nextday'; "
            "did you mean 'next_day'?",
        ),
        (lambda: MaxDrawdownBreaker(0.1, reset=loose("never")), "got 'never'$"),
        (lambda: MaxDrawdownBreaker(0.1, reset="cooldown"), "reset='cooldown' needs cooldown"),
        (lambda: MaxDrawdownBreaker(0.1, cooldown=0), "cooldown must be a whole number of bars"),
        (lambda: MaxDrawdownBreaker(0.1, cooldown=True), "bars >= 1, got True"),
        (lambda: MaxDrawdownBreaker(0.1, cooldown=loose(2.5)), "got 2.5"),
        (
            lambda: DailyLossLimit(0.1, reset="next_day", cooldown=3),
            "cooldown=3 only applies to reset='cooldown', not 'next_day'",
        ),
    ],
)
def test_bad_settings_are_config_errors(build: Callable[[], object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build()


def test_reprs_show_the_settings() -> None:
    assert repr(MaxDrawdownBreaker(0.2, cooldown=3)) == (
        "MaxDrawdownBreaker(max_drawdown=0.2, flatten=False, reset='cooldown', cooldown=3)"
    )
    assert repr(DailyLossLimit(0.03, flatten=True)) == (
        "DailyLossLimit(max_loss=0.03, relative=True, flatten=True, reset='next_day')"
    )
    assert repr(ConsecutiveLosses(4, reset="next_day")) == (
        "ConsecutiveLosses(max_losses=4, flatten=False, reset='next_day')"
    )


def test_reset_rule_defaults() -> None:
    assert MaxDrawdownBreaker(0.1).reset_rule == ResetRule("manual")
    assert ConsecutiveLosses(2).reset_rule == ResetRule("manual")
    assert DailyLossLimit(0.1).reset_rule == ResetRule("next_day")
    assert DailyLossLimit(0.1, cooldown=5).reset_rule == ResetRule("cooldown", 5)


def test_a_user_breaker_only_says_when_to_trip() -> None:
    class EquityFloor(Breaker):
        def evaluate(self, context: RiskContext) -> str:
            equity = context.portfolio.equity()
            return f"equity {equity:g} below 9000" if equity < 9_000 else ""

    context = FakeContext(cash=8_000.0)
    breaker = EquityFloor(cooldown=2)
    breaker.on_bar(context)
    assert breaker.why == "equity 8000 below 9000"
    assert not breaker.check(request(), context).allowed
    context.portfolio.cash["USDT"] = 10_000.0
    breaker.on_bar(context)
    assert breaker.halted  # one bar of two
    breaker.on_bar(context)
    assert not breaker.halted
    assert context.recorded[-1] == ("EquityFloor", RESUME, "cooldown of 2 bars over", "")


# -- properties -----------------------------------------------------------------------------------


class Model:
    """An independent account of when a breaker must be halted, bar by bar."""

    def __init__(self, reset: str, cooldown: int | None) -> None:
        self.reset = "cooldown" if cooldown is not None else reset
        self.cooldown = cooldown or 0
        self.halted = False
        self.trip_day = 0
        self.bars = 0
        self.events: list[RiskAction] = []
        self.by_hand = False

    def resumes(self, now: int) -> bool:
        """Apply the reset rule at a bar; True if trading resumes on it."""
        if self.by_hand:
            self.by_hand = False
            self.events.append(RESUME)
        if not self.halted:
            return False
        self.bars += 1
        if (self.reset == "cooldown" and self.bars >= self.cooldown) or (
            self.reset == "next_day" and now // DAY_NS > self.trip_day
        ):
            self.halted = False
            self.events.append(RESUME)
            return True
        return False

    def trip(self, now: int) -> None:
        self.halted, self.trip_day, self.bars = True, now // DAY_NS, 0
        self.events.append(HALT)

    def reset_by_hand(self) -> None:
        if self.halted:
            self.by_hand = True
        self.halted = False


def assert_gate(breaker: Breaker, context: FakeContext, halted: bool) -> None:
    """Non-reducing orders pass exactly while trading; reducing ones always pass."""
    held = context.portfolio.position(SYMBOL).amount
    assert breaker.halted is halted
    assert breaker.check(request("buy", amount=1.0), context).allowed is not halted
    assert breaker.check(request("sell", amount=held + 1.0), context).allowed is not halted
    assert breaker.check(request("sell", amount=held), context).allowed
    assert breaker.check(request("sell", amount=held / 3), context).allowed


hand_resets = st.sets(st.integers(0, 59), max_size=3)
fractions = st.floats(min_value=0.02, max_value=0.3)


@settings(max_examples=60, deadline=None)
@given(steps=breaker_steps, rule=breaker_resets, limit=fractions, by_hand=hand_resets)
def test_drawdown_halts_exactly_between_trip_and_reset(
    steps: list[tuple[int, float]], rule: tuple[str, int | None], limit: float, by_hand: set[int]
) -> None:
    # 100 BTC held, no cash: equity 100 * price, peak over the bar samples.
    context = FakeContext(cash=0.0).hold(100.0)
    breaker = MaxDrawdownBreaker(limit, reset=loose(rule[0]), cooldown=rule[1])
    model = Model(*rule)
    peak = math.nan
    for k, (hours, price) in enumerate(steps):
        context.now += hours * HOUR
        context.prices[SYMBOL] = context.portfolio.last_price[SYMBOL] = price
        equity = 100.0 * price
        restarted = model.resumes(context.now)
        if restarted:
            peak = math.nan
        if not model.halted:
            if math.isnan(peak) or equity > peak:
                peak = equity
            elif peak - equity > limit * peak:
                model.trip(context.now)
        breaker.on_bar(context)
        assert_gate(breaker, context, model.halted)
        if k in by_hand:
            model.reset_by_hand()
            breaker.reset()
            peak = math.nan
            assert_gate(breaker, context, False)
    assert [a for _, a, _, _ in context.recorded] == model.events


@settings(max_examples=60, deadline=None)
@given(steps=breaker_steps, rule=breaker_resets, limit=fractions)
def test_daily_loss_halts_exactly_between_trip_and_reset(
    steps: list[tuple[int, float]], rule: tuple[str, int | None], limit: float
) -> None:
    # The day's reference: the equity at the last bar before the day's first bar.
    context = FakeContext(cash=0.0).hold(100.0)
    breaker = DailyLossLimit(limit, reset=loose(rule[0]), cooldown=rule[1])
    model = Model(*rule)
    day, start, previous = -1, math.nan, math.nan
    for hours, price in steps:
        context.now += hours * HOUR
        context.prices[SYMBOL] = context.portfolio.last_price[SYMBOL] = price
        equity = 100.0 * price
        new_day = context.now // DAY_NS != day
        if new_day:
            day, start = context.now // DAY_NS, previous
        if model.resumes(context.now) and not new_day:
            start = math.nan
        if not model.halted:
            if math.isnan(start):
                start = equity
            if start - equity > limit * start:
                model.trip(context.now)
        breaker.on_bar(context)
        previous = equity
        assert_gate(breaker, context, model.halted)
    assert [a for _, a, _, _ in context.recorded] == model.events


@settings(max_examples=60, deadline=None)
@given(steps=breaker_steps, rule=breaker_resets, max_losses=st.integers(1, 4))
def test_consecutive_losses_halt_exactly_between_trip_and_reset(
    steps: list[tuple[int, float]], rule: tuple[str, int | None], max_losses: int
) -> None:
    # Each bar one round trip: buy 1 at 100, sell at the step's price (fee-free); held 5 BTC.
    context = FakeContext().hold(5.0)
    breaker = ConsecutiveLosses(max_losses, reset=loose(rule[0]), cooldown=rule[1])
    model = Model(*rule)
    streak = 0
    for hours, price in steps:
        context.now += hours * HOUR
        context.hold(-5.0)  # park the held amount so the round trip starts flat
        book(breaker, context, fill("buy", 1.0, 100.0), fill("sell", 1.0, price))
        context.hold(5.0)
        streak = streak + 1 if price < 100.0 else 0
        if model.resumes(context.now):
            streak = 0
        if not model.halted and streak >= max_losses:
            model.trip(context.now)
        breaker.on_bar(context)
        assert_gate(breaker, context, model.halted)
    assert [a for _, a, _, _ in context.recorded] == model.events
