"""quantkit on the workloads: the reference every peer is checked against."""

from __future__ import annotations

from typing import Annotated, Any

from annotated_types import Ge
from check import RunSummary, Tolerance
from workloads import CASH, FAST, FEE, GRID, SLOW, Workload

from quantkit.vector.strategy import SmaCrossSignals

NAME = "quantkit"
KINDS = frozenset({"event", "fast", "sweep"})
TOLERANCE = Tolerance(0.0, why="the reference")


def prepare(workload: Workload, bars: Any) -> Any:
    """quantkit reads its own `BarSeries`: nothing to convert."""
    return bars


def _market() -> Any:
    from quantkit import Market

    return Market("BTC/USDT", "BTC", "USDT", maker_fee=FEE, taker_fee=FEE)


class AnyCross(SmaCrossSignals):
    """The crossover without the fast < slow rule: the grid has fast >= slow pairs too."""

    fast: Annotated[int, Ge(2)] = 10
    slow: Annotated[int, Ge(2)] = 30

    def validate_params(self) -> None:
        """Accept every pair, as the peers' grids do."""


def run(workload: Workload, bars: Any) -> list[RunSummary]:
    """Run the workload the way ``bench_backtest.py`` / ``bench_fast.py`` do (timed whole)."""
    if workload.kind == "event":
        from quantkit import BacktestBroker, Engine, SeriesFeed, SmaCross

        broker = BacktestBroker(cash=CASH, markets={"BTC/USDT": _market()})
        engine = Engine(
            feed=SeriesFeed(bars), strategy=SmaCross(fast=FAST, slow=SLOW), broker=broker
        )
        stats = engine.run().stats
        return [RunSummary(int(stats["Trades"]), float(stats["Final equity"]))]
    if workload.kind == "fast":
        from quantkit.vector import run_signals
        from quantkit.vector.strategy import SmaCrossSignals

        result = run_signals(
            SmaCrossSignals(fast=FAST, slow=SLOW), bars, market=_market(), cash=CASH
        )
        stats = result.stats
        return [RunSummary(int(stats["Trades"]), float(stats["Final equity"]))]
    from quantkit.vector import sweep

    grid = {"fast": sorted({f for f, _ in GRID}), "slow": sorted({s for _, s in GRID})}
    table = sweep(AnyCross, bars, grid, market=_market(), cash=CASH)
    rows = {
        (int(f), int(s)): RunSummary(int(t), float(e))
        for f, s, t, e in zip(
            table["fast"], table["slow"], table["Trades"], table["Final equity"], strict=True
        )
    }
    return [rows[pair] for pair in GRID]
