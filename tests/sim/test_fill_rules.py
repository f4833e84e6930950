"""Hand-computed cases, one group per rule of docs/fill-rules.md (R1...R18)."""

from __future__ import annotations

import pytest

from quantkit import Engine, SeriesFeed, Strategy, SymbolData
from quantkit.domain.order import OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from quantkit.errors import OrderError
from quantkit.sim.exchange import SimulatedExchange
from quantkit.sim.fees import FlatFees
from quantkit.sim.rules import FillRules
from quantkit.sim.slippage import FixedBps, VolumeImpact
from tests.builders import make_exchange, make_series

SYM = "BTC/USDT"
BUY, SELL = Side.BUY, Side.SELL


def req(side: Side, kind: OrderType = OrderType.MARKET, **kw: object) -> OrderRequest:
    return OrderRequest(SYM, side, kind, **kw)  # type: ignore[arg-type]


def bar(ex: SimulatedExchange, o: float, h: float, low: float, c: float, v: float = 1e6) -> None:
    bar.t += 1  # type: ignore[attr-defined]
    ex.process_bar(SYM, bar.t, o, h, low, c, v)  # type: ignore[attr-defined]


bar.t = 0  # type: ignore[attr-defined]


def cash(ex: SimulatedExchange) -> float:
    return ex.portfolio.balance


def held(ex: SimulatedExchange) -> float:
    return ex.portfolio.position(SYM).amount


# R1/R2 -- market orders fill at the next bar's open -------------------------------------------


def test_r2_market_buy_fills_at_next_open_with_taker_fee() -> None:
    ex = make_exchange(taker_fee=0.001, maker_fee=0.0005)
    order = ex.submit(req(BUY, amount=2.0), now=0, reference_price=100.0)
    assert order.status is OrderStatus.OPEN and not ex.fills  # nothing fills on submission
    bar(ex, 101.0, 105.0, 99.0, 104.0)
    (fill,) = ex.fills
    assert (fill.price, fill.amount, fill.is_maker) == (101.0, 2.0, False)
    assert fill.fee == pytest.approx(0.202)  # 0.001 * 2 * 101
    assert cash(ex) == pytest.approx(10_000 - 202 - 0.202)
    assert order.status is OrderStatus.FILLED and order.average_price == 101.0


def test_r2_market_slippage_is_clamped_to_the_bar() -> None:
    ex = make_exchange(rules=FillRules(slippage=FixedBps(50)))
    ex.submit(req(BUY, amount=1.0), 0, 100.0)
    bar(ex, 100.0, 100.2, 99.0, 100.0)  # 50 bp would be 100.5 > high 100.2
    assert ex.fills[0].price == 100.2
    ex.submit(req(SELL, amount=1.0), 0, 100.0)
    bar(ex, 100.0, 101.0, 99.0, 100.0)  # 100 * (1 - 0.005) = 99.5 inside the bar
    assert ex.fills[1].price == pytest.approx(99.5)


# R3 -- cost-sized market orders -----------------------------------------------------------------


def test_r3_cost_buy_spends_exactly_cost_including_fee() -> None:
    ex = make_exchange(taker_fee=0.001)
    ex.submit(req(BUY, cost=1001.0), 0, 100.0)
    bar(ex, 100.0, 101.0, 99.0, 100.0)
    fill = ex.fills[0]
    # amount = 1001 / (100 * 1.001) = 10; fee = 0.001 * 1000 = 1; spent 1000 + 1 = 1001
    assert fill.amount == pytest.approx(10.0)
    assert fill.fee == pytest.approx(1.0)
    assert cash(ex) == pytest.approx(10_000 - 1001)


def test_r3_cost_buy_with_fixed_fee_and_step_rounds_down() -> None:
    fees = FlatFees(maker=0.0, taker=0.002, per_order=2.0)
    ex = make_exchange(rules=FillRules(fees=fees), amount_increment=0.01)
    ex.submit(req(BUY, cost=500.0), 0, 30.0)
    bar(ex, 30.0, 31.0, 29.0, 30.0)
    # (500 - 2) / (30 * 1.002) = 16.5668... -> 16.56 after rounding down to 0.01
    fill = ex.fills[0]
    assert fill.amount == pytest.approx(16.56)
    assert fill.fee == pytest.approx(0.002 * 16.56 * 30 + 2.0)
    assert cash(ex) == pytest.approx(10_000 - 16.56 * 30 - fill.fee)
    assert cash(ex) >= 10_000 - 500


