"""The compiled simulator on a linear perpetual: mark prices, funding and liquidation.

`simulate_perp` is `kernel.simulate`'s loop with the three rules of `quantkit.sim.perpetual`
added around the same phases (`fill_at_open`, `fill_inside_bar`, `decide`):

1. **Funding**, before the bar's fills: the rates due in ``(previous bar's open, this bar's
   open]`` (summed per bar by the caller, `quantkit.vector.perp_run`, and handed over as the
   sparse schedule of the bars that have some) are paid on the position
   held before the bar, valued at this bar's mark open. A position opened at this bar's open
   pays nothing for them.
2. **Liquidation**: a mark opening beyond the liquidation price liquidates before the bar's
   fills; after them, a position whose liquidation price lies inside the mark bar's range on
   the adverse side is closed there. Either way at the liquidation price, with the
   liquidation fee capped at the margin left (isolated: the position's isolated wallet plus
   its loss at that price). Working orders are canceled; trading goes on. An isolated
   reduction settles its realised P&L through the position's margin
   (`FuturesPortfolio.settle_isolated`).
3. **The close** is valued at the mark close.

The formulas are `quantkit.domain.perp_math`'s own functions, compiled here (``numba.njit`` of
the same source, never a copy): `funding_payment`, `liquidation_clearance` and
`liquidation_price_linear`, the latter solved per bracket as `PerpetualSpec.liquidation_price`
does.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np
from numba.extending import register_jitable

from quantkit.domain import perp_math
from quantkit.vector.kernel import decide, fill_at_open
from quantkit.vector.kernel_book import book, state_records
from quantkit.vector.kernel_intrabar import fill_inside_bar, working_inside
from quantkit.vector.layout import NO_ORDER

__all__ = [
    "LIQUIDATION_KIND",
    "PERP_STATE",
    "bracket_liquidation_price",
    "simulate_perp",
]

LIQUIDATION_KIND = 5.0
"""The ``kind`` of a liquidation fill in the fill table."""

# Slots of the perpetual state vector.
ENTRY, EXTRA, FUNDING, LIQUIDATIONS, LIQUIDATION_FEES, DEFICIT = 0, 1, 2, 3, 4, 5
PERP_STATE = ("entry", "extra", "funding", "liquidations", "liquidation_fees", "deficit")

# Phases run at every bar are inlined into the loop (as in `kernel`): a call per bar costs
# more than the phase (argument passing, array reference counts).
_per_bar = register_jitable(inline="always")

_funding_payment = numba.njit(cache=True, nogil=True)(perp_math.funding_payment)
_liquidation_price_linear = numba.njit(cache=True, nogil=True)(perp_math.liquidation_price_linear)
_liquidation_clearance = numba.njit(cache=True, nogil=True)(perp_math.liquidation_clearance)


@register_jitable
def bracket_liquidation_price(
    wallet: float,
    signed: float,
    entry: float,
    floors: np.ndarray,
    caps: np.ndarray,
    rates: np.ndarray,
    cums: np.ndarray,
) -> float:
    """`PerpetualSpec.liquidation_price` of a linear contract of size 1, one position.

    Solves the venue's formula with each bracket in turn and returns the first answer whose
    notional falls in the bracket used (else the first bracket's answer).
    """
    first = math.nan
    for k in range(len(rates)):
        price = _liquidation_price_linear(wallet, 0.0, 0.0, cums[k], signed, entry, rates[k])
        if math.isnan(first):
            first = price
        notional = abs(signed) * price
        if 0 < price < math.inf and floors[k] <= notional < caps[k]:
            return float(price)
    return float(first)


@_per_bar
def _wallet(s: Any, q: np.ndarray, leverage: float, isolated: bool) -> float:
    """The position's isolated wallet, or the cross wallet balance."""
    if isolated:
        return float(abs(s.pos) * q[ENTRY] / leverage + q[EXTRA])
    return float(s.cash + s.pos * q[ENTRY])


@register_jitable
def _liquidate(
    s: Any, q: np.ndarray, bar: int, price: float, pp: np.ndarray, fills: np.ndarray,
    trades: np.ndarray,
) -> None:  # fmt: skip
    """Close the whole position at ``price`` with the capped liquidation fee."""
    isolated = pp[1] != 0.0
    amount = abs(s.pos)
    margin_left = _wallet(s, q, pp[0], isolated) + s.pos * (price - q[ENTRY])
    total = pp[2] * amount * price
    fee = _liquidation_clearance(total, margin_left)
    s.sl_on = s.tp_on = s.trail_on = s.ent_on = False  # working orders are canceled
    s.pending = NO_ORDER
    book(s, fills, trades, bar, -1.0 if s.pos > 0 else 1.0, price, amount, fee,
         LIQUIDATION_KIND, 0.0, False)  # fmt: skip
    q[EXTRA] = 0.0
    q[LIQUIDATIONS] += 1.0
    q[LIQUIDATION_FEES] += fee
    if not isolated and s.cash < 0.0:  # a gap through the price: the insurance fund absorbs it
        q[DEFICIT] += -s.cash
        s.cash = 0.0


@_per_bar
def _settle(s: Any, q: np.ndarray, before: float, realized: float, trades: np.ndarray) -> None:
    """After the bar's fills: the entry price, and the isolated margin settled."""
    after = s.pos
    if after == 0.0 or (before != 0.0 and (after > 0) != (before > 0)):
        q[EXTRA] = 0.0
    elif before != 0.0 and abs(after) < abs(before):
        q[EXTRA] = (q[EXTRA] + realized) * abs(after) / abs(before)
    if after != 0.0 and s.trade_open:
        q[ENTRY] = trades[s.n_trades, 4] / trades[s.n_trades, 5]


@_per_bar
def _liquidation_price(s: Any, q: np.ndarray, pp: np.ndarray, brackets: np.ndarray) -> float:
    """The position's liquidation price (the venue's formula, across the brackets)."""
    wallet = _wallet(s, q, pp[0], pp[1] != 0.0)
    return bracket_liquidation_price(
        wallet, s.pos, q[ENTRY], brackets[0], brackets[1], brackets[2], brackets[3]
    )


@_per_bar
def _pay_funding(
    s: Any, q: np.ndarray, bar: int, k: int, mark_open: float, rate: float, pp: np.ndarray,
    funding: np.ndarray, paying: np.ndarray,
) -> None:  # fmt: skip
    """Funding due at this open on the position held, valued at the mark open.

    The ``k``-th funding bar: a payment is noted in ``paying[k]``; a flat account pays none.
    """
    if s.pos == 0.0:
        return
    paid = _funding_payment(s.pos, mark_open, rate, 1.0, False)
    if paid != 0.0:
        paying[k] = bar
    s.cash = s.cash - paid
    if pp[1] != 0.0:
        q[EXTRA] -= paid
    q[FUNDING] += paid
    funding[bar] = paid


@_per_bar
def _beyond(pos: float, price: float, low: float, high: float) -> bool:
    """Whether the mark range ``[low, high]`` reached the liquidation price on the adverse side."""
    crossed = low <= price if pos > 0 else high >= price
    return bool(crossed and 0 < price < math.inf)


@register_jitable
def _check(
    s: Any, q: np.ndarray, bar: int, lp: float, low: float, high: float, pp: np.ndarray,
    brackets: np.ndarray, fills: np.ndarray, trades: np.ndarray,
) -> float:  # fmt: skip
    """Liquidate if the mark reached ``lp`` (solved first if unknown); return what is known.

    Not inlined: the loop calls it only when ``lp`` is unknown or reached (`_quiet`), so
    the bars between pay one comparison, not this function's array arguments.
    """
    if math.isnan(lp):
        lp = _liquidation_price(s, q, pp, brackets)
    if not _beyond(s.pos, lp, low, high):
        return lp
    _liquidate(s, q, bar, lp, pp, fills, trades)
    return math.nan


@_per_bar
def _quiet(pos: float, lp: float, low: float, high: float) -> bool:
    """Whether a known liquidation price ``lp`` lies outside the mark range ``[low, high]``.

    A comparison with ``nan`` is False, so an unknown price is never quiet.
    """
    return bool(low > lp if pos > 0 else high < lp)


@_per_bar
def _realized_so_far(s: Any, q: np.ndarray, trades: np.ndarray) -> float:
    """The open trade's P&L realised by its reductions so far (before fees)."""
    if not s.trade_open:
        return 0.0
    n = s.n_trades
    return float(trades[n, 2] * (trades[n, 6] - q[ENTRY] * trades[n, 7]))


@_per_bar
def _next_due(pay_bars: np.ndarray, k: int) -> int:
    """The bar of the ``k``-th funding payment, or -1 after the last."""
    return int(pay_bars[k]) if k < len(pay_bars) else -1


@register_jitable
def run_perp_bars(
    s: Any, up: Any, down: Any, p: Any, q: np.ndarray, pp: np.ndarray, brackets: np.ndarray,
    bars: Any, marks: Any, pay_bars: np.ndarray, pay_rates: np.ndarray, signals: Any,
    fills: np.ndarray, trades: np.ndarray, equity: np.ndarray, exposed: np.ndarray,
    funding: np.ndarray, paying: np.ndarray,
) -> None:  # fmt: skip
    """The loop: funding, the fills at the open and inside the bar, margin, close, decision.

    The liquidation price is kept in a local (``lp``) and solved again only after a fill, a
    funding payment or a liquidation: nothing else changes it. A bar of a held position with
    no order working costs two comparisons against it (`_quiet`) and no call: the fills, their
    settlement and the realised P&L they need run only when an order works (``working_inside``
    needs one too). Funding is read from the sparse schedule: the loop keeps the next funding
    bar's index (``due``), so the other bars pay one comparison with a local, not a load from
    a per-bar rates array.
    """
    lp = math.nan
    k, due = 0, _next_due(pay_bars, 0)
    for i in range(len(bars[3])):
        o, h, lo, c = bars[0][i], bars[1][i], bars[2][i], bars[3][i]
        if i == due:  # a funding bar (flat: nothing paid, and ``lp`` is unknown anyway)
            _pay_funding(s, q, i, k, marks[0][i], pay_rates[k], pp, funding, paying)
            lp = math.nan
            k += 1
            due = _next_due(pay_bars, k)
        # a mark opening beyond the liquidation price liquidates before the fills
        if s.pos != 0.0 and not _quiet(s.pos, lp, marks[0][i], marks[0][i]):
            lp = _check(s, q, i, lp, marks[0][i], marks[0][i], pp, brackets, fills, trades)
        if s.pending != NO_ORDER or s.ent_on or s.sl_on or s.tp_on or s.trail_on:
            before, n_fills = s.pos, s.n_fills
            realized = _realized_so_far(s, q, trades) if before != 0.0 else 0.0
            fill_at_open(s, p, i, o, h, lo, fills, trades)
            if working_inside(s, lo, h):
                fill_inside_bar(s, p, i, o, h, lo, c, fills, trades, up, down)
            if s.n_fills != n_fills:  # nothing else changes the position or its margin
                lp = math.nan
                if before != 0.0 and s.trade_open:
                    realized = _realized_so_far(s, q, trades) - realized
                _settle(s, q, before, realized, trades)
        if s.pos != 0.0 and not _quiet(s.pos, lp, marks[2][i], marks[1][i]):
            lp = _check(s, q, i, lp, marks[2][i], marks[1][i], pp, brackets, fills, trades)
        equity[i] = s.cash + s.pos * marks[3][i]
        exposed[i] = s.pos != 0.0
        if s.pos != 0.0:
            s.exposed_bars += 1
        if i >= p.warmup:
            decide(s, p, i, h, lo, c, signals[0][i], signals[1][i], signals[2][i], signals[3][i])


@numba.njit(cache=True, nogil=True)
def simulate_perp(
    bars: Any, marks: Any, pay_bars: np.ndarray, pay_rates: np.ndarray, signals: Any,
    params: np.ndarray, perp: np.ndarray, brackets: np.ndarray, fills: np.ndarray,
    trades: np.ndarray, equity: np.ndarray, exposed: np.ndarray, funding: np.ndarray,
    paying: np.ndarray, q: np.ndarray,
) -> tuple[int, int, float, int]:  # fmt: skip
    """Run one perpetual's signals through the simulator's rules with marks and funding.

    Args:
        bars: Trade prices: a tuple of the open, high, low and close arrays.
        marks: Mark prices: the same tuple for the mark.
        pay_bars: The bars (int64, increasing, each once) whose open has funding due.
        pay_rates: For each of ``pay_bars``, the sum of the rates due (non-zero).
        signals: Tuple of boolean arrays: entries, exits, short entries, short exits.
        params: One record of `layout.PARAM_DTYPE`.
        perp: ``[leverage, isolated (0/1), liquidation fee rate]``.
        brackets: ``(4, n)``: floors, caps, maintenance rates and amounts of the brackets.
        fills: Output fill table (see `kernel.simulate`).
        trades: Output trade table.
        equity: Output, equity at each close, valued at the mark close.
        exposed: Output, whether a position is open at each close.
        funding: Output, funding paid at each bar (negative: received); give zeros.
        paying: Output, one per ``pay_bars``: the bar if it booked a payment; give -1s.
        q: Output, the perpetual state (slots named by `PERP_STATE`).

    Returns:
        ``(fill count, closed trade count, fees paid, rejected orders)``.
    """
    p = params[0]
    states = state_records(3)
    s, up, down = states[0], states[1], states[2]
    s.cash = p.cash
    s.liquidation_bar = -1
    run_perp_bars(s, up, down, p, q, perp, brackets, bars, marks, pay_bars, pay_rates,
                  signals, fills, trades, equity, exposed, funding, paying)  # fmt: skip
    end = states[0]
    return end.n_fills, end.n_trades, end.fees_paid, end.rejected
