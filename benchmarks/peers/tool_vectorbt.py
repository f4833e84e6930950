"""vectorbt on the vectorised workloads: ``Portfolio.from_signals`` over all columns in one call.

Idiomatic vectorbt: ``vbt.MA`` for the averages, ``ma_crossed_above`` / ``ma_crossed_below`` for
the signals, shifted one bar and filled at the open (``price=open``) so a signal at bar i acts at
bar i + 1's open, as in quantkit; ``size=inf`` buys with all the cash, fee included (vectorbt's
``cash / (1 + fees) / price``, quantkit's formula). A naive index: vectorbt is several times
slower on a zone-aware one, and its users strip the zone.

Timed: indicators, signals, the simulation and what the check needs (final value and closed
trade count per column); for ``fast``, also ``Portfolio.stats()`` (quantkit's run includes its
statistics).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from check import RunSummary, Tolerance
from workloads import CASH, FAST, FEE, GRID, SLOW, Workload, frame

NAME = "vectorbt"
KINDS = frozenset({"fast", "sweep"})
TOLERANCE = Tolerance(1e-9)


def prepare(workload: Workload, bars: Any) -> Any:
    """A naive-index OHLCV frame."""
    return frame(bars)


def run(workload: Workload, data: Any) -> list[RunSummary]:
    """Signals, the portfolio over every column in one call, and the check's figures."""
    import vectorbt as vbt

    close, open_ = data["Close"], data["Open"]
    pairs = GRID if workload.kind == "sweep" else [(FAST, SLOW)]
    fast = vbt.MA.run(close, [f for f, _ in pairs], short_name="fast")
    slow = vbt.MA.run(close, [s for _, s in pairs], short_name="slow")
    entries = fast.ma_crossed_above(slow).vbt.signals.fshift(1)
    exits = fast.ma_crossed_below(slow).vbt.signals.fshift(1)
    portfolio = vbt.Portfolio.from_signals(
        close, entries, exits, price=open_, size=np.inf, fees=FEE, init_cash=CASH, freq="1min"
    )
    if workload.kind == "fast":
        portfolio.stats(silence_warnings=True)
    finals = np.atleast_1d(np.asarray(portfolio.final_value(), dtype=float))
    closed = np.atleast_1d(np.asarray(portfolio.trades.closed.count(), dtype=int))
    return [RunSummary(int(t), float(e)) for t, e in zip(closed, finals, strict=True)]
