"""Trade live against quantkit's local exchange: real ccxt client, real orders, no account.

The local exchange speaks Binance spot's REST and websocket APIs on 127.0.0.1 and publishes a
new one-minute candle every few hundredths of a second. The strategy runs under the live
engine with the live broker: orders are journaled before they are sent, placed through ccxt,
and tracked until filled. Against a real venue, drop ``api_url`` and the ``LocalExchange``,
load keys with ``qk.load_credentials("binance")`` and try ``sandbox=True`` first.

Afterwards the event tape is replayed through the backtest to show how live differed.

Run: ``python examples/04_live_local_exchange.py [report.html]``
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio

import quantkit as qk
from quantkit.testing import LOCAL_CCXT_OPTIONS, LocalExchange

report_path = Path(sys.argv[1] if len(sys.argv) > 1 else "reports/live_local_exchange.html")
WARMUP, BARS = 100, 60
start = datetime.fromtimestamp((int(time.time()) // 60 - WARMUP) * 60, UTC)

# Keys come from the environment (QUANTKIT_BINANCE_API_KEY / _SECRET), a .env file or the
# keyring; here a dict stands in for the environment of this demo account.
keys = qk.load_credentials(
    "binance",
    env={"QUANTKIT_BINANCE_API_KEY": "demo-key", "QUANTKIT_BINANCE_SECRET": "demo-secret"},
    dotenv=None,
)

with (
    LocalExchange(
        live=True,
        warmup=WARMUP,
        start=start,
        end=start + timedelta(hours=6),
        accounts={"demo-key": ("demo-secret", {"USDT": 10_000})},
        publish_every=0.03,
    ) as exchange,
    tempfile.TemporaryDirectory() as folder,
):
    venue = qk.CcxtExchange(
        "binance",
        credentials=keys,
        api_url=exchange.url,  # only a loopback URL may stand in for the venue
        options=LOCAL_CCXT_OPTIONS,
        rate_limit=False,
    )
    tape = qk.EventTape(Path(folder) / "tape", run_id="live-demo")
    engine = qk.LiveEngine(
        stream=qk.LiveBarStream(venue, ["BTC/USDT"], "1m", poll_interval=0.02),
        strategy=qk.SmaCross(fast=3, slow=8, fraction=0.5),
        broker=qk.LiveBroker(
            venue,
            journal=Path(folder) / "journal.jsonl",
            run_id="live-demo",
            confirm_live=True,  # required: live trading never starts by accident
            poll_interval=0.05,
        ),
        warmup=WARMUP,
        run_id="live-demo",
        max_bars=BARS,
        tape=tape,
        handle_signals=False,
    )

    async def trade() -> dict[str, qk.Market]:
        async with venue:  # one client for bars, orders and tracking; closed at the end
            print(await engine.arun())
            return await venue.markets()

    markets = anyio.run(trade)
    # The backtest with the venue's markets (fees, precision) and its fee convention (Binance
    # spot charges a buy's fee in the BTC received) is the fair comparison.
    replay = qk.BacktestBroker(
        cash=10_000, markets={"BTC/USDT": markets["BTC/USDT"]}, fees_charged_in="received"
    )
    report = qk.divergence_report(
        Path(folder) / "tape",
        qk.SmaCross(fast=3, slow=8, fraction=0.5),
        broker=replay,
        warmup=WARMUP,
    )
    print(report)
    print(report.backtest)
    print(f"report written to {report.backtest.report(report_path)}")
