"""Cross-venue arbitrage in a backtest: sell where BTC is dear, buy where it is cheap.

Usage: python examples/19_venue_arbitrage.py [REPORT.html]   (default: reports/venue_arbitrage.html)

Inventory is held on both venues (no transfers): the strategy first buys ``inventory`` BTC on
each. Then, at each time step, it compares the two venues' latest closes with both fee
schedules and an allowance for latency and slippage (market orders fill at the next bar's
open, not at the price seen): when selling ``trade`` BTC on one venue and buying it on the other
nets more than the allowance, it places both legs. Each venue's own balance must cover its leg
(the base held where it sells, the cash where it buys).

Figures: opportunities seen, taken (both legs placed), skipped for balance, legged (one leg
filled, the other refused) and how legging was resolved: the filled leg is reversed at market
on its venue ("unwound"), so the inventory on each venue returns to what it was.

The sample bars are SYNTHETIC: kraken's prices are binance's with a slow drift; the figures say
nothing about a real market.
"""

import dataclasses
import sys

import numpy as np

import quantkit as qk

VENUES = ("binance", "kraken")


class VenueGapArbitrage(qk.Strategy):
    """Trades the gap of one pair between two venues, with inventory on both."""

    pair: str = "BTC/USDT"
    inventory: float = 0.5  # BTC bought on each venue at the start
    trade: float = 0.1  # BTC per arbitrage
    allowance: float = 0.0005  # latency/slippage allowance, a fraction of the price

    def on_start(self) -> None:
        self.figures = {"seen": 0, "taken": 0, "skipped": 0, "legged": 0, "unwound": 0}
        self.pairs: list[tuple[qk.Order, qk.Order]] = []  # pairs still to check for legging
        self.placed_pairs: list[tuple[qk.Order, qk.Order]] = []  # every pair placed
        self.gaps: list[float] = []  # the net edge per unit of each opportunity taken

    def on_bar(self, bar: qk.SymbolData) -> None:
        if bar.symbol != self.symbols[-1]:
            return  # decide once per time step, with both venues' bars in
        if len(bar) == 1:
            for venue in VENUES:
                self.buy(symbol=self.pair, venue=venue, amount=self.inventory)
            return
        self._resolve_legging()
        if self.open_orders():
            return
        quotes = {v: (self.datas[f"{v}:{self.pair}"].price, self._fee(v)) for v in VENUES}
        (dear, (high, fee_high)), (cheap, (low, fee_low)) = sorted(
            quotes.items(), key=lambda item: -item[1][0]
        )
        edge = high * (1 - fee_high) - low * (1 + fee_low) - self.allowance * high
        if edge <= 0:
            return
        self.figures["seen"] += 1
        if not self._covered(dear, cheap, low * (1 + fee_low)):
            self.figures["skipped"] += 1
            return
        sell = self.sell(symbol=self.pair, venue=dear, amount=self.trade)
        buy = self.buy(symbol=self.pair, venue=cheap, amount=self.trade)
        self.pairs.append((sell, buy))
        self.placed_pairs.append((sell, buy))
        self.gaps.append(edge)
        self.figures["taken"] += 1

    def _fee(self, venue: str) -> float:
        return self.venues.brokers[venue].market(f"{venue}:{self.pair}").taker_fee

    def _covered(self, dear: str, cheap: str, unit_cost: float) -> bool:
        held = self.position(self.pair, venue=dear).amount
        cash = self.venues.brokers[cheap].portfolio.balance
        return held >= self.trade and cash >= self.trade * unit_cost

    def _resolve_legging(self) -> None:
        """A pair with one leg filled and the other refused: reverse the filled leg."""
        still: list[tuple[qk.Order, qk.Order]] = []
        for pair in self.pairs:
            if any(o.is_active for o in pair):
                still.append(pair)
                continue
            filled = [o for o in pair if o.filled > 0]
            if len(filled) == 1:
                self.figures["legged"] += 1
                leg = filled[0]
                reverse = self.buy if leg.side == "sell" else self.sell
                reverse(symbol=leg.symbol, amount=leg.filled)
                self.figures["unwound"] += 1
        self.pairs = still


def two_venue_feed() -> qk.SeriesFeed:
    """binance's sample bars, and kraken's: the same bars scaled by a drift of up to 0.4 %."""
    bars = qk.sample_feed("BTC/USDT").load()["BTC/USDT"]
    drift = 1.0 + 0.004 * np.sin(np.arange(len(bars)) / 30.0)
    kraken = dataclasses.replace(
        bars,
        symbol="kraken:BTC/USDT",
        open=bars.open * drift,
        high=bars.high * drift,
        low=bars.low * drift,
        close=bars.close * drift,
    )
    return qk.SeriesFeed([dataclasses.replace(bars, symbol="binance:BTC/USDT"), kraken])


def venues() -> qk.Venues:
    def venue(fee: float) -> qk.BacktestBroker:
        market = qk.Market("BTC/USDT", "BTC", "USDT", taker_fee=fee, amount_increment=1e-5)
        return qk.BacktestBroker(cash=50_000, markets={"BTC/USDT": market})

    return qk.Venues({"binance": venue(0.001), "kraken": venue(0.0016)})


def main(report_path: str = "reports/venue_arbitrage.html") -> None:
    strategy = VenueGapArbitrage()
    strategy.venues = venues()
    result = qk.Engine(feed=two_venue_feed(), strategy=strategy, broker=strategy.venues).run()
    print(result)
    print("\nOpportunities:", ", ".join(f"{k} {v}" for k, v in strategy.figures.items()))
    if strategy.gaps:
        print(f"Net edge per BTC when taken: mean {np.mean(strategy.gaps):.2f} USDT")
    print("\nPer venue and in total:")
    print(qk.venue_summary(strategy.venues, result).round(2).to_string())
    written = result.report(report_path)
    print(f"\nReport written to {written}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
