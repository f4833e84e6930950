"""Trade two symbols from one strategy: rotate into the one with the stronger momentum.

Usage: python examples/08_multi_symbol.py [REPORT.html]   (default: reports/multi_symbol.html)

``qk.sample_feed(["BTC/USDT", "ETH/USDT"])`` gives one feed with both symbols. In the strategy:

* ``self.symbols`` lists the tradable symbols in feed order and ``self.datas[symbol]`` gives
  each one's data (``self.data`` is the first symbol's), so indicators are declared per symbol;
* ``on_bar(bar)`` runs once per symbol for every time step, in feed order, and ``bar.symbol``
  says which one just got its bar. The rotation decides once per step, on the last symbol's
  call, when every symbol's bar of that time is readable;
* order methods take ``symbol=``; without it they trade the first symbol.

Every ``rebalance`` bars the strategy holds the symbol with the higher rate of change over
``period`` bars, if that momentum is positive, and nothing otherwise. A switch takes two bars:
the account only has the cash for the new holding once the sale of the old one has filled (at
the next bar's open), so the purchase is placed on the bar after the sale.

The sample bars are SYNTHETIC (a seeded random walk): the figures say nothing about a real
market; the point is the workflow.
"""

import sys

import numpy as np
import talib

import quantkit as qk


class MomentumRotation(qk.Strategy):
    """Hold whichever symbol has the stronger positive momentum, or stay in cash."""

    period: int = 168  # one week of hourly bars
    rebalance: int = 24  # decide once a day
    weight: float = 0.95

    def on_start(self) -> None:
        # One indicator per symbol, each declared on that symbol's own series.
        self.momentum = {
            symbol: self.I(talib.ROC, self.datas[symbol].close, timeperiod=self.period)
            for symbol in self.symbols
        }
        self.target: str | None = None  # the symbol to hold, None for cash
        self.entry_due = False  # whether the target still has to be bought

    def on_bar(self, bar: qk.SymbolData) -> None:
        if bar.symbol != self.symbols[-1]:
            return  # wait until every symbol has its bar of this time step
        if len(bar) > self.period and len(bar) % self.rebalance == 0:
            scores = {symbol: self.momentum[symbol][-1] for symbol in self.symbols}
            best = max(scores, key=lambda symbol: scores[symbol])
            self.target = best if scores[best] > 0 and not np.isnan(scores[best]) else None
            self.entry_due = self.target is not None
        if self.open_orders():
            return  # a sale or a purchase is still on its way
        held = [symbol for symbol in self.symbols if not self.position(symbol).is_flat]
        selling = [symbol for symbol in held if symbol != self.target]
        for symbol in selling:
            self.close(symbol)
        if selling or not self.entry_due:
            return  # buy on a later bar, once the sale has paid for it
        if self.target is not None and self.target not in held:
            self.order_target_percent(self.weight, symbol=self.target)
        self.entry_due = False


def main(report_path: str = "reports/multi_symbol.html") -> None:
    feed = qk.sample_feed(["BTC/USDT", "ETH/USDT"])
    result = qk.Engine(feed=feed, strategy=MomentumRotation()).run()
    print(result)

    print("\nRound trips by symbol:")
    trades = result.trades
    summary = trades.groupby("symbol")["pnl"].agg(["count", "sum"])
    print(summary.rename(columns={"count": "trades", "sum": "pnl"}).to_string())

    rejected = result.orders[result.orders["status"] == "rejected"]
    print(f"\nOrders placed: {len(result.orders)}, rejected: {len(rejected)}")

    written = result.report(report_path)
    print(f"\nReport written to {written}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