def test_r3_cost_sell_sells_what_cost_is_worth() -> None:
    ex = make_exchange()
    ex.submit(req(BUY, amount=10.0), 0, 50.0)
    bar(ex, 50.0, 50.0, 50.0, 50.0)
    ex.submit(req(SELL, cost=200.0), 0, 50.0)
    bar(ex, 40.0, 41.0, 39.0, 40.0)
    assert ex.fills[1].amount == pytest.approx(5.0)  # 200 / 40
    assert held(ex) == pytest.approx(5.0)


# R4 -- limit orders -----------------------------------------------------------------------------


def test_r4_limit_buy_fills_at_limit_when_low_touches_it_as_maker() -> None:
    ex = make_exchange(maker_fee=-0.0001, taker_fee=0.001)
    ex.submit(req(BUY, OrderType.LIMIT, amount=1.0, limit_price=95.0), 0, 100.0)
    bar(ex, 100.0, 101.0, 96.0, 99.0)  # low 96 > 95: no fill
    assert not ex.fills
    bar(ex, 99.0, 100.0, 94.0, 97.0)
    fill = ex.fills[0]
    assert (fill.price, fill.is_maker) == (95.0, True)
    assert fill.fee == pytest.approx(-0.0095)  # a rebate
    assert cash(ex) == pytest.approx(10_000 - 95 + 0.0095)


def test_r4_limit_buy_gap_below_fills_at_open_as_taker() -> None:
    ex = make_exchange(maker_fee=0.0, taker_fee=0.001)
    ex.submit(req(BUY, OrderType.LIMIT, amount=1.0, limit_price=95.0), 0, 100.0)
    bar(ex, 90.0, 92.0, 88.0, 91.0)
    fill = ex.fills[0]
    assert (fill.price, fill.is_maker) == (90.0, False)
    assert fill.fee == pytest.approx(0.09)


def test_r4_limit_sell_fills_at_limit_or_open() -> None:
    ex = make_exchange(cash=0.0)
    ex.portfolio.cash["USDT"] = 1000.0
    ex.submit(req(BUY, amount=2.0), 0, 100.0)
    bar(ex, 100.0, 100.0, 100.0, 100.0)
    ex.submit(req(SELL, OrderType.LIMIT, amount=1.0, limit_price=110.0), 0, 100.0)
    ex.submit(req(SELL, OrderType.LIMIT, amount=1.0, limit_price=104.0), 0, 100.0)
    bar(ex, 105.0, 111.0, 104.5, 108.0)
    prices = sorted(f.price for f in ex.fills[1:])
    assert prices == [105.0, 110.0]  # 104 limit gapped through at the open; 110 touched


# R5 -- stop orders ------------------------------------------------------------------------------


def test_r5_stop_buy_fills_at_stop_plus_slippage() -> None:
    ex = make_exchange(rules=FillRules(slippage=FixedBps(10)))
    ex.submit(req(BUY, OrderType.STOP, amount=1.0, stop_price=105.0), 0, 100.0)
    bar(ex, 100.0, 104.0, 99.0, 103.0)
    assert not ex.fills
    bar(ex, 103.0, 107.0, 102.0, 106.0)
    assert ex.fills[0].price == pytest.approx(105.0 * 1.001)
    assert not ex.fills[0].is_maker


def test_r5_stop_sell_gap_fills_at_open() -> None:
    ex = make_exchange()
    ex.submit(req(BUY, amount=1.0), 0, 100.0)
    bar(ex, 100.0, 100.0, 100.0, 100.0)
    ex.submit(req(SELL, OrderType.STOP, amount=1.0, stop_price=95.0), 0, 100.0)
    bar(ex, 90.0, 93.0, 89.0, 92.0)
    assert ex.fills[1].price == 90.0


# R6 -- stop-limit orders ------------------------------------------------------------------------


def test_r6_stop_limit_fills_at_trigger_when_limit_is_marketable() -> None:
    ex = make_exchange()
    ex.submit(
        req(BUY, OrderType.STOP_LIMIT, amount=1.0, stop_price=105.0, limit_price=106.0), 0, 100.0
    )
    bar(ex, 100.0, 108.0, 99.0, 107.0)
    assert ex.fills[0].price == 105.0


