"""Per-period Sharpe ratios of a sweep's trials and the checks their diagnostics share.

Sharpe ratios here are per period (not annualised) with a zero benchmark rate, as in
`quantkit.optimize.overfitting`; both of its diagnostics start from them.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, TypeAlias

import numpy as np

from quantkit.errors import ConfigError

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

    FloatArray: TypeAlias = npt.NDArray[np.float64]
    BoolArray: TypeAlias = npt.NDArray[np.bool_]
    ReturnsLike: TypeAlias = npt.ArrayLike | pd.DataFrame

__all__ = ["sharpe_ratios"]

# A standard deviation (or mean) of per-period returns at or below this counts as zero: the
# rounding noise of returns that are equal in exact arithmetic (as in quantkit.metrics.stats).
ZERO = 1e-12


def sharpe_ratios(returns: ReturnsLike) -> FloatArray:
    """Return the per-period Sharpe ratio of every column of a returns matrix.

    The Sharpe ratio is ``mean / std`` with ``ddof=1``, not annualised, against a zero rate.
    A column whose standard deviation is at most 1e-12 has Sharpe 0 if its mean is also at most
    1e-12 in size (a trial that never trades), else ``+inf`` or ``-inf``.

    Args:
        returns: Per-period returns, rows = periods and columns = trials, as a 2-D array or a
            DataFrame; a 1-D array is one trial.

    Returns:
        One Sharpe ratio per column.

    Raises:
        ConfigError: If ``returns`` is not numeric, has fewer than 2 rows or holds NaN or inf.

    Examples:
        >>> sharpe_ratios([[0.01, 0.0], [0.03, 0.0]]).round(4).tolist()
        [1.4142, 0.0]
    """
    matrix, _ = as_matrix(returns, "returns", min_rows=2)
    return column_sharpes(matrix)


def as_matrix(
    returns: ReturnsLike, name: str, min_rows: int
) -> tuple[FloatArray, list[Hashable] | None]:
    """Return returns as a finite float (periods, trials) matrix and its column labels."""
    columns = getattr(returns, "columns", None)
    labels = list(columns) if columns is not None else None
    try:
        matrix = np.asarray(returns, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must hold numeric per-period returns: {exc}") from exc
    if matrix.ndim == 1:
        matrix = matrix[:, np.newaxis]
    if matrix.ndim != 2:
        raise ConfigError(
            f"{name} must be 2-D (rows = periods, columns = trials), got {matrix.ndim} dimensions"
        )
    if matrix.shape[1] == 0:
        raise ConfigError(f"{name} has no columns: give one column of returns per trial")
    if matrix.shape[0] < min_rows:
        raise ConfigError(
            f"{name} has {matrix.shape[0]} rows; at least {min_rows} periods are needed"
        )
    bad = np.argwhere(~np.isfinite(matrix))
    if len(bad):
        row, col = (int(i) for i in bad[0])
        label = labels[col] if labels is not None else col
        raise ConfigError(
            f"{name} holds {matrix[row, col]} at row {row}, column {label!r}; returns must be "
            "finite: fill or drop missing periods for every trial first"
        )
    return matrix, labels


def check_int(function: str, name: str, value: object, minimum: int) -> None:
    """Raise ConfigError unless value is an int (not bool) of at least minimum."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ConfigError(f"{function}: {name} must be an integer >= {minimum}, got {value!r}")


def column_sharpes(matrix: FloatArray) -> FloatArray:
    """Per-column mean / std (ddof=1) with the flat-column convention of `sharpe_ratios`."""
    return sharpe_from_moments(matrix.mean(axis=0), matrix.std(axis=0, ddof=1))


def sharpe_from_moments(mean: FloatArray, std: FloatArray) -> FloatArray:
    """Sharpe ratios from means and standard deviations; flat columns give 0 or +-inf."""
    flat = std <= ZERO
    ratio = np.divide(mean, std, out=np.zeros_like(mean), where=~flat)
    if flat.any():
        flat_mean = mean[flat]
        infinite = np.where(flat_mean > 0.0, np.inf, -np.inf)
        ratio[flat] = np.where(np.abs(flat_mean) <= ZERO, 0.0, infinite)
    return ratio


def check_finite_sharpes(sharpes: FloatArray, labels: list[Hashable] | None) -> None:
    """Raise ConfigError naming the first trial whose Sharpe ratio is infinite."""
    infinite = np.flatnonzero(~np.isfinite(sharpes))
    if len(infinite):
        position = int(infinite[0])
        label = labels[position] if labels is not None else position
        raise ConfigError(
            f"deflated_sharpe_ratio: trial {label!r} has constant non-zero returns, so its "
            "Sharpe ratio is infinite and the DSR is undefined; drop it from the sweep"
        )
