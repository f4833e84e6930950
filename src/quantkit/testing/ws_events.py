"""Binance spot websocket events rendered from the local venue: klines and execution reports.

`BinanceWebsocketApi` pushes them; they are plain functions so a test can render the event it
expects. Numbers are strings as Binance sends them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from quantkit.testing.local_orders import LocalFill, LocalOrder
from quantkit.testing.market_data import Candles, LocalMarket, format_number

__all__ = ["execution_report", "kline_event"]


def kline_event(
    market: LocalMarket, interval: str, candles: Candles, row: int, *, closed: bool, now_ms: int
) -> dict[str, Any]:
    """Render one candle as a Binance spot kline event.

    Args:
        market: The market.
        interval: The stream's interval, e.g. ``"1m"``.
        candles: The candles the row is taken from.
        row: Index of the candle.
        closed: Whether the candle is final (``"x"``).
        now_ms: Event time (``"E"``), in ms since the epoch.

    Returns:
        The event, ready for ``json.dumps``.
    """
    fmt = format_number
    volume, close = float(candles.volume[row]), float(candles.close[row])
    return {
        "e": "kline",
        "E": now_ms,
        "s": market.venue_id,
        "k": {
            "t": int(candles.time[row]),
            "T": int(candles.close_time[row]),
            "s": market.venue_id,
            "i": interval,
            "f": 0,
            "L": 0,
            "o": fmt(candles.open[row]),
            "c": fmt(close),
            "h": fmt(candles.high[row]),
            "l": fmt(candles.low[row]),
            "v": fmt(volume),
            "n": int(candles.count[row]),
            "x": closed,
            "q": fmt(round(volume * close, 8)),
            "V": "0",
            "Q": "0",
            "B": "0",
        },
    }


def _text(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def execution_report(
    order: LocalOrder, fill: LocalFill | None, *, commission_asset: str, now_ms: int
) -> dict[str, Any]:
    """Render an order change as a Binance spot ``executionReport`` user-data event.

    The execution type (``"x"``) is ``TRADE`` when ``fill`` is given, else the order's status
    (``NEW``, ``CANCELED`` or ``EXPIRED``); the order is read as it is now, so render it at once.

    Args:
        order: The order, already changed.
        fill: The trade that changed it, if any.
        commission_asset: Asset the commission is charged in (``"N"``, on trades).
        now_ms: Event time (``"E"``), in ms since the epoch.

    Returns:
        The event, ready for ``json.dumps``.
    """
    zero = Decimal(0)
    canceled = order.status == "CANCELED"
    return {
        "e": "executionReport",
        "E": now_ms,
        "s": order.symbol,
        "c": order.client_id,
        "S": order.side,
        "o": order.type,
        "f": order.time_in_force or "GTC",
        "q": _text(order.qty),
        "p": _text(order.price),
        "P": _text(order.stop_price),
        "F": "0",
        "g": order.list_id,
        "C": order.client_id if canceled else "",
        "x": "TRADE" if fill is not None else order.status,
        "X": order.status,
        "r": "NONE",
        "i": order.order_id,
        "l": _text(fill.qty if fill is not None else zero),
        "z": _text(order.executed_qty),
        "L": _text(fill.price if fill is not None else zero),
        "n": _text(fill.commission if fill is not None else zero),
        "N": (fill.commission_asset or commission_asset) if fill is not None else None,
        "T": fill.time if fill is not None else order.update_time,
        "t": fill.trade_id if fill is not None else -1,
        "I": order.order_id * 10 + len(order.fills),
        "w": order.is_open and order.working,
        "m": fill.maker if fill is not None else False,
        "M": fill is not None,
        "O": order.time,
        "Z": _text(order.quote_qty),
        "Y": _text(fill.quote_qty if fill is not None else zero),
        "Q": "0",
        "W": order.time if order.working_time is None else order.working_time,
        "V": "EXPIRE_MAKER",
    }
