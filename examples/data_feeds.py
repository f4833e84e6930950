"""Data feeds in a few lines: the bundled sample, CSV and Parquet files, and a validation error.

Run with ``python examples/data_feeds.py``. The sample bars are SYNTHETIC (seeded GBM), not
market history.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from quantkit.data import CsvFeed, ParquetFeed, load_sample, sample_feed
from quantkit.domain.timeframe import format_timeframe
from quantkit.errors import DataError


def main() -> None:
    # 1. The bundled sample, restricted to one month.
    feed = sample_feed(["BTC/USDT", "ETH/USDT"], start="2022-06-01", end="2022-07-01")
    for symbol, bars in feed.load().items():
        print(
            f"{symbol}: {len(bars)} bars of {format_timeframe(bars.timeframe)}, "
            f"last close {bars.close[-1]:,.2f}"
        )

    with tempfile.TemporaryDirectory() as folder:
        frame = load_sample("BTC/USDT")

        # 2. The same bars through a CSV file; the symbol defaults to the file name.
        csv_path = Path(folder) / "BTCUSDT.csv.gz"
        frame.to_csv(csv_path)
        print("CSV:", {s: len(b) for s, b in CsvFeed(csv_path).load().items()})

        # 3. ...and through Parquet, with timestamps that mark bar close times.
        parquet_path = Path(folder) / "btc.parquet"
        closing = frame.copy()
        closing.index = closing.index + pd.Timedelta(hours=1)
        closing.to_parquet(parquet_path)
        bars = ParquetFeed(parquet_path, symbol="BTC/USDT", label="close").load()["BTC/USDT"]
        print(
            "Parquet, close-labelled: first bar opens at", bars.open_time[0] == frame.index[0].value
        )

        # 4. A broken row is reported with file, row and problem; nothing is fixed silently.
        broken = frame.head(100).copy()
        broken.iloc[42, broken.columns.get_loc("high")] = 1.0
        broken_path = Path(folder) / "broken.csv"
        broken.to_csv(broken_path)
        try:
            CsvFeed(broken_path, symbol="BTC/USDT").load()
        except DataError as error:
            print("DataError:", error.problem, "| row", error.row)


if __name__ == "__main__":
    main()