def test_r6_stop_limit_rests_as_limit_after_trigger() -> None:
    ex = make_exchange()
    order = ex.submit(
        req(BUY, OrderType.STOP_LIMIT, amount=1.0, stop_price=105.0, limit_price=103.0), 0, 100.0
    )
    # The bar opens at 106 (>= stop: triggered at the open) but 106 > limit 103: it rests.
    bar(ex, 106.0, 107.0, 104.0, 105.0)
    assert not ex.fills and order.status is OrderStatus.OPEN
    bar(ex, 104.0, 104.5, 102.0, 103.0)  # now a plain limit at 103: touched intrabar
    assert ex.fills[0].price == 103.0 and ex.fills[0].is_maker


def test_r6_stop_limit_gap_beyond_limit_does_not_fill_above_limit() -> None:
    ex = make_exchange(rules=FillRules(slippage=FixedBps(100)))
    ex.submit(
        req(BUY, OrderType.STOP_LIMIT, amount=1.0, stop_price=100.0, limit_price=100.5), 0, 99.0
    )
    bar(ex, 100.2, 103.0, 100.0, 102.0)  # triggered at the open 100.2; +1 % would be 101.2
    assert ex.fills[0].price == 100.5  # capped at the limit


# R7 -- time in force and post-only --------------------------------------------------------------


def test_r7_ioc_not_marketable_at_open_expires() -> None:
    ex = make_exchange()
    order = ex.submit(
        req(BUY, OrderType.LIMIT, amount=1.0, limit_price=95.0, time_in_force=TimeInForce.IOC),
        0,
        100.0,
    )
    bar(ex, 100.0, 101.0, 90.0, 99.0)  # touches 95 later in the bar, but IOC is immediate
    assert order.status is OrderStatus.EXPIRED and not ex.fills


def test_r7_ioc_partial_then_expire_and_fok_all_or_nothing() -> None:
    rules = FillRules(participation=0.5)
    ex = make_exchange(rules=rules)
    ioc = ex.submit(req(BUY, amount=4.0, time_in_force=TimeInForce.IOC), 0, 100.0)
    bar(ex, 100.0, 100.0, 100.0, 100.0, v=6.0)  # capacity 3 of 4
    assert ioc.filled == 3.0 and ioc.status is OrderStatus.EXPIRED
    fok = ex.submit(req(BUY, amount=4.0, time_in_force=TimeInForce.FOK), 0, 100.0)
    bar(ex, 100.0, 100.0, 100.0, 100.0, v=6.0)
    assert fok.filled == 0.0 and fok.status is OrderStatus.EXPIRED


def test_r7_post_only_that_would_take_is_expired() -> None:
    ex = make_exchange()
    order = ex.submit(
        req(BUY, OrderType.LIMIT, amount=1.0, limit_price=101.0, post_only=True), 0, 100.0
    )
    bar(ex, 100.0, 102.0, 99.0, 101.0)
    assert order.status is OrderStatus.EXPIRED
    assert "post-only" in order.reason


def test_r7_resting_post_only_gapped_through_fills_at_limit_as_maker() -> None:
    ex = make_exchange(maker_fee=0.0002, taker_fee=0.001)
    ex.submit(req(BUY, OrderType.LIMIT, amount=1.0, limit_price=95.0, post_only=True), 0, 100.0)
    bar(ex, 100.0, 101.0, 96.0, 99.0)
    bar(ex, 93.0, 94.0, 92.0, 93.0)
    fill = ex.fills[0]
    assert (fill.price, fill.is_maker) == (95.0, True)
    assert fill.fee == pytest.approx(0.0002 * 95.0)


# R8 -- fees -------------------------------------------------------------------------------------


def test_r8_fixed_fee_is_charged_once_per_order_across_partial_fills() -> None:
    fees = FlatFees(maker=0.0, taker=0.001, per_order=1.5)
    ex = make_exchange(rules=FillRules(fees=fees, participation=0.5))
    order = ex.submit(req(BUY, amount=3.0), 0, 100.0)
    bar(ex, 100.0, 100.0, 100.0, 100.0, v=4.0)  # 2 units
    bar(ex, 110.0, 110.0, 110.0, 110.0, v=4.0)  # 1 unit
    first, second = ex.fills
    assert first.fee == pytest.approx(0.001 * 200 + 1.5)
    assert second.fee == pytest.approx(0.001 * 110)
    assert order.fee == pytest.approx(first.fee + second.fee)
    assert ex.portfolio.fees_paid == pytest.approx(order.fee)
    assert cash(ex) == pytest.approx(10_000 - 200 - 110 - order.fee)


