"""The public face of quantkit.data: explicit exports, runnable examples, a light import."""

from __future__ import annotations

import doctest
import importlib
import os
import subprocess
import sys

import pytest

import quantkit.data
from quantkit.data import validation

MODULES = [
    "quantkit.data",
    "quantkit.data._polars",
    "quantkit.data._tabular",
    "quantkit.data._timestamps",
    "quantkit.data.csv_feed",
    "quantkit.data.downloader",
    "quantkit.data.fetch",
    "quantkit.data.trades",
    "quantkit.data.frame_feed",
    "quantkit.data.funding",
    "quantkit.data.fusion",
    "quantkit.data.gaps",
    "quantkit.data.multi",
    "quantkit.data.panel",
    "quantkit.data.parquet_feed",
    "quantkit.data.perp_download",
    "quantkit.data.quality",
    "quantkit.data.quality_results",
    "quantkit.data.live_merge",
    "quantkit.data.live_types",
    "quantkit.data.resample",
    "quantkit.data.samples",
    "quantkit.data.samples.generate",
    "quantkit.data.store",
    "quantkit.data.validation",
]
WITH_EXAMPLES = {
    "quantkit.data.csv_feed",
    "quantkit.data.downloader",
    "quantkit.data.fetch",
    "quantkit.data.trades",
    "quantkit.data.frame_feed",
    "quantkit.data.funding",
    "quantkit.data.panel",
    "quantkit.data.parquet_feed",
    "quantkit.data.perp_download",
    "quantkit.data.samples",
    "quantkit.data.validation",
}


def public_names(module: object) -> set[str]:
    bound = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("quantkit.")
    }
    return bound | set(getattr(module, "_LAZY", {})) - {"GapPolicy"}


def test_all_lists_exactly_the_public_names() -> None:
    expected = [
        "CacheInfo",
        "CsvFeed",
        "DataFeed",
        "DataFrameFeed",
        "DownloadReport",
        "FundingDownloadReport",
        "FundingSeries",
        "FundingStore",
        "FusedFeed",
        "FusionRules",
        "GapPolicy",
        "LiveBarStream",
        "LiveOhlcvSource",
        "MultiTimeframeFeed",
        "ParquetFeed",
        "ParquetStore",
        "QualityReport",
        "ReplayStream",
        "ResampledFeed",
        "RetryPolicy",
        "SeriesFeed",
        "StoreFeed",
        "StreamStatus",
        "SymbolQuality",
        "TimeRange",
        "WriteReport",
        "adownload",
        "adownload_funding",
        "adownload_prices",
        "afetch_ohlcv_range",
        "afetch_trades_range",
        "apply_gap_policy",
        "download",
        "download_funding",
        "download_prices",
        "fetch_ohlcv_range",
        "fetch_trades_range",
        "load_sample",
        "price_symbol",
        "quality_report",
        "read_price_bars",
        "resample_bars",
        "sample_feed",
        "trades_to_bars",
        "validate_bars",
    ]
    assert quantkit.data.__all__ == expected
    type_aliases = {"GapPolicy"}  # a Literal alias carries no __module__ of its own
    assert set(quantkit.data.__all__) - type_aliases == public_names(quantkit.data)
    assert quantkit.data.validate_bars is validation.validate_bars


@pytest.mark.parametrize("name", MODULES)
def test_every_module_lists_what_it_defines(name: str) -> None:
    module = importlib.import_module(name)
    assert len(set(module.__all__)) == len(module.__all__)  # ruff's RUF022 keeps it sorted
    for exported in module.__all__:
        assert hasattr(module, exported)


@pytest.mark.parametrize("name", sorted(WITH_EXAMPLES))
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


def test_importing_data_loads_neither_pandas_nor_pyarrow() -> None:
    code = (
        "import sys, quantkit.data; "
        "sys.exit(sorted(m for m in ('pandas', 'pyarrow') if m in sys.modules) != [])"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run([sys.executable, "-c", code], env=env, check=False)
    assert result.returncode == 0
