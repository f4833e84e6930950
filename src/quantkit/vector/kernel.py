"""The compiled simulator of the fast path: quantkit.sim's rules for signal strategies.

This is the only module that imports numba. Every function takes and returns plain numbers
and numpy arrays. The rules are those of `quantkit.sim` (see ``docs/fill-rules.md``) for the
subset the fast path supports: market entries sized by cost (R3) and market exits, filled at
the next bar's open with fixed slippage clamped into the bar (R1, R2), limit and stop entries
that work for a number of bars (R4, R5), fees (R8), precision and minimums (R10), cash and
margin checks (R11), brackets from the fill price and a trailing stop (R13), the open first
(R14) and both intrabar paths with the configured assumption (R15). The arithmetic is
written in the same order as the simulator's so results agree to the last bit or so.

The helpers are ``register_jitable``: compiled into `simulate`, plain Python when called from
Python, so ``simulate.py_func`` runs the whole kernel uncompiled (the tests use it to check the
compiled code against the same source, and for coverage).
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba.extending import register_jitable

__all__ = [
    "FILL_COLUMNS",
    "LIMIT_ENTRY",
    "MARKET_ENTRY",
    "PARAMS",
    "STOP_ENTRY",
    "TRADE_COLUMNS",
    "simulate",
]

# Slots of the ``params`` vector.
PARAMS = (
    "cash",
    "size",
    "sl_pct",
    "tp_pct",
    "taker",
    "maker",
    "per_order",
    "slippage",
    "amount_step",
    "amount_scale",
    "price_step",
    "price_scale",
    "min_amount",
    "min_notional",
    "allow_short",
    "leverage",
    "intrabar",
    "warmup",
    "entry_type",
    "entry_offset",
    "entry_valid",
    "entry_fee",
    "trail_pct",
)
(
    _CASH,
    _SIZE,
    _SL,
    _TP,
    _TAKER,
    _MAKER,
    _PER_ORDER,
    _SLIP,
    _ASTEP,
    _ASCALE,
    _PSTEP,
    _PSCALE,
    _MIN_AMOUNT,
    _MIN_NOTIONAL,
    _ALLOW_SHORT,
    _LEVERAGE,
    _INTRABAR,
    _WARMUP,
    _ENTRY_TYPE,
    _ENTRY_OFFSET,
    _ENTRY_VALID,
    _ENTRY_FEE,
    _TRAIL,
) = range(len(PARAMS))
# Values of ``params[_ENTRY_TYPE]``.
MARKET_ENTRY, LIMIT_ENTRY, STOP_ENTRY = 0.0, 1.0, 2.0

# Columns of the float fill table: bar, side (+1 buy / -1 sell), price, amount, fee, kind
# (0 entry, 1 exit signal, 2 stop-loss, 3 take-profit), maker (0/1), ambiguous (0/1).
FILL_COLUMNS = ("bar", "side", "price", "amount", "fee", "kind", "is_maker", "ambiguous")
# Columns of the trade table: entry bar, exit bar, direction (+1/-1), size, entry value,
# entry amount, exit value, exit amount, fees, ambiguous (0/1).
TRADE_COLUMNS = (
    "entry_bar",
    "exit_bar",
    "direction",
    "size",
    "entry_value",
    "entry_amount",
    "exit_value",
    "exit_amount",
    "fees",
    "ambiguous",
)

_TOL = 1e-9
_EPS = 1e-12
_NONE, _LONG_ENTRY, _SHORT_ENTRY, _CLOSE = 0, 1, 2, 3
_ENTRY_KIND, _EXIT_KIND, _SL_KIND, _TP_KIND, _TRAIL_KIND = 0.0, 1.0, 2.0, 3.0, 4.0


@register_jitable
def _round_amount(amount: float, step: float, scale: float) -> float:
    """`Market.round_amount`: down to a multiple of the step (exact for decimal steps)."""
    if step <= 0.0:
        return amount
    units = amount / step
    units = math.floor(units + max(1e-9, abs(units) * 2e-15))  # as Market.round_amount
    return float(np.rint(units * step * scale)) / scale


@register_jitable
def _round_price(price: float, step: float, scale: float) -> float:
    """`Market.round_price`: to the nearest tick (exact for decimal ticks)."""
    if step <= 0.0:
        return price
    return float(np.rint(float(np.rint(price / step)) * step * scale)) / scale


@register_jitable
def _slipped(price: float, sign: float, slip: float, low: float, high: float) -> float:
    """R2: move ``price`` against an order of ``sign`` and clamp it into ``[low, high]``."""
    moved = price * (1.0 + sign * slip)
    moved = low if low > moved else moved
    return high if high < moved else moved


@register_jitable
def _refused(
    pos: float,
    cash: float,
    signed: float,
    price: float,
    fee: float,
    allow_short: bool,
    leverage: float,
) -> bool:
    """`Portfolio.check_fill` for one symbol: whether the account refuses the fill."""
    new = pos + signed
    if not allow_short and new < -_TOL * max(1.0, abs(pos)):
        return True
    if not allow_short and leverage == 1.0:
        if signed > 0:
            need = signed * price + fee
            return need > cash * (1 + _TOL) + _TOL
        return False
    if abs(new) <= abs(pos) and (new >= 0) == (pos >= 0):
        return False
    equity = cash - signed * price - fee
    value = new * price
    equity += value
    gross = 0.0 + abs(value)
    limit = max(equity, 0.0) * leverage
    return gross > limit * (1 + _TOL) + _TOL


@register_jitable
def _moved(pos: float, signed: float) -> float:
    """`Position.apply`'s new amount: a closed position snaps to exactly zero."""
    new = pos + signed
    closing = pos != 0.0 and (pos > 0) != (signed > 0)
    if closing and abs(new) <= _EPS * max(abs(pos), abs(signed)):
        return 0.0
    return new


