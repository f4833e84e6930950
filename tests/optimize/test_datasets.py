"""Results as xarray Datasets: one dimension per parameter, gaps as NaN, duplicates refused."""

from __future__ import annotations

import math
import sys

import numpy as np
import pandas as pd
import pytest

from quantkit import SmaCross, sample_feed, to_dataset
from quantkit.errors import ConfigError, DataError
from quantkit.optimize import optimize, walk_forward

xr = pytest.importorskip("xarray")

BARS = sample_feed(end="2021-01-16").load()  # 360 hourly bars
SPACE = {"fast": [4, 8], "slow": [16, 32]}


def _table() -> pd.DataFrame:
    """A sweep-shaped table over fast x slow x symbol with (fast=10, slow=40) never run."""
    rows = [
        (5, 20, "BTC/USDT", 0.5, 3),
        (5, 20, "ETH/USDT", -0.25, 4),
        (5, 40, "BTC/USDT", 0.75, 5),
        (5, 40, "ETH/USDT", 1.5, 6),
        (10, 20, "BTC/USDT", 2.0, 7),
        (10, 20, "ETH/USDT", -1.0, 8),
    ]
    frame = pd.DataFrame(rows, columns=["fast", "slow", "symbol", "Sharpe ratio", "Trades"])
    frame["Start"] = pd.Timestamp("2024-01-01 12:00", tz="UTC")
    return frame


def test_a_sweep_table_becomes_one_dimension_per_parameter_and_symbol() -> None:
    ds = _table().pipe(to_dataset)
    assert list(ds.dims) == ["fast", "slow", "symbol"]
    assert ds["fast"].values.tolist() == [5, 10]
    assert ds["slow"].values.tolist() == [20, 40]
    assert ds["symbol"].values.tolist() == ["BTC/USDT", "ETH/USDT"]
    sharpe = ds["Sharpe ratio"]
    assert sharpe.dims == ("fast", "slow", "symbol")
    np.testing.assert_array_equal(
        sharpe.values,
        [[[0.5, -0.25], [0.75, 1.5]], [[2.0, -1.0], [np.nan, np.nan]]],
    )
    np.testing.assert_array_equal(
        ds["Trades"].sel(symbol="ETH/USDT").values, [[4.0, 6.0], [8.0, np.nan]]
    )
    start = ds["Start"].sel(fast=5, slow=20, symbol="BTC/USDT").values
    assert start == np.datetime64("2024-01-01T12:00", "ns")
    assert np.isnat(ds["Start"].sel(fast=10, slow=40, symbol="BTC/USDT").values)


def test_every_row_is_in_the_dataset_and_nothing_else_is_filled() -> None:
    table = _table()
    ds = to_dataset(table)
    for row in table.itertuples(index=False):
        cell = ds.sel(fast=row.fast, slow=row.slow, symbol=row.symbol)
        assert cell["Sharpe ratio"].item() == row[3]
        assert cell["Trades"].item() == row[4]
    assert int(ds["Sharpe ratio"].notnull().sum()) == len(table)


def test_slicing_by_several_parameters_at_once() -> None:
    ds = to_dataset(_table())
    best = ds["Sharpe ratio"].sel(symbol="BTC/USDT").max("slow")
    assert best.sel(fast=5).item() == 0.75
    assert best.sel(fast=10).item() == 2.0
    stacked = ds[["Sharpe ratio", "Trades"]].to_array("statistic")
    assert stacked.dims == ("statistic", "fast", "slow", "symbol")
    assert stacked.sel(statistic="Trades", fast=5, slow=40, symbol="BTC/USDT").item() == 5


def test_a_duplicate_combination_is_one_clear_error() -> None:
    table = pd.concat([_table(), _table().iloc[[2]]], ignore_index=True)
    table.loc[6, "Sharpe ratio"] = 9.0  # a different value: neither may win silently
    with pytest.raises(DataError) as caught:
        to_dataset(table)
    message = str(caught.value)
    assert "fast=5, slow=40, symbol='BTC/USDT'" in message
    assert "appears more than once (rows 2, 6)" in message
    assert caught.value.row == 6


