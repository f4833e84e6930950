"""The venue's brackets and liquidation price against Binance's published examples and rule."""

from __future__ import annotations

from decimal import Decimal

import pytest

from quantkit.errors import ConfigError
from quantkit.testing.futures.brackets import DEFAULT_BRACKETS, BracketTable
from quantkit.testing.futures.liquidation import (
    bankruptcy_price,
    liquidation_price,
    maintenance_margin,
)

D = Decimal


def test_maintenance_amounts_follow_the_support_page_s_worked_example() -> None:
    # "Maintenance Amount on Level 3 = 250,000 x (1% - 0.5%) + 50 USDT = 1,300 USDT", and a
    # 264,000 USDT position is at a 1 % rate.
    assert DEFAULT_BRACKETS.for_notional(D(500_000)).cum == D(1_300)
    assert DEFAULT_BRACKETS.for_notional(D(264_000)).mmr == D("0.01")
    assert [b.cum for b in DEFAULT_BRACKETS.brackets[:4]] == [0, 50, 1_300, 16_300]
    assert DEFAULT_BRACKETS.for_notional(D(49_999.99)).level == 1
    assert DEFAULT_BRACKETS.for_notional(D(50_000)).level == 2


def test_maintenance_margin_is_continuous_at_bracket_edges() -> None:
    for bracket in DEFAULT_BRACKETS.brackets[1:]:
        below = (bracket.floor - D("0.000001")) * DEFAULT_BRACKETS.for_notional(
            bracket.floor - 1
        ).mmr - DEFAULT_BRACKETS.for_notional(bracket.floor - 1).cum
        at = bracket.maintenance(bracket.floor)
        assert abs(at - below) < D("0.0001")


def test_out_of_order_rows_are_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="bracket 2"):
        BracketTable.from_rows([(0, "0.01", 50), (10, "0.005", 100)])
    with pytest.raises(ConfigError, match="first floor must be 0"):
        BracketTable.from_rows([(5, "0.01", 50)])


def test_isolated_long_by_hand() -> None:
    # 1 BTC long at 40,000 with 4,000 USDT isolated margin (10x), level 1 (0.4 %, cum 0):
    # LP = (4000 + 0 - 1 x 1 x 40000) / (1 x 0.004 - 1 x 1) = -36000 / -0.996
    price = liquidation_price(D(1), D(40_000), D(4_000), DEFAULT_BRACKETS)
    assert price == D(-36_000) / D("-0.996")
    assert round(price, 2) == D("36144.58")


def test_isolated_short_uses_the_bracket_of_the_liquidation_notional() -> None:
    # 10 BTC short at 40,000 with 40,000 margin: entry notional 400,000 is level 3 (1 %,
    # cum 1,300): LP = (40000 + 1300 + 10 x 40000) / (10 x 0.01 + 10) = 441300 / 10.1
    price = liquidation_price(D(-10), D(40_000), D(40_000), DEFAULT_BRACKETS)
    assert price == D(441_300) / D("10.1")
    assert DEFAULT_BRACKETS.for_notional(10 * price).level == 3


def test_a_liquidation_notional_in_another_bracket_is_recomputed_with_it() -> None:
    # 2 BTC long at 30,000 with 24,000 margin: entry notional 60,000 (level 2), but the
    # level-2 answer ((24000 + 50 - 60000) / (0.01 - 2) = 18,065.33, notional 36,130.65) lies
    # in level 1, so level 1 (cum 0) is used.
    price = liquidation_price(D(2), D(30_000), D(24_000), DEFAULT_BRACKETS)
    assert price == (D(24_000) - 2 * D(30_000)) / (2 * D("0.004") - 2)
    assert DEFAULT_BRACKETS.for_notional(2 * price).level == 1


@pytest.mark.parametrize(
    ("amount", "entry", "wallet"),
    [
        ("0.5", "40000", "900"),
        ("-3", "2500", "800"),
        ("25", "41000", "120000"),
        ("-0.01", "9", "1"),
    ],
)
def test_at_the_liquidation_price_margin_balance_equals_maintenance(
    amount: str, entry: str, wallet: str
) -> None:
    size, price_in, margin = D(amount), D(entry), D(wallet)
    lp = liquidation_price(size, price_in, margin, DEFAULT_BRACKETS)
    assert lp > 0
    balance = margin + (lp - price_in) * size  # margin balance at the mark lp
    assert abs(balance - maintenance_margin(size, lp, DEFAULT_BRACKETS)) < D("1e-18")


def test_cross_counts_other_positions() -> None:
    # TMM1 = 100 and UPNL1 = -500 of another position lower the margin left for this one.
    alone = liquidation_price(D(1), D(40_000), D(10_000), DEFAULT_BRACKETS)
    shared = liquidation_price(
        D(1), D(40_000), D(10_000), DEFAULT_BRACKETS,
        other_maintenance=D(100), other_unrealized=D(-500),
    )  # fmt: skip
    assert shared == (D(10_000) - 100 - 500 - 40_000) / (D("0.004") - 1)
    assert shared > alone


def test_positions_that_cannot_be_liquidated_report_zero() -> None:
    # A 1x long fully paid for: the formula gives a price <= 0 (Binance shows "--").
    assert liquidation_price(D(1), D(100), D(100), DEFAULT_BRACKETS) == 0
    assert liquidation_price(D(0), D(100), D(100), DEFAULT_BRACKETS) == 0
    assert bankruptcy_price(D(1), D(100), D(150)) == 0
    assert bankruptcy_price(D(-2), D(100), D(20)) == D(110)