@register_jitable
def _reached(is_stop: bool, side: float, start: float, end: float, level: float) -> bool:
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
def _bracket_levels(price: float, amount: float, sign: float, p: np.ndarray) -> tuple[float, float]:
    """R13: the stop-loss and take-profit of an entry of ``sign`` filled at ``price``."""
    average = (price * amount) / amount  # `Order.average_price` after one fill
    return (
        _round_price(average * (1.0 - sign * p[_SL]), p[_PSTEP], p[_PSCALE]),
        _round_price(average * (1.0 + sign * p[_TP]), p[_PSTEP], p[_PSCALE]),
    )


@register_jitable
def _at_once(
    price: float,
    sign: float,
    sl: float,
    tp: float,
    sl_on: bool,
    tp_on: bool,
    slip: float,
    low: float,
    high: float,
) -> tuple[float, float]:
    """R13: an exit already crossed at the entry's fill price fills there (taker): kind, price.

    The kind is -1 when neither exit is crossed.
    """
    if sl_on and (price <= sl if sign > 0 else price >= sl):
        return _SL_KIND, _slipped(price, -sign, slip, low, high)
    if tp_on and (price >= tp if sign > 0 else price <= tp):
        return _TP_KIND, price
    return -1.0, 0.0


@register_jitable
def _row(
    rows: np.ndarray,
    n: int,
    kind: float,
    side: float,
    price: float,
    amount: float,
    fee: float,
    maker: float,
) -> int:
    row = rows[n]
    row[0], row[1], row[2], row[3], row[4], row[5] = kind, side, price, amount, fee, maker
    return n + 1


