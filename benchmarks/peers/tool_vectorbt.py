"""vectorbt on the vectorised workloads: ``Portfolio.from_signals`` over all columns in one call.

Idiomatic vectorbt: ``vbt.MA`` for the averages, ``ma_crossed_above`` / ``ma_crossed_below`` for
the signals, shifted one bar and filled at the open (``price=open``) so a signal at bar i acts at
bar i + 1's open, as in quantkit; ``size=inf`` buys with all the cash, fee included (vectorbt's
``cash / (1 + fees) / price``, quantkit's formula). A naive index: vectorbt is several times
slower on a zone-aware one, and its users strip the zone.

Units: the workload's 19,597 round trips pay 0.2 % each and take the equity down to 4e-13 USDT
(the sweep's busiest pair, 5/20, makes 31,918 and ends near 1e-23). vectorbt treats cash that
small as zero (its float comparisons have absolute tolerances near 1e-12) and by default refuses
orders below ``min_size=1e-8``, so run as is it stops trading after about 10,000 trades (the
check catches it). It therefore counts cash in units of 1e-30 USDT (``UNIT``: ``init_cash`` =
100,000 x 1e30, amounts in units of 1e-30 BTC, prices unchanged: the same run scaled, the sizing
and fees being linear) with ``min_size=0`` (quantkit's market has no minimum), and the summary
converts the final value back to USDT. (Pico-USDT, 1e-12, was not enough: at 1M bars the check
caught 28,116 trades instead of 31,918 on the 5/20 pair.)

Timed: indicators, signals, the simulation and what the check needs (final value and closed
trade count per column); for ``fast``, also ``Portfolio.stats()`` (quantkit's run includes its
statistics).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from check import RunSummary, Tolerance
from workloads import CASH, EQUITY_FLOOR, FAST, FEE, GRID, SLOW, Workload, frame

NAME = "vectorbt"
KINDS = frozenset({"fast", "sweep"})
TOLERANCE = Tolerance(1e-9, equity_abs=EQUITY_FLOOR, why="cash in units of 1e-30 USDT (UNIT)")
UNIT = 1e-30


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
        close,
        entries,
        exits,
        price=open_,
        size=np.inf,
        fees=FEE,
        init_cash=CASH / UNIT,
        min_size=0.0,
        freq="1min",
    )
    if workload.kind == "fast":
        portfolio.stats(silence_warnings=True)
    finals = np.atleast_1d(np.asarray(portfolio.final_value(), dtype=float)) * UNIT
    closed = np.atleast_1d(np.asarray(portfolio.trades.closed.count(), dtype=int))
    return [RunSummary(int(t), float(e)) for t, e in zip(closed, finals, strict=True)]
