"""BinancePrivateApi: Binance spot's signed account and order endpoints over `LocalAccounts`.

What ccxt's ``binance`` class needs to trade spot:

* ``GET /api/v3/account``: balances;
* ``POST /api/v3/order`` (form body): ``MARKET`` and ``LIMIT`` orders, ``timeInForce``
  ``GTC``/``IOC``/``FOK``, ``newClientOrderId`` echoed, ``newOrderRespType`` ``FULL`` with fills;
* ``GET /api/v3/order`` and ``DELETE /api/v3/order``, by ``orderId`` or ``origClientOrderId``;
* ``POST /api/v3/order/cancelReplace`` (ccxt's ``edit_order``): cancels an open order (by
  ``cancelOrderId`` or ``cancelOrigClientOrderId``) and places the new one in one step;
* ``GET /api/v3/openOrders`` and ``GET /api/v3/myTrades``.

Every request is checked the Binance way: the ``X-MBX-APIKEY`` header names an account, the
``signature`` parameter comes last and is the HMAC-SHA256 (hex) with the account's secret of the
raw query string followed by the raw body, and ``timestamp`` lies within ``recvWindow``
(5000 ms by default, at most 60000) of the server's clock and at most a second ahead of it.
Errors carry Binance's codes and messages, so ccxt raises what it raises against the venue:
``-2014``/``-2015``/``-1022`` AuthenticationError, ``-1021`` InvalidNonce, ``-2010``
InsufficientFunds, ``-2011``/``-2013`` OrderNotFound.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from aiohttp import web

from quantkit.errors import ConfigError
from quantkit.testing.accounts import (
    DuplicateOrderError,
    InsufficientBalanceError,
    LocalAccounts,
    LocalOrder,
    OrderSide,
    TimeInForce,
)
from quantkit.testing.binance_api import (
    BinanceApiError,
    int_param,
    json_list,
    limit_param,
    market_param,
    missing_param,
    order_ids,
)
from quantkit.testing.cancel_replace import cancel_replace
from quantkit.testing.fault_middleware import HALF_REPLACE
from quantkit.testing.filters import FilterFailure, check_filters
from quantkit.testing.market_data import LocalMarket
from quantkit.testing.pending import PendingOutcomes
from quantkit.testing.server_clock import ServerClock
from quantkit.testing.signing import check_timestamp, verify_signed
from quantkit.testing.stop_orders import STOP_TYPES, place_stop
from quantkit.testing.venue import LocalVenue

__all__ = ["BinancePrivateApi", "check_timestamp"]

Endpoint = Callable[[web.Request, str, dict[str, str]], Awaitable[web.Response]]
"""A signed endpoint: called with the request, the account's API key and the parameters."""
_API_KEY = web.RequestKey("api_key", str)
_ORDER_RESULT_FIELDS = (
    "price", "origQty", "executedQty", "cummulativeQuoteQty", "status", "timeInForce", "type",
    "side",
)  # fmt: skip
_TYPES: tuple[Literal["MARKET", "LIMIT"], ...] = ("MARKET", "LIMIT")
_SIDES: tuple[OrderSide, ...] = ("BUY", "SELL")
_TIME_IN_FORCE: tuple[TimeInForce, ...] = ("GTC", "IOC", "FOK")


def _text(value: Decimal) -> str:
    """Render a Decimal as plain text, without exponent and trailing zeros."""
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


