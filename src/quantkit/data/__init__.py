"""Market data: the DataFeed interface, the bundled feeds, validation and sample data.

Every feed turns user data into validated `BarSeries` through
`validate_bars`. Importing this package does not import pandas or pyarrow; they are loaded
when a feed reads data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING as _TYPE_CHECKING

from quantkit._lazy import attach as _attach
from quantkit.data.csv_feed import CsvFeed as CsvFeed
from quantkit.data.feed import DataFeed as DataFeed
from quantkit.data.frame_feed import DataFrameFeed as DataFrameFeed
from quantkit.data.parquet_feed import ParquetFeed as ParquetFeed
from quantkit.data.samples import load_sample as load_sample
from quantkit.data.samples import sample_feed as sample_feed
from quantkit.data.series_feed import SeriesFeed as SeriesFeed
from quantkit.data.validation import validate_bars as validate_bars

if _TYPE_CHECKING:
    from quantkit.data.downloader import DownloadReport as DownloadReport
    from quantkit.data.downloader import adownload as adownload
    from quantkit.data.downloader import download as download
    from quantkit.data.fetch import RetryPolicy as RetryPolicy
    from quantkit.data.fetch import afetch_ohlcv_range as afetch_ohlcv_range
    from quantkit.data.fetch import fetch_ohlcv_range as fetch_ohlcv_range
    from quantkit.data.funding import FundingSeries as FundingSeries
    from quantkit.data.fusion import FusedFeed as FusedFeed
    from quantkit.data.fusion import FusionRules as FusionRules
    from quantkit.data.gaps import GapPolicy as GapPolicy
    from quantkit.data.gaps import apply_gap_policy as apply_gap_policy
    from quantkit.data.live import LiveBarStream as LiveBarStream
    from quantkit.data.live import LiveOhlcvSource as LiveOhlcvSource
    from quantkit.data.live import StreamStatus as StreamStatus
    from quantkit.data.multi import MultiTimeframeFeed as MultiTimeframeFeed
    from quantkit.data.perp_download import FundingDownloadReport as FundingDownloadReport
    from quantkit.data.perp_download import adownload_funding as adownload_funding
    from quantkit.data.perp_download import adownload_prices as adownload_prices
    from quantkit.data.perp_download import download_funding as download_funding
    from quantkit.data.perp_download import download_prices as download_prices
    from quantkit.data.perp_download import price_symbol as price_symbol
    from quantkit.data.perp_download import read_price_bars as read_price_bars
    from quantkit.data.quality import QualityReport as QualityReport
    from quantkit.data.quality import SymbolQuality as SymbolQuality
    from quantkit.data.quality import quality_report as quality_report
    from quantkit.data.replay import ReplayStream as ReplayStream
    from quantkit.data.resample import ResampledFeed as ResampledFeed
    from quantkit.data.resample import resample_bars as resample_bars
    from quantkit.data.store import CacheInfo as CacheInfo
    from quantkit.data.store import FundingStore as FundingStore
    from quantkit.data.store import ParquetStore as ParquetStore
    from quantkit.data.store import StoreFeed as StoreFeed
    from quantkit.data.store import TimeRange as TimeRange
    from quantkit.data.store import WriteReport as WriteReport
    from quantkit.data.trades import afetch_trades_range as afetch_trades_range
    from quantkit.data.trades import fetch_trades_range as fetch_trades_range
    from quantkit.data.trades import trades_to_bars as trades_to_bars

# Names served on first use, so that `import quantkit.data` stays light: the data manager, the
# venue adapter, the audit and the statistics load their modules only when asked for.
_LAZY: dict[str, str] = {
    "CacheInfo": "quantkit.data.store",
    "DownloadReport": "quantkit.data.downloader",
    "FundingDownloadReport": "quantkit.data.perp_download",
    "FundingSeries": "quantkit.data.funding",
    "FundingStore": "quantkit.data.store",
    "FusedFeed": "quantkit.data.fusion",
    "FusionRules": "quantkit.data.fusion",
    "GapPolicy": "quantkit.data.gaps",
    "LiveBarStream": "quantkit.data.live",
    "LiveOhlcvSource": "quantkit.data.live",
    "MultiTimeframeFeed": "quantkit.data.multi",
    "ParquetStore": "quantkit.data.store",
    "QualityReport": "quantkit.data.quality",
    "ReplayStream": "quantkit.data.replay",
    "ResampledFeed": "quantkit.data.resample",
    "RetryPolicy": "quantkit.data.fetch",
    "StoreFeed": "quantkit.data.store",
    "StreamStatus": "quantkit.data.live",
    "SymbolQuality": "quantkit.data.quality",
    "TimeRange": "quantkit.data.store",
    "WriteReport": "quantkit.data.store",
    "adownload": "quantkit.data.downloader",
    "adownload_funding": "quantkit.data.perp_download",
    "adownload_prices": "quantkit.data.perp_download",
    "afetch_ohlcv_range": "quantkit.data.fetch",
    "afetch_trades_range": "quantkit.data.trades",
    "apply_gap_policy": "quantkit.data.gaps",
    "download": "quantkit.data.downloader",
    "download_funding": "quantkit.data.perp_download",
    "download_prices": "quantkit.data.perp_download",
    "fetch_ohlcv_range": "quantkit.data.fetch",
    "fetch_trades_range": "quantkit.data.trades",
    "price_symbol": "quantkit.data.perp_download",
    "quality_report": "quantkit.data.quality",
    "read_price_bars": "quantkit.data.perp_download",
    "resample_bars": "quantkit.data.resample",
    "trades_to_bars": "quantkit.data.trades",
}


__getattr__, __dir__ = _attach(__name__, _LAZY, globals())


__all__ = [
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
