"""`round_trips`: fills grouped into trades, by hand-computed cases."""

from __future__ import annotations

import pytest

from quantkit.domain.fill import Fill
from quantkit.domain.order import Side
from quantkit.engine.trades import round_trips

BUY, SELL = Side.BUY, Side.SELL


def fill(side: Side, price: float, amount: float, fee: float = 0.0, asset: str = "USDT") -> Fill:
    fill.t += 1  # type: ignore[attr-defined]
    return Fill(f"o{fill.t}", "BTC/USDT", side, price, amount, fee, asset, fill.t)  # type: ignore[attr-defined]


fill.t = 0  # type: ignore[attr-defined]


def test_adding_to_a_position_opens_more_and_never_closes_part_of_it() -> None:
    fills = [fill(BUY, 100.0, 1.0), fill(BUY, 110.0, 1.0), fill(SELL, 120.0, 2.0)]
    (trade,), still_open = round_trips(fills)
    assert not still_open
    assert (trade.entry_amount, trade.exit_amount) == (2.0, 2.0)
    assert trade.entry_price == pytest.approx(105.0)
    assert trade.pnl == pytest.approx(30.0)  # 2 x (120 - 105)


def test_a_base_fee_shrinks_what_the_trade_holds_and_counts_at_the_fill_price() -> None:
    # buy 0.1 at 40,000, fee 0.0001 BTC (4 USDT); sell the 0.0999 held at 41,000, fee 4.0959
    fills = [fill(BUY, 40_000.0, 0.1, 0.0001, "BTC"), fill(SELL, 41_000.0, 0.0999, 4.0959)]
    (trade,), still_open = round_trips(fills)
    assert not still_open
    assert trade.entry_amount == pytest.approx(0.0999) and trade.size == pytest.approx(0.0999)
    assert trade.fees == pytest.approx(8.0959)
    assert trade.pnl == pytest.approx(0.0999 * 1_000.0 - 8.0959)


def test_dust_closes_the_trade_and_joins_the_next_one_at_its_entry_price() -> None:
    fills = [
        fill(BUY, 100.0, 1.0, 0.001, "BTC"),  # holds 0.999
        fill(SELL, 110.0, 0.99),  # step 0.01: 0.009 dust left
        fill(BUY, 120.0, 1.0, 0.001, "BTC"),  # holds 1.008
        fill(SELL, 130.0, 1.0),  # 0.008 dust left
    ]
    closed, still_open = round_trips(fills, dust_below={"BTC/USDT": 0.01})
    assert not still_open
    first, second = closed
    assert first.pnl == pytest.approx(0.99 * 10.0 - 0.1)  # the fee of the whole 1.0 bought
    assert second.entry_amount == pytest.approx(0.009 + 0.999)
    assert second.entry_value == pytest.approx(0.009 * 100.0 + 0.999 * 120.0)
    assert second.exit_amount == pytest.approx(1.0)
    entry = second.entry_value / second.entry_amount
    assert second.pnl == pytest.approx(1.0 * (130.0 - entry) - 0.12)
    without, still = round_trips(fills)  # no thresholds: the dust keeps the first trade open
    assert len(without) == 0 and len(still) == 1
