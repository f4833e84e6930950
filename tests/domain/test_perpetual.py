"""Perpetual specs, brackets and the margin, liquidation and funding formulas, by hand.

Bracket tables below are Binance USD-M's published BTCUSDT and ETHUSDT leverage brackets of the
time of its liquidation-price FAQ (floors, caps and rates); every "cum" is derived by the venue's
rule ``cum_n = floor_n * (rate_n - rate_(n-1)) + cum_(n-1)`` and compared with the published
maintenance amounts.
"""

from __future__ import annotations

import math

import pytest

from quantkit.domain.market import Market
from quantkit.domain.perp_math import (
    funding_payment,
    initial_margin,
    liquidation_price_inverse,
    liquidation_price_linear,
    maintenance_margin,
    notional_value,
    unrealized_pnl,
)
from quantkit.domain.perpetual import (
    MarginBracket,
    PerpetualSpec,
    brackets_with_cum,
    check_margin_mode,
    check_position_mode,
)
from quantkit.errors import ConfigError

BTC_TIERS = [
    (0, 50_000, 125, 0.004),
    (50_000, 250_000, 100, 0.005),
    (250_000, 1_000_000, 50, 0.01),
    (1_000_000, 10_000_000, 20, 0.025),
    (10_000_000, 20_000_000, 10, 0.05),
    (20_000_000, math.inf, 5, 0.10),
]
ETH_TIERS = [
    (0, 10_000, 100, 0.005),
    (10_000, 100_000, 75, 0.0065),
    (100_000, 500_000, 50, 0.01),
    (500_000, 1_000_000, 25, 0.02),
    (1_000_000, 2_000_000, 10, 0.05),
    (2_000_000, 5_000_000, 5, 0.10),
    (5_000_000, math.inf, 4, 0.125),
]
BTC = PerpetualSpec("USDT", brackets=brackets_with_cum(BTC_TIERS))
ETH = PerpetualSpec("USDT", brackets=brackets_with_cum(ETH_TIERS))


def test_maintenance_amounts_follow_the_venues_rule() -> None:
    cums = [b.maintenance_amount for b in BTC.brackets]
    # level 2: 50,000 * (0.5% - 0.4%) + 0 = 50; level 3 (the FAQ's example): 250,000 * (1% -
    # 0.5%) + 50 = 1,300; level 4: 1,000,000 * (2.5% - 1%) + 1,300 = 16,300
    assert cums[:4] == pytest.approx([0.0, 50.0, 1_300.0, 16_300.0])
    # ETH level 6 (2M-5M, 10 %): 0, 15, 365, 5,365, 35,365, then 2,000,000 * 5% + 35,365
    assert ETH.brackets[5].maintenance_amount == pytest.approx(135_365.0)


def test_bracket_lookup_matches_the_faq_examples() -> None:
    # "if the position size of BTCUSDT is 264,000 USDT, the maintenance margin rate is 1%"
    assert BTC.bracket(264_000).maintenance_rate == 0.01
    # "if the position size of BTCUSDT is 500,000 USDT, the maintenance amount is 1,300"
    assert BTC.bracket(500_000).maintenance_amount == pytest.approx(1_300.0)
    assert BTC.bracket(50_000).maintenance_rate == 0.005  # floor inclusive, cap exclusive
    assert BTC.bracket(1e12).maintenance_rate == 0.10
    assert BTC.max_leverage == 125


def test_maintenance_margin_of_the_faq_positions() -> None:
    # ETHUSDT: 4,918,775.081 * 10% - 135,365 = 356,512.508 (the FAQ's figure)
    eth = ETH.maintenance(4_918_775.081, 1.0)
    assert eth == pytest.approx(356_512.5081, abs=1e-6)
    # BTCUSDT: 3,500,032.458 * 2.5% - 16,300 = 71,200.81145
    assert BTC.maintenance(3_500_032.458, 1.0) == pytest.approx(71_200.81145, abs=1e-6)
    assert maintenance_margin(3_500_032.458, 0.025, 16_300) == pytest.approx(71_200.81145)
    assert initial_margin(60_000.0, 20.0) == 3_000.0


