"""The fast path on a perpetual, on cases worked out by hand.

One linear contract of size 1, no trading fees, 1,000 USDT, size 1: a market entry at 100
buys 1,000 / 100 = 10 contracts. Bars are hourly from 2024-01-01 00:00 UTC; a funding
schedule every 2 hours has timestamps at 00:00, 02:00, 04:00...
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from quantkit.domain.bars import BarSeries
from quantkit.domain.funding import FundingRates
from quantkit.domain.market import Market
from quantkit.domain.perpetual import PerpetualSpec, brackets_with_cum
from quantkit.errors import ConfigError
from quantkit.vector import FastResult, run_signals
from quantkit.vector.perp_run import funding_per_bar
from quantkit.vector.strategy import SmaCrossSignals
from tests.vector.test_parity import HOUR, START, Scripted, bars

SYM = "BTC/USDT:USDT"
PERP = Market(SYM, "BTC", "USDT", maker_fee=0.0, taker_fee=0.0, perpetual=PerpetualSpec("USDT"))
EVERY_2H = FundingRates.constant(0.001, 2 * HOUR)


def flat(n: int, price: float = 100.0) -> BarSeries:
    return bars([(price, price, price, price)] * n, SYM)


def marked(series: BarSeries, rows: dict[int, tuple[float, float, float, float]]) -> BarSeries:
    """The trade bars as the mark, with some bars replaced."""
    table = np.column_stack([series.open, series.high, series.low, series.close])
    for k, row in rows.items():
        table[k] = row
    return bars([tuple(r) for r in table], SYM)


def run(series: BarSeries, strategy: Scripted, **options: Any) -> FastResult:
    options.setdefault("leverage", 10.0)
    return run_signals(
        strategy, series, market=PERP, cash=1_000.0, allow_short=True, check_causal=False,
        **options,
    )  # fmt: skip


@pytest.mark.parametrize(("side", "paid"), [("long", 1.1), ("short", -1.1)])
def test_funding_is_paid_on_the_position_held_at_the_timestamp_at_the_mark(
    side: str, paid: float
) -> None:
    # entry signal at bar 0 -> 10 contracts from the open of bar 1 (01:00); exit signal at
    # bar 2 -> closed at the open of bar 3 (03:00). Held at 02:00 only: the payment is
    # 10 * mark open of bar 2 (110, not the trade price 100) * 0.001 = 1.1, a long pays.
    series = flat(6)
    mark = marked(series, {2: (110.0, 110.0, 110.0, 110.0)})
    signals = {"entries": (0,), "exits": (2,)} if side == "long" else {
        "short_entries": (0,), "short_exits": (2,)}  # fmt: skip
    fast = run(series, Scripted(**signals), marks=mark, funding=EVERY_2H)
    assert fast.perp is not None
    assert fast.perp.funding.tolist() == [0.0, 0.0, pytest.approx(paid), 0.0, 0.0, 0.0]
    assert fast.stats["Net funding"] == pytest.approx(paid)
    assert fast.stats["Funding source"] == f"{SYM}: constant 0.001 every 2h"
    assert fast.equity.iloc[-1] == pytest.approx(1_000.0 - paid)  # prices never moved
    # bar 2 closes at a mark of 110: the long's 10 contracts gain 100 there (before funding)
    sign = 1.0 if side == "long" else -1.0
    assert fast.equity.iloc[2] == pytest.approx(1_000.0 + sign * 100.0 - paid)


def test_a_position_opened_at_the_timestamp_pays_nothing_for_it() -> None:
    # entry signal at bar 1 -> filled at the open of bar 2, 02:00: the 02:00 funding is not
    # its to pay; it pays at 04:00 (bar 4): 10 * 100 * 0.001 = 1.0
    fast = run(flat(6), Scripted(entries=(1,), exits=(4,)), funding=EVERY_2H)
    assert fast.fills["bar"].tolist() == [2, 5]
    assert fast.perp is not None
    assert fast.perp.funding.tolist() == [0.0, 0.0, 0.0, 0.0, pytest.approx(1.0), 0.0]


def test_isolated_long_is_liquidated_at_the_venues_price_and_loses_exactly_its_margin() -> None:
    # 10 contracts at 100, 10x isolated: margin 100. LP = (100 - 10 * 100) / (10 * 0.004 - 10)
    # = 90.36144578... The mark low of bar 3 (90) crosses it; trade prices never move.
    # Fee 1.25 % * 10 * 90.36 = 11.30 is capped at the margin left: 100 + 10 * (90.36 - 100)
    # = 3.61, so equity after = 1,000 - 100 = 900 exactly.
    series = flat(6)
    mark = marked(series, {3: (100.0, 100.0, 90.0, 99.0)})
    fast = run(series, Scripted(entries=(0,)), marks=mark, margin_mode="isolated")
    price = -900.0 / (10 * 0.004 - 10)
    liquidation = fast.fills.iloc[-1]
    assert liquidation["kind"] == "liquidation" and liquidation["bar"] == 3
    assert liquidation["side"] == "sell" and liquidation["amount"] == pytest.approx(10.0)
    assert liquidation["price"] == pytest.approx(price, rel=1e-12)
    assert liquidation["fee"] == pytest.approx(100.0 + 10 * (price - 100.0), rel=1e-9)
    assert fast.equity.iloc[3:].tolist() == pytest.approx([900.0] * 3)
    assert fast.stats["Liquidations"] == 1
    assert fast.trades["exit_bar"].tolist() == [3]


def test_a_mark_opening_beyond_the_price_liquidates_at_the_price_before_the_fills() -> None:
    # a short of 10 at 100, 10x isolated: LP = (100 + 10 * 100) / (10 * 0.004 + 10)
    # = 109.5617...; the mark opens bar 3 at 120: closed at LP (not 120), before the exit
    # order placed at bar 2's close (canceled: only the entry and the liquidation fill)
    series = flat(6)
    mark = marked(series, {3: (120.0, 120.0, 120.0, 120.0)})
    fast = run(series, Scripted(short_entries=(0,), short_exits=(2,)), marks=mark,
               margin_mode="isolated")  # fmt: skip
    assert fast.fills["kind"].tolist() == ["entry", "liquidation"]
    assert fast.fills["price"].iloc[1] == pytest.approx(1_100.0 / 10.04, rel=1e-12)
    assert fast.equity.iloc[-1] == pytest.approx(900.0)


def test_funding_rates_line_up_with_bars_without_look_ahead() -> None:
    opens = START + HOUR * np.arange(4, dtype=np.int64)
    # due in (open[i-1], open[i]]: a rate 1 ns after bar 1's open belongs to bar 2; two in
    # one bar add up; one at the first bar's open is nobody's (no bar before it)
    rates = FundingRates.history(
        [START, START + HOUR + 1, START + 2 * HOUR, START + 3 * HOUR - 5, START + 3 * HOUR],
        [0.5, 0.01, 0.02, 0.04, 0.08],
    )
    assert funding_per_bar(rates, opens).tolist() == [0.0, 0.0, 0.03, pytest.approx(0.12)]
    assert funding_per_bar(None, opens).tolist() == [0.0] * 4


def test_settings_the_fast_path_does_not_simulate_are_refused() -> None:
    inverse = Market(SYM, "BTC", "USD", perpetual=PerpetualSpec("BTC", inverse=True,
                                                                 contract_size=100.0))  # fmt: skip
    stopped = SmaCrossSignals(fast=2, slow=3, sl_pct=0.05)
    with pytest.raises(ConfigError, match=r"inverse perpetual.*without sl_pct"):
        run_signals(stopped, flat(3), market=inverse, check_causal=False)
    with pytest.raises(ConfigError, match="without slippage_bps"):
        run_signals(Scripted(), flat(3), market=inverse, slippage_bps=5, check_causal=False)
    capped = Market(SYM, "BTC", "USDT", perpetual=PerpetualSpec(
        "USDT", brackets=brackets_with_cum([(0, 1e12, 50, 0.004)])))  # fmt: skip
    with pytest.raises(ConfigError, match="above the 50x its first bracket allows"):
        run_signals(Scripted(), flat(3), market=capped, leverage=60.0, check_causal=False)
    with pytest.raises(ConfigError, match="margin_mode"):
        run(flat(3), Scripted(), margin_mode="portfolio")
    short_marks = bars([(100.0, 100.0, 100.0, 100.0)] * 2, SYM)
    with pytest.raises(ConfigError, match="no mark bar opening"):
        run(flat(3), Scripted(), marks=short_marks)


def test_an_inverse_long_in_the_kernel_is_paid_in_btc() -> None:
    # BTC/USD:BTC, 100 USD a contract, no fees, 1 BTC; entry signal at bar 0 -> at bar 1's
    # open 20,000 the budget of 1 BTC buys 1 / (100 / 20,000) = 200 contracts; exit signal
    # at bar 2 -> sold at bar 3's open 25,000: P&L 200 * 100 * (1/20,000 - 1/25,000) = 0.2 BTC.
    # Funding every 2 h at 0.001 on the mark open of bar 2 (25,000): 200 * 100 / 25,000 * 0.001
    # = 0.0008 BTC, paid by the long.
    symbol = "BTC/USD:BTC"
    spec = PerpetualSpec("BTC", inverse=True, contract_size=100.0)
    inverse = Market(symbol, "BTC", "USD", maker_fee=0.0, taker_fee=0.0, perpetual=spec)
    prices = [20_000.0, 20_000.0, 25_000.0, 25_000.0, 25_000.0]
    series = bars([(p, p, p, p) for p in prices], symbol)
    fast = run_signals(
        Scripted(entries=(0,), exits=(2,)), series, market=inverse, cash=1.0, leverage=2.0,
        funding=EVERY_2H, check_causal=False,
    )  # fmt: skip
    fills = fast.fills
    assert list(fills["side"]) == ["buy", "sell"]
    assert fills["price"].tolist() == [pytest.approx(20_000.0), pytest.approx(25_000.0)]
    assert fills["amount"].tolist() == [pytest.approx(200.0), pytest.approx(200.0)]
    assert fast.perp is not None
    assert fast.perp.funding.tolist() == [0.0, 0.0, pytest.approx(0.0008), 0.0, 0.0]
    (trade,) = fast.trades.itertuples()
    assert (trade.direction, trade.entry_price, trade.exit_price) == (
        "long",
        pytest.approx(20_000.0),
        pytest.approx(25_000.0),
    )
    assert trade.pnl == pytest.approx(0.2 - 0.0008)
    # bar 2 closes at 25,000 with the position open: 1 + 0.2 - 0.0008 BTC
    assert fast.equity.tolist() == pytest.approx([1.0, 1.0, 1.1992, 1.1992, 1.1992])


TIERED = PerpetualSpec(
    "USDT", brackets=brackets_with_cum([(0, 5_000, 125, 0.004), (5_000, 1e12, 10, 0.01)])
)
PERP_TIERED = Market(SYM, "BTC", "USDT", maker_fee=0.0, taker_fee=0.0, perpetual=TIERED)


@pytest.mark.parametrize(("leverage", "size", "filled"), [(20.0, 1.0, False), (20.0, 0.2, True),
                                                          (10.0, 1.0, True)])  # fmt: skip
def test_an_entry_in_a_bracket_below_the_leverage_is_refused_as_the_event_backtest_does(
    leverage: float, size: float, filled: bool
) -> None:
    # 10,000 USDT, an entry spending `size` of it at 100: 1.0 buys 100 contracts, 10,000 of
    # notional, in the second bracket (10x at most): refused at 20x, filled at 10x; 0.2 buys
    # 20 (2,000 of notional, first bracket, 125x): filled at 20x
    series = flat(4)
    fast = run_signals(
        Scripted(entries=(0,), size=size), series, market=PERP_TIERED, cash=10_000.0,
        allow_short=True, check_causal=False, leverage=leverage,
    )  # fmt: skip
    assert len(fast.fills) == (1 if filled else 0)
    assert fast.rejected == (0 if filled else 1)
    if filled:
        assert float(fast.fills["amount"].iloc[0]) == pytest.approx(10_000.0 * size / 100.0)


def test_brackets_whose_leverage_rises_again_are_refused_by_the_fast_path() -> None:
    odd = PerpetualSpec(
        "USDT",
        brackets=brackets_with_cum(
            [(0, 5_000, 125, 0.004), (5_000, 50_000, 10, 0.01), (50_000, 1e12, 50, 0.02)]
        ),
    )
    market = Market(SYM, "BTC", "USDT", perpetual=odd)
    with pytest.raises(ConfigError, match="never rise"):
        run_signals(Scripted(entries=(0,)), flat(4), market=market, cash=1_000.0,
                    leverage=20.0, check_causal=False)  # fmt: skip
