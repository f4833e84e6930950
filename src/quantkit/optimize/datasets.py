"""Sweep, search and walk-forward results as ``xarray.Dataset`` objects, one dimension a parameter.

A tidy results table (one row per combination, and per symbol for a sweep) becomes a Dataset
whose dimensions are the parameters (and ``symbol``) and whose data variables are the
statistics, so results can be sliced by several parameters at once:
``ds["Sharpe ratio"].sel(fast=10).max("slow")``. ``ds.to_array("statistic")`` stacks the
numeric statistics along a ``statistic`` dimension.

The grid is the full product of each parameter's values: a combination that was not run (a
list of parameter dicts rather than a grid, a constraint, a failed run) is NaN, never dropped;
a combination that appears twice is an error, never silently averaged or overwritten.
xarray is imported only here, when a Dataset is asked for.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from quantkit.data.panel import import_xarray
from quantkit.errors import ConfigError, DataError
from quantkit.optimize.report import OptimizationResult
from quantkit.optimize.walkforward import WalkForwardResult

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

__all__ = ["to_dataset"]


def to_dataset(
    results: pd.DataFrame | OptimizationResult | WalkForwardResult,
    *,
    params: Sequence[str] | None = None,
) -> xr.Dataset:
    """Turn results into an ``xarray.Dataset`` with one dimension per parameter.

    Args:
        results: The table `quantkit.vector.sweep` returns (dimensions: its parameters and
            ``symbol``; works with ``table.pipe(to_dataset)``), an `OptimizationResult`
            (dimensions: its parameters), a `WalkForwardResult` (dimensions: ``window`` and
            the parameters of the in-sample searches), or any tidy DataFrame with ``params``.
        params: The columns that are dimensions. Default: for a table with a ``symbol``
            column, the columns before it and ``symbol``; for the result objects, their
            parameters.

    Returns:
        The Dataset: coordinates are each dimension's distinct values, sorted; every other
        column is a data variable (timestamps as UTC ``datetime64[ns]``). A walk-forward
        Dataset also has, along ``window``, the variables ``in_sample``, ``out_of_sample`` and
        ``chosen_<parameter>``, and the window's bounds as coordinates.

    Raises:
        DataError: If a combination appears twice, or a parameter value is missing.
        ConfigError: If a named parameter is not a column, the parameters cannot be inferred,
            or xarray is not installed.

    Examples:
        >>> import pandas as pd
        >>> table = pd.DataFrame(
        ...     {"fast": [5, 5, 10], "slow": [20, 40, 20], "symbol": "BTC/USDT",
        ...      "Sharpe ratio": [0.5, 0.7, 1.1]}
        ... )
        >>> ds = table.pipe(to_dataset)
        >>> dict(ds.sizes)
        {'fast': 2, 'slow': 2, 'symbol': 1}
        >>> ds["Sharpe ratio"].sel(fast=10, slow=40, symbol="BTC/USDT").item()
        nan
    """
    import pandas as pd  # noqa: PLC0415 - pandas at the edge

    xarray = import_xarray("to_dataset")
    if isinstance(results, WalkForwardResult):
        return _walk_forward(xarray, results, params)
    if isinstance(results, OptimizationResult):
        names = list(results.parameters) if params is None else list(params)
        return grid_dataset(xarray, results.frame, names, "optimization results")
    if isinstance(results, pd.DataFrame):
        names = _sweep_dimensions(results) if params is None else list(params)
        return grid_dataset(xarray, results, names, "results table")
    raise ConfigError(
        "to_dataset takes a results DataFrame, an OptimizationResult or a WalkForwardResult, "
        f"got {type(results).__name__}"
    )


def _sweep_dimensions(frame: pd.DataFrame) -> list[str]:
    columns = [str(column) for column in frame.columns]
    if "symbol" not in columns:
        raise ConfigError(
            "cannot tell the parameters of a table without a 'symbol' column; "
            "pass params=['fast', 'slow', ...]"
        )
    return columns[: columns.index("symbol") + 1]


def grid_dataset(xarray: Any, frame: pd.DataFrame, dims: list[str], source: str) -> xr.Dataset:
    """The Dataset of a tidy table over the full grid of ``dims``.

    Args:
        xarray: The xarray module.
        frame: One row per combination.
        dims: The columns that are dimensions.
        source: What the table is, for messages.

    Returns:
        The Dataset.

    Raises:
        DataError: If a combination appears twice or a dimension value is missing.
        ConfigError: If a dimension is not a column.
    """
    _check_dimensions(frame, dims, source)
    duplicated = frame.duplicated(subset=dims, keep=False).to_numpy().nonzero()[0]
    if duplicated.size:
        first = frame.iloc[duplicated[0]]
        rows = [
            int(row) for row in duplicated if all(_same(frame.iloc[row][d], first[d]) for d in dims)
        ]
        combination = ", ".join(f"{d}={_python(first[d])!r}" for d in dims)
        raise DataError(
            f"the combination {combination} appears more than once (rows "
            f"{', '.join(map(str, rows))}); remove the duplicates first",
            source=source,
            row=rows[1],
        )
    values = frame.drop(columns=dims).copy()
    for column in values.columns:
        values[column] = _plain(values[column])
    indexed = values.set_axis(frame.set_index(dims).index, axis=0)
    dataset: xr.Dataset = xarray.Dataset.from_dataframe(indexed)
    return dataset


def _check_dimensions(frame: pd.DataFrame, dims: list[str], source: str) -> None:
    columns = [str(column) for column in frame.columns]
    if not dims or len(set(dims)) != len(dims):
        raise ConfigError(f"params must be distinct column names, got {dims}")
    for name in dims:
        if name not in columns:
            close = difflib.get_close_matches(name, columns, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{source}: no column {name!r}{hint}; columns: {columns}")
        missing = frame[name].isna().to_numpy().nonzero()[0]
        if missing.size:
            raise DataError(f"parameter {name!r} has no value", source=source, row=int(missing[0]))


def _same(left: Any, right: Any) -> bool:
    return bool(left == right)


def _python(value: Any) -> Any:
    """A numpy scalar as the Python value it holds, for messages."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def _plain(column: pd.Series) -> pd.Series:
    """Time-zone-aware timestamps as naive UTC ``datetime64[ns]`` (what xarray holds)."""
    import pandas as pd  # noqa: PLC0415 - pandas at the edge

    dtype = column.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        naive: pd.Series = column.dt.tz_convert("UTC").dt.tz_localize(None)
        return naive.astype("datetime64[ns]")
    return column


def _walk_forward(
    xarray: Any, result: WalkForwardResult, params: Sequence[str] | None
) -> xr.Dataset:
    import pandas as pd  # noqa: PLC0415 - pandas at the edge

    windows = result.windows
    grids = []
    for found in result.optimizations:
        names = list(found.parameters) if params is None else list(params)
        grids.append(grid_dataset(xarray, found.frame, names, "walk-forward in-sample results"))
    index = pd.Index(windows["window"].to_numpy(), name="window")
    dataset: xr.Dataset = xarray.concat(
        grids,
        dim=index,
        join="outer",
        data_vars="all",
        coords="different",
        compat="equals",
        combine_attrs="drop",
    )
    names = list(result.optimizations[0].parameters) if result.optimizations else []
    for column in ("in_sample", "out_of_sample"):
        dataset[column] = ("window", windows[column].to_numpy())
    for name in names:
        dataset[f"chosen_{name}"] = ("window", windows[name].to_numpy())
    for column in ("train_start", "train_end", "test_start", "test_end"):
        dataset.coords[column] = ("window", _plain(windows[column]).to_numpy())
    return dataset
