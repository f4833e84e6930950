"""backtesting.py on the event workloads: ``FractionalBacktest`` with an idiomatic ``Strategy``.

backtesting.py trades whole units, so the run goes through ``backtesting.lib.FractionalBacktest``
with a unit of one satoshi (1e-8 BTC). ``buy()`` spends the whole equity (``1 - eps``) at the next
open, sized as ``floor(cash / (open x (1 + commission)))`` units: quantkit's amount rounded down
to a satoshi. The 0.1 % commission is charged on entry and on exit, as quantkit charges its fee.
The satoshi rounding leaves up to 1e-8 BTC (about 0.0003 USDT) of cash unspent per entry, hence
the tolerance. Signals: ``talib.SMA`` through ``Strategy.I`` and ``backtesting.lib.crossover``
(strict inequalities: the same trades as quantkit's ``<=`` unless two averages are exactly equal,
which the check would catch). A position open at the end stays open (``finalize_trades=False``).
"""

from __future__ import annotations

from typing import Any

from check import RunSummary, Tolerance
from workloads import CASH, FAST, FEE, SLOW, Workload, frame

NAME = "backtesting.py"
KINDS = frozenset({"event"})
TOLERANCE = Tolerance(1e-7, why="whole satoshis: up to 1e-8 BTC of cash left unspent per entry")
SATOSHI = 1e-8


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
        data, _strategy(), cash=CASH, commission=FEE, fractional_unit=SATOSHI,
        finalize_trades=False,
    )  # fmt: skip
    stats = backtest.run()
    return [RunSummary(int(stats["# Trades"]), float(stats["Equity Final [$]"]))]
