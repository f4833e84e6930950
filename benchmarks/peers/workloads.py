"""The workloads every tool runs: quantkit's own benchmarks, bar for bar.

All of them trade the SMA 10/30 crossover of the close on the seeded GBM one-minute bars of
``benchmarks/bench_backtest.py``: a cross up buys with all the cash at the next bar's open (fee
included: amount = cash / (open x 1.001)), a cross down sells the whole position at the next
open, 0.1 % fee per side, fractional amounts, no slippage, 100,000 starting cash. A position
still open at the end stays open (marked at the last close, not counted as a closed trade).

The sweep is ``bench_fast.py``'s: fast 5..50 step 5 x slow 20..200 step 20, every one of the 100
pairs (fast >= slow too), each an independent run.
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench_backtest.py

from bench_backtest import gbm_series

__all__ = ["CASH", "EQUITY_FLOOR", "FEE", "GRID", "WORKLOADS", "Workload", "frame", "series"]

CASH = 100_000.0
# Final equities closer than this (1e-9 of the starting cash) are the same: see check.Tolerance.
EQUITY_FLOOR = 1e-9 * CASH
FEE = 0.001
FAST, SLOW = 10, 30
GRID: list[tuple[int, int]] = list(itertools.product(range(5, 51, 5), range(20, 201, 20)))

Kind = Literal["event", "fast", "sweep"]


@dataclass(frozen=True)
class Workload:
    """One benchmark row.

    Attributes:
        name: Short name (``event-1m``).
        kind: ``event`` (bar-by-bar engine, SMA 10/30), ``fast`` (one vectorised SMA 10/30
            run with its statistics) or ``sweep`` (the 100-combination grid).
        bars: Number of one-minute bars.
        title: What the table prints.
    """

    name: str
    kind: Kind
    bars: int
    title: str

    @property
    def runs(self) -> int:
        """Backtests in one go: the grid's size for a sweep, else 1."""
        return len(GRID) if self.kind == "sweep" else 1

    @property
    def work(self) -> int:
        """Bars processed: bars x combinations."""
        return self.bars * self.runs


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload("event-1m", "event", 1_000_000, "event-driven SMA 10/30, 1M bars"),
        Workload("event-10k", "event", 10_000, "event-driven SMA 10/30, 10k bars"),
        Workload("fast-1m", "fast", 1_000_000, "single vectorised run + stats, 1M bars"),
        Workload("sweep-100k", "sweep", 100_000, "100-combination sweep, 100k bars"),
        Workload("sweep-1m", "sweep", 1_000_000, "100-combination sweep, 1M bars"),
    )
}


def series(bars: int) -> Any:
    """The seeded GBM bars as a quantkit `BarSeries` (UTC open times in nanoseconds)."""
    return gbm_series(bars)


def frame(bars: Any, *, tz: str | None = None) -> Any:
    """The same bars as the pandas OHLCV frame the peers read (index: open time).

    Args:
        bars: A `BarSeries`.
        tz: ``None`` for a naive index (what vectorbt users pass: it is much slower on a
            zone-aware one), ``"UTC"`` for the zone the data really has.
    """
    import pandas as pd

    index = pd.DatetimeIndex(pd.to_datetime(bars.open_time, unit="ns", utc=tz is not None))
    return pd.DataFrame(
        {
            "Open": bars.open,
            "High": bars.high,
            "Low": bars.low,
            "Close": bars.close,
            "Volume": bars.volume,
        },
        index=index,
    )
