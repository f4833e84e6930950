"""Helpers for testing code built on quantkit, also used by quantkit's own tests.

`LocalExchange` is a small Binance-spot-compatible HTTP server on 127.0.0.1: point the real
ccxt client at it (`LocalExchange.ccxt_exchange`) to download candles and trades with no
network, inject faults (`FaultPlan`) and inspect the requests (`RequestLog`). It serves a
`LocalVenue` (markets and data, synthetic or supplied) through `BinanceSpotApi`, and, for the
accounts it is given, trades through `BinancePrivateApi` against a `LocalAccounts` book.

In live mode (``LocalExchange(live=True)``) a `LiveClock` reveals the data candle by candle
(`LocalExchange.publish`), and `BinanceWebsocketApi` pushes each candle to the kline streams
ccxt.pro's ``watch_ohlcv`` subscribes to.

`LocalFuturesExchange` (``quantkit.testing.futures``) does the same for Binance USD-M
perpetuals: markets, last/mark/index candles, funding rates and leverage brackets.

Importing this package imports aiohttp (not ccxt, which loads when a client is built); plain
``import quantkit`` never imports it.
"""

from quantkit.testing.accounts import LocalAccounts as LocalAccounts
from quantkit.testing.binance_api import BinanceSpotApi as BinanceSpotApi
from quantkit.testing.faults import LOOKUP_PATHS as LOOKUP_PATHS
from quantkit.testing.faults import ORDER_PATHS as ORDER_PATHS
from quantkit.testing.faults import Fault as Fault
from quantkit.testing.faults import FaultPlan as FaultPlan
from quantkit.testing.fees import Commission as Commission
from quantkit.testing.futures import LOCAL_USDM_CCXT_OPTIONS as LOCAL_USDM_CCXT_OPTIONS
from quantkit.testing.futures import FuturesMarket as FuturesMarket
from quantkit.testing.futures import LocalFuturesExchange as LocalFuturesExchange
from quantkit.testing.live_clock import LiveClock as LiveClock
from quantkit.testing.local_exchange import LOCAL_CCXT_OPTIONS as LOCAL_CCXT_OPTIONS
from quantkit.testing.local_exchange import LocalExchange as LocalExchange
from quantkit.testing.market_data import DEFAULT_MARKETS as DEFAULT_MARKETS
from quantkit.testing.market_data import LocalMarket as LocalMarket
from quantkit.testing.partial_fills import PartialFills as PartialFills
from quantkit.testing.private_api import BinancePrivateApi as BinancePrivateApi
from quantkit.testing.request_log import RequestLog as RequestLog
from quantkit.testing.request_log import RequestRecord as RequestRecord
from quantkit.testing.venue import LocalVenue as LocalVenue
from quantkit.testing.ws_api import BinanceWebsocketApi as BinanceWebsocketApi

__all__ = [
    "DEFAULT_MARKETS",
    "LOCAL_CCXT_OPTIONS",
    "LOCAL_USDM_CCXT_OPTIONS",
    "LOOKUP_PATHS",
    "ORDER_PATHS",
    "BinancePrivateApi",
    "BinanceSpotApi",
    "BinanceWebsocketApi",
    "Commission",
    "Fault",
    "FaultPlan",
    "FuturesMarket",
    "LiveClock",
    "LocalAccounts",
    "LocalExchange",
    "LocalFuturesExchange",
    "LocalMarket",
    "LocalVenue",
    "PartialFills",
    "RequestLog",
    "RequestRecord",
]
