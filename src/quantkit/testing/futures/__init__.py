"""A local Binance USD-M futures exchange: linear perpetuals for tests, no network needed.

`LocalFuturesExchange` serves a `FuturesVenue` (perpetuals as `FuturesMarket`, with
`LeverageBracket` tables, last/mark/index candles and funding rates every 8 hours) through
`BinanceFuturesApi` and `FuturesSignedApi`, so the real ccxt ``binanceusdm`` client talks to it
(see `LOCAL_USDM_CCXT_OPTIONS`). Faults, the request log and the server clock work as on the
spot `quantkit.testing.LocalExchange`.
"""

from quantkit.testing.futures.app_server import AppServer as AppServer
from quantkit.testing.futures.exchange import LOCAL_USDM_CCXT_OPTIONS as LOCAL_USDM_CCXT_OPTIONS
from quantkit.testing.futures.exchange import LocalFuturesExchange as LocalFuturesExchange
from quantkit.testing.futures.markets import DEFAULT_FUTURES_MARKETS as DEFAULT_FUTURES_MARKETS
from quantkit.testing.futures.markets import FuturesMarket as FuturesMarket
from quantkit.testing.futures.markets import LeverageBracket as LeverageBracket
from quantkit.testing.futures.markets import brackets_from_table as brackets_from_table
from quantkit.testing.futures.public_api import BinanceFuturesApi as BinanceFuturesApi
from quantkit.testing.futures.series import FundingRates as FundingRates
from quantkit.testing.futures.signed_api import FuturesSignedApi as FuturesSignedApi
from quantkit.testing.futures.venue import FuturesVenue as FuturesVenue
from quantkit.testing.futures.venue import PremiumIndex as PremiumIndex

__all__ = [
    "DEFAULT_FUTURES_MARKETS",
    "LOCAL_USDM_CCXT_OPTIONS",
    "AppServer",
    "BinanceFuturesApi",
    "FundingRates",
    "FuturesMarket",
    "FuturesSignedApi",
    "FuturesVenue",
    "LeverageBracket",
    "LocalFuturesExchange",
    "PremiumIndex",
    "brackets_from_table",
]
