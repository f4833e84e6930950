"""quantkit's perpetual rules checked against the venue's own, independent implementation.

The local USD-M venue computes liquidation prices and funding in Decimal from Binance's
published rules without importing quantkit's domain; here quantkit's `PerpetualSpec` and
`funding_payment` must agree with it on random positions.
"""

from __future__ import annotations

import math
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from quantkit.domain.perp_math import funding_payment
from quantkit.domain.perpetual import PerpetualSpec, brackets_with_cum
from quantkit.testing.futures.brackets import DEFAULT_BRACKETS
from quantkit.testing.futures.liquidation import liquidation_price

ROWS = [
    (b.floor, b.cap if b.cap is not None else math.inf, b.max_leverage, b.mmr)
    for b in DEFAULT_BRACKETS.brackets
]
SPEC = PerpetualSpec(
    "USDT",
    brackets=brackets_with_cum(
        [(float(f), float(c), float(lev), float(r)) for f, c, lev, r in ROWS]
    ),
)

sizes = st.decimals(min_value=Decimal("0.001"), max_value=Decimal(300), places=3)
prices = st.decimals(min_value=Decimal(1_000), max_value=Decimal(100_000), places=1)


@settings(max_examples=300, deadline=None)
@given(
    size=sizes,
    long=st.booleans(),
    entry=prices,
    wallet_share=st.decimals(min_value=Decimal("0.001"), max_value=Decimal(2), places=3),
    others=st.tuples(
        st.decimals(min_value=Decimal(0), max_value=Decimal(5_000), places=2),
        st.decimals(min_value=Decimal(-5_000), max_value=Decimal(5_000), places=2),
    ),
)
def test_liquidation_prices_agree(
    size: Decimal,
    long: bool,
    entry: Decimal,
    wallet_share: Decimal,
    others: tuple[Decimal, Decimal],
) -> None:
    amount = size if long else -size
    wallet = size * entry * wallet_share  # from 1000x-like to 0.5x-like margin
    tmm, upnl = others
    venue = liquidation_price(
        amount, entry, wallet, DEFAULT_BRACKETS, other_maintenance=tmm, other_unrealized=upnl
    )
    ours = SPEC.liquidation_price(
        float(wallet),
        float(amount),
        float(entry),
        other_maintenance=float(tmm),
        other_upnl=float(upnl),
    )
    if venue == 0:  # no liquidation price (Binance shows "--")
        assert not (0 < ours < math.inf), (venue, ours)
    else:
        assert math.isclose(ours, float(venue), rel_tol=1e-9), (venue, ours)


@settings(max_examples=100, deadline=None)
@given(
    size=sizes,
    long=st.booleans(),
    mark=prices,
    rate=st.decimals(min_value=Decimal("-0.003"), max_value=Decimal("0.003"), places=6),
)
def test_funding_payments_agree(size: Decimal, long: bool, mark: Decimal, rate: Decimal) -> None:
    amount = size if long else -size
    venue_receives = -amount * mark * rate  # the venue books what the account receives
    pays = funding_payment(float(amount), float(mark), float(rate), 1.0, False)
    assert math.isclose(-pays, float(venue_receives), rel_tol=1e-12, abs_tol=1e-9)
