"""FuturesPortfolio.check_fill: closing a position is a reduction, for a short as for a long.

Found by the fast-path parity property (tests/vector/test_perp_parity.py): closing a short
exactly to zero was admitted as if it opened a new position, so a 2x isolated short whose
margin was in use could not be closed ("insufficient margin").
"""

from __future__ import annotations

from quantkit.domain.fill import Fill
from quantkit.domain.futures_portfolio import FuturesPortfolio
from quantkit.domain.market import Market
from quantkit.domain.order import Side
from quantkit.domain.perpetual import PerpetualSpec

SYM = "BTC/USDT:USDT"
PERP = Market(SYM, "BTC", "USDT", taker_fee=0.0005, perpetual=PerpetualSpec("USDT"))


def account(side: Side) -> FuturesPortfolio:
    """1,000 USDT, isolated 2x, with a 990-contract position opened at 1.0 (495 of margin)."""
    portfolio = FuturesPortfolio(
        currency="USDT",
        cash={"USDT": 1_000.0},
        specs={SYM: PERP.perpetual},  # type: ignore[dict-item]
        leverage={SYM: 2.0},
        margin_mode="isolated",
    )
    portfolio.apply_fill(Fill("o1", SYM, side, 1.0, 990.0, 0.0, "USDT", 0))
    return portfolio


def test_closing_a_short_whole_is_admitted_like_closing_a_long() -> None:
    # available margin after opening: 1,000 - 990 * 1.0 / 2 = 505; closing at 1.06 would
    # "need" 990 * 1.06 / 2 + fee = 524.7 + 0.5 if it were an opening: more than 505
    long, short = account(Side.BUY), account(Side.SELL)
    assert long.available_margin() == short.available_margin() == 505.0
    assert long.check_fill(PERP, -990.0, 1.06, 0.52) == ""
    assert short.check_fill(PERP, 990.0, 1.06, 0.52) == ""
    # a flip past zero still opens the remainder and is checked
    assert "insufficient margin" in short.check_fill(PERP, 2_990.0, 1.06, 1.5)
