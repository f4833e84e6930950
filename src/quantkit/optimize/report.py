"""`OptimizationResult`: the tidy table of a parameter search, its best row, heatmaps."""

from __future__ import annotations

import functools
import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import structlog

from quantkit.domain.bars import BarSeries
from quantkit.errors import ConfigError
from quantkit.optimize.evaluate import OBJECTIVE, RETURNS, EventEvaluator, Objective
from quantkit.optimize.overfitting import (
    BacktestOverfittingResult,
    DeflatedSharpeResult,
    deflated_sharpe_ratio,
    probability_of_backtest_overfitting,
    sharpe_ratios,
)

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

    from quantkit.engine.result import Result

__all__ = ["OptimizationResult", "SweepOverfitting", "build_optimization_result", "cscv_splits"]

# CSCV's number of blocks when the sweep has enough bars (C(16, 8) = 12,870 combinations).
_MAX_SPLITS = 16

_log = structlog.get_logger("quantkit.optimize")

Params = dict[str, Any]


@dataclass(frozen=True)
class SweepOverfitting:
    """The overfitting diagnostics of a sweep (see ``docs/overfitting.md``).

    Attributes:
        dsr: Deflated Sharpe ratio of the best combination (by the objective), deflated for
            ``n_trials`` trials: the probability that its true Sharpe ratio beats the best of
            that many skill-less trials. Near 1 is good; below 0.95 the best could be luck.
        pbo: CSCV's probability of backtest overfitting: the share of in-sample/out-of-sample
            splits whose in-sample winner ranks in the bottom half out of sample. Near 0 is
            good; 0.5 and more means choosing by in-sample rank is no better than chance.
        n_trials: Combinations in the returns matrix (ran, with a finite objective).
        n_obs: Bars in the returns matrix.
        n_splits: CSCV's number of blocks.
    """

    dsr: DeflatedSharpeResult
    pbo: BacktestOverfittingResult
    n_trials: int
    n_obs: int
    n_splits: int

    def __str__(self) -> str:
        return (
            f"deflated Sharpe ratio {self.dsr.dsr:.3f} (best of {self.n_trials} trials), "
            f"PBO {self.pbo.pbo:.3f} (CSCV, {self.n_splits} splits of {self.n_obs} bars)"
        )


