"""`OptimizationResult`: the tidy table of a parameter search, its best row, heatmaps."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from quantkit.domain.bars import BarSeries
from quantkit.errors import ConfigError
from quantkit.optimize.evaluate import OBJECTIVE, EventEvaluator, Objective

if TYPE_CHECKING:
    import pandas as pd

    from quantkit.engine.result import Result

__all__ = ["OptimizationResult", "build_optimization_result"]

_log = structlog.get_logger("quantkit.optimize")

Params = dict[str, Any]


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
            f"{self.objective}={self.best_value:.6g} at {self.best_params})"
        )

    def _repr_html_(self) -> str:
        head = html.escape(
            f"{self.method} search: {len(self.frame)} evaluated, {self.pruned} pruned, "
            f"{self.failed} failed, {self.non_finite} with a non-finite objective"
        )
        best = html.escape(f"best {self.objective} = {self.best_value:.6g} at {self.best_params}")
        table = self.frame.head(10).to_html(index=False, float_format=lambda v: f"{v:.4g}")
        return f"<div><strong>{head}</strong><p>{best}</p>{table}</div>"


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

    Returns:
        The result.

    Raises:
        ConfigError: If every combination failed.
    """
    import pandas as pd  # noqa: PLC0415 - pandas at the edge

    rows: list[dict[str, Any]] = []
    errors: list[tuple[Params, str]] = []
    for params, (stats, error) in zip(points, outcomes, strict=True):
        if stats is None:
            errors.append((dict(params), error or "unknown error"))
            _log.warning("combination failed", params=params, error=error)
            continue
        value = stats.get(OBJECTIVE, math.nan)
        rows.append({**params, **stats, OBJECTIVE: float(value)})
    if not rows:
        raise ConfigError(
            f"optimize: all {len(errors)} combinations failed; the first: "
            f"{errors[0][0]}: {errors[0][1]}"
        )
    frame = pd.DataFrame(rows)
    frame = frame.sort_values(
        OBJECTIVE, ascending=not maximize, na_position="last", kind="mergesort"
    ).reset_index(drop=True)
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
    )


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value (parameters go back into a Strategy)."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value
