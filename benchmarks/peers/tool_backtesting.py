"""backtesting.py on the event workloads: ``FractionalBacktest`` with an idiomatic ``Strategy``.

backtesting.py trades whole units, so the run goes through ``backtesting.lib.FractionalBacktest``
with a unit of 1e-30 BTC (``UNIT``). ``buy()`` spends the whole equity (``1 - eps``) at the next
open, sized as ``floor(cash / (open x (1 + commission)))`` units: quantkit's amount rounded down
to a unit. The 0.1 % commission is charged on entry and on exit, as quantkit charges its fee.
Why so small a unit: the workload's 19,597 round trips pay 0.2 % each, and the equity ends at
4e-13 USDT; with one-satoshi units (``FractionalBacktest``'s default) the account cannot buy a
unit any more after a few thousand trades and stops trading (10,355 trades instead of 19,597:
the check catches it). quantkit's market has no amount step, so its amounts are not rounded.
Signals: ``talib.SMA`` through ``Strategy.I`` and ``backtesting.lib.crossover``
(strict inequalities: the same trades as quantkit's ``<=`` unless two averages are exactly equal,
which the check would catch). A position open at the end stays open (``finalize_trades=False``).
"""

from __future__ import annotations

from typing import Any

from check import RunSummary, Tolerance
from workloads import CASH, EQUITY_FLOOR, FAST, FEE, SLOW, Workload, frame

NAME = "backtesting.py"
KINDS = frozenset({"event"})
TOLERANCE = Tolerance(
    1e-9, equity_abs=EQUITY_FLOOR, why="whole units of 1e-30 BTC: a unit's cash left unspent"
)
UNIT = 1e-30


def prepare(workload: Workload, bars: Any) -> Any:
    """A naive-index OHLCV frame (backtesting.py's input)."""
    return frame(bars)


def _strategy() -> Any:
    import talib
    from backtesting import Strategy
    from backtesting.lib import crossover

    class SmaCross(Strategy):  # type: ignore[misc]
        fast = FAST
        slow = SLOW

        def init(self) -> None:
            self.fast_sma = self.I(talib.SMA, self.data.Close, self.fast)
            self.slow_sma = self.I(talib.SMA, self.data.Close, self.slow)

        def next(self) -> None:
            if crossover(self.fast_sma, self.slow_sma):
                if not self.position:
                    self.buy()
            elif crossover(self.slow_sma, self.fast_sma):
                self.position.close()

    return SmaCross


def run(workload: Workload, data: Any) -> list[RunSummary]:
    """One backtest; the summary from its statistics."""
    from backtesting.lib import FractionalBacktest

    backtest = FractionalBacktest(
        data, _strategy(), cash=CASH, commission=FEE, fractional_unit=UNIT,
        finalize_trades=False,
    )  # fmt: skip
    stats = backtest.run()
    return [RunSummary(int(stats["# Trades"]), float(stats["Equity Final [$]"]))]
