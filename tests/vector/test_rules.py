"""Each simulator rule the fast path implements, on hand-made bars, checked against the Engine."""

from __future__ import annotations

import math
from typing import Any

import pytest

from quantkit.domain.market import Market
from quantkit.sim.fees import FlatFees
from tests.vector.test_parity import SYMBOL, Scripted, bars, both

FLAT = [(100.0, 101.0, 99.0, 100.0)] * 3


def test_r1_r2_entry_fills_at_the_next_open_with_slippage_and_exit_likewise() -> None:
    series = bars([*FLAT, (102.0, 104.0, 100.0, 103.0), (105.0, 106.0, 104.0, 105.0)])
    _, fast = both(series, Scripted(entries=(2,), exits=(3,)), slippage_bps=10.0)
    entry, exit_ = fast.fills.iloc[0], fast.fills.iloc[1]
    assert (entry["bar"], entry["side"], entry["kind"]) == (3, "buy", "entry")
    assert entry["price"] == pytest.approx(102.0 * 1.001)
    assert (exit_["bar"], exit_["side"], exit_["kind"]) == (4, "sell", "exit")
    assert exit_["price"] == pytest.approx(105.0 * 0.999)
    assert exit_["amount"] == entry["amount"]


def test_r2_slipped_price_is_clamped_into_the_bar() -> None:
    series = bars([*FLAT, (102.0, 102.5, 101.0, 102.0)])
    _, fast = both(series, Scripted(entries=(2,)), slippage_bps=500.0)
    assert fast.fills["price"].iloc[0] == 102.5


def test_r3_r8_cost_sizing_spends_the_cash_fee_and_per_order_fee_included() -> None:
    market = Market(SYMBOL, "BTC", "USDT", amount_increment=0.001)
    fees = FlatFees(maker=0.0, taker=0.002, per_order=3.0)
    series = bars([*FLAT, (250.0, 251.0, 249.0, 250.0)])
    _, fast = both(
        series, Scripted(entries=(2,), size=0.5), cash=10_000.0, market=market, fees=fees
    )
    fill = fast.fills.iloc[0]
    expected = math.floor((5_000.0 - 3.0) / (250.0 * 1.002) / 0.001 + 1e-9) * 0.001
    assert fill["amount"] == pytest.approx(expected)
    assert fill["fee"] == pytest.approx(0.002 * 250.0 * fill["amount"] + 3.0)


def test_r10_orders_below_the_minimums_are_rejected() -> None:
    market = Market(SYMBOL, "BTC", "USDT", min_notional=2_000.0)
    series = bars(FLAT + FLAT)
    result, fast = both(series, Scripted(entries=(1,), size=0.01), cash=10_000.0, market=market)
    assert fast.fills.empty
    assert fast.rejected == 1 == (result.orders["status"] == "rejected").sum()
    tiny = Market(SYMBOL, "BTC", "USDT", amount_increment=1.0, min_amount=1.0)
    _, fast = both(series, Scripted(entries=(1,), size=0.005), cash=10_000.0, market=tiny)
    assert fast.fills.empty
    assert fast.rejected == 1


def test_r10_a_close_below_the_minimum_notional_is_rejected() -> None:
    market = Market(SYMBOL, "BTC", "USDT", min_notional=500.0)
    series = bars([*FLAT, (100.0, 101.0, 99.0, 1.0), (1.0, 1.5, 0.5, 1.0)])
    _, fast = both(series, Scripted(entries=(1,), exits=(3,)), cash=1_000.0, market=market)
    assert list(fast.fills["kind"]) == ["entry"]
    assert fast.rejected == 1


def test_r11_shorting_is_refused_in_a_cash_account() -> None:
    series = bars(FLAT + FLAT)
    _, fast = both(series, Scripted(short_entries=(1,), size=0.5))
    assert fast.fills.empty
    assert fast.rejected == 1


def test_r11_a_short_within_margin_fills_and_closes() -> None:
    series = bars([*FLAT, (100.0, 101.0, 90.0, 92.0), (92.0, 93.0, 91.0, 92.0)])
    _, fast = both(
        series, Scripted(short_entries=(1,), short_exits=(3,), size=0.5), allow_short=True
    )
    assert list(fast.fills["side"]) == ["sell", "buy"]
    assert fast.trades["direction"].iloc[0] == "short"
    assert fast.trades["pnl"].iloc[0] > 0