def cscv_splits(n_obs: int) -> int | None:
    """Return CSCV's number of blocks for a number of bars.

    Args:
        n_obs: Bars (rows of the returns matrix).

    Returns:
        16 when there are at least 32 bars, else the largest even number that leaves at
        least 2 bars per block; None below 4 bars.

    Examples:
        >>> cscv_splits(1000), cscv_splits(15), cscv_splits(3)
        (16, 6, None)
    """
    splits = min(_MAX_SPLITS, n_obs // 2)
    splits -= splits % 2
    return splits if splits >= 2 else None


@dataclass(frozen=True, eq=False)
class OptimizationResult:
    """What a parameter search found.

    Attributes:
        frame: One row per evaluated combination: the parameter columns, every statistic of
            `Result.stats`, and ``objective``; best first (non-finite objectives last, ties in
            evaluation order).
        best_params: The best combination (the first evaluated one when no objective is
            finite).
        best_value: Its objective value (NaN when none is finite).
        objective: Name of the objective (a stat name, or the function's name).
        maximize: Whether larger is better.
        method: ``"grid"``, ``"random"`` or ``"optuna"``.
        pruned: Combinations the constraint removed (never run).
        failed: Combinations whose run raised (not in ``frame``; see ``errors``).
        non_finite: Rows of ``frame`` whose objective is not a finite number.
        errors: ``(params, message)`` of each failed combination.
        engine: ``"event"`` (the event-driven Engine), ``"fast"`` (the compiled fast path)
            or ``"custom"`` (an evaluator given to `optimize`).
        returns: Per-bar returns of the combinations that ran with a finite objective, one
            float32 column each, in the order of the first rows of ``frame`` (column ``j`` is
            row ``j``); None when not kept (see ``returns_note``).
        returns_note: Why ``returns`` is None (empty otherwise).
    """

    frame: pd.DataFrame
    best_params: Params
    best_value: float
    objective: str
    maximize: bool
    method: str
    pruned: int
    failed: int
    non_finite: int
    errors: tuple[tuple[Params, str], ...]
    _rerun: EventEvaluator = field(repr=False)
    _data: Mapping[str, BarSeries] = field(repr=False)
    engine: str = "event"
    returns: npt.NDArray[np.float32] | None = field(default=None, repr=False)
    returns_note: str = ""

    @functools.cached_property
    def _diagnostics(self) -> tuple[SweepOverfitting | None, str]:
        matrix = self.returns
        if matrix is None:
            return None, self.returns_note
        n_obs, n_trials = matrix.shape
        if n_trials < 2:
            return None, f"{n_trials} combination(s) with a finite objective; need 2 or more"
        splits = cscv_splits(n_obs)
        if splits is None:
            return None, f"{n_obs} bars of returns; CSCV needs at least 4"
        wide = matrix.astype(np.float64)
        sharpes = sharpe_ratios(wide)
        infinite = np.flatnonzero(~np.isfinite(sharpes))
        if infinite.size:
            return None, (
                f"frame row {int(infinite[0])} has constant non-zero returns (an infinite "
                "Sharpe ratio)"
            )
        try:
            dsr = deflated_sharpe_ratio(wide[:, 0], sharpes, n_trials=n_trials)
            pbo = probability_of_backtest_overfitting(wide, n_splits=splits)
        except ConfigError as exc:  # pragma: no cover - the checks above catch what they raise
            return None, str(exc)
        return SweepOverfitting(dsr, pbo, n_trials, n_obs, splits), ""

    @property
    def overfitting(self) -> SweepOverfitting | None:
        """The sweep's overfitting diagnostics (computed on first use, then cached).

        The deflated Sharpe ratio of the best combination given the number of trials, and
        CSCV's probability of backtest overfitting over ``returns`` (16 blocks when there are
        at least 32 bars, fewer for short runs). None when they cannot be computed:
        ``overfitting_note`` says why (returns not kept, fewer than 2 trials, too few bars).
        """
        return self._diagnostics[0]

    @property
    def overfitting_note(self) -> str:
        """Why `overfitting` is None (empty when it is not)."""
        return self._diagnostics[1]

    def returns_frame(self) -> pd.DataFrame:
        """Return ``returns`` as a DataFrame: one column per row of ``frame`` it covers.

        Returns:
            Rows are bars (by position), columns the ``frame`` row numbers.

        Raises:
            ConfigError: If the returns were not kept.
        """
        import pandas as pd  # noqa: PLC0415 - pandas at the edge

        if self.returns is None:
            raise ConfigError(f"OptimizationResult: no returns: {self.returns_note}")
        return pd.DataFrame(self.returns)

    def _overfitting_line(self) -> str:
        found = self.overfitting
        return (
            f"overfitting: {found}"
            if found is not None
            else (f"overfitting: n/a ({self.overfitting_note})")
        )

    @property
    def parameters(self) -> tuple[str, ...]:
        """The names of the parameters searched."""
        return tuple(self.best_params)

    def best_result(self) -> Result:
        """Run the best combination again through the event-driven `Engine`.

        Returns:
            The full `Result` (equity, trades, orders, report).
        """
        return self._rerun.run(self._data, self.best_params)

    def heatmap(self, x: str, y: str, stat: str | None = None) -> Any:
        """Return a plotly heatmap of a statistic over two parameters.

        Parameters other than ``x`` and ``y`` are held at their best values: the map is the
        slice of the search through the best combination (cells the search did not evaluate
        are empty). With a random or optuna search, a cell evaluated more than once shows the
        mean.

        Args:
            x: Parameter on the horizontal axis.
            y: Parameter on the vertical axis.
            stat: Column of ``frame`` to show (default: ``"objective"``).

        Returns:
            A ``plotly.graph_objects.Figure`` with one Heatmap trace.

        Raises:
            ConfigError: If ``x`` or ``y`` is not a searched parameter, they are the same, or
                ``stat`` is not a numeric column of ``frame``.
        """
        import plotly.graph_objects as go  # noqa: PLC0415 - plotly is lazy

        table = self.heatmap_table(x, y, stat)
        name = stat or OBJECTIVE
        figure = go.Figure(
            go.Heatmap(
                z=table.to_numpy(dtype=float),
                x=[str(v) for v in table.columns],
                y=[str(v) for v in table.index],
                colorbar={"title": name},
                hovertemplate=f"{x}=%{{x}}<br>{y}=%{{y}}<br>{name}=%{{z}}<extra></extra>",
            )
        )
        figure.update_layout(title=f"{name} by {x} and {y}", xaxis_title=x, yaxis_title=y)
        return figure

    def heatmap_table(self, x: str, y: str, stat: str | None = None) -> pd.DataFrame:
        """Return the values `heatmap` draws: rows are ``y`` values, columns ``x`` values.

        Args:
            x: Parameter of the columns.
            y: Parameter of the rows.
            stat: Column of ``frame`` (default: ``"objective"``).

        Returns:
            The pivoted table (NaN where no combination was evaluated).

        Raises:
            ConfigError: As `heatmap`.
        """
        names = self.parameters
        for axis in (x, y):
            if axis not in names:
                raise ConfigError(
                    f"heatmap: {axis!r} is not a searched parameter (searched: {', '.join(names)})"
                )
        if x == y:
            raise ConfigError(f"heatmap: x and y are both {x!r}; pick two parameters")
        column = stat or OBJECTIVE
        frame = self.frame
        if column not in frame.columns or column in names:
            raise ConfigError(f"heatmap: {column!r} is not a statistic column of the frame")
        values = frame[column]
        if values.dtype == object or values.dtype.kind not in "biuf":
            raise ConfigError(f"heatmap: {column!r} is not numeric; pick a numeric statistic")
        keep = frame.index == frame.index  # all True
        for other in names:
            if other not in (x, y):
                keep = keep & (frame[other] == self.best_params[other]).to_numpy()
        sliced = frame[keep]
        return sliced.pivot_table(index=y, columns=x, values=column, aggfunc="mean", dropna=False)

    def __repr__(self) -> str:
        return (
            f"OptimizationResult({self.method}: {len(self.frame)} evaluated, {self.pruned} "
            f"pruned, {self.failed} failed, {self.non_finite} non-finite; best "
            f"{self.objective}={self.best_value:.6g} at {self.best_params}; "
            f"engine {self.engine}; {self._overfitting_line()})"
        )

    def _repr_html_(self) -> str:
        head = html.escape(
            f"{self.method} search: {len(self.frame)} evaluated, {self.pruned} pruned, "
            f"{self.failed} failed, {self.non_finite} with a non-finite objective"
        )
        best = html.escape(f"best {self.objective} = {self.best_value:.6g} at {self.best_params}")
        overfit = html.escape(self._overfitting_line())
        table = self.frame.head(10).to_html(index=False, float_format=lambda v: f"{v:.4g}")
        return f"<div><strong>{head}</strong><p>{best}</p><p>{overfit}</p>{table}</div>"


def objective_name(objective: Objective) -> str:
    """Return a printable name of an objective.

    Args:
        objective: A stat name or a callable.

    Returns:
        The name.
    """
    if isinstance(objective, str):
        return objective
    return str(getattr(objective, "__name__", type(objective).__name__))


def build_optimization_result(
    points: Sequence[Params],
    outcomes: Sequence[tuple[dict[str, Any] | None, str | None]],
    *,
    objective: Objective,
    maximize: bool,
    pruned: int,
    method: str,
    rerun: EventEvaluator,
    data: Mapping[str, BarSeries],
    engine: str = "event",
) -> OptimizationResult:
    """Rank the evaluated combinations into an `OptimizationResult`.

    Args:
        points: The evaluated combinations, in evaluation order.
        outcomes: Each one's statistics (with ``"objective"``) or error.
        objective: The objective.
        maximize: Whether larger is better.
        pruned: How many combinations the constraint removed.
        method: The search method.
        rerun: Evaluator that re-runs a combination through the Engine.
        data: The bars.
        engine: Which evaluator ran the sweep (``"event"``, ``"fast"`` or ``"custom"``).

    Returns:
        The result.

    Raises:
        ConfigError: If every combination failed.
    """
    import pandas as pd  # noqa: PLC0415 - pandas at the edge

    rows: list[dict[str, Any]] = []
    series: list[Any] = []
    errors: list[tuple[Params, str]] = []
    for params, (stats, error) in zip(points, outcomes, strict=True):
        if stats is None:
            errors.append((dict(params), error or "unknown error"))
            _log.warning("combination failed", params=params, error=error)
            continue
        series.append(stats.get(RETURNS))
        value = stats.get(OBJECTIVE, math.nan)
        kept = {name: v for name, v in stats.items() if name != RETURNS}
        rows.append({**params, **kept, OBJECTIVE: float(value)})
    if not rows:
        raise ConfigError(
            f"optimize: all {len(errors)} combinations failed; the first: "
            f"{errors[0][0]}: {errors[0][1]}"
        )
    frame = pd.DataFrame(rows)
    order = frame.sort_values(
        OBJECTIVE, ascending=not maximize, na_position="last", kind="mergesort"
    ).index
    frame = frame.loc[order].reset_index(drop=True)
    finite_count = int(frame[OBJECTIVE].notna().sum())
    returns, note = _returns_matrix([series[i] for i in order[:finite_count]])
    names = list(points[0])
    best_value = float(frame[OBJECTIVE].iloc[0])
    finite = frame[OBJECTIVE].notna()
    best = frame.iloc[0]  # the first evaluated one when none is finite (stable sort)
    best_params = {name: _plain(best[name]) for name in names}
    return OptimizationResult(
        frame=frame,
        best_params=best_params,
        best_value=best_value if math.isfinite(best_value) else math.nan,
        objective=objective_name(objective),
        maximize=maximize,
        method=method,
        pruned=pruned,
        failed=len(errors),
        non_finite=int((~finite).sum()),
        errors=tuple(errors),
        _rerun=rerun,
        _data=data,
        engine=engine,
        returns=returns,
        returns_note=note,
    )


def _returns_matrix(columns: Sequence[Any]) -> tuple[npt.NDArray[np.float32] | None, str]:
    """Stack the kept per-bar returns into a (bars, trials) float32 matrix, or say why not."""
    if not columns:
        return None, "no combination has a finite objective"
    if any(column is None for column in columns):
        return (
            None,
            "the per-bar returns were not kept (keep_returns=False, or the evaluator gives none)",
        )
    arrays = [np.asarray(column, dtype=np.float32).ravel() for column in columns]
    lengths = {a.size for a in arrays}
    if len(lengths) > 1:
        return None, f"the runs' return series differ in length ({sorted(lengths)})"
    matrix = np.column_stack(arrays)
    matrix[~np.isfinite(matrix)] = 0.0
    return matrix, ""


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value (parameters go back into a Strategy)."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value
