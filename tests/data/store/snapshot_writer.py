"""A writer process for the snapshot tests: commits numbered versions of two series on cue.

Version ``k`` of each series is ``k`` days of one-minute bars from 31 January (so from version
2 on it spans the January and February partitions) with every price multiplied by ``k``: a
reader can tell from any one row which version it came from, and from the row count.
Usage: ``python snapshot_writer.py ROOT FIRST LAST MODE``; MODE ``step`` waits for a line on
stdin before each version and prints ``committed k`` after it, MODE ``run`` writes them all.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))

from bars import make_frame

from quantkit.data.store import ParquetStore

SYMBOLS = ("BTC/USDT", "ETH/USDT")
START = "2024-01-31"


def version(k: int) -> pd.DataFrame:
    """Version ``k``: ``k`` days of bars, prices times ``k``."""
    frame = make_frame(START, k * 1440, "1m", seed=7)
    for column in ("open", "high", "low", "close"):
        frame[column] = frame[column] * k
    return frame


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main() -> None:
    root, first, last, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    store = ParquetStore(root, cache_bytes=0)
    _say("ready")
    for k in range(first, last + 1):
        if mode == "step":
            sys.stdin.readline()
        for symbol in SYMBOLS:
            store.write("binance", symbol, "1m", version(k), overwrite=True)
        _say(f"committed {k}")
    _say("done")


if __name__ == "__main__":
    main()
