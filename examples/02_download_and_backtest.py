"""Download history from an exchange into a local store, then backtest from the store.

The exchange here is quantkit's local Binance-compatible server on 127.0.0.1 (the real ccxt
client talks to it), so the example runs without a network or an account. Against a real venue,
drop ``api_url`` and the ``LocalExchange``.

Run: ``python examples/02_download_and_backtest.py [report.html]``
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import quantkit as qk
from quantkit.testing import LocalExchange

report_path = Path(sys.argv[1] if len(sys.argv) > 1 else "reports/download_and_backtest.html")

with (
    LocalExchange(start="2024-01-01", end="2024-03-01", timeframe="1h") as exchange,
    tempfile.TemporaryDirectory() as folder,
):
    store = qk.ParquetStore(folder)
    source = exchange.ccxt_exchange()  # a CcxtExchange pointed at the local server

    first = qk.download(source, store, "BTC/USDT", "1h", "2024-01-01", "2024-02-01")
    print(f"first run:  {first.added} bars added in {first.requests} requests")
    again = qk.download(source, store, "BTC/USDT", "1h", "2024-01-01", "2024-03-01")
    print(f"second run: {again.added} bars added in {again.requests} requests (only February)")
    print(store.entries().to_string(index=False))

    feed = store.feed("binance", "BTC/USDT", "1h", "2024-01-01", "2024-03-01")
    result = qk.Engine(feed=feed, strategy=qk.SmaCross(fast=12, slow=48)).run()
    print(result)
    print(f"report written to {result.report(report_path)}")
