"""Accounting of the compiled simulator: a fill moves cash and position, and joins the trades.

`book` is the one place a fill changes the state: cash and fees (R18), the position with its
snap to zero (`Position.apply`), the fill table, and the round trips as `round_trips` folds
them. A run may skip the fill table (a sweep keeps only statistics): give it zero rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba.extending import overload, register_jitable

from quantkit.domain.amounts import SNAP_RTOL
from quantkit.vector.kernel_rules import moved
from quantkit.vector.layout import STATE_DTYPE

__all__ = ["book", "state_records"]

_EPS = SNAP_RTOL


def state_records(count: int) -> np.recarray[Any, Any]:
    """Return ``count`` zeroed state records (attribute access in Python and compiled code)."""
    return np.zeros(count, STATE_DTYPE).view(np.recarray)


@overload(state_records)
def _state_records_compiled(count: Any) -> Any:
    def impl(count: Any) -> Any:  # pragma: no cover - compiled
        return np.zeros(count, STATE_DTYPE)

    return impl


@register_jitable
def book(
    s: Any,
    fills: np.ndarray,
    trades: np.ndarray,
    bar: int,
    side: float,
    price: float,
    amount: float,
    fee: float,
    kind: float,
    is_maker: float,
    ambiguous: bool,
) -> None:
    """Apply a fill of ``side`` (+1 buy, -1 sell) to the state and record it."""
    signed = side * amount
    s.cash = s.cash - signed * price - fee
    s.fees_paid += fee
    before = s.pos
    s.pos = moved(before, signed)
    if ambiguous:
        s.ambiguous_fills += 1
    if fills.shape[0]:
        row = fills[s.n_fills]
        row[0], row[1], row[2], row[3] = bar, side, price, amount
        row[4], row[5], row[6], row[7] = fee, kind, is_maker, 1.0 if ambiguous else 0.0
    s.n_fills += 1
    _fold(s, trades, bar, signed, price, amount, fee, ambiguous, before)


@register_jitable
def _fold(
    s: Any,
    trades: np.ndarray,
    bar: int,
    signed: float,
    price: float,
    amount: float,
    fee: float,
    ambiguous: bool,
    before: float,
) -> None:
    """Fold a fill into the round trips as `round_trips` does (the open trade follows)."""
    held = before + signed
    if abs(held) <= _EPS * max(abs(before), amount):
        held = 0.0
    closing = min(abs(signed), abs(before)) if before else 0.0
    opening = amount - closing
    t = trades[s.n_trades]
    if closing > 0.0:
        t[6] += closing * price
        t[7] += closing
        t[8] += fee * closing / amount
        if ambiguous:
            t[9] = 1.0
        if held == 0.0:
            t[1] = bar
            if t[9] != 0.0:
                s.ambiguous_trades += 1
            s.n_trades += 1
            s.trade_open = False
            t = trades[s.n_trades]
    if opening > _EPS * amount:
        if not s.trade_open:
            t[0], t[1], t[2], t[3] = bar, -1.0, 1.0 if signed > 0 else -1.0, 0.0
            t[4] = t[5] = t[6] = t[7] = t[8] = t[9] = 0.0
            s.trade_open = True
        t[4] += opening * price
        t[5] += opening
        t[8] += fee * opening / amount
        t[3] = max(t[3], abs(held))
