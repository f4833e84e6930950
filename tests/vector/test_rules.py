"""Each simulator rule the fast path implements, on hand-made bars, checked against the Engine."""

from __future__ import annotations

import math

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
    from quantkit.strategy.vectorized import SmaCrossSignals
    from quantkit.vector import FastSettings, run_signals
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
