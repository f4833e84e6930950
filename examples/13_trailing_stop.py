"""A breakout with a trailing stop: ride the trend, exit when it gives back 4 %.

Usage: python examples/13_trailing_stop.py [REPORT.html]   (default: reports/trailing_stop.html)

``trail_pct`` attaches a trailing stop to the entry. It follows the highest high since the
bar the entry filled in, moves only up, and works from the bar after each move; the same rule
runs in backtest, paper and live trading (the live broker holds it and journals every move).
The sample bars are synthetic, so the figures illustrate the workflow, not an edge.
"""

import sys

import talib

import quantkit as qk


class TrailingBreakout(qk.Strategy):
    """Buys a close above the highest high of ``period`` bars; a trailing stop exits."""

    period: int = 48
    trail: float = 0.04
    target: float | None = None

    def on_start(self) -> None:
        self.top = self.I(talib.MAX, self.data.high, timeperiod=self.period)

    def on_bar(self, bar: qk.SymbolData) -> None:
        if len(bar) > self.period and self.position().is_flat and bar.close[-1] >= self.top[-2]:
            self.buy(cost=0.5 * self.cash, trail_pct=self.trail, tp_pct=self.target)


def main(report_path: str = "reports/trailing_stop.html") -> None:
    feed = qk.sample_feed("BTC/USDT")
    engine = qk.Engine(feed=feed, strategy=TrailingBreakout(), broker=qk.BacktestBroker())
    result = engine.run()
    print(result)

    orders = result.orders
    stops = orders[orders["tag"] == "trailing_stop"]
    print(f"\n{len(stops)} trailing stop orders, {int((stops['status'] == 'filled').sum())} filled")
    print("(each move of the stop cancels the working one and places the next, never lower)")

    columns = ["entry_time", "exit_time", "entry_price", "exit_price", "pnl"]
    print(result.trades[columns].head().to_string(index=False))

    written = result.report(report_path)
    print(f"\nReport written to {written}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
