"""Big data: lazy Polars queries over the store, sweep results as xarray, bar panels, a backtest.

Usage: python examples/12_big_data.py [REPORT.html]   (default: reports/big_data.html)

Needs the extras: pip install 'quantkit[polars,xarray]'. The bars are quantkit's bundled
SYNTHETIC sample (a seeded random walk, not market history), written into a temporary store:
the same code runs unchanged on a store of a hundred million bars, because Polars reads only
the files and row groups a query needs.
"""

import sys
import tempfile

import polars as pl

import quantkit as qk
from quantkit.data.store import ParquetStore
from quantkit.vector.strategy import SmaCrossSignals

SYMBOLS = ["BTC/USDT", "ETH/USDT"]


def fill_store(root: str) -> ParquetStore:
    """Write the sample's hourly bars into a store (Polars frames are accepted like pandas)."""
    store = ParquetStore(root)
    for symbol in SYMBOLS:
        bars = pl.from_pandas(qk.load_sample(symbol).reset_index())  # columns: time, open, ...
        store.write("binance", symbol, "1h", bars.lazy())
    return store


def research(store: ParquetStore) -> None:
    """Two aggregates over one pinned version of the store, read lazily."""
    with store.snapshot("binance", SYMBOLS, "1h") as snap:
        bars = snap.scan(start="2022-01-01")  # only 2022's files are in the plan
        per_month = (
            bars.group_by("symbol", pl.col("time").dt.month().alias("month"))
            .agg(pl.len().alias("bars"))
            .sort("symbol", "month")
            .collect()
        )
        by_hour = (
            bars.filter(pl.col("symbol") == "BTC/USDT")  # ETH's files are never opened
            .group_by(pl.col("time").dt.hour().alias("hour"))
            .agg((pl.col("close") / pl.col("open") - 1).mean().alias("mean return"))
            .sort("hour")
            .collect()
        )
    print(f"bars per month in 2022:\n{per_month.head(3)}")
    print(f"BTC/USDT mean hourly bar return by hour of day (UTC):\n{by_hour.head(3)}")


def sweep_as_dataset(feed: qk.DataFeed) -> None:
    """A parameter sweep sliced by two parameters at once."""
    grid = {"fast": [5, 10, 20], "slow": [40, 80]}
    ds = qk.sweep(SmaCrossSignals, feed, grid, workers=1).pipe(qk.to_dataset)
    print(f"sweep dataset dimensions: {dict(ds.sizes)}")
    best_slow = ds["Sharpe ratio"].max("slow")  # best over slow, for every fast and symbol
    print(f"best Sharpe ratio over slow, by fast and symbol:\n{best_slow.to_pandas()}")


def main(report_path: str = "reports/big_data.html") -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = fill_store(folder)
        research(store)
        feed = store.feed("binance", SYMBOLS, "1h")
        panel = qk.bar_panel(feed, fields=["close"])
        closes = panel.sel(field="close")
        print(f"panel {dict(panel.sizes)}; last closes: {closes.isel(time=-1).values}")
        sweep_as_dataset(feed)
        result = qk.Engine(
            feed=store.feed("binance", "BTC/USDT", "1h"), strategy=qk.SmaCross()
        ).run()
        print(result)
        written = result.report(report_path)
        print(f"\nReport written to {written}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
