"""The compiled simulator of the fast path: quantkit.sim's rules for signal strategies.

This package's kernels are the only modules that import numba. `simulate` runs one symbol's
signals bar by bar; each bar is four phases, each a small function over the run's state record
(`layout.STATE_DTYPE`) and settings record (`layout.PARAM_DTYPE`):

1. `fill_at_open`: the working orders the open reaches (R1, R2, R4, R5, R14);
2. `fill_inside_bar`: the levels inside the bar's range, on the assumed intrabar path (R15);
3. the close: equity and exposure;
4. `decide`: the strategy's orders at the close, acting from the next bar (exits, entries,
   the trailing stop).

The rules are those of `quantkit.sim` (see ``docs/fill-rules.md``) for the subset the fast path
supports, written in the simulator's arithmetic order so results agree to the last bit or so.
Helpers are ``register_jitable`` or `kernel_inline.inlined`: compiled into `simulate`, plain
Python when called from Python, so ``simulate.py_func`` runs the whole kernel uncompiled (the
tests use it to check the compiled code against the same source). The loop, `run_bars`, is
`kernel_inline.shared`: cached on its own, so the sweep's kernels load it instead of compiling
it again.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np
from numba.extending import register_jitable

from quantkit.vector.kernel_book import book, state_records
from quantkit.vector.kernel_inline import inlined, shared
from quantkit.vector.kernel_intrabar import fill_inside_bar, working_inside
from quantkit.vector.kernel_rules import (
    at_once,
    bracket_levels,
    gapped,
    refused,
    round_amount,
    round_price,
    slipped,
)
from quantkit.vector.kernel_rules import flat as _flat
from quantkit.vector.kernel_rules import round_amount as _round_amount
from quantkit.vector.layout import (
    CLOSE,
    ENTRY_KIND,
    EXIT_KIND,
    FILL_COLUMNS,
    LIMIT_ENTRY,
    LONG_ENTRY,
    MARKET_ENTRY,
    NO_ORDER,
    PARAMS,
    SHORT_ENTRY,
    SL_KIND,
    STOP_ENTRY,
    TP_KIND,
    TRADE_COLUMNS,
    TRAIL_KIND,
)

__all__ = [
    "FILL_COLUMNS",
    "LIMIT_ENTRY",
    "MARKET_ENTRY",
    "PARAMS",
    "STOP_ENTRY",
    "TRADE_COLUMNS",
    "decide",
    "fill_at_open",
    "run_bars",
    "simulate",
]

_ = (_flat, _round_amount)  # re-exported for the rounding tests

# The phases that run at every bar are inlined into the loop (numba IR inlining): a call per
# bar would cost more than the phase (argument passing, array reference counts). Inlined
# before typing (`kernel_inline.inlined`), so a cold cache does not compile each one on its own.
_per_bar = inlined


@register_jitable
def _flagged(s: Any, kind: float) -> bool:
    """Whether the exit order of ``kind`` was flagged ambiguous on an earlier bar."""
    return (
        (kind == SL_KIND and s.sl_amb)
        or (kind == TP_KIND and s.tp_amb)
        or (kind == TRAIL_KIND and s.trail_amb)
    )


@register_jitable
def _open_bracket(
    s: Any,
    p: Any,
    bar: int,
    side: float,
    price: float,
    amount: float,
    low: float,
    high: float,
    fills: np.ndarray,
    trades: np.ndarray,
) -> None:
    """R13: an entry's bracket exits go live at once, measured from its fill price."""
    s.sign = side
    s.sl, s.tp = bracket_levels(price, amount, side, p)
    s.sl_on, s.tp_on = not math.isnan(p.sl_pct), not math.isnan(p.tp_pct)
    s.sl_amb = s.tp_amb = False
    s.child_amount = amount
    kind, exit_price = at_once(s, p, price, low, high)
    if kind >= 0:  # already crossed at the fill price: fills there
        exit_amount = min(s.child_amount, abs(s.pos))
        fee = p.taker * (exit_price * exit_amount) + p.per_order
        book(s, fills, trades, bar, -s.sign, exit_price, exit_amount, fee, kind, 0.0, False)
        s.sl_on = s.tp_on = False


@register_jitable
def _taker_fill(
    s: Any,
    p: Any,
    bar: int,
    kind: float,
    side: float,
    price: float,
    amount: float,
    low: float,
    high: float,
    fills: np.ndarray,
    trades: np.ndarray,
) -> None:
    """A fill at the open (always a taker fill), unless the account refuses it (R11)."""
    fee = p.taker * (price * amount) + p.per_order
    if refused(s.pos, s.cash, side * amount, price, fee, p):
        s.rejected += 1
        return
    book(s, fills, trades, bar, side, price, amount, fee, kind, 0.0, _flagged(s, kind))
    if kind == ENTRY_KIND:
        _open_bracket(s, p, bar, side, price, amount, low, high, fills, trades)
    elif kind == TRAIL_KIND:
        s.trail_on = False
    elif kind != EXIT_KIND:  # a bracket exit, filled whole: one cancels the other
        s.sl_on = s.tp_on = False
    if _flat(s.pos, p.dust):  # the Book cancels reduce-only orders (brackets, the close)
        s.sl_on = s.tp_on = s.trail_on = False
        s.pending = NO_ORDER if s.pending == CLOSE else s.pending