def test_cross_liquidation_price_of_the_faq_example() -> None:
    """Cross margin, one-way: a BTCUSDT long beside an ETHUSDT position (the FAQ's inputs).

    LP = (WB - TMM1 + UPNL1 + cumB - side*size*EP) / (size*MMR - side*size)
       = (1,535,443.01 - 356,512.508 - 447,482.1 + 16,300 - 109.488*32,481.98)
         / (109.488*0.025 - 109.488)
       = -2,808,638.62424 / -106.7508 = 26,310.2349...
    Its notional 109.488 * 26,310.23 = 2,880,654 falls in the 2.5 % bracket assumed.
    """
    wb, tmm1, upnl1 = 1_535_443.01, 356_512.508, -447_482.1
    lp = BTC.liquidation_price(wb, 109.488, 32_481.98, other_maintenance=tmm1, other_upnl=upnl1)
    assert lp == pytest.approx(26_310.2349, abs=1e-3)
    # independent check: at LP, margin balance equals the total maintenance margin
    balance = wb + upnl1 + 109.488 * (lp - 32_481.98)
    assert balance == pytest.approx(tmm1 + BTC.maintenance(109.488, lp), rel=1e-12)


def test_isolated_liquidation_prices_long_and_short() -> None:
    # long 1 BTC at 10,000, 10x: isolated wallet 1,000; LP = (1,000 - 10,000) / (0.004 - 1)
    long_lp = BTC.liquidation_price(1_000.0, 1.0, 10_000.0)
    assert long_lp == pytest.approx(9_000 / 0.996)  # 9,036.1446
    # short: LP = (1,000 + 10,000) / (0.004 + 1) = 10,956.1753
    short_lp = BTC.liquidation_price(1_000.0, -1.0, 10_000.0)
    assert short_lp == pytest.approx(11_000 / 1.004)
    # at each, the margin balance 1,000 + upnl equals 0.4 % of the notional
    assert 1_000 + (long_lp - 10_000) == pytest.approx(0.004 * long_lp)
    assert 1_000 - (short_lp - 10_000) == pytest.approx(0.004 * short_lp)
    # the raw formula agrees
    assert liquidation_price_linear(1_000.0, 0, 0, 0, 1.0, 10_000.0, 0.004) == long_lp


def test_liquidation_price_recomputes_with_the_bracket_at_that_price() -> None:
    # long 5.5 BTC at 10,000 (notional 55,000: the 0.5 % bracket), wallet 11,000 (5x).
    # With 0.5 %/50: LP = (11,000 + 50 - 55,000) / (5.5*0.005 - 5.5) = 8,031.06, notional
    # 44,170 < 50,000: not that bracket. With 0.4 %/0: (11,000 - 55,000) / (5.5*0.004 - 5.5)
    # = 8,032.128...: notional 44,176.7, inside the first bracket: the answer.
    lp = BTC.liquidation_price(11_000.0, 5.5, 10_000.0)
    assert lp == pytest.approx(44_000 / 5.478)
    assert BTC.bracket(5.5 * lp).maintenance_rate == 0.004


def test_averaging_in_moves_the_liquidation_price() -> None:
    # 1 BTC at 10,000 with 1,000 margin, then 1 more at 9,000 with 900 more margin:
    # entry 9,500, wallet 1,900: LP = (1,900 - 19,000) / (2*0.004 - 2) = 8,584.34
    before = BTC.liquidation_price(1_000.0, 1.0, 10_000.0)
    after = BTC.liquidation_price(1_900.0, 2.0, 9_500.0)
    assert after == pytest.approx(17_100 / 1.992)
    assert after < before


def test_no_liquidation_when_fully_collateralised() -> None:
    # a 1x long cannot be liquidated by a fall (LP <= 0): the wallet covers the whole notional
    assert BTC.liquidation_price(10_000.0, 1.0, 10_000.0) <= 0
    assert math.isnan(BTC.liquidation_price(10_000.0, 0.0, 10_000.0))


