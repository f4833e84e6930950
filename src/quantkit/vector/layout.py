"""The compiled simulator's named records: its parameters, its state and its output tables.

A run's settings are one record of `PARAM_DTYPE` (a sweep holds one per combination); the
simulator's state between bars is one record of `STATE_DTYPE`. numba compiles attribute access
on both (``p.cash``, ``s.pos = ...``) to plain loads and stores, and a record is mutable in
place, so each phase of the loop is a small function that takes the state. Field names avoid
numpy scalar attributes (``size``, ``dtype``...), which attribute access on a record returns
instead of the field in plain Python. No numba here (numpy only), so the Python side builds the
records without loading the compiler.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = [
    "FILL_COLUMNS",
    "LIMIT_ENTRY",
    "MARKET_ENTRY",
    "PARAMS",
    "PARAM_DTYPE",
    "STATE_DTYPE",
    "STOP_ENTRY",
    "TRADE_COLUMNS",
    "new_params",
    "new_states",
]

# Values of ``entry_type``.
MARKET_ENTRY, LIMIT_ENTRY, STOP_ENTRY = 0, 1, 2
# Values of ``intrabar``.
ADVERSE, FAVORABLE, NEAREST = 0, 1, 2
# What the strategy asked for at the last close (``pending``).
NO_ORDER, LONG_ENTRY, SHORT_ENTRY, CLOSE = 0, 1, 2, 3
# Fill kinds (the ``kind`` column of the fill table).
ENTRY_KIND, EXIT_KIND, SL_KIND, TP_KIND, TRAIL_KIND = 0.0, 1.0, 2.0, 3.0, 4.0

# One run's settings. ``nan`` means "none" for the three bracket distances.
PARAM_DTYPE = np.dtype(
    [
        ("cash", np.float64),  # starting cash
        ("entry_size", np.float64),  # fraction of cash an entry spends, fee included
        ("sl_pct", np.float64),  # stop-loss distance from the entry's fill price
        ("tp_pct", np.float64),  # take-profit distance
        ("trail_pct", np.float64),  # trailing-stop distance from the extreme since entry
        ("taker", np.float64),  # fee rates of the fee model, and its fixed part per order
        ("maker", np.float64),
        ("per_order", np.float64),
        ("slippage", np.float64),  # fixed slippage as a fraction
        ("amount_step", np.float64),  # market precision: step and 10 ** decimals of the step
        ("amount_scale", np.float64),
        ("price_step", np.float64),
        ("price_scale", np.float64),
        ("min_amount", np.float64),
        ("min_notional", np.float64),
        ("dust", np.float64),  # `Market.dust_below`: a smaller holding counts as flat
        ("allow_short", np.bool_),
        ("leverage", np.float64),
        ("intrabar", np.int64),  # ADVERSE, FAVORABLE, NEAREST
        ("warmup", np.int64),  # leading bars that are history only
        ("entry_type", np.int64),  # MARKET_ENTRY, LIMIT_ENTRY, STOP_ENTRY
        ("entry_offset", np.float64),  # limit / stop entry distance from the signal's close
        ("entry_valid", np.int64),  # bars a limit / stop entry works
        ("entry_fee", np.float64),  # the market's taker rate, to size limit / stop entries
        # a perpetual's notional from which the brackets allow less than `leverage` (0: none)
        ("notional_cap", np.float64),
    ],
    align=True,
)
PARAMS = tuple(PARAM_DTYPE.names or ())

# The simulator between two bars.
STATE_DTYPE = np.dtype(
    [
        ("cash", np.float64),
        ("pos", np.float64),  # signed position
        ("fees_paid", np.float64),
        ("n_fills", np.int64),
        ("n_trades", np.int64),  # closed round trips
        ("trade_open", np.bool_),
        ("rejected", np.int64),  # orders the venue or the account refused
        ("ambiguous_fills", np.int64),
        ("ambiguous_trades", np.int64),
        ("exposed_bars", np.int64),  # closes with a position
        ("liquidation_bar", np.int64),  # first bar a margin account would be liquidated, or -1
        # the order the strategy placed at the last close: NO_ORDER, LONG_ENTRY, ...
        ("pending", np.int64),
        ("pending_cost", np.float64),  # a market entry's budget
        ("pending_amount", np.float64),  # a close's amount
        # a working limit or stop entry: side, rounded level, amount, the bar it was placed
        ("ent_on", np.bool_),
        ("ent_sign", np.float64),
        ("ent_level", np.float64),
        ("ent_amount", np.float64),
        ("ent_bar", np.int64),
        # the bracket of the open position: the side it protects, levels, amount, flags
        ("sign", np.float64),
        ("child_amount", np.float64),
        ("sl", np.float64),
        ("tp", np.float64),
        ("sl_on", np.bool_),
        ("tp_on", np.bool_),
        ("sl_amb", np.bool_),
        ("tp_amb", np.bool_),
        # the trailing stop: level, amount, the extreme it trails and whether that is current
        ("trail_on", np.bool_),
        ("trail_amb", np.bool_),
        ("trail", np.float64),
        ("trail_amount", np.float64),
        ("extreme", np.float64),
        ("tracking", np.bool_),
        # a copy of the state moved along one intrabar path (R15): the path's points and the
        # fills on it (kind, side, price, amount, fee, maker; at most four)
        ("points", np.float64, (4,)),
        ("rows", np.float64, (4, 6)),
    ],
    align=True,
)

# Columns of the float fill table: bar, side (+1 buy / -1 sell), price, amount, fee, kind
# (0 entry, 1 exit signal, 2 stop-loss, 3 take-profit, 4 trailing stop), maker (0/1),
# ambiguous (0/1).
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


def new_params(count: int = 1) -> np.recarray[Any, Any]:
    """Return ``count`` zeroed parameter records (fill each field by name).

    Args:
        count: Number of runs (a sweep's combinations).

    Returns:
        A record array of `PARAM_DTYPE`; element ``k`` is run ``k``'s settings.
    """
    return np.zeros(count, PARAM_DTYPE).view(np.recarray)


def new_states(params: npt.NDArray[Any]) -> np.recarray[Any, Any]:
    """Return the starting state of each run of ``params``: its cash, nothing else.

    Args:
        params: Records of `PARAM_DTYPE`.

    Returns:
        A record array of `STATE_DTYPE`, one element per run.
    """
    states = np.zeros(len(params), STATE_DTYPE).view(np.recarray)
    states["cash"] = params["cash"]
    states["liquidation_bar"] = -1
    return states