class BinancePrivateApi:
    """Binance spot's signed endpoints over a `LocalAccounts` book.

    Args:
        venue: The markets traded.
        accounts: The accounts, orders and trades.
        clock: The server's clock (the machine's when ``None``).
        pending: Where a cancelReplace answered ``-1007`` keeps its new order until it is
            placed (see `FaultPlan.half_replace`); a fresh one when ``None``.
    """

    def __init__(
        self,
        venue: LocalVenue,
        accounts: LocalAccounts,
        *,
        clock: ServerClock | None = None,
        pending: PendingOutcomes | None = None,
    ) -> None:
        self.venue = venue
        self.accounts = accounts
        self.clock = ServerClock() if clock is None else clock
        self.pending = PendingOutcomes() if pending is None else pending

    def routes(self) -> list[web.RouteDef]:
        """Return the aiohttp routes of the endpoints.

        Returns:
            Route definitions for ``account``, ``order`` (POST, GET, DELETE),
            ``order/cancelReplace``, ``openOrders`` and ``myTrades``.
        """
        return [
            web.get("/api/v3/account", self._signed(self._account)),
            web.post("/api/v3/order", self._signed(self._new_order)),
            web.post("/api/v3/order/cancelReplace", self._signed(self._cancel_replace)),
            web.get("/api/v3/order", self._signed(self._query_order)),
            web.delete("/api/v3/order", self._signed(self._cancel_order)),
            web.get("/api/v3/openOrders", self._signed(self._open_orders)),
            web.get("/api/v3/myTrades", self._signed(self._my_trades)),
        ]

    # Shared with `BinanceOrderListApi` (the order-list endpoints over the same book).
    @property
    def signed(self) -> Callable[[Endpoint], Callable[[web.Request], Awaitable[web.Response]]]:
        """Wrap an endpoint with the key, signature and timestamp checks."""
        return self._signed

    def order_quantity(self, params: dict[str, str], market: LocalMarket) -> Decimal:
        """The checked ``quantity`` parameter."""
        return self._order_quantity(params, market)

    def decimal_param(self, params: dict[str, str], name: str) -> Decimal | None:
        """A decimal parameter, or ``None`` when absent (-1100 if malformed)."""
        return self._decimal_param(params, name)

    # ------------------------------------------------------------------------- signing

    def _signed(self, endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            params = await self._verify(request)
            return await endpoint(request, request[_API_KEY], params)

        return handler

    async def _verify(self, request: web.Request) -> dict[str, str]:
        """Check key, signature and timestamp; return the parameters of query and body."""
        api_key, params = await verify_signed(request, self.accounts.secret, self.clock.now_ms)
        request[_API_KEY] = api_key
        return params

    # ----------------------------------------------------------------------- rendering

    def market_of(self, params: dict[str, str]) -> LocalMarket:
        """Return the market named by ``symbol``.

        Args:
            params: The request's parameters.

        Returns:
            The market.

        Raises:
            BinanceApiError: ``-1102`` without a symbol, ``-1121`` for an unknown one.
        """
        return market_param(params, self.venue.market_by_id)

    @staticmethod
    def order_json(order: LocalOrder) -> dict[str, Any]:
        """Render an order as Binance's order object (``GET /api/v3/order``).

        Args:
            order: The order.

        Returns:
            The JSON-ready dict.
        """
        return {
            "symbol": order.symbol,
            "orderId": order.order_id,
            "orderListId": order.list_id,
            "clientOrderId": order.client_id,
            "price": _text(order.price),
            "origQty": _text(order.qty),
            "executedQty": _text(order.executed_qty),
            "cummulativeQuoteQty": _text(order.quote_qty),
            "status": order.status,
            "timeInForce": order.time_in_force or "GTC",
            "type": order.type,
            "side": order.side,
            "stopPrice": _text(order.stop_price),
            "icebergQty": "0",
            "time": order.time,
            "updateTime": order.update_time,
            "isWorking": order.working,
            "workingTime": order.time if order.working_time is None else order.working_time,
            "origQuoteOrderQty": "0",
            "selfTradePreventionMode": "EXPIRE_MAKER",
        }

    # ----------------------------------------------------------------------- endpoints

    async def _account(
        self, request: web.Request, api_key: str, params: dict[str, str]
    ) -> web.Response:
        balances = [
            {"asset": asset, "free": _text(free), "locked": _text(locked)}
            for asset, (free, locked) in self.accounts.balances(api_key).items()
        ]
        commission = self.accounts.commission_of(api_key)
        zero = "0.00000000"
        maker, taker = (f"{rate:.8f}" for rate in (commission.maker, commission.taker))
        return web.json_response(
            {
                "makerCommission": int(commission.maker * 10_000),
                "takerCommission": int(commission.taker * 10_000),
                "buyerCommission": 0,
                "sellerCommission": 0,
                "commissionRates": {"maker": maker, "taker": taker, "buyer": zero, "seller": zero},
                "canTrade": True,
                "canWithdraw": False,
                "canDeposit": False,
                "brokered": False,
                "requireSelfTradePrevention": False,
                "preventSor": False,
                "updateTime": self.clock.now_ms(),
                "accountType": "SPOT",
                "balances": balances,
                "permissions": ["SPOT"],
                "uid": 1,
            }
        )

    @staticmethod
    def _decimal_param(params: dict[str, str], name: str) -> Decimal | None:
        text = params.get(name)
        if not text:
            return None
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise BinanceApiError(
                -1100, f"Illegal characters found in parameter '{name}'."
            ) from None
        if not value.is_finite():
            raise BinanceApiError(-1100, f"Illegal characters found in parameter '{name}'.")
        return value

    def _order_quantity(self, params: dict[str, str], market: LocalMarket) -> Decimal:
        qty = self._decimal_param(params, "quantity")
        cost = self._decimal_param(params, "quoteOrderQty")
        if qty is None and cost is not None and params.get("type") == "MARKET":
            step = Decimal(str(market.step_size))
            qty = (cost / self.accounts.price(market.venue_id) / step).to_integral_value(
                rounding="ROUND_DOWN"
            ) * step
        if qty is None:
            raise missing_param("quantity")
        return qty

    def new_order_params(
        self, params: dict[str, str], market: LocalMarket
    ) -> tuple[OrderSide, Literal["MARKET", "LIMIT"], Decimal, Decimal | None, TimeInForce]:
        """Side, type, quantity, price and time in force of a new order, checked with filters.

        Args:
            params: The request's parameters.
            market: The market.

        Returns:
            The order's fields.

        Raises:
            BinanceApiError: For a missing or malformed parameter, ``-1013`` for a filter.
        """
        side, kind = params.get("side", ""), params.get("type", "")
        if side not in _SIDES:
            raise BinanceApiError(-1100, "Illegal characters found in parameter 'side'.")
        if kind not in _TYPES:
            raise BinanceApiError(-1116, "Invalid orderType.")
        tif = params.get("timeInForce", "GTC")
        if tif not in _TIME_IN_FORCE:
            raise BinanceApiError(-1115, "Invalid timeInForce.")
        price = self._decimal_param(params, "price")
        if kind == "LIMIT" and price is None:
            raise missing_param("price")
        qty = self._order_quantity(params, market)
        try:
            check_filters(market, kind, qty, price, self.accounts.price(market.venue_id))
        except FilterFailure as exc:
            raise BinanceApiError(-1013, str(exc)) from None
        return side, kind, qty, price, tif

    def place(self, api_key: str, market: LocalMarket, params: dict[str, str]) -> LocalOrder:
        """Check a new order's parameters and filters, and place it in the book.

        Args:
            api_key: The account's key.
            market: The market.
            params: The request's parameters (``side``, ``type``, ``quantity``, ...).

        Returns:
            The order.

        Raises:
            BinanceApiError: ``-1013`` for a filter failure, ``-2010`` for a duplicate client
                id or a lack of funds, and the parameter errors of ``POST /api/v3/order``.
        """
        if params.get("type") in STOP_TYPES:
            return place_stop(self, api_key, market, params)
        side, kind, qty, price, tif = self.new_order_params(params, market)
        try:
            return self.accounts.place(
                api_key,
                market.venue_id,
                side,
                kind,
                qty,
                price,
                time_in_force=tif,
                client_id=params.get("newClientOrderId", ""),
                now=self.clock.now_ms(),
            )
        except DuplicateOrderError:
            raise BinanceApiError(-2010, "Duplicate order sent.") from None
        except InsufficientBalanceError:
            raise BinanceApiError(
                -2010, "Account has insufficient balance for requested action."
            ) from None
        except ConfigError as exc:
            raise BinanceApiError(-1013, f"Invalid order: {exc}") from None

    async def _new_order(
        self, request: web.Request, api_key: str, params: dict[str, str]
    ) -> web.Response:
        order = self.place(api_key, self.market_of(params), params)
        return web.json_response(self.new_order_json(order, params.get("newOrderRespType")))

    async def _cancel_replace(
        self, request: web.Request, api_key: str, params: dict[str, str]
    ) -> web.Response:
        return cancel_replace(self, api_key, params, request.get(HALF_REPLACE))

    def new_order_json(self, order: LocalOrder, resp_type: str | None) -> dict[str, Any]:
        """Render a new order's answer (``ACK``, ``RESULT`` or ``FULL`` with its fills).

        Args:
            order: The order.
            resp_type: ``newOrderRespType``; ``FULL`` when ``None``.

        Returns:
            The JSON-ready dict.
        """
        full = self.order_json(order)
        answer: dict[str, Any] = {
            "symbol": order.symbol,
            "orderId": order.order_id,
            "orderListId": -1,
            "clientOrderId": order.client_id,
            "transactTime": order.time,
        }
        if resp_type == "ACK":
            return answer
        answer |= {k: full[k] for k in _ORDER_RESULT_FIELDS} | {
            "workingTime": full["workingTime"],
            "selfTradePreventionMode": "EXPIRE_MAKER",
        }
        if order.stop_price:  # a conditional field: only on orders with a stop price
            answer["stopPrice"] = full["stopPrice"]
        if resp_type in (None, "", "FULL"):
            answer["fills"] = [
                {
                    "price": _text(f.price),
                    "qty": _text(f.qty),
                    "commission": _text(f.commission),
                    "commissionAsset": f.commission_asset,
                    "tradeId": f.trade_id,
                }
                for f in order.fills
            ]
        return answer

    def _find(self, api_key: str, params: dict[str, str], code: int, msg: str) -> LocalOrder:
        market = self.market_of(params)
        order_id, client_id = order_ids(params)
        found = self.accounts.find(api_key, market.venue_id, order_id=order_id, client_id=client_id)
        if found is None:
            raise BinanceApiError(code, msg)
        return found

    async def _query_order(
        self, request: web.Request, api_key: str, params: dict[str, str]
    ) -> web.Response:
        order = self._find(api_key, params, -2013, "Order does not exist.")
        return web.json_response(self.order_json(order))

    async def _cancel_order(
        self, request: web.Request, api_key: str, params: dict[str, str]
    ) -> web.Response:
        order = self._find(api_key, params, -2011, "Unknown order sent.")
        try:
            self.accounts.cancel(api_key, order, now=self.clock.now_ms())
        except KeyError:
            raise BinanceApiError(-2011, "Unknown order sent.") from None
        answer = self.order_json(order)
        answer["origClientOrderId"] = order.client_id
        answer["clientOrderId"] = params.get("newClientOrderId") or order.client_id
        answer["transactTime"] = order.update_time
        return web.json_response(answer)

    async def _open_orders(
        self, request: web.Request, api_key: str, params: dict[str, str]
    ) -> web.Response:
        symbol = self.market_of(params).venue_id if params.get("symbol") else None
        orders = self.accounts.open_orders(api_key, symbol)
        return json_list(request, [self.order_json(o) for o in orders])

    async def _my_trades(
        self, request: web.Request, api_key: str, params: dict[str, str]
    ) -> web.Response:
        market = self.market_of(params)
        start, end = int_param(params, "startTime"), int_param(params, "endTime")
        from_id, order_id = int_param(params, "fromId"), int_param(params, "orderId")
        limit = limit_param(params)
        trades = [
            t
            for t in self.accounts.trades(api_key, market.venue_id)
            if (start is None or t.time >= start)
            and (end is None or t.time <= end)
            and (from_id is None or t.trade_id >= from_id)
            and (order_id is None or t.order_id == order_id)
        ]
        rows = [
            {
                "symbol": t.symbol,
                "id": t.trade_id,
                "orderId": t.order_id,
                "orderListId": -1,
                "price": _text(t.price),
                "qty": _text(t.qty),
                "quoteQty": _text(t.quote_qty),
                "commission": _text(t.commission),
                "commissionAsset": t.commission_asset,
                "time": t.time,
                "isBuyer": t.side == "BUY",
                "isMaker": t.maker,
                "isBestMatch": True,
            }
            for t in (
                trades[:limit] if start is not None or from_id is not None else trades[-limit:]
            )
        ]  # (from startTime or fromId: the oldest; otherwise Binance answers the most recent)
        return json_list(request, rows)
