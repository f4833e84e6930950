"""Bring your own bars: CSV and Parquet feeds, validation errors, then a backtest.

Usage: python examples/10_data_feeds.py [REPORT.html]   (default: reports/data_feeds.html)

The bars come from quantkit's bundled sample, written out to files the way your own data would
arrive. The sample is SYNTHETIC (a seeded random walk), not market history: the figures say
nothing about a real market; the point is the workflow.
"""

import sys
import tempfile
from pathlib import Path

import pandas as pd

import quantkit as qk


def write_files(folder: Path) -> tuple[Path, Path]:
    """Write BTC/USDT as a gzip CSV (open times) and ETH/USDT as Parquet (close times)."""
    csv_path = folder / "BTCUSDT.csv.gz"
    qk.load_sample("BTC/USDT").to_csv(csv_path)  # columns: time, open, high, low, close, volume
    eth = qk.load_sample("ETH/USDT")
    eth.index = eth.index + pd.Timedelta(hours=1)  # some vendors stamp bars with their close
    parquet_path = folder / "ETHUSDT.parquet"
    eth.to_parquet(parquet_path)
    return csv_path, parquet_path


def show_a_validation_error(folder: Path) -> None:
    """A broken row is reported with its file, row and problem; nothing is fixed silently."""
    broken = qk.load_sample("BTC/USDT").head(100)
    broken.loc[broken.index[42], "high"] = 1.0
    path = folder / "broken.csv"
    broken.to_csv(path)
    try:
        qk.CsvFeed(path, symbol="BTC/USDT").load()
    except qk.DataError as error:
        print(f"DataError at row {error.row}: {error.problem}")


def main(report_path: str = "reports/data_feeds.html") -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        csv_path, parquet_path = write_files(folder)
        show_a_validation_error(folder)

        # One file per symbol; the ETH file is close-labelled, so both load with the same
        # open/close times. Keep 2022 only (start inclusive, end exclusive, by bar open time).
        btc = qk.CsvFeed(csv_path, symbol="BTC/USDT", start="2022-01-01")
        eth = qk.ParquetFeed(parquet_path, symbol="ETH/USDT", label="close", start="2022-01-01")
        for feed in (btc, eth):
            for symbol, bars in feed.load().items():
                first = pd.Timestamp(bars.open_time[0], tz="UTC")
                print(f"{symbol}: {len(bars)} bars, the first opens at {first}")

        result = qk.Engine(feed=btc, strategy=qk.SmaCross(fast=10, slow=30)).run()
        print(result)
        written = result.report(report_path)
        print(f"\nReport written to {written}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
