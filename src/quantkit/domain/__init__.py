"""Pure domain values: markets, bars, orders, fills, positions and the portfolio."""

from quantkit.domain.bars import Bar as Bar
from quantkit.domain.bars import BarSeries as BarSeries
from quantkit.domain.fill import Fill as Fill
from quantkit.domain.market import Market as Market
from quantkit.domain.order import Order as Order
from quantkit.domain.order import OrderRequest as OrderRequest
from quantkit.domain.order import OrderStatus as OrderStatus
from quantkit.domain.order import OrderType as OrderType
from quantkit.domain.order import Side as Side
from quantkit.domain.order import TimeInForce as TimeInForce
from quantkit.domain.perpetual import MarginBracket as MarginBracket
from quantkit.domain.perpetual import PerpetualSpec as PerpetualSpec
from quantkit.domain.portfolio import MarginConfig as MarginConfig
from quantkit.domain.portfolio import Portfolio as Portfolio
from quantkit.domain.position import Position as Position
from quantkit.domain.timeframe import format_timeframe as format_timeframe
from quantkit.domain.timeframe import parse_timeframe as parse_timeframe

__all__ = [
    "Bar",
    "BarSeries",
    "Fill",
    "MarginBracket",
    "MarginConfig",
    "Market",
    "Order",
    "OrderRequest",
    "OrderStatus",
    "OrderType",
    "PerpetualSpec",
    "Portfolio",
    "Position",
    "Side",
    "TimeInForce",
    "format_timeframe",
    "parse_timeframe",
]
