"""Venue-native OCO lists through ccxt (Binance spot: ``POST /api/v3/orderList/oco``).

ccxt's ``binance`` class has no unified OCO method (``has['createOrderWithTakeProfitAndStopLoss']``
is false for spot); it exposes the endpoint as the implicit ``private_post_orderlist_oco`` and
fills in missing client ids for it (``listClientOrderId``, ``aboveClientOrderId``,
``belowClientOrderId``). This module builds that call's parameters from an `OcoRequest`
(amount and prices written with ccxt's own precision helpers, so what is sent is what the
journal holds) and parses the answer's ``orderReports`` into `VenueOrder` values.

A SELL list (protecting a long) is ``aboveType=LIMIT_MAKER`` at the take-profit and
``belowType=STOP_LOSS`` triggered at the stop; a BUY list mirrors it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quantkit.domain.bracket import OcoRequest
from quantkit.domain.order import Side
from quantkit.domain.venue import VenueOrder
from quantkit.errors import DataError, ExchangeError
from quantkit.exchanges.orders import parse_order

__all__ = ["create_oco", "oco_params"]

_OCO_METHOD = "private_post_orderlist_oco"


def oco_params(client: Any, market: Mapping[str, Any], request: OcoRequest) -> dict[str, str]:
    """The parameters of Binance's ``orderList/oco`` for ``request``.

    Args:
        client: The ccxt client (its precision helpers write the numbers).
        market: ccxt's market of ``request.symbol``.
        request: The pair.

    Returns:
        The request parameters (signing is ccxt's).
    """
    symbol = request.symbol
    amount = client.amount_to_precision(symbol, request.amount)
    tp = client.price_to_precision(symbol, request.take_profit)
    sl = client.price_to_precision(symbol, request.stop_loss)
    params = {
        "symbol": str(market["id"]),
        "side": request.side.value.upper(),
        "quantity": amount,
        "listClientOrderId": request.list_client_id,
        "newOrderRespType": "RESULT",
    }
    limit = {"Type": "LIMIT_MAKER", "Price": tp, "ClientOrderId": request.tp_client_id}
    stop = {"Type": "STOP_LOSS", "StopPrice": sl, "ClientOrderId": request.sl_client_id}
    above, below = (limit, stop) if request.side is Side.SELL else (stop, limit)
    params |= {f"above{k}": v for k, v in above.items()}
    params |= {f"below{k}": v for k, v in below.items()}
    return params


async def create_oco(
    client: Any, market: Mapping[str, Any], request: OcoRequest, *, exchange: str
) -> tuple[VenueOrder, VenueOrder]:
    """Place ``request`` as one venue OCO list.

    Args:
        client: The ccxt client (errors are mapped by the caller).
        market: ccxt's market of ``request.symbol``.
        request: The pair.
        exchange: The venue's id, for errors.

    Returns:
        The take-profit leg and the stop-loss leg, as the venue reports them.

    Raises:
        ExchangeError: With reason ``"not_supported"`` before any request when the venue's ccxt
            class has no OCO endpoint or the market is not spot.
        DataError: If the answer lacks a leg.
    """
    method = getattr(client, _OCO_METHOD, None)
    if method is None or not market.get("spot"):
        raise ExchangeError(
            "venue OCO orders are not supported here", exchange=exchange, reason="not_supported"
        )
    raw = await method(oco_params(client, market, request))
    reports = raw.get("orderReports") if isinstance(raw, Mapping) else None
    if not isinstance(reports, list):
        raise DataError("the OCO answer has no orderReports", source=f"{exchange} OCO")
    legs = {}
    for report in reports:
        parsed = parse_order(client.parse_order(report, market), exchange=exchange)
        legs[parsed.client_id] = parsed
    tp, sl = legs.get(request.tp_client_id), legs.get(request.sl_client_id)
    if tp is None or sl is None:
        raise DataError(
            f"the OCO answer lacks a leg (got {sorted(legs)})", source=f"{exchange} OCO"
        )
    return tp, sl