def test_explicit_params_and_their_errors() -> None:
    table = _table().drop(columns="symbol")
    with pytest.raises(ConfigError, match="pass params="):
        to_dataset(table)
    ds = to_dataset(table.iloc[[0, 2, 4]], params=["fast", "slow"])
    np.testing.assert_array_equal(ds["Sharpe ratio"].values, [[0.5, 0.75], [2.0, np.nan]])
    with pytest.raises(ConfigError, match=r"no column 'slwo' \(did you mean 'slow'\?\)"):
        to_dataset(table, params=["fast", "slwo"])
    missing = _table().astype({"fast": float})
    missing.loc[3, "fast"] = math.nan
    with pytest.raises(DataError, match=r"results table: row 3: parameter 'fast' has no value"):
        to_dataset(missing)
    with pytest.raises(ConfigError, match="to_dataset takes"):
        to_dataset([1, 2])  # type: ignore[arg-type]


def test_without_xarray_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "xarray", None)
    with pytest.raises(ConfigError, match=r"pip install 'quantkit\[xarray\]'"):
        to_dataset(_table())


def test_an_optimization_result_becomes_a_grid_of_its_parameters() -> None:
    found = optimize(SmaCross, BARS, SPACE, executor="serial", engine="event")
    ds = to_dataset(found)
    assert list(ds.dims) == ["fast", "slow"]
    for row in found.frame.itertuples(index=False):
        cell = ds.sel(fast=row.fast, slow=row.slow)
        assert cell["objective"].item() == pytest.approx(row.objective, nan_ok=True)
    assert ds["Trades"].shape == (2, 2)


def test_a_walk_forward_result_adds_a_window_dimension() -> None:
    result = walk_forward(SmaCross, BARS, SPACE, train=150, test=70, executor="serial")
    ds = to_dataset(result)
    windows = result.windows
    assert list(ds.dims) == ["window", "fast", "slow"]
    assert ds["window"].values.tolist() == windows["window"].tolist()
    for k, found in enumerate(result.optimizations):
        for row in found.frame.itertuples(index=False):
            cell = ds["Trades"].sel(window=windows["window"][k], fast=row.fast, slow=row.slow)
            assert cell.item() == row.Trades
    np.testing.assert_array_equal(ds["out_of_sample"].values, windows["out_of_sample"])
    np.testing.assert_array_equal(ds["chosen_fast"].values, windows["fast"])
    first = windows["test_start"].iloc[0].tz_convert("UTC").tz_localize(None)
    assert ds["test_start"].values[0] == np.datetime64(first.as_unit("ns"))


def test_a_random_search_leaves_the_untried_grid_cells_nan() -> None:
    space = {"fast": [3, 4, 6, 8], "slow": [16, 24, 32]}
    result = walk_forward(
        SmaCross, BARS, space, train=150, test=70, method="random", trials=3, seed=5,
        executor="serial",
    )  # fmt: skip
    ds = to_dataset(result)
    tried = [set(zip(f.frame["fast"], f.frame["slow"], strict=True)) for f in result.optimizations]
    cells = ds.sizes["fast"] * ds.sizes["slow"]
    assert all(len(points) == 3 for points in tried)
    assert cells > 3  # three points do not fill their grid: the rest must be NaN
    assert ds["fast"].values.tolist() == sorted({fast for t in tried for fast, _ in t})
    assert ds["slow"].values.tolist() == sorted({slow for t in tried for _, slow in t})
    for k, points in enumerate(tried):
        trades = ds["Trades"].isel(window=k)
        for fast in ds["fast"].values:
            for slow in ds["slow"].values:
                cell = trades.sel(fast=fast, slow=slow).item()
                assert math.isnan(cell) == ((fast, slow) not in points)


def test_a_real_sweep_pipes_into_a_dataset_cell_for_cell() -> None:
    from quantkit import sweep
    from quantkit.vector.strategy import SmaCrossSignals

    feed = sample_feed(["BTC/USDT", "ETH/USDT"], end="2021-01-16")
    params = [{"fast": 4, "slow": 16}, {"fast": 8, "slow": 16}, {"fast": 4, "slow": 32}]
    table = sweep(SmaCrossSignals, feed, params, workers=1)
    ds = table.pipe(to_dataset)
    assert dict(ds.sizes) == {"fast": 2, "slow": 2, "symbol": 2}
    for row in table.to_dict("records"):
        cell = ds.sel(fast=row["fast"], slow=row["slow"], symbol=row["symbol"])
        assert cell["Total return [%]"].item() == row["Total return [%]"]
        assert cell["Trades"].item() == row["Trades"]
    assert ds["Trades"].sel(fast=8, slow=32).isnull().all()  # never run: NaN, not dropped
