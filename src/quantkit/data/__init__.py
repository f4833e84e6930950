"""Market data: the DataFeed interface, the bundled feeds, validation and sample data.

Every feed turns user data into validated `BarSeries` through
`validate_bars`. Importing this package does not import pandas or pyarrow; they are loaded
when a feed reads data.
"""

from __future__ import annotations

from quantkit.data.csv_feed import CsvFeed as CsvFeed
from quantkit.data.feed import DataFeed as DataFeed
from quantkit.data.frame_feed import DataFrameFeed as DataFrameFeed
from quantkit.data.parquet_feed import ParquetFeed as ParquetFeed
from quantkit.data.samples import load_sample as load_sample
from quantkit.data.samples import sample_feed as sample_feed
from quantkit.data.series_feed import SeriesFeed as SeriesFeed
from quantkit.data.validation import validate_bars as validate_bars

__all__ = [
    "CsvFeed",
    "DataFeed",
    "DataFrameFeed",
    "ParquetFeed",
    "SeriesFeed",
    "load_sample",
    "sample_feed",
    "validate_bars",
]
