"""Binance spot's ``POST /api/v3/order/cancelReplace`` over the local book, half-successes included.

What Binance documents (``rest-api.md`` and ``errors.md`` in ``binance/binance-spot-api-docs``):
filters are checked first (a failure is a plain ``-1013``, nothing is canceled); then

* the cancel fails (``STOP_ON_FAILURE``): HTTP 400, ``-2022`` "Order cancel-replace failed.",
  ``data`` with ``cancelResult`` ``FAILURE`` and ``newOrderResult`` ``NOT_ATTEMPTED``;
* the cancel fails (``ALLOW_FAILURE``) and the new order is placed: HTTP 409, ``-2021``;
  both fail: HTTP 400, ``-2022``;
* the cancel succeeds and the new order fails: HTTP 409, ``-2021`` "Order cancel-replace
  partially failed.", ``data`` with the cancel's answer and the new order's error;
* both succeed: HTTP 200 with ``cancelResponse`` and ``newOrderResponse``.

A ``"half"`` fault (`FaultPlan.half_replace`) makes the new order fail after a successful
cancel, or answers 503 ``-1007`` and places the new order later (or never).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from aiohttp import web

from quantkit.testing.binance_api import BinanceApiError, int_param, missing_param
from quantkit.testing.fault_middleware import timeout_response
from quantkit.testing.faults import Fault
from quantkit.testing.pending import Action

if TYPE_CHECKING:
    from quantkit.testing.local_orders import LocalOrder
    from quantkit.testing.market_data import LocalMarket
    from quantkit.testing.private_api import BinancePrivateApi

__all__ = ["cancel_replace"]

_PARTIAL = (-2021, "Order cancel-replace partially failed.")
_FAILED = (-2022, "Order cancel-replace failed.")
_UNKNOWN_ORDER = {"code": -2011, "msg": "Unknown order sent."}
_INJECTED_REFUSAL = {"code": -2010, "msg": "NEW_ORDER_REJECTED"}


def _error(code_msg: tuple[int, str], status: int, data: dict[str, Any]) -> BinanceApiError:
    code, msg = code_msg
    return BinanceApiError(code, msg, status, data=data)


def _data(cancel: str, new: str, cancel_answer: Any, new_answer: Any) -> dict[str, Any]:
    return {
        "cancelResult": cancel,
        "newOrderResult": new,
        "cancelResponse": cancel_answer,
        "newOrderResponse": new_answer,
    }


def cancel_replace(
    api: BinancePrivateApi, api_key: str, params: dict[str, str], fault: Fault | None
) -> web.Response:
    """Answer a cancelReplace request.

    Args:
        api: The private API (book, rendering, clock, pending requests).
        api_key: The account's key.
        params: The request's parameters.
        fault: A ``"half"`` fault to apply, if any.

    Returns:
        The 200 answer, or 503 ``-1007`` under an unknown ``"half"`` fault.

    Raises:
        BinanceApiError: Parameter and filter errors, ``-2021`` and ``-2022`` as documented.
    """
    market = api.market_of(params)
    mode = params.get("cancelReplaceMode")
    if mode not in ("STOP_ON_FAILURE", "ALLOW_FAILURE"):
        raise missing_param("cancelReplaceMode")
    api.new_order_params(params, market)  # parameters and filters first: -1013 cancels nothing
    old = _order_to_cancel(api, api_key, market, params)
    if old is None:
        if mode == "STOP_ON_FAILURE":
            raise _error(_FAILED, 400, _data("FAILURE", "NOT_ATTEMPTED", _UNKNOWN_ORDER, None))
        return _place_after_failed_cancel(api, api_key, market, params)
    api.accounts.cancel(api_key, old, now=api.clock.now_ms())
    canceled = api.order_json(old) | {
        "origClientOrderId": old.client_id,
        "transactTime": old.update_time,
    }
    if fault is not None and fault.status != 409:  # unknown: the new order comes later, or not
        api.pending.defer(_later(api, api_key, market, params), fault.execute_after, "replace")
        return timeout_response()
    if fault is not None:
        raise _error(_PARTIAL, 409, _data("SUCCESS", "FAILURE", canceled, _INJECTED_REFUSAL))
    try:
        new = api.place(api_key, market, params)
    except BinanceApiError as exc:
        refused = {"code": exc.code, "msg": exc.msg}
        raise _error(_PARTIAL, 409, _data("SUCCESS", "FAILURE", canceled, refused)) from None
    placed = api.new_order_json(new, params.get("newOrderRespType"))
    return web.json_response(_data("SUCCESS", "SUCCESS", canceled, placed))


def _order_to_cancel(
    api: BinancePrivateApi, api_key: str, market: LocalMarket, params: dict[str, str]
) -> LocalOrder | None:
    order_id = int_param(params, "cancelOrderId")
    client_id = params.get("cancelOrigClientOrderId")
    if order_id is None and not client_id:
        raise BinanceApiError(
            -1102,
            "Param 'cancelOrigClientOrderId' or 'cancelOrderId' must be sent, but both "
            "were empty/null!",
        )
    old = api.accounts.find(api_key, market.venue_id, order_id=order_id, client_id=client_id)
    if old is not None and order_id is not None and client_id and old.client_id != client_id:
        return None  # both sent and they disagree: Binance rejects the cancel
    return old if old is not None and old.is_open else None


def _place_after_failed_cancel(
    api: BinancePrivateApi, api_key: str, market: LocalMarket, params: dict[str, str]
) -> web.Response:
    try:
        new = api.place(api_key, market, params)
    except BinanceApiError as exc:
        refused = {"code": exc.code, "msg": exc.msg}
        raise _error(_FAILED, 400, _data("FAILURE", "FAILURE", _UNKNOWN_ORDER, refused)) from None
    placed = api.new_order_json(new, "ACK")
    raise _error(_PARTIAL, 409, _data("FAILURE", "SUCCESS", _UNKNOWN_ORDER, placed))


def _later(
    api: BinancePrivateApi, api_key: str, market: LocalMarket, params: dict[str, str]
) -> Action:
    async def place_new_order() -> None:
        with contextlib.suppress(BinanceApiError):  # refused when it reached the book
            api.place(api_key, market, params)

    return place_new_order
