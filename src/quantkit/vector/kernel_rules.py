"""The venue's rules as small compiled functions: rounding, slippage, refusals, triggers.

Each is `quantkit.sim`'s rule for the fast path's subset (see ``docs/fill-rules.md``), written
in the same arithmetic order as the simulator so results agree to the last bit. They are
``register_jitable``: compiled into the kernel, plain Python when called from Python (so
``simulate.py_func`` runs the whole kernel uncompiled).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba.extending import register_jitable

from quantkit.domain.amounts import SNAP_RTOL, is_flat_amount, round_amount_down
from quantkit.vector.layout import SL_KIND, TP_KIND

__all__ = [
    "at_once",
    "bracket_levels",
    "moved",
    "reached",
    "refused",
    "round_amount",
    "round_price",
    "slipped",
]

_TOL = 1e-9
_EPS = SNAP_RTOL  # as `Position.apply`: a closed position snaps to zero

# `Market.round_amount` and `Position.is_flat`: the same functions (one definition, compiled
# here), so the two paths agree on rounding, dust and flatness to the bit.
round_amount = register_jitable(round_amount_down)
flat = register_jitable(is_flat_amount)


@register_jitable
def round_price(price: float, step: float, scale: float) -> float:
    """`Market.round_price`: to the nearest tick (exact for decimal ticks)."""
    if step <= 0.0:
        return price
    return float(np.rint(float(np.rint(price / step)) * step * scale)) / scale


@register_jitable
def slipped(price: float, sign: float, slip: float, low: float, high: float) -> float:
    """R2: move ``price`` against an order of ``sign`` and clamp it into ``[low, high]``."""
    moved = price * (1.0 + sign * slip)
    moved = low if low > moved else moved
    return high if high < moved else moved


@register_jitable
def refused(pos: float, cash: float, signed: float, price: float, fee: float, p: Any) -> bool:
    """`Portfolio.check_fill` for one symbol: whether the account refuses the fill.

    On a perpetual, `FuturesPortfolio.check_fill`'s bracket rule too: an opening whose
    notional reaches ``p.notional_cap`` (where the brackets' maximum leverage falls below the
    run's leverage) is refused.
    """
    new = pos + signed
    if not p.allow_short and new < -_TOL * max(1.0, abs(pos)):
        return True
    if not p.allow_short and p.leverage == 1.0:
        if signed > 0:
            need = signed * price + fee
            return need > cash * (1 + _TOL) + _TOL
        return False
    if abs(new) <= abs(pos) and (new >= 0) == (pos >= 0):
        return False
    if p.notional_cap > 0.0 and abs(new) * price >= p.notional_cap:
        return True  # a perpetual's bracket at that notional allows less than the leverage
    equity = cash - signed * price - fee
    value = new * price
    equity += value
    gross = 0.0 + abs(value)
    limit = max(equity, 0.0) * p.leverage
    return bool(gross > limit * (1 + _TOL) + _TOL)


@register_jitable
def moved(pos: float, signed: float) -> float:
    """`Position.apply`'s new amount: a closed position snaps to exactly zero."""
    new = pos + signed
    closing = pos != 0.0 and (pos > 0) != (signed > 0)
    if closing and abs(new) <= _EPS * max(abs(pos), abs(signed)):
        return 0.0
    return new


@register_jitable
def reached(is_stop: bool, side: float, start: float, end: float, level: float) -> bool:
    """`Working.level_between` for a limit or stop order of ``side``; ``start`` is excluded.

    A buy stop and a sell limit are reached by a rise, a sell stop and a buy limit by a fall.
    """
    if start == end:
        return False
    rising = end > start
    wanted = side > 0 if is_stop else side < 0
    if rising != wanted:
        return False
    if rising:
        return start < level <= end
    return end <= level < start


@register_jitable
def bracket_levels(price: float, amount: float, sign: float, p: Any) -> tuple[float, float]:
    """R13: the stop-loss and take-profit of an entry of ``sign`` filled at ``price``."""
    average = (price * amount) / amount  # `Order.average_price` after one fill
    return (
        round_price(average * (1.0 - sign * p.sl_pct), p.price_step, p.price_scale),
        round_price(average * (1.0 + sign * p.tp_pct), p.price_step, p.price_scale),
    )


@register_jitable
def at_once(s: Any, p: Any, price: float, low: float, high: float) -> tuple[float, float]:
    """R13: an exit already crossed at the entry's fill price fills there (taker): kind, price.

    The kind is -1 when neither exit of the state's bracket is crossed.
    """
    sign = s.sign
    if s.sl_on and (price <= s.sl if sign > 0 else price >= s.sl):
        return SL_KIND, slipped(price, -sign, p.slippage, low, high)
    if s.tp_on and (price >= s.tp if sign > 0 else price <= s.tp):
        return TP_KIND, price
    return -1.0, 0.0


@register_jitable
def gapped(sign: float, open_: float, level: float, is_stop: bool) -> bool:
    """R14: whether the open is already beyond a level of an order of ``sign``.

    A buy stop and a sell limit trigger at or above the level; a sell stop and a buy limit at
    or below it.
    """
    above = sign > 0 if is_stop else sign < 0
    return open_ >= level if above else open_ <= level
