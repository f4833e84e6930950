"""Write your own indicator in numpy and use it next to a TA-Lib one.

Usage: python examples/07_custom_indicator.py [REPORT.html]
(default: reports/custom_indicator.html)

An indicator is any function of whole numpy arrays that returns one value per bar. Declare it
once in ``on_start`` with ``self.I(func, *series, **params)``; quantkit computes it over the
history in one vectorised call and the strategy reads it bar by bar with ``[-1]``.

Two things happen when a function that is not from TA-Lib is declared:

* the look-ahead check: quantkit recomputes it on the first third and the first two thirds of
  the history; if any earlier value changes, the function used later bars, and ``self.I``
  raises ``LookAheadError`` naming the indicator and the first bar that moved (the script
  shows one such function being refused);
* ``lookback=`` (how many past bars one new value needs, beyond the bar itself) tells a live
  run that it may recompute only the last ``lookback + 1`` bars when a new bar arrives,
  instead of the whole history. TA-Lib functions report their lookback themselves, except
  those seeded by a recursion (RSI, EMA, ATR...), which are recomputed in full: the script
  prints each indicator's lookback.

The strategy buys when the z-score of the close against its rolling mean is deeply negative
while the TA-Lib RSI confirms an oversold market, and exits when the z-score is back above
zero. The sample bars are SYNTHETIC (a seeded random walk): the figures say nothing about a
real market; the point is the workflow.
"""

import sys

import numpy as np
import talib
from numpy.lib.stride_tricks import sliding_window_view

import quantkit as qk


def zscore(close: np.ndarray, window: int) -> np.ndarray:
    """How many rolling standard deviations the close sits from its rolling mean.

    Only bars ``i - window + 1 .. i`` enter the value at bar ``i``: causal, with a lookback of
    ``window - 1``. The first ``window - 1`` values are NaN.
    """
    out = np.full(len(close), np.nan)
    if len(close) < window:
        return out
    windows = sliding_window_view(close, window)
    std = windows.std(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[window - 1 :] = np.where(std > 0, (close[window - 1 :] - windows.mean(axis=1)) / std, 0)
    return out


def normalised_by_peak(close: np.ndarray) -> np.ndarray:
    """A classic mistake: dividing by the maximum of the WHOLE series uses future bars."""
    relative: np.ndarray = close / close.max()
    return relative


class ZScoreReversion(qk.Strategy):
    """Buy stretched dips that the RSI confirms; exit when the close is back at its mean."""

    window: int = 48
    entry_z: float = -2.0
    rsi_period: int = 14
    oversold: float = 35.0

    def on_start(self) -> None:
        close = self.data.close
        # A user function: checked for look-ahead now; lookback enables live updates.
        self.z = self.I(zscore, close, window=self.window, lookback=self.window - 1)
        # A TA-Lib function: trusted as causal, its lookback is known.
        self.rsi = self.I(talib.RSI, close, timeperiod=self.rsi_period)
        # Indicators can take indicators as inputs (here TA-Lib over the user one).
        self.z_fast = self.I(talib.SMA, self.z, timeperiod=3, name="z_sma3")

    def on_bar(self, bar: qk.SymbolData) -> None:
        if np.isnan(self.z_fast[-1]) or np.isnan(self.rsi[-1]):
            return  # still warming up
        if self.position().is_flat:
            if self.z_fast[-1] < self.entry_z and self.rsi[-1] < self.oversold:
                self.buy(cost=0.95 * self.cash, sl_pct=0.05)
        elif self.z_fast[-1] > 0:
            self.close()


class PeekingStrategy(qk.Strategy):
    """Declares an indicator that looks ahead; quantkit refuses it when it is declared."""

    def on_start(self) -> None:
        self.rel = self.I(normalised_by_peak, self.data.close, name="rel_to_peak")

    def on_bar(self, bar: qk.SymbolData) -> None:  # never reached
        pass


def main(report_path: str = "reports/custom_indicator.html") -> None:
    feed = qk.sample_feed("BTC/USDT")

    try:
        qk.Engine(feed=feed, strategy=PeekingStrategy()).run()
    except qk.LookAheadError as error:
        print(f"refused as expected: {error}\n")

    strategy = ZScoreReversion()
    result = qk.Engine(feed=feed, strategy=strategy).run()
    print(result)

    print("\nIndicators and their lookbacks (None: recomputed in full on a live bar):")
    for indicator in strategy.indicators:
        print(f"  {indicator.name:<32} lookback={indicator.lookback}")

    written = result.report(report_path)
    print(f"\nReport written to {written}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
