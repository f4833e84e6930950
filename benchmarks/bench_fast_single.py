"""Benchmark: one fast-path run with its full statistics against vectorbt's, side by side.

Workload: the 1,000,000 one-minute GBM bars of ``bench_backtest.py``; SMA 10/30 crossover,
all cash per entry, 0.1 % fee per side, 100,000 starting cash, signals acting at the next
bar's open.

- quantkit: ``run_signals`` (signals, simulation, statistics) and reading ``result.stats``
  (the table as a Series). The look-ahead check runs in the first, untimed run and is then
  remembered (`quantkit.vector.causal_cache`), as for any repeated run on the same bars.
- vectorbt (when ``QUANTKIT_PEER_PYTHON`` names a Python with vectorbt installed, e.g. the
  venv of ``benchmarks/peers``): ``vbt.MA`` crossover signals shifted one bar,
  ``Portfolio.from_signals(price=open, size=inf, fees=0.001)`` and ``Portfolio.stats()`` on a
  naive index (vectorbt is several times slower on a UTC one; its users strip the zone).

The two run interleaved, round by round, in two long-lived processes, and the medians are
compared: on a busy machine only the ratio means something. Each prints its trade count and
final equity: with all cash per trade and 0.2 % per round trip both accounts end near zero,
and vectorbt stops trading earlier on the way there (about 10,000 round trips to quantkit's
19,597), so compare the time per bar, not the trades.

Run: ``QUANTKIT_PEER_PYTHON=/path/to/python python benchmarks/bench_fast_single.py [bars]``
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

BARS = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 1_000_000
ROUNDS = 7

_VECTORBT = """
import json, sys, time
import numpy as np, pandas as pd
import vectorbt as vbt
data = np.load(sys.argv[1])
index = pd.date_range("2020-01-01", periods=len(data["close"]), freq="1min")
close = pd.Series(data["close"], index=index)
open_ = pd.Series(data["open"], index=index)

def once():
    start = time.perf_counter()
    fast = vbt.MA.run(close, 10, short_name="fast")
    slow = vbt.MA.run(close, 30, short_name="slow")
    entries = fast.ma_crossed_above(slow).vbt.signals.fshift(1)
    exits = fast.ma_crossed_below(slow).vbt.signals.fshift(1)
    pf = vbt.Portfolio.from_signals(close, entries, exits, price=open_, size=np.inf,
                                    fees=0.001, init_cash=100_000.0, freq="1min")
    simulated = time.perf_counter() - start
    stats = pf.stats(silence_warnings=True)
    total = time.perf_counter() - start
    return total, simulated, int(stats["Total Trades"]), float(stats["End Value"])

once()
for line in sys.stdin:
    print(json.dumps(once()), flush=True)
"""


def _quantkit_once(series, market) -> tuple[float, int, float]:  # type: ignore[no-untyped-def]
    from quantkit.vector import run_signals
    from quantkit.vector.strategy import SmaCrossSignals

    start = time.perf_counter()
    result = run_signals(SmaCrossSignals(fast=10, slow=30), series, market=market)
    stats = result.stats
    elapsed = time.perf_counter() - start
    return elapsed, int(stats["Trades"]), float(stats["Final equity"])


def main() -> None:
    import numpy as np
    import pandas  # noqa: F401 - users have pandas loaded; keep its import out of the timing
    import talib  # noqa: F401
    from bench_backtest import gbm_series

    from quantkit import Market

    series = gbm_series(BARS)
    market = Market("BTC/USDT", "BTC", "USDT", maker_fee=0.001, taker_fee=0.001)
    _quantkit_once(series, market)  # compile or load the kernels, fill the look-ahead cache
    peer_python = os.environ.get("QUANTKIT_PEER_PYTHON")
    peer = None
    with tempfile.TemporaryDirectory() as folder:
        if peer_python:
            bars = Path(folder) / "bars.npz"
            np.savez(bars, open=series.open, close=series.close)
            peer = subprocess.Popen(
                [peer_python, "-c", _VECTORBT, str(bars)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        mine: list[float] = []
        theirs: list[float] = []
        theirs_unstated: list[float] = []
        for _ in range(ROUNDS):
            elapsed, trades, final = _quantkit_once(series, market)
            mine.append(elapsed)
            if peer is not None:
                assert peer.stdin is not None
                assert peer.stdout is not None
                peer.stdin.write("run\n")
                peer.stdin.flush()
                total, simulated, their_trades, their_final = json.loads(peer.stdout.readline())
                theirs.append(total)
                theirs_unstated.append(simulated)
        if peer is not None:
            assert peer.stdin is not None
            peer.stdin.close()
            peer.wait(timeout=60)
    quantkit_time = statistics.median(mine)
    print(f"bars: {BARS:,}; SMA 10/30; medians of {ROUNDS} interleaved rounds")
    print(f"quantkit run_signals + stats: {quantkit_time * 1e3:.1f} ms "
          f"= {BARS / quantkit_time / 1e6:.2f}M bars/s; {trades} trades, "
          f"final {final:,.2f}")  # fmt: skip
    if theirs:
        vbt_time = statistics.median(theirs)
        print(f"vectorbt from_signals + stats: {vbt_time * 1e3:.1f} ms "
              f"= {BARS / vbt_time / 1e6:.2f}M bars/s; {their_trades} trades, "
              f"final {their_final:,.2f}")  # fmt: skip
        bare = statistics.median(theirs_unstated)
        print(f"  of which from_signals without stats(): {bare * 1e3:.1f} ms")
        print(f"quantkit / vectorbt speed: {vbt_time / quantkit_time:.2f}x with statistics, "
              f"{bare / quantkit_time:.2f}x against vectorbt without them")  # fmt: skip
    else:
        print("vectorbt: set QUANTKIT_PEER_PYTHON to a Python with vectorbt to compare")


if __name__ == "__main__":
    main()
