"""backtrader on the event workloads: ``Cerebro`` with cheat-on-open sizing.

backtrader sizes an order when it is placed, but quantkit's all-cash entry is sized at the fill
(cash / (open x 1.001)). The idiomatic way to size at the next open is ``cheat_on_open``: the
strategy notes the cross in ``next`` (bar i) and places the order in ``next_open`` (bar i + 1),
where it reads that bar's open and the order fills at it. Fractional amounts; 0.1 % commission
(``setcommission(commission=0.001)``: ``CommissionInfo`` takes 0.001 as 0.1 %) on both sides;
the submit-time cash check is off and the order spends the cash less 1e-12 of it (see
``SPEND``), because the all-cash order costs the cash to the last bit. ``bt.ind.SMA`` and
``bt.ind.CrossOver`` (strict inequalities, as the other peers).
"""

from __future__ import annotations

from typing import Any

from check import RunSummary, Tolerance
from workloads import CASH, EQUITY_FLOOR, FAST, FEE, SLOW, Workload, frame

NAME = "backtrader"
KINDS = frozenset({"event"})
TOLERANCE = Tolerance(1e-9, equity_abs=EQUITY_FLOOR, why="spends cash x (1 - 1e-12): see SPEND")
# backtrader refuses a fill whose cost exceeds the cash by a rounding step (its cash goes
# negative and the order is nullified), and cost = amount x open x 1.001 can come out one ulp
# above the cash it was sized from; quantkit's simulator accepts its fee-included sizing.
SPEND = 1.0 - 1e-12


def prepare(workload: Workload, bars: Any) -> Any:
    """A naive-index OHLCV frame (``bt.feeds.PandasData`` reads it)."""
    return frame(bars)


def _strategy() -> Any:
    import backtrader as bt

    class SmaCross(bt.Strategy):  # type: ignore[misc]
        params = (("fast", FAST), ("slow", SLOW))

        def __init__(self) -> None:
            fast = bt.ind.SMA(self.data.close, period=self.p.fast)
            slow = bt.ind.SMA(self.data.close, period=self.p.slow)
            self.cross = bt.ind.CrossOver(fast, slow)
            self.intent = 0
            self.closed = 0

        def next(self) -> None:
            if self.cross[0] > 0 and not self.position:
                self.intent = 1
            elif self.cross[0] < 0 and self.position:
                self.intent = -1

        def next_open(self) -> None:
            if self.intent > 0:
                cash = self.broker.getcash() * SPEND
                self.buy(size=cash / (self.data.open[0] * (1 + FEE)))
            elif self.intent < 0:
                self.close()
            self.intent = 0

        def notify_trade(self, trade: Any) -> None:
            if trade.isclosed:
                self.closed += 1

    return SmaCross


def run(workload: Workload, data: Any) -> list[RunSummary]:
    """Feed, strategy and broker set up and run; the summary from the broker."""
    import backtrader as bt

    cerebro = bt.Cerebro(cheat_on_open=True, stdstats=False)
    cerebro.adddata(bt.feeds.PandasData(dataname=data))
    cerebro.addstrategy(_strategy())
    cerebro.broker.setcash(CASH)
    cerebro.broker.setcommission(commission=FEE)
    cerebro.broker.set_checksubmit(False)
    strategy = cerebro.run()[0]
    return [RunSummary(strategy.closed, float(cerebro.broker.getvalue()))]
