"""Two venues in one backtest, and a Router that picks the venue per order.

Usage: python examples/18_two_venues.py [REPORT.html]   (default: reports/two_venues.html)

``qk.Engine(feed=..., strategy=..., brokers={"binance": ..., "kraken": ...})`` runs one
account per venue: each has its own cash, markets (precision, limits, fees) and bars. The
feed's series are keyed ``"venue:SYMBOL"``; in the strategy a bare symbol works where only one
venue lists it, and ``venue=`` picks the venue where several do.

Here kraken's BTC/USDT trades a little apart from binance's (a slow drift of up to 0.3 %) and
charges a higher fee. A moving-average strategy on binance's price buys through a `qk.Router`
with the best fee-adjusted price policy: each entry goes to the venue where a unit costs less
fee included, split across both when one venue's cash runs short; every exit sells each
venue's holding there. The Router keeps each decision with a reason per venue, and
``qk.venue_summary`` gives cash, equity, fees, fills and trades per venue and in total.

The sample bars are SYNTHETIC (a seeded random walk): the figures say nothing about a real
market; the point is the workflow.
"""

import dataclasses
import sys

import numpy as np
import pandas as pd
import talib

import quantkit as qk


def two_venue_feed() -> qk.SeriesFeed:
    """binance's sample bars, and kraken's: the same bars scaled by a slow drift."""
    bars = qk.sample_feed("BTC/USDT").load()["BTC/USDT"]
    drift = 1.0 + 0.003 * np.sin(np.arange(len(bars)) / 50.0)
    kraken = dataclasses.replace(
        bars,
        symbol="kraken:BTC/USDT",
        open=bars.open * drift,
        high=bars.high * drift,
        low=bars.low * drift,
        close=bars.close * drift,
    )
    return qk.SeriesFeed([dataclasses.replace(bars, symbol="binance:BTC/USDT"), kraken])


class RoutedTrend(qk.Strategy):
    """Long while binance's fast average is above its slow one; entries routed by price."""

    fast: int = 24
    slow: int = 96
    size: float = 1.5  # BTC per entry: more than one venue's cash, so entries split

    def on_start(self) -> None:
        close = self.datas["binance:BTC/USDT"].close
        self.fast_ma = self.I(talib.SMA, close, timeperiod=self.fast)
        self.slow_ma = self.I(talib.SMA, close, timeperiod=self.slow)

    def on_bar(self, bar: qk.SymbolData) -> None:
        if bar.symbol != self.symbols[-1] or self.open_orders():
            return  # decide once per time step, with both venues' bars in
        held = {venue: self.position("BTC/USDT", venue=venue).amount for venue in VENUES}
        if self.fast_ma[-1] > self.slow_ma[-1] and not any(held.values()):
            self.router.order(self, "buy", "BTC/USDT", self.size)
        elif self.fast_ma[-1] < self.slow_ma[-1]:
            for venue, amount in held.items():
                if amount:
                    self.close("BTC/USDT", venue=venue)


VENUES = ("binance", "kraken")


def main(report_path: str = "reports/two_venues.html") -> None:
    binance = qk.BacktestBroker(
        cash=30_000, markets={"BTC/USDT": qk.Market("BTC/USDT", "BTC", "USDT", taker_fee=0.001,
                                                    amount_increment=1e-5)}
    )  # fmt: skip
    kraken = qk.BacktestBroker(
        cash=30_000, markets={"BTC/USDT": qk.Market("BTC/USDT", "BTC", "USDT", taker_fee=0.0026,
                                                    amount_increment=1e-4)}
    )  # fmt: skip
    venues = qk.Venues({"binance": binance, "kraken": kraken})
    strategy = RoutedTrend()
    strategy.router = qk.Router(venues, "best_price", cash_buffer=0.02)
    result = qk.Engine(feed=two_venue_feed(), strategy=strategy, broker=venues).run()
    print(result)

    print("\nPer venue and in total:")
    print(qk.venue_summary(venues, result).round(2).to_string())

    decisions = pd.DataFrame(strategy.router.rows())
    print(f"\nRouting decisions: {len(decisions)}; venues chosen:")
    print(decisions["venues"].str.replace(r"=[0-9.e-]+", "", regex=True).value_counts().to_string())
    print("\nThe first decision's reasons:")
    for reason in strategy.router.decisions[0].decision.reasons:
        print("  ", reason)

    written = result.report(report_path)
    print(f"\nReport written to {written}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
