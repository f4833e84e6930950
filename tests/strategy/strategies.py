"""Hypothesis strategies for strategy tests: parameter pairs and GBM-like bar series."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st


@dataclass(frozen=True)
class Bars:
    """OHLCV columns of a valid series (high >= max(open, close), low <= min(open, close))."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return len(self.close)

    def rows(self) -> list[tuple[float, float, float, float, float]]:
        table = np.column_stack([self.open, self.high, self.low, self.close, self.volume])
        return [tuple(row) for row in table.tolist()]

    def scaled(self, factor: float) -> Bars:
        """The same bars with every price multiplied by ``factor``."""
        return Bars(
            self.open * factor,
            self.high * factor,
            self.low * factor,
            self.close * factor,
            self.volume,
        )

    def splice(self, keep: int, other: Bars) -> Bars:
        """This series with every bar from ``keep`` on taken from ``other`` (as long or longer)."""
        end = len(self)

        def join(mine: np.ndarray, theirs: np.ndarray) -> np.ndarray:
            return np.concatenate([mine[:keep], theirs[keep:end]])

        return Bars(
            join(self.open, other.open),
            join(self.high, other.high),
            join(self.low, other.low),
            join(self.close, other.close),
            join(self.volume, other.volume),
        )


def gbm_bars(count: int, seed: int, *, start: float, sigma: float, drift: float) -> Bars:
    """``count`` bars of a geometric Brownian motion with small gaps between close and open."""
    rng = np.random.default_rng(seed)
    close = start * np.exp(np.cumsum(rng.normal(drift, sigma, count)))
    previous = np.concatenate([[start], close[:-1]])
    open_ = previous * np.exp(rng.normal(0.0, sigma / 4, count))
    high = np.maximum(open_, close) * (1.0 + rng.uniform(0.0, sigma, count))
    low = np.minimum(open_, close) * (1.0 - rng.uniform(0.0, sigma, count))
    volume = rng.uniform(100.0, 1_000.0, count)
    return Bars(open_, high, low, close, volume)


@st.composite
def bar_series(draw: st.DrawFn, min_size: int = 60, max_size: int = 200) -> Bars:
    """A GBM-like series: hypothesis picks size, seed, level, volatility and drift."""
    return gbm_bars(
        draw(st.integers(min_size, max_size)),
        draw(st.integers(0, 2**32 - 1)),
        start=draw(st.floats(1.0, 50_000.0)),
        sigma=draw(st.floats(0.002, 0.05)),
        drift=draw(st.floats(-0.002, 0.002)),
    )


@st.composite
def sma_periods(draw: st.DrawFn, max_slow: int = 40) -> tuple[int, int]:
    """A ``(fast, slow)`` pair with ``2 <= fast < slow <= max_slow``."""
    fast = draw(st.integers(2, max_slow - 1))
    slow = draw(st.integers(fast + 1, max_slow))
    return fast, slow