def test_r11_a_short_of_all_cash_exceeds_the_margin_with_fees() -> None:
    series = bars(FLAT + FLAT)
    _, fast = both(series, Scripted(short_entries=(1,), size=1.0), allow_short=True)
    assert fast.fills.empty
    assert fast.rejected == 1
    _, levered = both(
        series, Scripted(short_entries=(1,), size=1.0), allow_short=True, leverage=2.0
    )
    assert len(levered.fills) == 1


def test_r13_stop_loss_fills_at_its_slipped_level() -> None:
    series = bars([*FLAT, (100.0, 101.0, 99.5, 100.0), (100.0, 100.5, 95.0, 96.0)])
    _, fast = both(series, Scripted(entries=(2,), sl_pct=0.02), slippage_bps=10.0)
    entry, stop = fast.fills.iloc[0], fast.fills.iloc[1]
    level = entry["price"] * (1 - 0.02)
    assert stop["kind"] == "stop_loss"
    assert stop["price"] == pytest.approx(level * 0.999)
    assert not stop["is_maker"]


def test_r13_take_profit_fills_at_its_level_as_maker() -> None:
    series = bars([*FLAT, (100.0, 101.0, 99.5, 100.0), (100.0, 104.0, 99.8, 103.0)])
    _, fast = both(series, Scripted(entries=(2,), tp_pct=0.03))
    entry, take = fast.fills.iloc[0], fast.fills.iloc[1]
    assert take["kind"] == "take_profit"
    assert take["price"] == pytest.approx(entry["price"] * 1.03)
    assert take["is_maker"]
    assert take["fee"] == pytest.approx(0.001 * take["price"] * take["amount"])


def test_r13_brackets_can_trigger_in_the_entry_bar() -> None:
    series = bars([*FLAT, (100.0, 100.5, 90.0, 95.0)])
    _, fast = both(series, Scripted(entries=(2,), sl_pct=0.05))
    assert list(fast.fills["bar"]) == [3, 3]
    assert list(fast.fills["kind"]) == ["entry", "stop_loss"]


def test_r13_a_take_profit_rounded_onto_the_fill_price_fills_there_at_once() -> None:
    market = Market(SYMBOL, "BTC", "USDT", price_increment=1.0)
    series = bars([*FLAT, (100.2, 101.0, 99.0, 100.0)])
    _, fast = both(series, Scripted(entries=(2,), tp_pct=0.001), market=market)
    assert list(fast.fills["kind"]) == ["entry", "take_profit"]
    assert fast.fills["price"].iloc[1] == fast.fills["price"].iloc[0]
    assert not fast.fills["is_maker"].iloc[1]


def test_r14_a_bar_opening_beyond_the_take_profit_fills_at_the_open() -> None:
    series = bars([*FLAT, (100.0, 100.5, 99.5, 100.0), (110.0, 111.0, 90.0, 100.0)])
    _, fast = both(series, Scripted(entries=(2,), sl_pct=0.05, tp_pct=0.05))
    take = fast.fills.iloc[1]
    assert (take["kind"], take["price"], take["is_maker"]) == ("take_profit", 110.0, False)


def test_r14_a_bar_opening_below_the_stop_fills_there_before_a_pending_exit() -> None:
    series = bars([*FLAT, (100.0, 100.5, 99.5, 100.0), (90.0, 91.0, 89.0, 90.0)])
    _, fast = both(series, Scripted(entries=(2,), exits=(3,), sl_pct=0.05))
    assert list(fast.fills["kind"]) == ["entry", "stop_loss"]
    assert fast.fills["price"].iloc[1] == 90.0


@pytest.mark.parametrize(
    ("intrabar", "expected"),
    [("adverse", "stop_loss"), ("favorable", "take_profit"), ("nearest", "take_profit")],
)
def test_r15_both_exits_inside_a_bar_follow_the_intrabar_setting(
    intrabar: str, expected: str
) -> None:
    series = bars([*FLAT, (100.0, 100.5, 99.5, 100.0), (100.0, 106.0, 93.0, 100.0)])
    result, fast = both(series, Scripted(entries=(2,), sl_pct=0.05, tp_pct=0.05), intrabar=intrabar)
    assert fast.fills["kind"].iloc[1] == expected
    assert fast.fills["ambiguous"].iloc[1]
    assert fast.stats["Ambiguous trades"] == 1 == result.stats["Ambiguous trades"]


