"""The fast path's margin check: it refuses a run in which the event engine would liquidate.

The event engine liquidates a margin account whose equity would reach zero inside a bar (see
`quantkit.sim.liquidation`); the compiled kernel does not simulate that. So that both paths
never disagree, the fast path applies the engine's test to its own fills and equity and, where
the engine would liquidate, refuses the run with an error that says to use the Engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from quantkit.errors import ConfigError

if TYPE_CHECKING:
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]

__all__ = ["refuse_liquidation"]


def refuse_liquidation(
    fills: FloatArray, equity: FloatArray, high: FloatArray, low: FloatArray, close: FloatArray
) -> None:
    """Raise if equity, with the position held at a bar's end, touches zero inside the bar.

    The engine's rule: a long is marked at the bar's low, a short at its high, after the bar's
    fills; equity at or below zero there means a liquidation.

    Args:
        fills: The kernel's fill table (columns bar, side +1/-1, price, amount, ...).
        equity: Equity at each bar's close.
        high: The bars' highs.
        low: The bars' lows.
        close: The bars' closes.

    Raises:
        ConfigError: Naming the first bar where the engine would liquidate the account.
    """
    if not fills.size:
        return
    change = np.zeros(equity.size)
    np.add.at(change, fills[:, 0].astype(np.int64), fills[:, 1] * fills[:, 3])
    held = np.cumsum(change)
    worst_price = np.where(held > 0, low, high)
    worst = equity + held * (worst_price - close)
    at_risk = np.flatnonzero((held != 0) & (worst <= 0.0))
    if at_risk.size:
        bar = int(at_risk[0])
        raise ConfigError(
            f"fast path: the margin account's equity would reach zero inside bar {bar}, where "
            "the event engine liquidates it; the fast path does not simulate liquidation, run "
            "this on the Engine (or lower the leverage or size)"
        )
