"""R15 in the compiled simulator: a bar whose range holds a working level, walked both ways.

When a working level (entry, stop-loss, take-profit, trailing stop) lies inside a bar, the
price is moved through both intrabar paths (open-high-low-close and open-low-high-close) as
`Book.run_path` does, each on a copy of the state; if they disagree, the ``intrabar`` setting
picks one, and an exit that filled on one path only is flagged ambiguous (as
`SimExchange.ambiguous_orders`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba.extending import register_jitable

from quantkit.vector.kernel_book import book
from quantkit.vector.kernel_inline import inlined
from quantkit.vector.kernel_rules import (
    at_once,
    bracket_levels,
    flat,
    moved,
    reached,
    refused,
    slipped,
)
from quantkit.vector.layout import (
    ADVERSE,
    CLOSE,
    ENTRY_KIND,
    NEAREST,
    NO_ORDER,
    SL_KIND,
    STOP_ENTRY,
    TP_KIND,
    TRAIL_KIND,
)

__all__ = ["fill_inside_bar", "working_inside"]


@inlined
def working_inside(s: Any, low: float, high: float) -> bool:
    """Whether a working level lies inside the bar's range (then `fill_inside_bar` runs)."""
    return bool(
        (s.sl_on and low <= s.sl <= high)
        or (s.tp_on and low <= s.tp <= high)
        or (s.ent_on and low <= s.ent_level <= high)
        or (s.trail_on and low <= s.trail <= high)
    )


@register_jitable
def _copy(w: Any, s: Any) -> None:
    """Start a path: ``w`` takes the working orders, cash and position of ``s``."""
    w.cash, w.pos, w.n_fills, w.rejected = s.cash, s.pos, 0, 0
    w.ent_on, w.ent_sign, w.ent_level, w.ent_amount = (
        s.ent_on,
        s.ent_sign,
        s.ent_level,
        s.ent_amount,
    )
    w.sign, w.child_amount = s.sign, s.child_amount
    w.sl, w.tp, w.sl_on, w.tp_on = s.sl, s.tp, s.sl_on, s.tp_on
    w.trail, w.trail_amount, w.trail_on = s.trail, s.trail_amount, s.trail_on


@register_jitable
def _nearest(w: Any, p: Any, current: float, end: float) -> tuple[float, float]:
    """The first working level the move from ``current`` to ``end`` reaches: kind, level.

    At equal distance the order placed first wins: entry, stop-loss, take-profit, trailing.
    """
    best, level = -1.0, 0.0
    if w.ent_on and reached(p.entry_type == STOP_ENTRY, w.ent_sign, current, end, w.ent_level):
        best, level = ENTRY_KIND, w.ent_level
    if (
        w.sl_on
        and reached(True, -w.sign, current, end, w.sl)
        and (best < 0 or abs(w.sl - current) < abs(level - current))
    ):
        best, level = SL_KIND, w.sl
    if (
        w.tp_on
        and reached(False, -w.sign, current, end, w.tp)
        and (best < 0 or abs(w.tp - current) < abs(level - current))
    ):
        best, level = TP_KIND, w.tp
    if (
        w.trail_on
        and reached(True, -w.sign, current, end, w.trail)
        and (best < 0 or abs(w.trail - current) < abs(level - current))
    ):
        best, level = TRAIL_KIND, w.trail
    return best, level


@register_jitable
def _put(
    w: Any,
    rows: np.ndarray,
    kind: float,
    side: float,
    price: float,
    amount: float,
    fee: float,
    maker: float,
) -> None:
    """Apply a fill to the path's cash and position and write its row."""
    signed = side * amount
    w.cash = w.cash - signed * price - fee
    w.pos = moved(w.pos, signed)
    row = rows[w.n_fills]
    row[0], row[1], row[2], row[3], row[4], row[5] = kind, side, price, amount, fee, maker
    w.n_fills += 1


@register_jitable
def _path_entry(w: Any, p: Any, level: float, low: float, high: float, rows: np.ndarray) -> float:
    """A working entry reached at ``level``: its fill price, or -1 when the account refuses."""
    w.ent_on = False
    if p.entry_type == STOP_ENTRY:
        price, is_maker = slipped(level, w.ent_sign, p.slippage, low, high), 0.0
    else:
        price, is_maker = level, 1.0
    amount = w.ent_amount
    fee = (p.maker if is_maker else p.taker) * (price * amount) + p.per_order
    if refused(w.pos, w.cash, w.ent_sign * amount, price, fee, p):
        w.rejected = 1
        return -1.0
    _put(w, rows, ENTRY_KIND, w.ent_sign, price, amount, fee, is_maker)
    w.sign = w.ent_sign
    w.sl, w.tp = bracket_levels(price, amount, w.sign, p)
    w.sl_on, w.tp_on = not math.isnan(p.sl_pct), not math.isnan(p.tp_pct)
    w.child_amount = amount
    return price


@register_jitable
def _path_exit(
    w: Any, p: Any, kind: float, price: float, is_maker: float, rows: np.ndarray
) -> None:
    """A bracket or trailing exit on the path: filled whole, reduce-only."""
    amount = min(w.trail_amount if kind == TRAIL_KIND else w.child_amount, abs(w.pos))
    fee = (p.maker if is_maker else p.taker) * (price * amount) + p.per_order
    _put(w, rows, kind, -w.sign, price, amount, fee, is_maker)
    if kind == TRAIL_KIND:
        w.trail_on = False
    else:
        w.sl_on = w.tp_on = False  # one cancels the other
    if flat(w.pos, p.dust):  # the Book cancels reduce-only orders of a flat position
        w.sl_on = w.tp_on = w.trail_on = False


