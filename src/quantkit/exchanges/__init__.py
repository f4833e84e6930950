"""Adapters to real venues through ccxt: the client, the error mapping, payload parsing.

This is the only package of quantkit that imports ccxt, and it does so lazily: importing it is
cheap; ccxt is loaded when a `CcxtExchange` is built or a ccxt error is classified.
"""

from quantkit.exchanges.ccxt_exchange import CcxtExchange as CcxtExchange
from quantkit.exchanges.errors import map_ccxt_errors as map_ccxt_errors
from quantkit.exchanges.perpetuals import CcxtPerpetualExchange as CcxtPerpetualExchange

__all__ = ["CcxtExchange", "CcxtPerpetualExchange", "map_ccxt_errors"]
