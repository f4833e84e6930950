"""The local data store: bars in Parquet files by exchange, symbol and timeframe.

`ParquetStore` writes validated bars one calendar period per file, atomically, reads ranges
with partition and row-group pruning into numpy columns, caches recent reads in memory and
serves stored series to the engine through `StoreFeed` and to Polars, pinned to one version,
through `StoreSnapshot`. `FundingStore` keeps perpetuals' funding rates beside the bars.
Importing this package does not import pandas or pyarrow. See ``docs/store.md``.
"""

from __future__ import annotations

from quantkit.data.store.cache import CacheInfo as CacheInfo
from quantkit.data.store.funding_store import FundingStore as FundingStore
from quantkit.data.store.funding_store import FundingWriteReport as FundingWriteReport
from quantkit.data.store.parquet_store import ParquetStore as ParquetStore
from quantkit.data.store.parquet_store import WriteReport as WriteReport
from quantkit.data.store.ranges import TimeRange as TimeRange
from quantkit.data.store.snapshot import StoreSnapshot as StoreSnapshot
from quantkit.data.store.store_feed import StoreFeed as StoreFeed

__all__ = [
    "CacheInfo",
    "FundingStore",
    "FundingWriteReport",
    "ParquetStore",
    "StoreFeed",
    "StoreSnapshot",
    "TimeRange",
    "WriteReport",
]
