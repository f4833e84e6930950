"""Optimise a moving-average crossover, then check the choice with a walk-forward analysis.

Usage: python examples/05_optimize.py [REPORT.html]   (default: reports/optimize.html)

The sweep runs on a local process pool (every core); pass ``executor=Client("tcp://...")`` to
run it on a Dask cluster instead (see docs/optimize.md). Every sweep reports its overfitting
diagnostics (deflated Sharpe ratio, probability of backtest overfitting); a SignalStrategy
sweeps on the compiled fast path. The sample bars are synthetic (a seeded random walk): the
point is the workflow, not the figures.
"""

import sys

import quantkit as qk
from quantkit.optimize import IntRange, optimize, walk_forward
from quantkit.vector.strategy import SmaCrossSignals


def main(report_path: str = "reports/optimize.html") -> None:
    feed = qk.sample_feed("BTC/USDT", start="2021-01-01", end="2021-05-01")
    space = {"fast": IntRange(5, 25, step=5), "slow": [30, 60, 120]}

    found = optimize(
        qk.SmaCross,
        feed,
        space,
        objective="Sharpe ratio",
        constraint=lambda p: p["fast"] < p["slow"],
    )
    print(found)
    columns = ["fast", "slow", "Sharpe ratio", "Total return [%]", "Trades"]
    print(found.frame[columns].head().to_string(index=False))
    # Is the winner more than the luck of the best of many tries?
    print(f"\nOverfitting ({found.engine} engine): {found.overfitting or found.overfitting_note}")

    # The same crossover as a SignalStrategy sweeps on the compiled fast path (same fills).
    fast = optimize(
        SmaCrossSignals,
        feed,
        space,
        constraint=lambda p: p["fast"] < p["slow"],
        executor="serial",
    )
    print(f"Fast path ({fast.engine} engine): best {fast.best_params}, {fast.overfitting}")

    # Is the in-sample winner any good on data it was not chosen on?
    checked = walk_forward(
        qk.SmaCross,
        feed,
        space,
        train="45D",
        test="15D",
        warmup=120,
        constraint=lambda p: p["fast"] < p["slow"],
    )
    print("\nWalk-forward, out of sample:")
    print(checked.windows[["test_start", "fast", "slow", "in_sample", "out_of_sample"]])

    best = found.best_result()  # the best combination, rerun through the Engine
    print()
    print(best)
    written = best.report(report_path)
    print(f"\nReport written to {written}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
