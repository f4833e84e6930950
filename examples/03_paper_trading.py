"""Paper trade a strategy on replayed bars, record the event tape, compare with a backtest.

The paper broker fills orders with the backtest's own simulator as bars arrive, so with no
latency the comparison shows no divergence; with ``latency`` longer than a bar, every fill
lands a bar later and the report says so, order by order.

Run: ``python examples/03_paper_trading.py [report.html]``
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import quantkit as qk

report_path = Path(sys.argv[1] if len(sys.argv) > 1 else "reports/paper_trading.html")
WARMUP = 200

bars = qk.sample_feed().load()["BTC/USDT"].head(3_000)  # about four months of hourly bars

with tempfile.TemporaryDirectory() as folder:
    tape = qk.EventTape(Path(folder) / "tape", run_id="paper-demo")
    engine = qk.LiveEngine(
        stream=qk.ReplayStream({"BTC/USDT": bars}),
        strategy=qk.SmaCross(fast=10, slow=30),
        broker=qk.PaperBroker(cash=10_000, latency=0.5),  # half a second: no effect on 1h bars
        warmup=WARMUP,
        run_id="paper-demo",
        tape=tape,
        handle_signals=False,
    )
    print(engine.run())

    report = qk.divergence_report(
        Path(folder) / "tape",
        qk.SmaCross(fast=10, slow=30),
        broker=qk.BacktestBroker(cash=10_000),
        warmup=WARMUP,
    )
    print(report)
    print(report.backtest)
    print(f"report written to {report.backtest.report(report_path)}")