@register_jitable
def _run_path(  # noqa: C901, PLR0915 - the Book's sweep, flat
    points: np.ndarray,
    rows: np.ndarray,
    p: np.ndarray,
    ent_on: bool,
    ent_sign: float,
    ent_level: float,
    ent_amount: float,
    sl_on: bool,
    tp_on: bool,
    sl: float,
    tp: float,
    sign: float,
    child_amount: float,
    trail_on: bool,
    trail: float,
    trail_amount: float,
    pos: float,
    cash: float,
    low: float,
    high: float,
) -> tuple[int, float, float, bool]:
    """Move the price through ``points`` as `Book.run_path` does; record the fills in ``rows``.

    Rows are ``(kind, side, price, amount, fee, maker)``. A working limit or stop entry may
    fill on the way; its bracket exits then go live at once and may fill later on the path.

    Returns:
        ``(rows written, cash after, position after, whether the entry was refused)``.
    """
    ent_stop = p[_ENTRY_TYPE] == STOP_ENTRY
    slip, taker, maker, per_order = p[_SLIP], p[_TAKER], p[_MAKER], p[_PER_ORDER]
    allow_short, leverage = p[_ALLOW_SHORT] != 0.0, p[_LEVERAGE]
    n = 0
    refused = False
    for k in range(len(points) - 1):
        current, end = points[k], points[k + 1]
        while True:
            best = -1.0
            level = 0.0
            if ent_on and _reached(ent_stop, ent_sign, current, end, ent_level):
                best, level = _ENTRY_KIND, ent_level
            if (
                sl_on
                and _reached(True, -sign, current, end, sl)
                and (best < 0 or abs(sl - current) < abs(level - current))
            ):
                best, level = _SL_KIND, sl
            if (
                tp_on
                and _reached(False, -sign, current, end, tp)
                and (best < 0 or abs(tp - current) < abs(level - current))
            ):
                best, level = _TP_KIND, tp
            if (
                trail_on
                and _reached(True, -sign, current, end, trail)
                and (best < 0 or abs(trail - current) < abs(level - current))
            ):
                best, level = _TRAIL_KIND, trail
            if best < 0:
                break
            current = level
            if best == _ENTRY_KIND:
                ent_on = False
                if ent_stop:
                    price, is_maker = _slipped(level, ent_sign, slip, low, high), 0.0
                else:
                    price, is_maker = level, 1.0
                fee = (maker if is_maker else taker) * (price * ent_amount) + per_order
                signed = ent_sign * ent_amount
                if _refused(pos, cash, signed, price, fee, allow_short, leverage):
                    refused = True
                    continue
                cash = cash - signed * price - fee
                pos = _moved(pos, signed)
                n = _row(rows, n, _ENTRY_KIND, ent_sign, price, ent_amount, fee, is_maker)
                sign = ent_sign
                sl, tp = _bracket_levels(price, ent_amount, sign, p)
                sl_on, tp_on = not math.isnan(p[_SL]), not math.isnan(p[_TP])
                child_amount = ent_amount
                kind, cprice = _at_once(price, sign, sl, tp, sl_on, tp_on, slip, low, high)
                is_maker = 0.0
            else:
                kind = best
                if kind == _TP_KIND:
                    cprice, is_maker = level, 1.0
                else:  # the stop-loss or the trailing stop
                    cprice, is_maker = _slipped(level, -sign, slip, low, high), 0.0
            if kind < 0:
                continue
            amount = min(trail_amount if kind == _TRAIL_KIND else child_amount, abs(pos))
            fee = (maker if is_maker else taker) * (cprice * amount) + per_order
            signed = -sign * amount
            cash = cash - signed * cprice - fee
            pos = _moved(pos, signed)
            n = _row(rows, n, kind, -sign, cprice, amount, fee, is_maker)
            if kind == _TRAIL_KIND:
                trail_on = False  # filled whole
            else:
                sl_on = tp_on = False  # filled whole; one cancels the other
            if pos == 0.0:
                sl_on = tp_on = trail_on = False
    return n, cash, pos, refused


@register_jitable
def _has_row(rows: np.ndarray, n: int, row: np.ndarray) -> bool:
    """Whether the first ``n`` rows hold a fill with ``row``'s kind, price and amount."""
    for k in range(n):
        if rows[k, 0] == row[0] and rows[k, 2] == row[2] and rows[k, 3] == row[3]:
            return True
    return False