@register_jitable
def _exit_amount(s: Any, kind: float) -> float:
    return float(min(s.trail_amount if kind == TRAIL_KIND else s.child_amount, abs(s.pos)))


@_per_bar
def _entry_at_open(
    s: Any,
    p: Any,
    bar: int,
    open_: float,
    high: float,
    low: float,
    fills: np.ndarray,
    trades: np.ndarray,
) -> None:
    """The entry placed at an earlier close: a market order, or a working limit / stop."""
    if s.pending in (LONG_ENTRY, SHORT_ENTRY):
        side = 1.0 if s.pending == LONG_ENTRY else -1.0
        s.pending = NO_ORDER
        price = slipped(open_, side, p.slippage, low, high)
        if side > 0:  # R3: the budget pays for the amount and its fee
            raw = (s.pending_cost - p.per_order) / (price * (1.0 + p.taker))
        else:
            raw = s.pending_cost / price
        amount = round_amount(raw, p.amount_step, p.amount_scale)
        if amount <= 0 or amount < p.min_amount:
            s.rejected += 1
            return
    elif s.ent_on:
        side, amount = s.ent_sign, s.ent_amount
        stop = p.entry_type == STOP_ENTRY
        if not gapped(side, open_, s.ent_level, stop):
            return
        # R4: a limit gapped through fills at the open; R5: a stop triggers there, slipped
        price = slipped(open_, side, p.slippage, low, high) if stop else open_
        s.ent_on = False
    else:
        return
    _taker_fill(s, p, bar, ENTRY_KIND, side, price, amount, low, high, fills, trades)


@_per_bar
def fill_at_open(
    s: Any,
    p: Any,
    bar: int,
    open_: float,
    high: float,
    low: float,
    fills: np.ndarray,
    trades: np.ndarray,
) -> None:
    """Fill what the open reaches, in the working orders' order.

    First the bracket exits and the trailing stop, then the order the strategy placed at an
    earlier close (R1, R2, R4, R5, R14).
    """
    if s.sl_on and gapped(-s.sign, open_, s.sl, True):
        price = slipped(open_, -s.sign, p.slippage, low, high)
        _taker_fill(s, p, bar, SL_KIND, -s.sign, price, _exit_amount(s, SL_KIND), low, high,
                    fills, trades)  # fmt: skip
    if s.tp_on and gapped(-s.sign, open_, s.tp, False):
        _taker_fill(s, p, bar, TP_KIND, -s.sign, open_, _exit_amount(s, TP_KIND), low, high,
                    fills, trades)  # fmt: skip
    if s.trail_on and gapped(-s.sign, open_, s.trail, True):
        price = slipped(open_, -s.sign, p.slippage, low, high)
        _taker_fill(s, p, bar, TRAIL_KIND, -s.sign, price, _exit_amount(s, TRAIL_KIND), low,
                    high, fills, trades)  # fmt: skip
    if s.pending == CLOSE:  # (a flat position has already canceled it)
        s.pending = NO_ORDER
        side = -1.0 if s.pos > 0 else 1.0
        price = slipped(open_, side, p.slippage, low, high)
        amount = min(s.pending_amount, abs(s.pos))
        _taker_fill(s, p, bar, EXIT_KIND, side, price, amount, low, high, fills, trades)
    _entry_at_open(s, p, bar, open_, high, low, fills, trades)


@_per_bar
def _trail(s: Any, p: Any, high: float, low: float) -> None:
    """Follow the extreme since the entry bar; replace the trailing stop when it moved."""
    far = high if s.pos > 0 else low
    further = not s.tracking or (far > s.extreme if s.pos > 0 else far < s.extreme)
    if further:
        s.extreme = far
        s.tracking = True
    if not (further or not s.trail_on):
        return
    s.trail_on = False  # the old stop is canceled
    s.trail = round_price(s.extreme * (1.0 - s.sign * p.trail_pct), p.price_step, p.price_scale)
    s.trail_amount = round_amount(abs(s.pos), p.amount_step, p.amount_scale)
    s.trail_amb = False
    amount = s.trail_amount
    if amount <= 0 or amount < p.min_amount or amount * s.trail < p.min_notional:
        s.rejected += 1  # R10, at submission
    else:
        s.trail_on = True


@_per_bar
def _close(s: Any, p: Any, reference: float) -> None:
    """`Strategy.close` and the admission checks (R10)."""
    amount = round_amount(abs(s.pos), p.amount_step, p.amount_scale)
    s.pending_amount = amount
    s.pending = NO_ORDER
    if amount <= 0:
        return  # nothing to trade: no order at all
    if amount < p.min_amount or amount * reference < p.min_notional:
        s.rejected += 1
        return
    s.pending = CLOSE


