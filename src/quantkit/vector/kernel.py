"""The compiled simulator of the fast path: quantkit.sim's rules for signal strategies.

This is the only module that imports numba. Every function takes and returns plain numbers
and numpy arrays. The rules are those of `quantkit.sim` (see ``docs/fill-rules.md``) for the
subset the fast path supports: market entries sized by cost (R3) and market exits, filled at
the next bar's open with fixed slippage clamped into the bar (R1, R2), fees (R8), precision and
minimums (R10), cash and margin checks (R11), brackets from the fill price (R13), the open
first (R14) and both intrabar paths with the configured assumption (R15). The arithmetic is
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
    "PARAMS",
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
) = range(len(PARAMS))

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
_ENTRY_KIND, _EXIT_KIND, _SL_KIND, _TP_KIND = 0.0, 1.0, 2.0, 3.0


@register_jitable
def _round_amount(amount: float, step: float, scale: float) -> float:
    """`Market.round_amount`: down to a multiple of the step (exact for decimal steps)."""
    if step <= 0.0:
        return amount
    units = math.floor(amount / step + 1e-9)
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
def _exit_level(kind: float, start: float, end: float, level: float, sign: float) -> bool:
    """`Working.level_between` for a bracket exit of a position of ``sign``.

    The stop-loss (a stop order against the position) is reached by a move against it, the
    take-profit (a limit order) by a move in its favour; ``start`` is excluded.
    """
    if start == end:
        return False
    rising = end > start
    wanted = sign < 0 if kind == _SL_KIND else sign > 0  # the exit order's side is -sign
    if rising != wanted:
        return False
    if rising:
        return start < level <= end
    return end <= level < start


@register_jitable
def _path(
    points: np.ndarray,
    sl: float,
    tp: float,
    sl_on: bool,
    tp_on: bool,
    sign: float,
    low: float,
    high: float,
    slip: float,
) -> tuple[float, float, float]:
    """Move through ``points``; return (kind, price, maker) of the first exit reached.

    The kind is -1 when no exit is reached.
    """
    for k in range(len(points) - 1):
        start, end = points[k], points[k + 1]
        best = -1.0
        best_level = 0.0
        if sl_on and _exit_level(_SL_KIND, start, end, sl, sign):
            best, best_level = _SL_KIND, sl
        if (
            tp_on
            and _exit_level(_TP_KIND, start, end, tp, sign)
            and (best < 0 or abs(tp - start) < abs(best_level - start))
        ):
            best, best_level = _TP_KIND, tp
        if best == _SL_KIND:
            return best, _slipped(best_level, -sign, slip, low, high), 0.0
        if best == _TP_KIND:
            return best, best_level, 1.0
    return -1.0, 0.0, 0.0


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
        fills: Output, ``(2 * bars + 2, len(FILL_COLUMNS))``.
        trades: Output, ``(bars + 1, len(TRADE_COLUMNS))``; the last row may be an open trade.
        equity: Output, equity at each close.
        exposed: Output, whether a position is open at each close.

    Returns:
        ``(fill count, closed trade count, fees paid, rejected orders)``; when a trade is
        still open, its row follows the closed ones.
    """
    cash = params[_CASH]
    size = params[_SIZE]
    sl_pct, tp_pct = params[_SL], params[_TP]
    taker, maker, per_order = params[_TAKER], params[_MAKER], params[_PER_ORDER]
    slip = params[_SLIP]
    astep, ascale = params[_ASTEP], params[_ASCALE]
    pstep, pscale = params[_PSTEP], params[_PSCALE]
    min_amount, min_notional = params[_MIN_AMOUNT], params[_MIN_NOTIONAL]
    allow_short = params[_ALLOW_SHORT] != 0.0
    leverage = params[_LEVERAGE]
    intrabar = params[_INTRABAR]
    warmup = params[_WARMUP]
    has_sl, has_tp = not math.isnan(sl_pct), not math.isnan(tp_pct)

    pos = 0.0
    fees_paid = 0.0
    n_fills = 0
    n_trades = 0
    rejected = 0
    pending = _NONE
    pending_cost = 0.0
    pending_amount = 0.0
    sl = tp = 0.0
    sl_on = tp_on = False
    sl_amb = tp_amb = False
    child_amount = 0.0
    sign = 0.0  # sign of the position the brackets protect
    trade_open = False
    up = np.empty(4)
    down = np.empty(4)

    for i in range(len(close)):
        o, h, lo, c = open_[i], high[i], low[i], close[i]
        # -- fills at the open, in the working orders' order: bracket exits, then the order
        #    the strategy placed on the previous bar (R1, R2, R14) --
        for step in range(4):
            kind = -1.0
            price = 0.0
            is_maker = 0.0
            amount = 0.0
            order_sign = 0.0
            if step == 0 and sl_on and (o <= sl if sign > 0 else o >= sl):
                kind, price = _SL_KIND, _slipped(o, -sign, slip, lo, h)
            elif step == 1 and tp_on and (o >= tp if sign > 0 else o <= tp):
                kind, price = _TP_KIND, o
            elif step == 2 and pending == _CLOSE:
                pending = _NONE  # (a flat position has already canceled it)
                kind, price = _EXIT_KIND, _slipped(o, -1.0 if pos > 0 else 1.0, slip, lo, h)
                amount = min(pending_amount, abs(pos))
            elif step == 3 and pending in (_LONG_ENTRY, _SHORT_ENTRY):
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
            else:
                continue
            if kind in (_SL_KIND, _TP_KIND):
                order_sign = -sign
                amount = min(child_amount, abs(pos))
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
            amb = (kind == _SL_KIND and sl_amb) or (kind == _TP_KIND and tp_amb)
            n_fills, n_trades, trade_open = _book(
                fills,
                trades,
                n_fills,
                n_trades,
                trade_open,
                i,
                order_sign,
                price,
                amount,
                fee,
                kind,
                is_maker,
                amb,
                before,
                pos,
            )
            if kind == _ENTRY_KIND:
                # R13: the bracket exits go live at once, measured from the fill price
                sign = order_sign
                average = (price * amount) / amount
                sl = _round_price(average * (1.0 - sign * sl_pct), pstep, pscale)
                tp = _round_price(average * (1.0 + sign * tp_pct), pstep, pscale)
                sl_on, tp_on = has_sl, has_tp
                sl_amb = tp_amb = False
                child_amount = amount
                for child in range(2):
                    ckind = -1.0
                    cprice = 0.0
                    if child == 0 and sl_on and (price <= sl if sign > 0 else price >= sl):
                        ckind, cprice = _SL_KIND, _slipped(price, -sign, slip, lo, h)
                    elif child == 1 and tp_on and (price >= tp if sign > 0 else price <= tp):
                        ckind, cprice = _TP_KIND, price
                    if ckind < 0:
                        continue
                    camount = min(child_amount, abs(pos))
                    cfee = taker * (cprice * camount) + per_order
                    csigned = -sign * camount
                    cash = cash - csigned * cprice - cfee
                    fees_paid += cfee
                    before = pos
                    pos = _moved(pos, csigned)
                    n_fills, n_trades, trade_open = _book(
                        fills,
                        trades,
                        n_fills,
                        n_trades,
                        trade_open,
                        i,
                        -sign,
                        cprice,
                        camount,
                        cfee,
                        ckind,
                        0.0,
                        False,
                        before,
                        pos,
                    )
                    break
            if pos == 0.0:
                sl_on = tp_on = False
                pending = _NONE
        # -- R15: both intrabar paths when an exit level lies inside the bar --
        inside = (sl_on and lo <= sl <= h) or (tp_on and lo <= tp <= h)
        if inside:
            up[0], up[1], up[2], up[3] = o, h, lo, c
            down[0], down[1], down[2], down[3] = o, lo, h, c
            k_up, p_up, m_up = _path(up, sl, tp, sl_on, tp_on, sign, lo, h, slip)
            k_dn, p_dn, m_dn = _path(down, sl, tp, sl_on, tp_on, sign, lo, h, slip)
            amount = min(child_amount, abs(pos))
            chosen_up = True
            differ = k_up != k_dn or p_up != p_dn
            if differ:
                if intrabar == 2.0:
                    chosen_up = h - o <= o - lo
                else:
                    eq_up = _equity_after(
                        k_up, p_up, m_up, amount, sign, cash, pos, c, taker, maker, per_order
                    )
                    eq_dn = _equity_after(
                        k_dn, p_dn, m_dn, amount, sign, cash, pos, c, taker, maker, per_order
                    )
                    worse_is_up = eq_up <= eq_dn
                    chosen_up = worse_is_up == (intrabar == 0.0)
                for k in (k_up, k_dn):
                    if k == _SL_KIND:
                        sl_amb = True
                    elif k == _TP_KIND:
                        tp_amb = True
            kind = k_up if chosen_up else k_dn
            price = p_up if chosen_up else p_dn
            is_maker = m_up if chosen_up else m_dn
            if kind >= 0:
                rate = maker if is_maker else taker
                fee = rate * (price * amount) + per_order
                signed = -sign * amount
                cash = cash - signed * price - fee
                fees_paid += fee
                before = pos
                pos = _moved(pos, signed)
                amb = (kind == _SL_KIND and sl_amb) or (kind == _TP_KIND and tp_amb)
                n_fills, n_trades, trade_open = _book(
                    fills,
                    trades,
                    n_fills,
                    n_trades,
                    trade_open,
                    i,
                    -sign,
                    price,
                    amount,
                    fee,
                    kind,
                    is_maker,
                    amb,
                    before,
                    pos,
                )
                sl_on = tp_on = False
                pending = _NONE
        equity[i] = cash + pos * c
        exposed[i] = pos != 0.0
        # -- the strategy's decision at this close; it acts on the next bar (R1) --
        if i < warmup:
            continue  # history only: the strategy is not called
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
        elif entries[i] or short_entries[i]:
            budget = cash * size
            if budget > 0.0:
                if budget < min_notional:
                    rejected += 1
                else:
                    pending = _LONG_ENTRY if entries[i] else _SHORT_ENTRY
                    pending_cost = budget
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
def _equity_after(
    kind: float,
    price: float,
    is_maker: float,
    amount: float,
    sign: float,
    cash: float,
    pos: float,
    close: float,
    taker: float,
    maker: float,
    per_order: float,
) -> float:
    """Equity at the close after one path's exit fill (or none)."""
    if kind >= 0:
        rate = maker if is_maker else taker
        fee = rate * (price * amount) + per_order
        signed = -sign * amount
        cash = cash - signed * price - fee
        pos = _moved(pos, signed)
    value = cash
    if pos:
        value += pos * close
    return value


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