def test_r13_a_stop_loss_rounded_onto_the_fill_price_fills_there_at_once() -> None:
    market = Market(SYMBOL, "BTC", "USDT", price_increment=1.0)
    series = bars([*FLAT, (100.0, 101.0, 99.0, 100.0)])
    _, fast = both(series, Scripted(entries=(2,), sl_pct=0.001), market=market)
    assert list(fast.fills["kind"]) == ["entry", "stop_loss"]
    assert list(fast.fills["price"]) == [100.0, 100.0]


def test_warmup_bars_are_history_only() -> None:
    series = bars(FLAT + FLAT)
    _, fast = both(series, Scripted(entries=(1, 4), exits=(5,)), warmup=3)
    assert list(fast.fills["bar"]) == [5]
    assert fast.trades.empty


def test_bars_without_range_and_flat_signals_keep_the_cash() -> None:
    series = bars([(100.0, 100.0, 100.0, 100.0)] * 6)
    _, fast = both(series, Scripted(entries=(1,), exits=(3,), sl_pct=0.01, tp_pct=0.01))
    assert list(fast.fills["kind"]) == ["entry", "exit"]
    _, idle = both(series, Scripted(exits=(1,), short_exits=(2,)))
    assert idle.fills.empty
    assert (idle.equity == 100_000.0).all()


def test_the_uncompiled_kernel_gives_the_compiled_results_on_a_long_walk() -> None:
    from quantkit.vector import FastSettings, run_signals
    from quantkit.vector.strategy import SmaCrossSignals
    from tests.strategies import gbm_bars
    from tests.vector.test_parity import assert_python_kernel_agrees, walk

    walk_bars = gbm_bars(300, 3, start=100.0, sigma=0.03, drift=0.0)
    series = walk(walk_bars.open, walk_bars.high, walk_bars.low, walk_bars.close)
    market = Market(SYMBOL, "BTC", "USDT", amount_increment=0.001, price_increment=0.01)
    for config, strategy in [
        (
            FastSettings(market=market, allow_short=True, slippage_bps=5.0),
            SmaCrossSignals(fast=2, slow=5, sl_pct=0.01, tp_pct=0.012, short=True, size=0.5),
        ),
        (
            FastSettings(intrabar="nearest", fees=FlatFees(per_order=1.0), slippage_bps=300.0),
            SmaCrossSignals(fast=2, slow=4, sl_pct=0.02, tp_pct=0.01),
        ),
        (FastSettings(intrabar="favorable"), SmaCrossSignals(fast=2, slow=3, sl_pct=0.015)),
    ]:
        fast = run_signals(strategy, series, settings=config)
        assert len(fast.fills) > 10
        assert_python_kernel_agrees(series, fast, config)


# -- limit and stop entries (R4, R5) --

FEES = Market(SYMBOL, "BTC", "USDT", maker_fee=0.0002, taker_fee=0.0007)


def limit_entry(**fields: Any) -> Scripted:
    """A long limit entry 2 % below the close of bar 2, working one bar unless told."""
    return Scripted(**{"entries": (2,), "entry_type": "limit", "entry_offset": 0.02, **fields})


def test_r4_a_limit_entry_gapped_through_fills_at_the_open_as_taker() -> None:
    series = bars([*FLAT, (97.0, 99.0, 96.0, 98.0)])
    _, fast = both(series, limit_entry(), market=FEES, slippage_bps=10.0)
    fill = fast.fills.iloc[0]
    assert (fill["bar"], fill["kind"], fill["price"], fill["is_maker"]) == (3, "entry", 97.0, False)
    assert fill["fee"] == pytest.approx(0.0007 * 97.0 * fill["amount"])
    # sized when placed: the budget at the limit price with the taker fee on top
    assert fill["amount"] == pytest.approx(100_000.0 / (98.0 * 1.0007))


def test_r4_a_limit_entry_touched_inside_the_bar_fills_at_the_limit_as_maker() -> None:
    series = bars([*FLAT, (100.0, 101.0, 97.5, 99.0)])
    _, fast = both(series, limit_entry(), market=FEES, slippage_bps=10.0)
    fill = fast.fills.iloc[0]
    assert (fill["price"], fill["is_maker"]) == (98.0, True)  # no slippage on limit fills
    assert fill["fee"] == pytest.approx(0.0002 * 98.0 * fill["amount"])


