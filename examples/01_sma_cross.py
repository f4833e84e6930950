"""Backtest a moving-average crossover on the bundled sample data.

Usage: python examples/01_sma_cross.py [REPORT.html]   (default: reports/sma_cross.html)

The sample bars are synthetic (a seeded random walk), so the figures say nothing about how the
strategy would fare on a real market: the point is the workflow.
"""

import sys
from functools import partial

import quantkit as qk


def main(report_path: str = "reports/sma_cross.html") -> None:
    feed = qk.sample_feed("BTC/USDT")
    make_strategy = partial(qk.SmaCross, fast=10, slow=30)

    engine = qk.Engine(feed=feed, strategy=make_strategy(), broker=qk.BacktestBroker(cash=100_000))
    result = engine.run()
    print(result)

    print("\nFirst trades:")
    columns = ["entry_time", "exit_time", "size", "entry_price", "exit_price", "pnl"]
    print(result.trades[columns].head().to_string(index=False))

    written = result.report(report_path)
    print(f"\nReport written to {written}")

    # Rerun on truncated history and check that no past decision changes.
    audit = qk.audit_lookahead(make_strategy, feed)
    print(audit)


if __name__ == "__main__":
    main(*sys.argv[1:2])
