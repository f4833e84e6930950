"""Monte Carlo analysis of a finished backtest: bootstrap its trades or its returns.

Resampling the run's closed trades (or its per-bar returns) with replacement gives many
alternative equity curves with the same ingredients in another order; the spread of their
final equity, maximum drawdown and Sharpe ratio shows how much of the result was the luck of
the sequence. Every figure uses the definitions of `quantkit.metrics.stats`. pandas and
plotly are imported only when a table or a figure is asked for.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from quantkit.domain.timeframe import parse_timeframe
from quantkit.errors import ConfigError, DataError
from quantkit.metrics.stats import _ZERO_DENOMINATOR, _drawdown_values, periods_per_year

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

    from quantkit.engine.result import Result

    FloatArray = npt.NDArray[np.float64]

__all__ = ["MonteCarloReport", "monte_carlo"]

BootstrapMethod = Literal["trades", "returns"]
PERCENTILES = (5, 25, 50, 75, 95)
_COLUMNS = ("Final equity", "Max drawdown [%]", "Sharpe ratio")
_CELLS = 4_000_000  # simulated equity points held at once (32 MB); larger runs go in chunks
_YEAR_NS = 365 * 86_400 * 10**9


@dataclass(frozen=True, eq=False)
class MonteCarloReport:
    """Distributions of final equity, maximum drawdown and Sharpe over bootstrapped runs.

    Attributes:
        method: ``"trades"`` or ``"returns"``.
        simulations: Number of simulated runs.
        block: Block length of the returns bootstrap (1 for an i.i.d. resample).
        final_equity: Final equity of each simulated run.
        max_drawdown: Maximum drawdown of each, in percent (<= 0, as in the stats table).
        sharpe: Annualised Sharpe ratio of each (NaN where undefined).
        actual: The same three figures for the actual run, by column name.
    """

    method: BootstrapMethod
    simulations: int
    block: int
    final_equity: FloatArray
    max_drawdown: FloatArray
    sharpe: FloatArray
    actual: dict[str, float]

    @property
    def percentiles(self) -> pd.DataFrame:
        """The 5/25/50/75/95th percentiles of each distribution (NaN Sharpes left out).

        Returns:
            A DataFrame indexed by percentile with columns ``Final equity``,
            ``Max drawdown [%]`` and ``Sharpe ratio``.
        """
        import pandas as pd  # noqa: PLC0415  (lazy: importing analysis must not load pandas)

        columns = {
            name: _percentiles(values)
            for name, values in zip(_COLUMNS, self._arrays(), strict=True)
        }
        return pd.DataFrame(columns, index=pd.Index(PERCENTILES, name="percentile"))

    def _arrays(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        return self.final_equity, self.max_drawdown, self.sharpe

    def __repr__(self) -> str:
        head = f"MonteCarloReport: {self.simulations} simulations of {self.method}"
        return f"{head}\n{self.percentiles.to_string()}"

    def _repr_html_(self) -> str:
        title = html.escape(f"Monte Carlo: {self.simulations} simulations of {self.method}")
        actual = ", ".join(f"{html.escape(k)} {v:,.4g}" for k, v in self.actual.items())
        table = self.percentiles.to_html(float_format=lambda v: f"{v:,.4g}")
        return f"<div><strong>{title}</strong><p>Actual: {actual}</p>{table}</div>"

    def plot(self) -> Any:
        """Histograms of the three distributions, the actual run's value marked on each.

        Returns:
            A ``plotly.graph_objects.Figure``: three histogram traces and a vertical line
            (a layout shape) at each actual value.
        """
        import plotly.graph_objects as go  # noqa: PLC0415 - plotly loads only when plotting
        from plotly.subplots import make_subplots  # noqa: PLC0415

        figure = make_subplots(rows=1, cols=3, subplot_titles=_COLUMNS)
        for k, (name, values) in enumerate(zip(_COLUMNS, self._arrays(), strict=True), 1):
            figure.add_trace(go.Histogram(x=values[np.isfinite(values)], name=name), 1, k)
            actual = self.actual[name]
            if math.isfinite(actual):
                figure.add_vline(x=actual, line={"color": "#d62728", "dash": "dash"}, row=1, col=k)
        figure.update_layout(
            title=f"Monte Carlo: {self.simulations} simulations of {self.method}",
            showlegend=False,
            bargap=0.05,
        )
        return figure


def monte_carlo(
    result: Result,
    *,
    method: BootstrapMethod = "trades",
    simulations: int = 1000,
    seed: int | None = None,
    block: int | None = None,
) -> MonteCarloReport:
    """Bootstrap a finished run into many alternative runs.

    - ``method="trades"``: draw the closed trades' net PnL with replacement (as many as the run
      closed) and add them up from the start equity. Drawdown and Sharpe are those of that
      trade-by-trade curve, the Sharpe annualised with the run's trades per year; ``actual``
      holds the same figures of the actual trades in their order (not the bar-by-bar stats).
    - ``method="returns"``: draw the per-bar returns ``e_t / e_(t-1) - 1`` with replacement
      (``block`` > 1: a moving-block bootstrap of overlapping blocks of that many consecutive
      bars, keeping short-range dependence) and compound them from the start equity. Figures
      are those of `quantkit.metrics.stats.compute_stats` at the run's bars per year, and
      ``actual`` comes from the run's stats table.

    Args:
        result: A finished run.
        method: ``"trades"`` or ``"returns"``.
        simulations: Number of simulated runs (>= 1).
        seed: Seed of the random generator, for a reproducible report.
        block: Block length for ``method="returns"`` (default 1: i.i.d. bars).

    Returns:
        The report.

    Raises:
        ConfigError: If an argument is invalid.
        DataError: If the run has nothing to resample (no closed trade, or a single bar).

    Examples:
        >>> report = monte_carlo(result, simulations=500, seed=7)  # doctest: +SKIP
        >>> report.percentiles  # doctest: +SKIP
    """
    if isinstance(simulations, bool) or not isinstance(simulations, int) or simulations < 1:
        raise ConfigError(f"monte_carlo: simulations must be an integer >= 1, got {simulations!r}")
    if method not in ("trades", "returns"):
        raise ConfigError(f"monte_carlo: method must be 'trades' or 'returns', got {method!r}")
    if block is not None and method == "trades":
        raise ConfigError("monte_carlo: block applies to method='returns' only")
    rng = np.random.default_rng(seed)
    equity = result.equity.to_numpy(dtype=np.float64)
    start = float(equity[0])
    if method == "trades":
        pnl = result.trades["pnl"].to_numpy(dtype=np.float64)
        if not pnl.size:
            raise DataError("monte_carlo: the run closed no trade to resample", source="trades")
        span = int(result.equity.index[-1].value - result.equity.index[0].value)
        ppy = pnl.size * _YEAR_NS / span if span > 0 else math.nan
        arrays = _simulate(rng, pnl, simulations, 1, start, ppy, additive=True)
        actual_curve = start + np.concatenate(([0.0], np.cumsum(pnl)))
        final, dd, sharpe = _figures(actual_curve[:, None], ppy)
        actual = {
            _COLUMNS[0]: float(final[0]),
            _COLUMNS[1]: float(dd[0]),
            _COLUMNS[2]: float(sharpe[0]),
        }
        return MonteCarloReport(method, simulations, 1, *arrays, actual)
    size = 1 if block is None else block
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ConfigError(f"monte_carlo: block must be an integer >= 1, got {block!r}")
    returns = equity[1:] / equity[:-1] - 1.0
    if not returns.size:
        raise DataError("monte_carlo: a single bar has no return to resample", source="equity")
    if size > returns.size:
        raise ConfigError(f"monte_carlo: block {size} is longer than the {returns.size} returns")
    ppy = periods_per_year(parse_timeframe(result.timeframe))
    arrays = _simulate(rng, returns, simulations, size, start, ppy, additive=False)
    stats = result.stats
    actual = {name: float(stats[name]) for name in _COLUMNS}
    return MonteCarloReport(method, simulations, size, *arrays, actual)


def _simulate(
    rng: np.random.Generator,
    sample: FloatArray,
    simulations: int,
    block: int,
    start: float,
    ppy: float,
    *,
    additive: bool,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Resample ``sample`` into ``simulations`` curves, in chunks; return their figures.

    Curves are laid out one per column (bars down), so the stats helpers that accumulate
    along axis 0 apply to all of them at once.
    """
    n = sample.size
    blocks = -(-n // block)
    chunk = max(1, _CELLS // (n + 1))
    out = np.empty((3, simulations))
    for first in range(0, simulations, chunk):
        count = min(chunk, simulations - first)
        starts = rng.integers(0, n - block + 1, size=(blocks, count))
        if block > 1:
            offsets = np.arange(block)[None, :, None]
            index = (starts[:, None, :] + offsets).reshape(blocks * block, count)[:n]
        else:
            index = starts
        drawn = sample[index]
        curves = np.empty((n + 1, count))
        curves[0] = start
        if additive:
            np.cumsum(drawn, axis=0, out=curves[1:])
            curves[1:] += start
        else:
            np.cumprod(1.0 + drawn, axis=0, out=curves[1:])
            curves[1:] *= start
        out[:, first : first + count] = _figures(curves, ppy)
    return out[0], out[1], out[2]


def _figures(curves: FloatArray, ppy: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Final equity, max drawdown [%] and Sharpe of each column, as `compute_stats` has them."""
    final = curves[-1].copy()
    max_drawdown = _drawdown_values(curves).min(axis=0) * 100.0
    sharpe = np.full(curves.shape[1], np.nan)
    if curves.shape[0] >= 3 and math.isfinite(ppy):
        alive = (curves > 0).all(axis=0)  # after a ruin the returns are undefined: Sharpe NaN
        kept = curves[:, alive]
        returns = kept[1:] / kept[:-1] - 1.0
        mean, deviation = returns.mean(axis=0), returns.std(axis=0, ddof=1)
        ratio = np.full(kept.shape[1], np.nan)
        spread = deviation > _ZERO_DENOMINATOR
        ratio[spread] = mean[spread] / deviation[spread] * math.sqrt(ppy)
        sharpe[alive] = ratio
    return final, max_drawdown, sharpe


def _percentiles(values: FloatArray) -> FloatArray:
    finite = values[np.isfinite(values)]
    if not finite.size:
        return np.full(len(PERCENTILES), np.nan)
    result: FloatArray = np.percentile(finite, PERCENTILES)
    return result