@_per_bar
def _enter(s: Any, p: Any, bar: int, close: float, long: bool, short: bool) -> None:
    """A flat position and an entry signal: a market order, or a limit / stop entry."""
    if s.ent_on and bar - s.ent_bar >= p.entry_valid:
        s.ent_on = False  # expired: canceled after its valid bars
    if s.ent_on or not (long or short):
        return
    budget = s.cash * p.entry_size
    if budget <= 0.0:
        return
    if p.entry_type == MARKET_ENTRY:
        if budget < p.min_notional:
            s.rejected += 1
        else:
            s.pending = LONG_ENTRY if long else SHORT_ENTRY
            s.pending_cost = budget
        return
    sign = 1.0 if long else -1.0
    away = sign * p.entry_offset if p.entry_type == STOP_ENTRY else -sign * p.entry_offset
    raw = close * (1.0 + away)
    level = round_price(raw, p.price_step, p.price_scale)
    amount = round_amount(budget / (raw * (1.0 + p.entry_fee)), p.amount_step, p.amount_scale)
    s.ent_sign, s.ent_level, s.ent_amount = sign, level, amount
    if amount <= 0 or amount < p.min_amount or amount * level < p.min_notional:
        s.rejected += 1  # R10, at submission
    else:
        s.ent_on = True
        s.ent_bar = bar


@_per_bar
def decide(
    s: Any,
    p: Any,
    bar: int,
    high: float,
    low: float,
    close: float,
    long: bool,
    exit_long: bool,
    short: bool,
    exit_short: bool,
) -> None:
    """The strategy at this close (`SignalStrategy.on_bar`); its orders act from the next bar."""
    flat = _flat(s.pos, p.dust)  # `Position.is_flat`: dust counts as flat
    if flat:
        s.tracking = False
    elif not math.isnan(p.trail_pct):
        _trail(s, p, high, low)
    if not flat and s.pos > 0:
        if exit_long:
            _close(s, p, close)
    elif not flat and s.pos < 0:
        if exit_short:
            _close(s, p, close)
    else:
        _enter(s, p, bar, close, long, short)


@shared
def run_bars(
    s: Any,
    up: Any,
    down: Any,
    p: Any,
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    entries: np.ndarray,
    exits: np.ndarray,
    short_entries: np.ndarray,
    short_exits: np.ndarray,
    fills: np.ndarray,
    trades: np.ndarray,
    equity: np.ndarray,
    exposed: np.ndarray,
) -> None:
    """The loop: at each bar, the fills at the open, inside the bar, the close, the decision.

    ``s`` is the run's state; ``up`` and ``down`` are scratch states for the intrabar paths.
    Also notes in ``s.liquidation_bar`` the first bar where the event engine would liquidate
    a margin account (`margin.refuse_liquidation`'s test).
    """
    margin = p.allow_short or p.leverage != 1.0
    for i in range(len(close)):
        o, h, lo, c = open_[i], high[i], low[i], close[i]
        if s.pending != NO_ORDER or s.ent_on or s.sl_on or s.tp_on or s.trail_on:
            fill_at_open(s, p, i, o, h, lo, fills, trades)
        if working_inside(s, lo, h):
            fill_inside_bar(s, p, i, o, h, lo, c, fills, trades, up, down)
        equity[i] = s.cash + s.pos * c
        exposed[i] = s.pos != 0.0
        if s.pos != 0.0:
            s.exposed_bars += 1
            if margin and s.liquidation_bar < 0:
                worst = equity[i] + s.pos * ((lo if s.pos > 0 else h) - c)
                s.liquidation_bar = i if worst <= 0.0 else -1
        if i >= p.warmup:  # warm-up bars are history only: the strategy is not called
            decide(s, p, i, h, lo, c, entries[i], exits[i], short_entries[i], short_exits[i])


@numba.njit(cache=True, nogil=True)
def simulate(
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
        params: One record of `layout.PARAM_DTYPE` (an array of length 1).
        fills: Output, ``(3 * bars + 3, len(FILL_COLUMNS))``.
        trades: Output, ``(bars + 1, len(TRADE_COLUMNS))``; the last row may be an open trade.
        equity: Output, equity at each close.
        exposed: Output, whether a position is open at each close.

    Returns:
        ``(fill count, closed trade count, fees paid, rejected orders)``; when a trade is
        still open, its row follows the closed ones.
    """
    p = params[0]
    states = state_records(3)  # the run, and the two intrabar paths (kept alive to the end)
    s, up, down = states[0], states[1], states[2]
    s.cash = p.cash
    s.liquidation_bar = -1
    run_bars(s, up, down, p, open_, high, low, close, entries, exits, short_entries,
             short_exits, fills, trades, equity, exposed)  # fmt: skip
    end = states[0]
    return end.n_fills, end.n_trades, end.fees_paid, end.rejected