def test_r8_each_side_pays_its_own_rate() -> None:
    ex = make_exchange(maker_fee=0.0002, taker_fee=0.0007)
    ex.submit(req(BUY, amount=1.0), 0, 100.0)  # taker at the open
    bar(ex, 100.0, 100.0, 100.0, 100.0)
    ex.submit(req(SELL, OrderType.LIMIT, amount=1.0, limit_price=120.0), 0, 100.0)  # maker
    bar(ex, 110.0, 121.0, 109.0, 115.0)
    assert [f.fee for f in ex.fills] == pytest.approx([0.07, 0.024])
    assert cash(ex) == pytest.approx(10_000 - 100 - 0.07 + 120 - 0.024)


# R9 -- slippage models --------------------------------------------------------------------------


def test_r9_volume_impact_grows_with_share_of_volume() -> None:
    model = VolumeImpact(coefficient=0.1, exponent=0.5, base_bps=1.0)
    assert model.fraction(25.0, 100.0) == pytest.approx(0.0001 + 0.1 * 0.5)
    assert model.fraction(1.0, 100.0) < model.fraction(4.0, 100.0)
    assert model.fraction(1.0, 0.0) == pytest.approx(0.0001 + 0.1)
    ex = make_exchange(rules=FillRules(slippage=model))
    ex.submit(req(BUY, amount=1.0), 0, 100.0)
    bar(ex, 100.0, 200.0, 90.0, 100.0, v=100.0)
    assert ex.fills[0].price == pytest.approx(100.0 * (1 + 0.0001 + 0.1 * 0.1))


def test_r9_limit_fills_get_no_slippage() -> None:
    ex = make_exchange(rules=FillRules(slippage=FixedBps(100)))
    ex.submit(req(BUY, OrderType.LIMIT, amount=1.0, limit_price=95.0), 0, 100.0)
    bar(ex, 100.0, 101.0, 94.0, 99.0)
    assert ex.fills[0].price == 95.0


# R10 -- precision and minimums ------------------------------------------------------------------


def test_r10_rounding_and_minimums() -> None:
    ex = make_exchange(
        amount_increment=0.001, price_increment=0.5, min_amount=0.01, min_notional=10.0
    )
    order = ex.submit(req(BUY, OrderType.LIMIT, amount=0.12345, limit_price=100.3), 0, 100.0)
    assert order.amount == 0.123
    bar(ex, 101.0, 102.0, 100.0, 101.0)  # limit rounded to 100.5: touched
    assert ex.fills[0].price == 100.5
    small = ex.submit(req(BUY, amount=0.0099), 0, 100.0)
    assert small.status is OrderStatus.REJECTED and "minimum" in small.reason
    cheap = ex.submit(req(BUY, amount=0.05), 0, 100.0)  # 5 USDT < 10
    assert cheap.status is OrderStatus.REJECTED and "notional" in cheap.reason
    poor = ex.submit(req(BUY, cost=5.0), 0, 100.0)
    assert poor.status is OrderStatus.REJECTED


def test_r10_unknown_symbol_and_duplicate_id_raise() -> None:
    ex = make_exchange()
    with pytest.raises(OrderError, match="did you mean BTC/USDT"):
        ex.submit(OrderRequest("BTC/USDC", BUY, amount=1.0), 0, 1.0)
    ex.submit(req(BUY, amount=1.0), 0, 1.0, client_id="x")
    with pytest.raises(OrderError, match="already in use"):
        ex.submit(req(BUY, amount=1.0), 0, 1.0, client_id="x")


# R11 -- cash and margin -------------------------------------------------------------------------


def test_r11_unaffordable_fill_is_rejected_not_resized() -> None:
    ex = make_exchange(cash=1000.0, taker_fee=0.001)
    order = ex.submit(req(BUY, amount=10.0), 0, 99.0)  # 10 * 100 + 1 fee > 1000
    bar(ex, 100.0, 100.0, 100.0, 100.0)
    assert order.status is OrderStatus.REJECTED and order.filled == 0
    assert "insufficient USDT" in order.reason and cash(ex) == 1000.0