@numba.njit(cache=True, nogil=True)
def simulate(  # noqa: C901, PLR0915 - one flat loop is the point of a kernel
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    entries: np.ndarray,
    exits: np.ndarray,
    short_entries: np.ndarray,
    short_exits: np.ndarray,
    params: np.ndarray,
    fills: np.ndarray,
    trades: np.ndarray,
    equity: np.ndarray,
    exposed: np.ndarray,
) -> tuple[int, int, float, int]:
    """Run one symbol's signals through the simulator's rules.

    Args:
        open_: Open prices.
        high: High prices.
        low: Low prices.
        close: Close prices.
        entries: Long entry signal per bar.
        exits: Long exit signal per bar.
        short_entries: Short entry signal per bar.
        short_exits: Short exit signal per bar.
        params: Settings, in the order of `PARAMS` (``nan`` for no stop-loss / take-profit).
        fills: Output, ``(3 * bars + 3, len(FILL_COLUMNS))``.
        trades: Output, ``(bars + 1, len(TRADE_COLUMNS))``; the last row may be an open trade.
        equity: Output, equity at each close.
        exposed: Output, whether a position is open at each close.

    Returns:
        ``(fill count, closed trade count, fees paid, rejected orders)``; when a trade is
        still open, its row follows the closed ones.
    """
    p = params
    cash = p[_CASH]
    size = p[_SIZE]
    taker, per_order = p[_TAKER], p[_PER_ORDER]
    slip = p[_SLIP]
    astep, ascale = p[_ASTEP], p[_ASCALE]
    pstep, pscale = p[_PSTEP], p[_PSCALE]
    min_amount, min_notional = p[_MIN_AMOUNT], p[_MIN_NOTIONAL]
    allow_short = p[_ALLOW_SHORT] != 0.0
    leverage = p[_LEVERAGE]
    intrabar = p[_INTRABAR]
    warmup = p[_WARMUP]
    entry_type, offset, valid = p[_ENTRY_TYPE], p[_ENTRY_OFFSET], p[_ENTRY_VALID]
    has_sl, has_tp = not math.isnan(p[_SL]), not math.isnan(p[_TP])

    pos = 0.0
    fees_paid = 0.0
    n_fills = 0
    n_trades = 0
    rejected = 0
    pending = _NONE
    pending_cost = 0.0
    pending_amount = 0.0
    # a working limit or stop entry: its side, rounded level, amount and the bar it was placed
    ent_on = False
    ent_sign = ent_level = ent_amount = 0.0
    ent_bar = 0
    sl = tp = 0.0
    sl_on = tp_on = False
    sl_amb = tp_amb = False
    # the trailing stop: whether it works, its level, amount, and the extreme it trails
    trail_on = trail_amb = False
    trail = trail_amount = extreme = 0.0
    tracking = False  # whether ``extreme`` belongs to the open position
    trail_pct = p[_TRAIL]
    has_trail = not math.isnan(trail_pct)
    child_amount = 0.0
    sign = 0.0  # sign of the position the brackets protect
    trade_open = False
    up = np.empty(4)
    down = np.empty(4)
    rows_up = np.empty((4, 6))
    rows_dn = np.empty((4, 6))

    for i in range(len(close)):
        o, h, lo, c = open_[i], high[i], low[i], close[i]
        # -- fills at the open, in the working orders' order: bracket exits, then the order
        #    the strategy placed on an earlier bar (R1, R2, R4, R5, R14) --
        for step in range(5):
            kind = -1.0
            price = 0.0
            amount = 0.0
            order_sign = 0.0
            if step == 0 and sl_on and (o <= sl if sign > 0 else o >= sl):
                kind, price = _SL_KIND, _slipped(o, -sign, slip, lo, h)
            elif step == 1 and tp_on and (o >= tp if sign > 0 else o <= tp):
                kind, price = _TP_KIND, o
            elif step == 2 and trail_on and (o <= trail if sign > 0 else o >= trail):
                kind, price = _TRAIL_KIND, _slipped(o, -sign, slip, lo, h)
            elif step == 3 and pending == _CLOSE:
                pending = _NONE  # (a flat position has already canceled it)
                kind, price = _EXIT_KIND, _slipped(o, -1.0 if pos > 0 else 1.0, slip, lo, h)
                amount = min(pending_amount, abs(pos))
            elif step == 4 and pending in (_LONG_ENTRY, _SHORT_ENTRY):
                order_sign = 1.0 if pending == _LONG_ENTRY else -1.0
                pending = _NONE
                price = _slipped(o, order_sign, slip, lo, h)
                if order_sign > 0:
                    amount = _round_amount(
                        (pending_cost - per_order) / (price * (1.0 + taker)), astep, ascale
                    )
                else:
                    amount = _round_amount(pending_cost / price, astep, ascale)
                if amount <= 0 or amount < min_amount:
                    rejected += 1
                    continue
                kind = _ENTRY_KIND
            elif step == 4 and ent_on:
                order_sign, amount = ent_sign, ent_amount
                if entry_type == LIMIT_ENTRY:  # R4: gapped through, at the open (taker)
                    if not (o <= ent_level if ent_sign > 0 else o >= ent_level):
                        continue
                    price = o
                else:  # R5: a stop gapped through triggers at the open, slipped
                    if not (o >= ent_level if ent_sign > 0 else o <= ent_level):
                        continue
                    price = _slipped(o, ent_sign, slip, lo, h)
                ent_on = False
                kind = _ENTRY_KIND
            else:
                continue
            if kind in (_SL_KIND, _TP_KIND, _TRAIL_KIND):
                order_sign = -sign
                amount = min(trail_amount if kind == _TRAIL_KIND else child_amount, abs(pos))
            elif kind == _EXIT_KIND:
                order_sign = -1.0 if pos > 0 else 1.0
            # every fill at the open is a taker fill
            fee = taker * (price * amount) + per_order
            signed = order_sign * amount
            if _refused(pos, cash, signed, price, fee, allow_short, leverage):
                rejected += 1
                continue
            cash = cash - signed * price - fee
            fees_paid += fee
            before = pos
            pos = _moved(pos, signed)
            amb = (
                (kind == _SL_KIND and sl_amb)
                or (kind == _TP_KIND and tp_amb)
                or (kind == _TRAIL_KIND and trail_amb)
            )
            n_fills, n_trades, trade_open = _book(
                fills, trades, n_fills, n_trades, trade_open, i, order_sign, price, amount,
                fee, kind, 0.0, amb, before, pos,
            )  # fmt: skip
            if kind == _ENTRY_KIND:
                # R13: the bracket exits go live at once, measured from the fill price
                sign = order_sign
                sl, tp = _bracket_levels(price, amount, sign, p)
                sl_on, tp_on = has_sl, has_tp
                sl_amb = tp_amb = False
                child_amount = amount
                ckind, cprice = _at_once(price, sign, sl, tp, sl_on, tp_on, slip, lo, h)
                if ckind >= 0:
                    camount = min(child_amount, abs(pos))
                    cfee = taker * (cprice * camount) + per_order
                    csigned = -sign * camount
                    cash = cash - csigned * cprice - cfee
                    fees_paid += cfee
                    before = pos
                    pos = _moved(pos, csigned)
                    n_fills, n_trades, trade_open = _book(
                        fills, trades, n_fills, n_trades, trade_open, i, -sign, cprice,
                        camount, cfee, ckind, 0.0, False, before, pos,
                    )  # fmt: skip
                    sl_on = tp_on = False
            elif kind == _TRAIL_KIND:
                trail_on = False
            elif kind != _EXIT_KIND:  # a bracket exit, filled whole: one cancels the other
                sl_on = tp_on = False
            if pos == 0.0:
                sl_on = tp_on = trail_on = False
                pending = _NONE
        # -- R15: both intrabar paths when a working level lies inside the bar --
        inside = (
            (sl_on and lo <= sl <= h)
            or (tp_on and lo <= tp <= h)
            or (ent_on and lo <= ent_level <= h)
            or (trail_on and lo <= trail <= h)
        )
        if inside:
            up[0], up[1], up[2], up[3] = o, h, lo, c
            down[0], down[1], down[2], down[3] = o, lo, h, c
            n_up, cash_up, pos_up, refused = _run_path(
                up, rows_up, p, ent_on, ent_sign, ent_level, ent_amount, sl_on, tp_on, sl,
                tp, sign, child_amount, trail_on, trail, trail_amount, pos, cash, lo, h,
            )  # fmt: skip
            n_dn, cash_dn, pos_dn, _ = _run_path(
                down, rows_dn, p, ent_on, ent_sign, ent_level, ent_amount, sl_on, tp_on, sl,
                tp, sign, child_amount, trail_on, trail, trail_amount, pos, cash, lo, h,
            )  # fmt: skip
            differ = n_up != n_dn
            for k in range(n_up):
                differ = differ or not _has_row(rows_dn, n_dn, rows_up[k])
            chosen_up = True
            if differ:
                if intrabar == 2.0:
                    chosen_up = h - o <= o - lo
                else:
                    eq_up = cash_up + pos_up * c if pos_up else cash_up
                    eq_dn = cash_dn + pos_dn * c if pos_dn else cash_dn
                    chosen_up = (eq_up <= eq_dn) == (intrabar == 0.0)
            rows = rows_up if chosen_up else rows_dn
            other = rows_dn if chosen_up else rows_up
            n_rows = n_up if chosen_up else n_dn
            n_other = n_dn if chosen_up else n_up
            if ent_on and refused:
                rejected += 1
            if ent_on and (refused or n_rows):
                ent_on = False
            for k in range(n_rows):
                row = rows[k]
                kind, side, price, amount = row[0], row[1], row[2], row[3]
                fee, is_maker = row[4], row[5]
                amb = not _has_row(other, n_other, row)
                cash = cash - side * amount * price - fee
                fees_paid += fee
                before = pos
                pos = _moved(pos, side * amount)
                if kind == _ENTRY_KIND:
                    sign = side
                    sl, tp = _bracket_levels(price, amount, sign, p)
                    sl_on, tp_on = has_sl, has_tp
                    sl_amb = tp_amb = False
                    child_amount = amount
                elif kind == _TRAIL_KIND:
                    trail_on = False
                else:
                    sl_on = tp_on = False
                if pos == 0.0:
                    sl_on = tp_on = trail_on = False
                    pending = _NONE
                amb = (
                    amb
                    or (kind == _SL_KIND and sl_amb)
                    or (kind == _TP_KIND and tp_amb)
                    or (kind == _TRAIL_KIND and trail_amb)
                )
                n_fills, n_trades, trade_open = _book(
                    fills, trades, n_fills, n_trades, trade_open, i, side, price, amount, fee,
                    kind, is_maker, amb, before, pos,
                )  # fmt: skip
            # an exit that filled on one path only rested on the assumption (its order is
            # flagged, as `SimExchange.ambiguous_orders`)
            for k in range(n_up + n_dn):
                mine = rows_up[k] if k < n_up else rows_dn[k - n_up]
                if k < n_up and _has_row(rows_dn, n_dn, mine):
                    continue
                if k >= n_up and _has_row(rows_up, n_up, mine):
                    continue
                if mine[0] == _SL_KIND:
                    sl_amb = True
                elif mine[0] == _TP_KIND:
                    tp_amb = True
                elif mine[0] == _TRAIL_KIND:
                    trail_amb = True
        equity[i] = cash + pos * c
        exposed[i] = pos != 0.0
        # -- the strategy's decision at this close; it acts on the next bar (R1) --
        if i < warmup:
            continue  # history only: the strategy is not called
        if pos == 0.0:
            tracking = False
        elif has_trail:  # follow the extreme since the entry bar; replace the stop if it moved
            far = h if pos > 0 else lo
            moved = not tracking or (far > extreme if pos > 0 else far < extreme)
            if moved:
                extreme = far
                tracking = True
            if moved or not trail_on:
                trail_on = False  # the old stop is canceled
                trail = _round_price(extreme * (1.0 - sign * trail_pct), pstep, pscale)
                trail_amount = _round_amount(abs(pos), astep, ascale)
                trail_amb = False
                if (
                    trail_amount <= 0
                    or trail_amount < min_amount
                    or trail_amount * trail < min_notional
                ):
                    rejected += 1  # R10, at submission
                else:
                    trail_on = True
        if pos > 0:
            if exits[i]:
                pending, rejected = _close_order(
                    pos, c, astep, ascale, min_amount, min_notional, rejected
                )
                pending_amount = _round_amount(abs(pos), astep, ascale)
        elif pos < 0:
            if short_exits[i]:
                pending, rejected = _close_order(
                    pos, c, astep, ascale, min_amount, min_notional, rejected
                )
                pending_amount = _round_amount(abs(pos), astep, ascale)
        else:
            if ent_on and i - ent_bar >= valid:
                ent_on = False  # expired: canceled after its valid bars
            if ent_on or not (entries[i] or short_entries[i]):
                continue
            budget = cash * size
            if budget <= 0.0:
                continue
            if entry_type == MARKET_ENTRY:
                if budget < min_notional:
                    rejected += 1
                else:
                    pending = _LONG_ENTRY if entries[i] else _SHORT_ENTRY
                    pending_cost = budget
                continue
            ent_sign = 1.0 if entries[i] else -1.0
            away = ent_sign * offset if entry_type == STOP_ENTRY else -ent_sign * offset
            raw = c * (1.0 + away)
            ent_level = _round_price(raw, pstep, pscale)
            ent_amount = _round_amount(budget / (raw * (1.0 + p[_ENTRY_FEE])), astep, ascale)
            if ent_amount <= 0 or ent_amount < min_amount or ent_amount * ent_level < min_notional:
                rejected += 1  # R10, at submission
            else:
                ent_on = True
                ent_bar = i
    return n_fills, n_trades, fees_paid, rejected