def test_inverse_notional_margin_and_liquidation() -> None:
    # COIN-M FAQ: 100 contracts of 100 USD at a mark of 25,000: 100*100/25,000 = 0.4 BTC,
    # level 1, maintenance 0.4 BTC * 0.4% - 0 = 0.0016 BTC
    spec = PerpetualSpec("BTC", inverse=True, contract_size=100.0)
    assert spec.notional(100, 25_000.0) == pytest.approx(0.4)
    assert spec.maintenance(100, 25_000.0) == pytest.approx(0.0016)
    # isolated 10x long: wallet 0.04 BTC; LP = 100*100*(0.004 + 1) / (0.04 + 100*100/25,000)
    # = 10,040 / 0.44 = 22,818.18
    lp = spec.liquidation_price(0.04, 100.0, 25_000.0)
    assert lp == pytest.approx(10_040 / 0.44)
    upnl = unrealized_pnl(100.0, 25_000.0, lp, 100.0, True)
    assert 0.04 + upnl == pytest.approx(notional_value(100, lp, 100.0, True) * 0.004)
    # a 1x short in coin is never liquidated; a long whose margin is gone at once
    assert liquidation_price_inverse(0.4, 0, 0, 0, -100.0, 25_000.0, 0.004, 100.0) == math.inf
    assert liquidation_price_inverse(-1.0, 0, 0, 0, 100.0, 25_000.0, 0.004, 100.0) == math.inf


@pytest.mark.parametrize(
    ("size", "rate", "paid"),
    [(2.0, 0.0001, 6.0), (-2.0, 0.0001, -6.0), (2.0, -0.0003, -18.0), (-2.0, -0.0003, 18.0)],
)
def test_funding_sign_and_amount(size: float, rate: float, paid: float) -> None:
    # 2 BTC at a mark of 30,000 = 60,000 notional; 0.01 % of it = 6 (longs pay a positive rate)
    assert funding_payment(size, 30_000.0, rate, 1.0, False) == pytest.approx(paid)


def test_inverse_funding_is_in_the_coin() -> None:
    # 100 contracts of 100 USD at 25,000 = 0.4 BTC; 0.01 % = 0.00004 BTC paid by the long
    assert funding_payment(100.0, 25_000.0, 0.0001, 100.0, True) == pytest.approx(0.00004)


def test_hedge_mode_is_refused_clearly() -> None:
    assert check_position_mode("one-way") == "one-way"
    with pytest.raises(ConfigError, match=r"hedge.*not supported yet"):
        check_position_mode("hedge")
    with pytest.raises(ConfigError, match="must be 'one-way'"):
        check_position_mode("both")
    assert check_margin_mode("cross") == "cross"
    with pytest.raises(ConfigError, match="'isolated' or 'cross'"):
        check_margin_mode("portfolio")


def test_market_carries_the_spec_and_checks_the_settle_currency() -> None:
    m = Market("BTC/USDT:USDT", "BTC", "USDT", perpetual=BTC)
    assert m.is_perpetual
    assert not Market("BTC/USDT", "BTC", "USDT").is_perpetual
    with pytest.raises(ConfigError, match="linear perpetual settles in USDT, not BTC"):
        Market("BTC/USDT:USDT", "BTC", "USDT", perpetual=PerpetualSpec("BTC"))
    inverse = PerpetualSpec("BTC", inverse=True, contract_size=100.0)
    assert Market("BTC/USD:BTC", "BTC", "USD", perpetual=inverse).perpetual is inverse


@pytest.mark.parametrize(
    "make",
    [
        lambda: PerpetualSpec("USDT", brackets=()),
        lambda: PerpetualSpec("USDT", contract_size=0.0),
        lambda: PerpetualSpec(
            "USDT",
            brackets=(MarginBracket(0, 10, 20, 0.01), MarginBracket(20, 30, 10, 0.02)),
        ),
        lambda: PerpetualSpec("USDT", brackets=(MarginBracket(5, 10, 20, 0.01),)),
        lambda: MarginBracket(0, 10, 0.5, 0.01),
        lambda: MarginBracket(10, 10, 20, 0.01),
        lambda: MarginBracket(0, 10, 20, 1.5),
        lambda: MarginBracket(0, 10, 20, 0.01, -1.0),
    ],
)
def test_bad_specs_are_refused(make: object) -> None:
    with pytest.raises(ConfigError):
        make()  # type: ignore[operator]
