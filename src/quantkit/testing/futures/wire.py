"""Binance USD-M's wire shapes of the local venue's orders, trades, income and stream events.

Numbers travel as strings (plain decimal text, no exponent), ids and times as integers, the
way ``fapi.binance.com`` answers; ccxt's ``binanceusdm`` parses these fields.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from quantkit.testing.futures.orders import FuturesOrder, FuturesTrade, Income
from quantkit.testing.futures.positions import FuturesPosition

__all__ = [
    "account_update",
    "algo_json",
    "algo_update",
    "income_json",
    "order_json",
    "order_trade_update",
    "text",
    "trade_json",
]


def text(value: Decimal) -> str:
    """Render a Decimal as plain text, without exponent or trailing zeros.

    Args:
        value: The number.

    Returns:
        E.g. ``"0.001"``, ``"40000"``, ``"0"``.
    """
    rendered = format(value.normalize(), "f")
    return "0" if rendered in ("-0", "") else rendered


def _rounded(value: Decimal, places: int = 8) -> str:
    return text(value.quantize(Decimal(1).scaleb(-places)))


def order_json(order: FuturesOrder) -> dict[str, Any]:
    """Render an order as ``GET /fapi/v1/order`` answers it.

    Args:
        order: The order.

    Returns:
        The JSON-ready dict.
    """
    return {
        "orderId": order.order_id,
        "symbol": order.symbol,
        "status": order.status,
        "clientOrderId": order.client_id,
        "price": text(order.price),
        "avgPrice": _rounded(order.avg_price),
        "origQty": text(order.qty),
        "executedQty": text(order.executed_qty),
        "cumQty": text(order.executed_qty),
        "cumQuote": _rounded(order.cum_quote),
        "timeInForce": order.time_in_force,
        "type": order.orig_type,
        "origType": order.orig_type,
        "reduceOnly": order.reduce_only,
        "closePosition": order.close_position,
        "side": order.side,
        "positionSide": "BOTH",
        "stopPrice": text(order.stop_price),
        "workingType": order.working_type,
        "priceProtect": False,
        "priceMatch": "NONE",
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "goodTillDate": 0,
        "time": order.time,
        "updateTime": order.update_time,
    }


def trade_json(trade: FuturesTrade) -> dict[str, Any]:
    """Render a trade as ``GET /fapi/v1/userTrades`` answers it.

    Args:
        trade: The trade.

    Returns:
        The JSON-ready dict.
    """
    return {
        "buyer": trade.side == "BUY",
        "commission": _rounded(trade.commission),
        "commissionAsset": "USDT",
        "id": trade.trade_id,
        "maker": trade.maker,
        "orderId": trade.order_id,
        "price": text(trade.price),
        "qty": text(trade.qty),
        "quoteQty": _rounded(trade.quote_qty),
        "realizedPnl": _rounded(trade.realized_pnl),
        "side": trade.side,
        "positionSide": "BOTH",
        "symbol": trade.symbol,
        "time": trade.time,
    }


def income_json(entry: Income) -> dict[str, Any]:
    """Render an income entry as ``GET /fapi/v1/income`` answers it.

    Args:
        entry: The entry.

    Returns:
        The JSON-ready dict.
    """
    return {
        "symbol": entry.symbol,
        "incomeType": entry.type,
        "income": _rounded(entry.amount),
        "asset": "USDT",
        "info": entry.type,
        "time": entry.time,
        "tranId": entry.tran_id,
        "tradeId": entry.trade_id,
    }


def order_trade_update(
    order: FuturesOrder, trade: FuturesTrade | None, execution: str, now: int
) -> dict[str, Any]:
    """Render an ``ORDER_TRADE_UPDATE`` user-data event.

    Args:
        order: The order after the change.
        trade: The fill that changed it, if any.
        execution: ``NEW``, ``TRADE``, ``CANCELED``, ``EXPIRED`` or ``CALCULATED``
            (a liquidation's fill).
        now: Event time (ms).

    Returns:
        The JSON-ready event.
    """
    last_qty, last_price = (trade.qty, trade.price) if trade else (Decimal(0), Decimal(0))
    return {
        "e": "ORDER_TRADE_UPDATE",
        "E": now,
        "T": now,
        "o": {
            "s": order.symbol,
            "c": order.client_id,
            "S": order.side,
            "o": order.type,
            "f": order.time_in_force,
            "q": text(order.qty),
            "p": text(order.price),
            "ap": _rounded(order.avg_price),
            "sp": text(order.stop_price),
            "x": execution,
            "X": order.status,
            "i": order.order_id,
            "l": text(last_qty),
            "z": text(order.executed_qty),
            "L": text(last_price),
            "N": "USDT",
            "n": _rounded(trade.commission) if trade else "0",
            "T": now,
            "t": trade.trade_id if trade else 0,
            "b": "0",
            "a": "0",
            "m": trade.maker if trade else False,
            "R": order.reduce_only,
            "wt": order.working_type,
            "ot": order.orig_type,
            "ps": "BOTH",
            "cp": order.close_position,
            "rp": _rounded(trade.realized_pnl) if trade else "0",
            "pP": False,
            "si": 0,
            "ss": 0,
            "V": "EXPIRE_MAKER",
            "pm": "NONE",
            "gtd": 0,
        },
    }


def account_update(
    reason: str,
    wallet: Decimal,
    cross_wallet: Decimal,
    change: Decimal,
    positions: list[tuple[FuturesPosition, Decimal]],
    now: int,
) -> dict[str, Any]:
    """Render an ``ACCOUNT_UPDATE`` user-data event.

    Args:
        reason: ``ORDER``, ``FUNDING_FEE``, ``MARGIN_TYPE_CHANGE``, ... (Binance's ``m``).
        wallet: USDT wallet balance after the change.
        cross_wallet: USDT cross wallet balance after the change.
        change: Balance change other than P&L and commission (``bc``: funding, transfers).
        positions: The changed positions with their marks.
        now: Event time (ms).

    Returns:
        The JSON-ready event.
    """
    return {
        "e": "ACCOUNT_UPDATE",
        "E": now,
        "T": now,
        "a": {
            "m": reason,
            "B": [
                {
                    "a": "USDT",
                    "wb": _rounded(wallet),
                    "cw": _rounded(cross_wallet),
                    "bc": _rounded(change),
                }
            ],
            "P": [
                {
                    "s": p.symbol,
                    "pa": text(p.amount),
                    "ep": text(p.entry),
                    "bep": text(p.entry),
                    "cr": "0",
                    "up": _rounded(p.unrealized(mark)),
                    "mt": "isolated" if p.isolated else "cross",
                    "iw": _rounded(p.isolated_wallet),
                    "ps": "BOTH",
                }
                for p, mark in positions
            ],
        },
    }


def algo_json(order: FuturesOrder) -> dict[str, Any]:
    """Render a conditional order as ``GET /fapi/v1/algoOrder`` answers it.

    Args:
        order: The conditional order.

    Returns:
        The JSON-ready dict.
    """
    return {
        "algoId": order.order_id,
        "clientAlgoId": order.client_id,
        "algoType": "CONDITIONAL",
        "orderType": order.orig_type,
        "symbol": order.symbol,
        "side": order.side,
        "positionSide": "BOTH",
        "timeInForce": order.time_in_force,
        "quantity": text(order.qty),
        "algoStatus": order.status,
        "actualOrderId": str(order.child_id) if order.child_id else "",
        "actualPrice": _rounded(order.avg_price),
        "triggerPrice": text(order.stop_price),
        "price": "0",
        "icebergQuantity": None,
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "workingType": order.working_type,
        "priceMatch": "NONE",
        "closePosition": order.close_position,
        "priceProtect": False,
        "reduceOnly": order.reduce_only,
        "createTime": order.time,
        "updateTime": order.update_time,
        "triggerTime": order.trigger_time,
        "goodTillDate": 0,
    }


def algo_update(order: FuturesOrder, now: int) -> dict[str, Any]:
    """Render an ``ALGO_UPDATE`` user-data event of a conditional order.

    Args:
        order: The conditional order after the change.
        now: Event time (ms).

    Returns:
        The JSON-ready event.
    """
    return {
        "e": "ALGO_UPDATE",
        "T": now,
        "E": now,
        "o": {
            "caid": order.client_id,
            "aid": order.order_id,
            "at": "CONDITIONAL",
            "o": order.orig_type,
            "s": order.symbol,
            "S": order.side,
            "ps": "BOTH",
            "f": order.time_in_force,
            "q": text(order.qty),
            "X": order.status,
            "ai": str(order.child_id) if order.child_id else "",
            "ap": _rounded(order.avg_price),
            "aq": text(order.executed_qty),
            "act": "MARKET" if order.child_id else "0",
            "tp": text(order.stop_price),
            "p": "0",
            "V": "EXPIRE_MAKER",
            "wt": order.working_type,
            "pm": "NONE",
            "cp": order.close_position,
            "pP": False,
            "R": order.reduce_only,
            "tt": order.trigger_time,
            "gtd": 0,
        },
    }