def test_r11_selling_more_than_held_is_rejected_without_shorting() -> None:
    ex = make_exchange()
    order = ex.submit(req(SELL, amount=1.0), 0, 100.0)
    bar(ex, 100.0, 100.0, 100.0, 100.0)
    assert order.status is OrderStatus.REJECTED and "shorting is off" in order.reason


def test_r11_shorting_and_leverage_limits() -> None:
    ex = make_exchange(cash=1000.0, allow_short=True, leverage=2.0)
    short = ex.submit(req(SELL, amount=15.0), 0, 100.0)
    bar(ex, 100.0, 100.0, 100.0, 100.0)
    assert short.status is OrderStatus.FILLED and held(ex) == -15.0
    assert cash(ex) == 2500.0  # proceeds credited; equity 2500 - 1500 = 1000
    too_much = ex.submit(req(SELL, amount=6.0), 0, 100.0)  # gross 2100 > 2 x 1000
    bar(ex, 100.0, 100.0, 100.0, 100.0)
    assert too_much.status is OrderStatus.REJECTED and "margin" in too_much.reason
    cover = ex.submit(req(BUY, amount=15.0), 0, 100.0)  # reducing is always allowed
    bar(ex, 90.0, 90.0, 90.0, 90.0)
    assert cover.status is OrderStatus.FILLED
    assert cash(ex) == pytest.approx(2500 - 1350)  # gained 150 on the short


# R12 -- volume participation --------------------------------------------------------------------


def test_r12_participation_splits_a_large_order_over_bars() -> None:
    ex = make_exchange(rules=FillRules(participation=0.1))
    order = ex.submit(req(BUY, amount=5.0), 0, 100.0)
    statuses = []
    for price, volume in ((100.0, 20.0), (101.0, 20.0), (102.0, 20.0)):
        bar(ex, price, price, price, price, v=volume)
        statuses.append(order.status)
    assert [f.amount for f in ex.fills] == [2.0, 2.0, 1.0]
    assert [f.price for f in ex.fills] == [100.0, 101.0, 102.0]
    assert statuses == [OrderStatus.PARTIALLY_FILLED] * 2 + [OrderStatus.FILLED]
    assert order.average_price == pytest.approx((200 + 202 + 102) / 5)


# R13/R14 -- brackets ----------------------------------------------------------------------------


def test_r13_bracket_levels_are_measured_from_the_actual_fill() -> None:
    ex = make_exchange()
    entry = ex.submit(req(BUY, amount=1.0, stop_loss_pct=0.1, take_profit_pct=0.2), 0, 100.0)
    bar(ex, 110.0, 111.0, 109.0, 110.0)  # filled at 110, not at the reference 100
    sl, tp = (ex.orders[f"{entry.client_id}-{s}"] for s in ("sl", "tp"))
    assert sl.request.stop_price == pytest.approx(99.0)  # 110 * 0.9
    assert tp.request.limit_price == pytest.approx(132.0)  # 110 * 1.2
    assert sl.request.reduce_only and sl.parent_id == entry.client_id
    bar(ex, 110.0, 133.0, 105.0, 130.0)
    assert tp.status is OrderStatus.FILLED and tp.average_price == 132.0
    assert sl.status is OrderStatus.CANCELED and "one-cancels-other" in sl.reason
    assert held(ex) == 0.0


def test_r13_exits_are_live_in_the_entry_fill_bar_but_not_before() -> None:
    ex = make_exchange()
    entry = ex.submit(req(BUY, amount=1.0, stop_loss=95.0), 0, 100.0)
    assert f"{entry.client_id}-sl" not in ex.orders  # nothing before the entry fills
    bar(ex, 100.0, 101.0, 94.0, 96.0)  # entry at the open, then the low reaches 95
    assert [f.price for f in ex.fills] == [100.0, 95.0]
    assert not ex.fills[1].ambiguous  # after an entry at the open, every later price counts


def test_r13_limit_entry_exit_below_is_certain_above_is_ambiguous() -> None:
    ex = make_exchange()
    entry = ex.submit(
        req(BUY, OrderType.LIMIT, amount=1.0, limit_price=98.0, stop_loss=96.0, take_profit=103.0),
        0,
        100.0,
    )
    # The price fell from 100 through 98 (entry) to 95: the stop at 96 was hit after the entry
    # whatever the path; the high 104 may have come before the entry.
    bar(ex, 100.0, 104.0, 95.0, 97.0)
    assert [f.client_id for f in ex.fills] == [entry.client_id, f"{entry.client_id}-sl"]
    assert ex.fills[1].price == 96.0


