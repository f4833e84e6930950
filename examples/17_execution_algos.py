"""Execution algorithms: a TWAP in, an iceberg out, a participation order in again.

Usage: python examples/17_execution_algos.py [REPORT.html]   (default: reports/execution_algos.html)

Parent orders place ordinary child orders over time. ``self.twap`` spreads an amount over a
horizon in slices (here limit children a little below the close, with seeded time jitter),
``self.iceberg`` shows a small slice of a large limit order at a time, and ``self.participate``
trades a fraction of each bar's volume. Each returns a `ParentOrder` with its fills, average
price and slippage against the arrival price and the interval VWAP; the Result lists the
parents in ``result.parents`` and their children in ``result.orders`` (tag ``algo:<id>``).
The same code runs in paper and live trading, where a restart resumes a parent where it stood.
"""

import sys

import quantkit as qk


class Accumulate(qk.Strategy):
    """Buys 2 BTC by TWAP, sells them by iceberg, then buys 1 BTC with 1 % of the volume."""

    def on_bar(self, bar: qk.SymbolData) -> None:
        close = bar.close[-1]
        if bar.index == 100:
            self.twap("buy", 2.0, horizon="24h", slices=12, limit_offset=0.0005,
                      time_jitter=0.3, seed=7)  # fmt: skip
        elif bar.index == 400 and self.position().amount > 0:
            self.iceberg("sell", self.position().amount, display=0.25, limit=close * 0.97)
        elif bar.index == 700:
            self.participate("buy", 1.0, rate=0.01, max_slice=0.2)


def main(report_path: str = "reports/execution_algos.html") -> None:
    engine = qk.Engine(feed=qk.sample_feed("BTC/USDT"), strategy=Accumulate(),
                       broker=qk.BacktestBroker(cash=200_000))  # fmt: skip
    result = engine.run()
    print(result)

    columns = ["parent_id", "kind", "side", "amount", "filled", "children", "average_price",
               "arrival_price", "slippage_bps", "vwap_slippage_bps", "status"]  # fmt: skip
    print("\nParent orders:")
    print(result.parents[columns].to_string(index=False, float_format=lambda v: f"{v:,.2f}"))

    first = result.parents["parent_id"].iloc[0]
    children = result.orders[result.orders["tag"] == f"algo:{first}"]
    print(f"\nThe TWAP's children ({len(children)}):")
    print(children[["client_id", "created_at", "amount", "limit_price", "status"]].to_string(
        index=False))  # fmt: skip

    written = result.report(report_path)
    print(f"\nReport written to {written}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
