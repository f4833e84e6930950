"""A local Binance USD-M futures exchange: linear perpetuals for tests, no network needed.

`LocalFuturesExchange` serves a `FuturesVenue` (perpetuals as `FuturesMarket`, with
`LeverageBracket` tables, last/mark/index candles and funding rates every 8 hours) through
`BinanceFuturesApi` and `FuturesSignedApi`, so the real ccxt ``binanceusdm`` client talks to it
(see `LOCAL_USDM_CCXT_OPTIONS`). Faults, the request log and the server clock work as on the
spot `quantkit.testing.LocalExchange`.

Its private side, `FuturesTrading` (``exchange.trading``), trades the perpetuals for the given
accounts over `FuturesAccounts`: an account model of its own (one-way positions, leverage,
margin type, fees, funding, liquidation at Binance's `liquidation_price`), so it can check
quantkit's futures rules independently.
"""

from quantkit.testing.app_server import AppServer as AppServer
from quantkit.testing.futures.accounts import FuturesAccounts as FuturesAccounts
from quantkit.testing.futures.accounts import OrderRequest as OrderRequest
from quantkit.testing.futures.brackets import BracketTable as BracketTable
from quantkit.testing.futures.contracts import ContractRules as ContractRules
from quantkit.testing.futures.exchange import LOCAL_USDM_CCXT_OPTIONS as LOCAL_USDM_CCXT_OPTIONS
from quantkit.testing.futures.exchange import LocalFuturesExchange as LocalFuturesExchange
from quantkit.testing.futures.liquidation import liquidation_price as liquidation_price
from quantkit.testing.futures.markets import DEFAULT_FUTURES_MARKETS as DEFAULT_FUTURES_MARKETS
from quantkit.testing.futures.markets import FuturesMarket as FuturesMarket
from quantkit.testing.futures.markets import LeverageBracket as LeverageBracket
from quantkit.testing.futures.markets import brackets_from_table as brackets_from_table
from quantkit.testing.futures.orders import VenueRejectionError as VenueRejectionError
from quantkit.testing.futures.partial_fills import FuturesPartialFills as FuturesPartialFills
from quantkit.testing.futures.public_api import BinanceFuturesApi as BinanceFuturesApi
from quantkit.testing.futures.series import FundingRates as FundingRates
from quantkit.testing.futures.signed_api import FuturesSignedApi as FuturesSignedApi
from quantkit.testing.futures.trading import FuturesTrading as FuturesTrading
from quantkit.testing.futures.venue import FuturesVenue as FuturesVenue
from quantkit.testing.futures.venue import PremiumIndex as PremiumIndex

__all__ = [
    "DEFAULT_FUTURES_MARKETS",
    "LOCAL_USDM_CCXT_OPTIONS",
    "AppServer",
    "BinanceFuturesApi",
    "BracketTable",
    "ContractRules",
    "FundingRates",
    "FuturesAccounts",
    "FuturesMarket",
    "FuturesPartialFills",
    "FuturesSignedApi",
    "FuturesTrading",
    "FuturesVenue",
    "LeverageBracket",
    "LocalFuturesExchange",
    "OrderRequest",
    "PremiumIndex",
    "VenueRejectionError",
    "brackets_from_table",
    "liquidation_price",
]