def test_r13_invalid_bracket_prices_are_rejected() -> None:
    ex = make_exchange()
    bad = ex.submit(req(BUY, amount=1.0, stop_loss=105.0), 0, 100.0)
    assert bad.status is OrderStatus.REJECTED and "below the entry" in bad.reason
    bad_tp = ex.submit(req(SELL, amount=1.0, take_profit=105.0), 0, 100.0)
    assert bad_tp.status is OrderStatus.REJECTED


def test_r14_gap_beyond_take_profit_fills_at_open_even_if_stop_is_crossed_later() -> None:
    ex = make_exchange()
    entry = ex.submit(req(BUY, amount=1.0, stop_loss=90.0, take_profit=110.0), 0, 100.0)
    bar(ex, 100.0, 101.0, 99.0, 100.0)
    bar(ex, 112.0, 113.0, 85.0, 88.0)  # opens above the TP, later trades below the SL
    exit_fill = ex.fills[1]
    assert exit_fill.client_id == f"{entry.client_id}-tp"
    assert exit_fill.price == 112.0 and not exit_fill.ambiguous
    assert ex.orders[f"{entry.client_id}-sl"].status is OrderStatus.CANCELED


# R15 -- intrabar ambiguity ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("assumption", "winner", "price"),
    [("adverse", "sl", 95.0), ("favorable", "tp", 105.0), ("nearest", "tp", 105.0)],
)
def test_r15_stop_and_target_in_one_bar(assumption: str, winner: str, price: float) -> None:
    ex = make_exchange(rules=FillRules(intrabar=assumption))  # type: ignore[arg-type]
    entry = ex.submit(req(BUY, amount=1.0, stop_loss=95.0, take_profit=105.0), 0, 100.0)
    bar(ex, 100.0, 100.0, 100.0, 100.0)
    bar(ex, 100.0, 106.0, 93.0, 100.0)  # the high is nearer the open: "nearest" goes up first
    exit_fill = ex.fills[1]
    assert exit_fill.client_id == f"{entry.client_id}-{winner}"
    assert exit_fill.price == price and exit_fill.ambiguous
    assert {f"{entry.client_id}-sl", f"{entry.client_id}-tp"} <= ex.ambiguous_orders


def test_r15_limit_and_stop_competing_for_one_position_are_flagged() -> None:
    ex = make_exchange()
    ex.submit(req(BUY, amount=1.0), 0, 100.0)
    bar(ex, 100.0, 100.0, 100.0, 100.0)
    limit = ex.submit(req(SELL, OrderType.LIMIT, amount=1.0, limit_price=104.0), 0, 100.0)
    stop = ex.submit(req(SELL, OrderType.STOP, amount=1.0, stop_price=97.0), 0, 100.0)
    # Whichever level came first sells the one BTC; the other finds nothing left to sell.
    bar(ex, 100.0, 105.0, 96.0, 100.0)
    (exit_fill,) = ex.fills[1:]
    assert exit_fill.client_id == stop.client_id and exit_fill.price == 97.0  # adverse
    assert exit_fill.ambiguous
    assert limit.status is OrderStatus.REJECTED
    assert {limit.client_id, stop.client_id} <= ex.ambiguous_orders


def test_r15_order_of_independent_fills_is_not_ambiguous() -> None:
    ex = make_exchange()
    ex.submit(req(BUY, amount=2.0), 0, 100.0)
    bar(ex, 100.0, 100.0, 100.0, 100.0)
    ex.submit(req(SELL, OrderType.LIMIT, amount=1.0, limit_price=104.0), 0, 100.0)
    ex.submit(req(SELL, OrderType.STOP, amount=1.0, stop_price=97.0), 0, 100.0)
    bar(ex, 100.0, 105.0, 96.0, 100.0)  # both fill on either path: same outcome
    assert sorted(f.price for f in ex.fills[1:]) == [97.0, 104.0]
    assert not any(f.ambiguous for f in ex.fills) and not ex.ambiguous_orders