def test_r4_a_short_limit_entry_sells_above_the_close() -> None:
    series = bars([*FLAT, (100.0, 102.5, 99.0, 101.0), (101.0, 101.5, 100.5, 101.0)])
    result, fast = both(series, limit_entry(entries=(), short_entries=(2,)), allow_short=True)
    fill = fast.fills.iloc[0]
    assert (fill["side"], fill["price"], fill["is_maker"]) == ("sell", 102.0, True)
    assert fast.equity.iloc[-1] == pytest.approx(result.equity.iloc[-1])


def test_r5_a_stop_entry_gapped_through_fills_at_the_open_with_slippage() -> None:
    series = bars([*FLAT, (103.0, 104.0, 102.5, 103.0)])
    strategy = limit_entry(entry_type="stop", size=0.5)
    _, fast = both(series, strategy, market=FEES, slippage_bps=10.0)
    fill = fast.fills.iloc[0]
    assert (fill["price"], fill["is_maker"]) == (pytest.approx(103.0 * 1.001), False)
    assert fill["fee"] == pytest.approx(0.0007 * fill["price"] * fill["amount"])


def test_r5_a_stop_entry_triggered_inside_the_bar_fills_at_its_slipped_level() -> None:
    series = bars([*FLAT, (100.0, 103.0, 99.0, 102.5)])
    _, fast = both(series, limit_entry(entry_type="stop", size=0.5), slippage_bps=10.0)
    assert fast.fills["price"].iloc[0] == pytest.approx(102.0 * 1.001)
    assert not fast.fills["is_maker"].iloc[0]


def test_r5_a_stop_entry_the_cash_cannot_pay_for_is_rejected() -> None:
    series = bars([*FLAT, (110.0, 111.0, 109.0, 110.0)])
    result, fast = both(series, limit_entry(entry_type="stop"))
    assert fast.fills.empty
    assert fast.rejected == 1 == (result.orders["status"] == "rejected").sum()


def test_an_unfilled_entry_is_canceled_after_its_valid_bars() -> None:
    reach = (100.0, 101.0, 97.0, 100.0)  # would fill a limit at 98
    series = bars([*FLAT, *FLAT, reach, (100.0, 101.0, 99.0, 100.0)])
    result, fast = both(series, limit_entry(entry_valid_bars=3))
    assert fast.fills.empty  # bars 3, 4 and 5 did not reach 98; canceled before bar 6
    assert list(result.orders["status"]) == ["canceled"]
    _, filled = both(series, limit_entry(entry_valid_bars=4))
    assert list(filled.fills["bar"]) == [6]


def test_entry_signals_are_ignored_while_an_entry_works_and_count_again_after() -> None:
    series = bars([*FLAT, *FLAT[:2], (100.0, 101.0, 97.0, 100.0)])
    strategy = limit_entry(entries=(1, 2, 3), entry_valid_bars=2)
    result, fast = both(series, strategy)
    assert list(result.orders["status"]) == ["canceled", "filled"]  # placed at bars 1 and 3
    assert list(fast.fills["bar"]) == [5]


def test_limit_and_stop_entries_below_the_minimums_are_rejected_when_placed() -> None:
    market = Market(SYMBOL, "BTC", "USDT", min_notional=2_000.0)
    series = bars(FLAT + FLAT)
    result, fast = both(series, limit_entry(size=0.01), cash=10_000.0, market=market)
    assert fast.fills.empty
    assert fast.rejected == 1 == (result.orders["status"] == "rejected").sum()


@pytest.mark.parametrize(
    ("intrabar", "bars_filled"),
    [("adverse", [3, 4]), ("favorable", [3, 3]), ("nearest", [3, 4])],
)
def test_r13_r15_a_limit_entry_filled_inside_a_bar_can_exit_in_the_same_bar(
    intrabar: str, bars_filled: list[int]
) -> None:
    # The limit at 98 fills on both paths. Low first, the rise to 101.5 then reaches the
    # take-profit at 100.94; high first, the bar ends in the position. The next bar opens
    # above the take-profit: the path kept decides when it fills, so that fill is ambiguous.
    series = bars([*FLAT, (100.0, 101.5, 97.0, 99.0), (101.0, 101.5, 100.5, 101.0)])
    strategy = limit_entry(sl_pct=0.02, tp_pct=0.03)
    result, fast = both(series, strategy, intrabar=intrabar)
    assert list(fast.fills["kind"]) == ["entry", "take_profit"]
    assert list(fast.fills["bar"]) == bars_filled
    assert list(fast.fills["ambiguous"]) == [False, True]
    assert result.stats["Ambiguous trades"] == 1


