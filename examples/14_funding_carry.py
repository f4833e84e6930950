"""A funding-rate carry: long spot, short the perpetual, collect the funding longs pay.

Usage: python examples/14_funding_carry.py [REPORT.html]   (default: reports/funding_carry.html)

When perpetual funding is positive, longs pay shorts every 8 hours. Holding the same amount
long on spot and short on the perpetual leaves the price risk hedged and the funding as the
return. The perpetual is a `Market` with a `PerpetualSpec` (its margin brackets as Binance
USD-M publishes them), valued at its mark price; funding comes from a rate history (here a
synthetic one: positive most of the time, negative now and then). The sample bars are
synthetic too, so the figures illustrate the workflow, not an edge.
"""

import dataclasses
import sys

import numpy as np

import quantkit as qk
from quantkit.domain.perpetual import brackets_with_cum

SPOT, PERP = "BTC/USDT", "BTC/USDT:USDT"
HOUR = 3_600_000_000_000

# BTCUSDT's first leverage brackets: notional floor, cap, max leverage, maintenance rate
BRACKETS = brackets_with_cum(
    [
        (0, 50_000, 125, 0.004),
        (50_000, 250_000, 100, 0.005),
        (250_000, 1_000_000, 50, 0.01),
        (1_000_000, 10_000_000, 20, 0.025),
    ]
)


class FundingCarry(qk.Strategy):
    """Holds ``fraction`` of the cash long on spot and the same amount short on the perpetual."""

    fraction: float = 0.45

    def on_bar(self, bar: qk.SymbolData) -> None:
        if bar.symbol != SPOT or not self.position(SPOT).is_flat:
            return
        amount = round(self.fraction * self.cash / bar.close[-1], 3)
        self.buy(symbol=SPOT, amount=amount)
        self.sell(symbol=PERP, amount=amount)


def main(report_path: str = "reports/funding_carry.html") -> None:
    spot = qk.load_sample(SPOT).iloc[: 24 * 120]  # 120 days of hourly bars
    perp = spot.copy()
    perp.attrs["symbol"] = PERP
    feed = qk.DataFrameFeed({SPOT: spot, PERP: perp})
    bars = feed.load()[PERP]
    # the mark trails the last price by a small basis
    basis = 1.0 + 0.0005 * np.sin(np.arange(len(bars)) / 7.0)
    mark = dataclasses.replace(
        bars,
        open=bars.open * basis,
        high=bars.high * basis,
        low=bars.low * basis,
        close=bars.close * basis,
    )
    first = int(bars.open_time[0]) // (8 * HOUR) * (8 * HOUR)
    times = np.arange(first, int(bars.close_time[-1]), 8 * HOUR)
    rng = np.random.default_rng(14)
    rates = 0.0001 + 0.00008 * rng.standard_normal(len(times))  # about 0.01 % per 8 hours

    broker = qk.BacktestBroker(
        cash=100_000.0,
        markets={
            SPOT: qk.Market(SPOT, "BTC", "USDT", amount_increment=0.001),
            PERP: qk.Market(
                PERP,
                "BTC",
                "USDT",
                amount_increment=0.001,
                maker_fee=0.0002,
                taker_fee=0.0004,
                perpetual=qk.PerpetualSpec("USDT", brackets=BRACKETS),
            ),
        },
        leverage=2.0,
        margin_mode="isolated",
        marks={PERP: mark},
        funding={PERP: qk.FundingRates.history(times.tolist(), rates.tolist())},
    )
    result = qk.Engine(feed=feed, strategy=FundingCarry(), broker=broker).run()
    print(result)

    stats = result.stats
    print(
        f"\nfunding received {stats['Funding received']:,.2f} USDT, paid "
        f"{stats['Funding paid']:,.2f} USDT, net {-stats['Net funding']:,.2f} USDT to the carry"
    )
    print(f"liquidations: {stats['Liquidations']}; rates: {stats['Funding source']}")
    written = result.report(report_path)
    print(f"\nReport written to {written}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