@register_jitable
def _run_path(
    w: Any, p: Any, points: np.ndarray, rows: np.ndarray, low: float, high: float
) -> None:
    """Move the price through ``points`` as `Book.run_path` does; the fills go to ``rows``."""
    for k in range(len(points) - 1):
        current, end = points[k], points[k + 1]
        while True:
            best, level = _nearest(w, p, current, end)
            if best < 0:
                break
            current = level
            if best == ENTRY_KIND:
                price = _path_entry(w, p, level, low, high, rows)
                if price < 0:
                    continue
                kind, price = at_once(w, p, price, low, high)  # R13: live at once
                is_maker = 0.0
            elif best == TP_KIND:
                kind, price, is_maker = best, level, 1.0
            else:  # the stop-loss or the trailing stop
                kind, price, is_maker = best, slipped(level, -w.sign, p.slippage, low, high), 0.0
            if kind >= 0:
                _path_exit(w, p, kind, price, is_maker, rows)


@register_jitable
def _has_row(rows: np.ndarray, n: int, row: np.ndarray) -> bool:
    """Whether the first ``n`` rows hold a fill with ``row``'s kind, price and amount."""
    for k in range(n):
        if rows[k, 0] == row[0] and rows[k, 2] == row[2] and rows[k, 3] == row[3]:
            return True
    return False


@register_jitable
def _differ(rows_up: np.ndarray, n_up: int, rows_dn: np.ndarray, n_dn: int) -> bool:
    """Whether the two paths filled differently."""
    differ = n_up != n_dn
    for k in range(n_up):
        differ = differ or not _has_row(rows_dn, n_dn, rows_up[k])
    return differ


@register_jitable
def _choose_up(
    up: Any, down: Any, p: Any, open_: float, high: float, low: float, close: float, differ: bool
) -> bool:
    """R15: whether the open-high-low-close path is the one assumed."""
    if not differ:
        return True
    if p.intrabar == NEAREST:
        return high - open_ <= open_ - low
    eq_up = up.cash + up.pos * close if up.pos else up.cash
    eq_dn = down.cash + down.pos * close if down.pos else down.cash
    return bool((eq_up <= eq_dn) == (p.intrabar == ADVERSE))


@register_jitable
def _take_row(
    s: Any, p: Any, row: np.ndarray, amb: bool, fills: np.ndarray, trades: np.ndarray, bar: int
) -> None:
    """Book one fill of the chosen path on the real state."""
    kind, side, price, amount, fee, is_maker = row[0], row[1], row[2], row[3], row[4], row[5]
    amb = (
        amb
        or (kind == SL_KIND and s.sl_amb)
        or (kind == TP_KIND and s.tp_amb)
        or (kind == TRAIL_KIND and s.trail_amb)
    )
    book(s, fills, trades, bar, side, price, amount, fee, kind, is_maker, amb)
    if kind == ENTRY_KIND:
        s.sign = side
        s.sl, s.tp = bracket_levels(price, amount, side, p)
        s.sl_on, s.tp_on = not math.isnan(p.sl_pct), not math.isnan(p.tp_pct)
        s.sl_amb = s.tp_amb = False
        s.child_amount = amount
    elif kind == TRAIL_KIND:
        s.trail_on = False
    else:
        s.sl_on = s.tp_on = False
    if flat(s.pos, p.dust):
        s.sl_on = s.tp_on = s.trail_on = False
        s.pending = NO_ORDER if s.pending == CLOSE else s.pending


@register_jitable
def _flag_one_sided(s: Any, rows: np.ndarray, n: int, other: np.ndarray, n_other: int) -> None:
    """An exit that filled on one path only rested on the assumption: flag its order."""
    for k in range(n):
        if _has_row(other, n_other, rows[k]):
            continue
        if rows[k, 0] == SL_KIND:
            s.sl_amb = True
        elif rows[k, 0] == TP_KIND:
            s.tp_amb = True
        elif rows[k, 0] == TRAIL_KIND:
            s.trail_amb = True


@register_jitable
def fill_inside_bar(
    s: Any,
    p: Any,
    bar: int,
    open_: float,
    high: float,
    low: float,
    close: float,
    fills: np.ndarray,
    trades: np.ndarray,
    up: Any,
    down: Any,
) -> None:
    """R15: fill what the bar reaches inside its range, on the assumed intrabar path."""
    up_points, down_points, rows_up, rows_dn = up.points, down.points, up.rows, down.rows
    up_points[0], up_points[1], up_points[2], up_points[3] = open_, high, low, close
    down_points[0], down_points[1], down_points[2], down_points[3] = open_, low, high, close
    _copy(up, s)
    _copy(down, s)
    _run_path(up, p, up_points, rows_up, low, high)
    _run_path(down, p, down_points, rows_dn, low, high)
    n_up, n_dn = up.n_fills, down.n_fills
    chosen_up = _choose_up(up, down, p, open_, high, low, close,
                           _differ(rows_up, n_up, rows_dn, n_dn))  # fmt: skip
    rows, n_rows = (rows_up, n_up) if chosen_up else (rows_dn, n_dn)
    other, n_other = (rows_dn, n_dn) if chosen_up else (rows_up, n_up)
    if s.ent_on and up.rejected:  # (as the Book: the open-high path's refusal counts)
        s.rejected += 1
    if s.ent_on and (up.rejected or n_rows):
        s.ent_on = False
    for k in range(n_rows):
        _take_row(s, p, rows[k], not _has_row(other, n_other, rows[k]), fills, trades, bar)
    _flag_one_sided(s, rows_up, n_up, rows_dn, n_dn)
    _flag_one_sided(s, rows_dn, n_dn, rows_up, n_up)