def test_r15_same_side_levels_are_not_ambiguous() -> None:
    ex = make_exchange()
    ex.submit(req(BUY, OrderType.LIMIT, amount=1.0, limit_price=98.0), 0, 100.0)
    ex.submit(req(BUY, OrderType.LIMIT, amount=1.0, limit_price=96.0), 0, 100.0)
    bar(ex, 100.0, 101.0, 95.0, 99.0)
    assert [f.price for f in ex.fills] == [98.0, 96.0]
    assert not any(f.ambiguous for f in ex.fills) and not ex.ambiguous_orders


# R17 -- reduce-only -----------------------------------------------------------------------------


def test_r17_reduce_only_is_capped_and_canceled_when_flat() -> None:
    ex = make_exchange()
    rejected = ex.submit(req(SELL, amount=1.0, reduce_only=True), 0, 100.0)
    assert rejected.status is OrderStatus.REJECTED and "would not reduce" in rejected.reason
    ex.submit(req(BUY, amount=1.0), 0, 100.0)
    bar(ex, 100.0, 100.0, 100.0, 100.0)
    capped = ex.submit(req(SELL, amount=3.0, reduce_only=True), 0, 100.0)
    stale = ex.submit(
        req(SELL, OrderType.LIMIT, amount=1.0, limit_price=150.0, reduce_only=True), 0, 100.0
    )
    bar(ex, 100.0, 100.0, 100.0, 100.0)
    assert capped.filled == 1.0 and held(ex) == 0.0
    assert stale.status is OrderStatus.CANCELED and stale.reason == "position closed"


def test_cancel_and_cancel_twice() -> None:
    ex = make_exchange()
    order = ex.submit(req(BUY, OrderType.LIMIT, amount=1.0, limit_price=90.0), 0, 100.0)
    assert ex.cancel(order.client_id, 1) is True
    assert order.status is OrderStatus.CANCELED and not ex.has_working(SYM)
    assert ex.cancel(order.client_id, 2) is False
    with pytest.raises(OrderError, match="no order"):
        ex.cancel("nope", 3)
    bar(ex, 85.0, 86.0, 84.0, 85.0)
    assert not ex.fills


# R1, R16, R18 -- through the engine and by hand -------------------------------------------------


def test_r1_an_order_placed_at_a_close_fills_on_a_later_bar_only() -> None:
    class BuyOnce(Strategy):
        def on_bar(self, bar: SymbolData) -> None:
            if bar.index == 0:
                self.order_ = self.buy(amount=1.0, limit=100.0)

    rows = [(100.0, 101.0, 99.0, 100.0, 1.0), (103.0, 104.0, 101.0, 102.0, 1.0)]
    rows += [(102.0, 102.0, 99.5, 101.0, 1.0)]
    strategy = BuyOnce()
    result = Engine(feed=SeriesFeed(make_series(rows)), strategy=strategy).run()
    # bar 0 itself traded at 99-101 (it produced the signal): no fill there; bar 1 stays above
    # 100; bar 2 reaches 99.5: the fill is at the limit in bar 2.
    assert list(result.fills["price"]) == [100.0]
    assert result.fills["time"].iloc[0] == result.equity.index[1]  # bar 2 opens at bar 1's close


def test_r16_fill_prices_are_clamped_into_the_bar() -> None:
    ex = make_exchange(rules=FillRules(slippage=FixedBps(1000)))
    ex.submit(req(BUY, OrderType.STOP, amount=1.0, stop_price=104.0), 0, 100.0)
    bar(ex, 100.0, 105.0, 99.0, 104.0)  # 104 * 1.1 = 114.4 > high 105
    assert ex.fills[0].price == 105.0


def test_r18_accounting_of_an_add_reduce_and_flip() -> None:
    ex = make_exchange(cash=1000.0, allow_short=True, leverage=3.0, taker_fee=0.001)
    for side, amount, price in ((BUY, 2.0, 100.0), (BUY, 2.0, 110.0), (SELL, 6.0, 120.0)):
        ex.submit(req(side, amount=amount), 0, price)
        bar(ex, price, price, price, price)
    position = ex.portfolio.position(SYM)
    # bought 2 @ 100 and 2 @ 110 (average 105); sold 6 @ 120: closes 4 (+60), opens 2 short
    assert position.amount == -2.0 and position.entry_price == 120.0
    assert position.realized_pnl == pytest.approx(60.0)
    fees = 0.001 * (200 + 220 + 720)
    assert cash(ex) == pytest.approx(1000 - 200 - 220 + 720 - fees)
    assert ex.portfolio.equity() == pytest.approx(cash(ex) - 2 * 120.0)