@register_jitable
def _close_order(
    pos: float,
    reference: float,
    astep: float,
    ascale: float,
    min_amount: float,
    min_notional: float,
    rejected: int,
) -> tuple[int, int]:
    """`Strategy.close` and the admission checks (R10): the pending order and rejections."""
    amount = _round_amount(abs(pos), astep, ascale)
    if amount <= 0:
        return _NONE, rejected  # nothing to trade: no order at all
    if amount < min_amount or amount * reference < min_notional:
        return _NONE, rejected + 1
    return _CLOSE, rejected


@register_jitable
def _book(
    fills: np.ndarray,
    trades: np.ndarray,
    n_fills: int,
    n_trades: int,
    trade_open: bool,
    bar: int,
    side: float,
    price: float,
    amount: float,
    fee: float,
    kind: float,
    is_maker: float,
    ambiguous: bool,
    before: float,
    after: float,
) -> tuple[int, int, bool]:
    """Record a fill and fold it into the round trips as `round_trips` does."""
    row = fills[n_fills]
    row[0], row[1], row[2], row[3] = bar, side, price, amount
    row[4], row[5], row[6], row[7] = fee, kind, is_maker, 1.0 if ambiguous else 0.0
    signed = side * amount
    held = before + signed
    if abs(held) <= _EPS * max(abs(before), amount):
        held = 0.0
    closing = min(abs(signed), abs(before)) if before else 0.0
    opening = amount - closing
    t = trades[n_trades]
    if closing > 0.0:
        t[6] += closing * price
        t[7] += closing
        t[8] += fee * closing / amount
        if ambiguous:
            t[9] = 1.0
        if held == 0.0:
            t[1] = bar
            n_trades += 1
            trade_open = False
            t = trades[n_trades]
    if opening > _EPS * amount:
        if not trade_open:
            t[0], t[1], t[2], t[3] = bar, -1.0, 1.0 if signed > 0 else -1.0, 0.0
            t[4] = t[5] = t[6] = t[7] = t[8] = t[9] = 0.0
            trade_open = True
        t[4] += opening * price
        t[5] += opening
        t[8] += fee * opening / amount
        t[3] = max(t[3], abs(held))
    return n_fills + 1, n_trades, trade_open