# -- trailing stops --


def test_a_trailing_stop_follows_the_highest_high_and_fills_where_it_stands() -> None:
    series = bars(
        [
            *FLAT,
            (100.0, 104.0, 99.5, 103.0),  # entry at the open; the stop goes to 104 x 0.95
            (103.0, 110.0, 102.0, 109.0),  # new high: replaced at 110 x 0.95 = 104.5
            (108.0, 108.5, 105.0, 106.0),  # no new high: the stop stays
            (106.0, 107.0, 103.0, 104.0),  # falls through 104.5
        ]
    )
    result, fast = both(series, Scripted(entries=(2,), trail_pct=0.05), slippage_bps=10.0)
    stop = fast.fills.iloc[1]
    assert (stop["bar"], stop["kind"], stop["is_maker"]) == (6, "trailing_stop", False)
    assert stop["price"] == pytest.approx(104.5 * 0.999)
    trailing = result.orders[result.orders["tag"] == "trailing_stop"]
    assert list(trailing["status"]) == ["canceled", "filled"]
    assert list(trailing["stop_price"]) == [pytest.approx(98.8), pytest.approx(104.5)]


def test_a_short_trailing_stop_follows_the_lowest_low_and_a_gap_fills_at_the_open() -> None:
    series = bars(
        [
            *FLAT,
            (100.0, 100.5, 96.0, 97.0),  # short entry; the stop goes to 96 x 1.02 = 97.92
            (99.0, 99.5, 98.0, 99.0),  # opens above the stop
        ]
    )
    strategy = Scripted(short_entries=(2,), size=0.5, trail_pct=0.02)
    _, fast = both(series, strategy, allow_short=True, slippage_bps=10.0)
    stop = fast.fills.iloc[1]
    assert (stop["side"], stop["kind"], stop["bar"]) == ("buy", "trailing_stop", 4)
    assert stop["price"] == pytest.approx(99.0 * 1.001)


def test_the_first_exit_to_fill_cancels_the_trailing_stop_and_the_bracket() -> None:
    series = bars([*FLAT, (100.0, 101.0, 99.5, 100.5), (100.5, 106.0, 100.0, 105.0)])
    result, fast = both(series, Scripted(entries=(2,), sl_pct=0.05, tp_pct=0.05, trail_pct=0.1))
    assert list(fast.fills["kind"]) == ["entry", "take_profit"]
    statuses = dict(zip(result.orders["tag"], result.orders["status"], strict=True))
    assert statuses == {
        "": "filled",
        "take_profit": "filled",
        "stop_loss": "canceled",
        "trailing_stop": "canceled",
    }


@pytest.mark.parametrize(
    ("intrabar", "expected"), [("adverse", "trailing_stop"), ("favorable", "take_profit")]
)
def test_r15_a_trailing_stop_and_a_take_profit_inside_one_bar_follow_the_setting(
    intrabar: str, expected: str
) -> None:
    series = bars([*FLAT, (100.0, 101.0, 99.5, 100.5), (100.5, 106.0, 95.0, 100.0)])
    strategy = Scripted(entries=(2,), tp_pct=0.05, trail_pct=0.02)
    _, fast = both(series, strategy, intrabar=intrabar)
    assert list(fast.fills["kind"]) == ["entry", expected]
    assert fast.fills["ambiguous"].iloc[1]


def test_a_trailing_stop_below_the_minimum_notional_is_rejected_every_bar() -> None:
    market = Market(SYMBOL, "BTC", "USDT", min_notional=1_000.0)
    series = bars([*FLAT, *FLAT])
    strategy = Scripted(entries=(1,), size=0.505, trail_pct=0.1)
    result, fast = both(series, strategy, cash=2_000.0, market=market)
    assert list(fast.fills["kind"]) == ["entry"]
    assert fast.rejected == 4 == (result.orders["status"] == "rejected").sum()


def test_r4_r11_a_limit_entry_the_cash_cannot_pay_for_inside_the_bar_is_rejected() -> None:
    # Sized with the market's 0.1 % taker fee, but the fee model charges makers 0.5 %.
    series = bars([*FLAT, (100.0, 101.0, 97.0, 99.0), (99.0, 100.0, 97.0, 99.0)])
    fees = FlatFees(maker=0.005, taker=0.001)
    result, fast = both(series, limit_entry(), fees=fees)
    assert fast.fills.empty
    assert fast.rejected == 1 == (result.orders["status"] == "rejected").sum()
