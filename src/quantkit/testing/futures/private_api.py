"""The local USD-M venue's signed trading endpoints, the way ccxt ``binanceusdm`` calls them.

* ``POST /fapi/v1/leverage`` (``set_leverage``): ``{"leverage", "maxNotionalValue", "symbol"}``;
* ``POST /fapi/v1/marginType`` (``set_margin_mode``): ``ISOLATED`` or ``CROSSED``;
* ``POST /fapi/v1/positionMargin`` (``add_margin``/``reduce_margin``): an isolated position's
  margin, ``type`` 1 adds and 2 takes back;
* ``GET``/``POST /fapi/v1/positionSide/dual`` (``fetch_position_mode``/``set_position_mode``);
* ``POST /fapi/v1/order`` (form body): ``MARKET``, ``LIMIT`` (``GTC``/``IOC``/``FOK``/``GTX``),
  ``STOP_MARKET`` and ``TAKE_PROFIT_MARKET`` (``stopPrice``, ``closePosition``,
  ``workingType``), ``reduceOnly``, ``newClientOrderId`` echoed, ``newOrderRespType`` ``ACK``
  or ``RESULT``;
* ``GET``/``DELETE /fapi/v1/order`` by ``orderId`` or ``origClientOrderId`` (``-2013`` and
  ``-2011`` when unknown), ``GET /fapi/v1/openOrders``, ``GET /fapi/v1/allOrders`` and
  ``GET /fapi/v1/userTrades`` (the last 7 days when neither a window nor a starting id is
  sent, as Binance answers).

The rules behind the answers are `FuturesAccounts`'s; a `VenueRejectionError` becomes Binance's
``{"code", "msg"}`` with HTTP 400.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import get_args

from aiohttp import web

from quantkit.testing.binance_api import (
    BinanceApiError,
    int_param,
    json_list,
    missing_param,
    order_ids,
)
from quantkit.testing.futures.endpoints import SignedEndpoints
from quantkit.testing.futures.matching import OrderRequest
from quantkit.testing.futures.orders import (
    FuturesOrder,
    FuturesOrderType,
    Side,
)
from quantkit.testing.futures.wire import order_json, text, trade_json

__all__ = ["FuturesPrivateApi"]

_TYPES: dict[str, FuturesOrderType] = {
    t: t for t in get_args(FuturesOrderType) if t != "LIQUIDATION"
}
_SIDES: tuple[Side, ...] = ("BUY", "SELL")
_TIME_IN_FORCE = ("GTC", "IOC", "FOK", "GTX")
_WORKING_TYPES = ("CONTRACT_PRICE", "MARK_PRICE")
_WEEK_MS = 7 * 86_400_000


def _decimal(params: dict[str, str], name: str) -> Decimal | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise BinanceApiError(-1100, f"Illegal characters found in parameter '{name}'.")
    return value


def _flag(params: dict[str, str], name: str) -> bool:
    raw = params.get(name, "false").lower()
    if raw not in ("true", "false"):
        raise BinanceApiError(-1130, f"Data sent for parameter '{name}' is not valid.")
    return raw == "true"


def _check_close_position(kind: FuturesOrderType, qty: Decimal | None, reduce: bool) -> None:
    if kind not in ("STOP_MARKET", "TAKE_PROFIT_MARKET"):
        raise BinanceApiError(-1106, "Parameter 'closePosition' sent when not required.")
    if qty is not None:
        raise BinanceApiError(-1106, "Parameter 'quantity' sent when not required.")
    if reduce:
        raise BinanceApiError(-1106, "Parameter 'reduceOnly' sent when not required.")


def order_request(params: dict[str, str]) -> OrderRequest:
    """Parse and syntax-check ``POST /fapi/v1/order``'s parameters.

    Args:
        params: The request's parameters.

    Returns:
        The order request.

    Raises:
        BinanceApiError: ``-1102`` missing, ``-1100``/``-1130`` malformed, ``-1116`` type,
            ``-1115`` time in force, ``-1106`` a parameter sent that the type forbids.
    """
    symbol = params.get("symbol", "")
    if not symbol:
        raise missing_param("symbol")
    if params.get("side") not in _SIDES:
        raise BinanceApiError(-1100, "Illegal characters found in parameter 'side'.")
    side: Side = "BUY" if params["side"] == "BUY" else "SELL"
    if params.get("type", "") not in _TYPES:
        raise BinanceApiError(-1116, "Invalid orderType.")
    kind = _TYPES[params["type"]]
    tif = params.get("timeInForce", "GTC")
    if tif not in _TIME_IN_FORCE:
        raise BinanceApiError(-1115, "Invalid timeInForce.")
    working = params.get("workingType", "CONTRACT_PRICE")
    if working not in _WORKING_TYPES:
        raise BinanceApiError(-1130, "Data sent for parameter 'workingType' is not valid.")
    qty, price, stop = (
        _decimal(params, "quantity"),
        _decimal(params, "price"),
        _decimal(params, "stopPrice"),
    )
    close, reduce = _flag(params, "closePosition"), _flag(params, "reduceOnly")
    if close:
        _check_close_position(kind, qty, reduce)
    elif qty is None:
        raise missing_param("quantity")
    if kind == "LIMIT" and price is None:
        raise missing_param("price")
    if kind == "LIMIT" and "timeInForce" not in params:
        raise missing_param("timeInForce")
    if kind != "LIMIT" and price is not None:
        raise BinanceApiError(-1106, "Parameter 'price' sent when not required.")
    if kind in ("STOP_MARKET", "TAKE_PROFIT_MARKET") and stop is None:
        raise missing_param("stopPrice")
    return OrderRequest(
        symbol, side, kind, qty, price, stop, tif, reduce, close, working,
        params.get("newClientOrderId", ""), params.get("positionSide", "BOTH"),
    )  # fmt: skip


class FuturesPrivateApi(SignedEndpoints):
    """Settings and order endpoints over `FuturesAccounts`.

    Args:
        venue: The accounts.
        signed: Wraps an endpoint with the signature checks (the server's).
        now_ms: The server's clock.
    """

    def routes(self) -> list[web.RouteDef]:
        """Return the aiohttp routes.

        Returns:
            leverage, marginType, positionMargin, positionSide/dual, order (POST, GET, DELETE),
            openOrders,
            allOrders and userTrades.
        """
        return [
            web.post("/fapi/v1/leverage", self.wrap(self._leverage)),
            web.post("/fapi/v1/marginType", self.wrap(self._margin_type)),
            web.post("/fapi/v1/positionMargin", self.wrap(self._position_margin)),
            web.get("/fapi/v1/positionSide/dual", self.wrap(self._get_dual)),
            web.post("/fapi/v1/positionSide/dual", self.wrap(self._set_dual)),
            web.post("/fapi/v1/order", self.wrap(self._new_order)),
            web.get("/fapi/v1/order", self.wrap(self._query_order)),
            web.delete("/fapi/v1/order", self.wrap(self._cancel_order)),
            web.get("/fapi/v1/openOrders", self.wrap(self._open_orders)),
            web.get("/fapi/v1/allOrders", self.wrap(self._all_orders)),
            web.get("/fapi/v1/userTrades", self.wrap(self._user_trades)),
        ]

    def _symbol(self, params: dict[str, str]) -> str:
        symbol = params.get("symbol")
        if not symbol:
            raise missing_param("symbol")
        return self.venue.contract(symbol).symbol

    async def _leverage(
        self, request: web.Request, api_key: str, params: dict[str, str]
    ) -> web.Response:
        symbol = self._symbol(params)
        leverage = int_param(params, "leverage")
        if leverage is None:
            raise missing_param("leverage")
        value, cap = self.venue.set_leverage(api_key, symbol, leverage, now=self.now_ms())
        return web.json_response(
            {"leverage": value, "maxNotionalValue": text(cap), "symbol": symbol}
        )

    async def _margin_type(
        self, request: web.Request, api_key: str, params: dict[str, str]
    ) -> web.Response:
        symbol = self._symbol(params)
        kind = params.get("marginType", "")
        if not kind:
            raise missing_param("marginType")
        self.venue.set_margin_type(api_key, symbol, kind.upper(), now=self.now_ms())
        return web.json_response({"code": 200, "msg": "success"})

    async def _position_margin(
        self, request: web.Request, api_key: str, params: dict[str, str]
    ) -> web.Response:
        symbol = self._symbol(params)
        amount = _decimal(params, "amount")
        if amount is None:
            raise missing_param("amount")
        kind = int_param(params, "type")
        if kind not in (1, 2):
            raise BinanceApiError(-1130, "Data sent for parameter 'type' is not valid.")
        self.venue.modify_isolated_margin(api_key, symbol, amount, add=kind == 1, now=self.now_ms())
        answer = {
            "amount": float(amount),
            "code": 200,
            "msg": "Successfully modify position margin.",
            "type": kind,
        }
        return web.json_response(answer)

    async def _get_dual(
        self, request: web.Request, api_key: str, params: dict[str, str]
    ) -> web.Response:
        with self.venue.lock:
            dual = self.venue.account(api_key).dual_side
        return web.json_response({"dualSidePosition": dual})

    async def _set_dual(
        self, request: web.Request, api_key: str, params: dict[str, str]
    ) -> web.Response:
        if "dualSidePosition" not in params:
            raise missing_param("dualSidePosition")
        self.venue.set_dual_side(api_key, _flag(params, "dualSidePosition"))
        return web.json_response({"code": 200, "msg": "success"})

    async def _new_order(
        self, request: web.Request, api_key: str, params: dict[str, str]
    ) -> web.Response:
        order = self.venue.place(api_key, order_request(params), now=self.now_ms())
        with self.venue.lock:
            answer = order_json(order)
        if params.get("newOrderRespType") == "ACK":
            keep = ("orderId", "symbol", "status", "clientOrderId", "updateTime")
            answer = {k: answer[k] for k in keep} | {"status": "NEW"}
        return web.json_response(answer)

    def _find(self, api_key: str, params: dict[str, str], code: int, msg: str) -> FuturesOrder:
        symbol = self._symbol(params)
        order_id, client_id = order_ids(params)
        found = self.venue.find(api_key, symbol, order_id=order_id, client_id=client_id)
        if found is None:
            raise BinanceApiError(code, msg)
        return found

    async def _query_order(
        self, request: web.Request, api_key: str, params: dict[str, str]
    ) -> web.Response:
        order = self._find(api_key, params, -2013, "Order does not exist.")
        with self.venue.lock:
            return web.json_response(order_json(order))

    async def _cancel_order(
        self, request: web.Request, api_key: str, params: dict[str, str]
    ) -> web.Response:
        order = self._find(api_key, params, -2011, "Unknown order sent.")
        self.venue.cancel(api_key, order, now=self.now_ms())
        with self.venue.lock:
            return web.json_response(order_json(order))

    async def _open_orders(
        self, request: web.Request, api_key: str, params: dict[str, str]
    ) -> web.Response:
        symbol = self._symbol(params) if params.get("symbol") else None
        with self.venue.lock:
            rows = [order_json(o) for o in self.venue.open_orders(api_key, symbol)]
        return json_list(request, rows)

    async def _all_orders(
        self, request: web.Request, api_key: str, params: dict[str, str]
    ) -> web.Response:
        symbol = self._symbol(params)
        start, end = int_param(params, "startTime"), int_param(params, "endTime")
        from_id = int_param(params, "orderId")
        limit = int_param(params, "limit") or 500
        if not 1 <= limit <= 1000:
            raise BinanceApiError(-1130, "Data sent for parameter 'limit' is not valid.")
        if start is None and end is None and from_id is None:
            start = self.now_ms() - _WEEK_MS  # Binance: the last 7 days when no window is sent
        with self.venue.lock:
            orders = [
                o
                for o in self.venue.account(api_key).orders.values()
                if o.symbol == symbol
                and (from_id is None or o.order_id >= from_id)
                and (start is None or o.time >= start)
                and (end is None or o.time <= end)
            ]
            chosen = orders[:limit] if from_id is not None else orders[-limit:]
            rows = [order_json(o) for o in chosen]
        return json_list(request, rows)

    async def _user_trades(
        self, request: web.Request, api_key: str, params: dict[str, str]
    ) -> web.Response:
        symbol = self._symbol(params)
        start, end = int_param(params, "startTime"), int_param(params, "endTime")
        from_id, order_id = int_param(params, "fromId"), int_param(params, "orderId")
        limit = int_param(params, "limit") or 500
        if not 1 <= limit <= 1000:
            raise BinanceApiError(-1130, "Data sent for parameter 'limit' is not valid.")
        if from_id is not None and (start is not None or end is not None):
            raise BinanceApiError(-1128, "Combination of optional parameters invalid.")
        if start is None and end is None and from_id is None:
            start = self.now_ms() - _WEEK_MS  # Binance: the last 7 days when no window is sent
        trades = [
            t
            for t in self.venue.trades(api_key, symbol)
            if (start is None or t.time >= start)
            and (end is None or t.time <= end)
            and (from_id is None or t.trade_id >= from_id)
            and (order_id is None or t.order_id == order_id)
        ]
        chosen = trades[:limit] if start is not None or from_id is not None else trades[-limit:]
        return json_list(request, [trade_json(t) for t in chosen])
