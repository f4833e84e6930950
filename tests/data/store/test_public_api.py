"""The public face of quantkit.data.store and quantkit.data.downloader."""

from __future__ import annotations

import doctest
import importlib
import os
import subprocess
import sys

import pytest

import quantkit.data.store

MODULES = [
    "quantkit.data.downloader",
    "quantkit.data.store",
    "quantkit.data.store._arrow",
    "quantkit.data.store._catalog",
    "quantkit.data.store._columns",
    "quantkit.data.store._gaps",
    "quantkit.data.store._reader",
    "quantkit.data.store._writer",
    "quantkit.data.store.cache",
    "quantkit.data.store.funding_store",
    "quantkit.data.store.layout",
    "quantkit.data.store.parquet_store",
    "quantkit.data.store.ranges",
    "quantkit.data.store.snapshot",
    "quantkit.data.store.store_feed",
]
WITH_EXAMPLES = [
    "quantkit.data.downloader",
    "quantkit.data.store.cache",
    "quantkit.data.store.funding_store",
    "quantkit.data.store.layout",
    "quantkit.data.store.parquet_store",
    "quantkit.data.store.ranges",
    "quantkit.data.store.snapshot",
    "quantkit.data.store.store_feed",
]


def test_all_lists_exactly_the_public_names() -> None:
    assert quantkit.data.store.__all__ == [
        "CacheInfo",
        "FundingStore",
        "FundingWriteReport",
        "ParquetStore",
        "StoreFeed",
        "StoreSnapshot",
        "TimeRange",
        "WriteReport",
    ]
    public = {
        name
        for name, value in vars(quantkit.data.store).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("quantkit.")
    }
    assert public == set(quantkit.data.store.__all__)


@pytest.mark.parametrize("name", MODULES)
def test_every_module_lists_what_it_defines(name: str) -> None:
    module = importlib.import_module(name)
    assert len(set(module.__all__)) == len(module.__all__)
    for exported in module.__all__:
        assert hasattr(module, exported)


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


def test_importing_the_store_and_download_loads_neither_pandas_nor_pyarrow() -> None:
    code = (
        "import sys, quantkit.data.store, quantkit.data.downloader; "
        "sys.exit(sorted(m for m in ('pandas', 'pyarrow', 'anyio') if m in sys.modules) != [])"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run([sys.executable, "-c", code], env=env, check=False)
    assert result.returncode == 0
