"""Binance spot's order-list endpoints over the local book's `OrderLists`.

``POST /api/v3/orderList/oco`` (the current OCO endpoint: ``aboveType``/``belowType``),
``DELETE /api/v3/orderList``, ``GET /api/v3/orderList`` and ``GET /api/v3/openOrderList``,
signed like every private endpoint (`BinancePrivateApi` checks key, signature and timestamp).
The legs are ordinary orders for ``GET /api/v3/order``, ``openOrders``, ``myTrades`` and the
user-data stream.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import web

from quantkit.testing.binance_api import BinanceApiError, int_param, missing_param

if TYPE_CHECKING:
    from quantkit.testing.market_data import LocalMarket
    from quantkit.testing.order_lists import LocalOrderList
    from quantkit.testing.private_api import BinancePrivateApi

__all__ = ["BinanceOrderListApi"]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _filtered(value: Decimal, increment: float, name: str) -> None:
    if value % Decimal(str(increment)) != 0:
        raise BinanceApiError(-1013, f"Filter failure: {name}")


class BinanceOrderListApi:
    """The order-list endpoints, served beside `BinancePrivateApi` (whose signing they use).

    Args:
        private: The private API over the same book.
    """

    def __init__(self, private: BinancePrivateApi) -> None:
        self.private = private
        self.lists = private.accounts.order_lists

    def routes(self) -> list[web.RouteDef]:
        """Return the aiohttp routes of the order-list endpoints."""
        signed = self.private.signed
        return [
            web.post("/api/v3/orderList/oco", signed(self._new_oco)),
            web.delete("/api/v3/orderList", signed(self._cancel_list)),
            web.get("/api/v3/orderList", signed(self._query_list)),
            web.get("/api/v3/openOrderList", signed(self._open_lists)),
        ]

    def _oco_prices(self, params: dict[str, str], market: LocalMarket) -> tuple[Decimal, Decimal]:
        if params.get("side") not in ("BUY", "SELL"):
            raise BinanceApiError(-1100, "Illegal characters found in parameter 'side'.")
        if params.get("aboveType") != "LIMIT_MAKER" or params.get("belowType") != "STOP_LOSS":
            raise BinanceApiError(
                -1013,
                "The local exchange models aboveType=LIMIT_MAKER with belowType=STOP_LOSS only.",
            )
        decimal = self.private.decimal_param
        above, below = decimal(params, "abovePrice"), decimal(params, "belowStopPrice")
        if above is None or below is None:
            name = "abovePrice" if above is None else "belowStopPrice"
            raise missing_param(name)
        _filtered(above, market.tick_size, "PRICE_FILTER")
        _filtered(below, market.tick_size, "PRICE_FILTER")
        return above, below

    async def _new_oco(
        self, request: web.Request, api_key: str, params: dict[str, str]
    ) -> web.Response:
        market = self.private.market_of(params)
        above, below = self._oco_prices(params, market)
        qty = self.private.order_quantity(params, market)
        _filtered(qty, market.step_size, "LOT_SIZE")
        if qty * below < Decimal(str(market.min_notional)):
            raise BinanceApiError(-1013, "Filter failure: NOTIONAL")
        made = self.lists.place_oco(
            api_key,
            market.venue_id,
            params["side"],
            qty,
            above_price=above,
            below_stop=below,
            client_ids=(
                params.get("listClientOrderId", ""),
                params.get("aboveClientOrderId", ""),
                params.get("belowClientOrderId", ""),
            ),
            now=_now_ms(),
        )
        return web.json_response(self._render(made, reports=True))

    def _render(self, made: LocalOrderList, *, reports: bool) -> dict[str, Any]:
        if not reports:
            return made.as_json()
        legs = {o.order_id: self.private.order_json(o) for o in made.legs}
        return made.as_json(legs)

    def _find(self, api_key: str, params: dict[str, str], code: int) -> LocalOrderList:
        list_id = int_param(params, "orderListId")
        client_id = params.get("listClientOrderId") or params.get("origClientOrderId")
        if list_id is None and not client_id:
            raise BinanceApiError(
                -1102,
                "Param 'origClientOrderId' or 'orderListId' must be sent, but both were "
                "empty/null!",
            )
        found = self.lists.find(api_key, list_id=list_id, client_id=client_id)
        if found is None:
            raise BinanceApiError(code, "Order list does not exist.")
        return found

    async def _cancel_list(
        self, request: web.Request, api_key: str, params: dict[str, str]
    ) -> web.Response:
        made = self._find(api_key, params, -2011)
        with self.private.accounts.locked():
            try:
                self.lists.cancel(made, _now_ms())
            except KeyError:
                raise BinanceApiError(-2011, "Unknown order sent.") from None
        return web.json_response(self._render(made, reports=True))

    async def _query_list(
        self, request: web.Request, api_key: str, params: dict[str, str]
    ) -> web.Response:
        return web.json_response(self._render(self._find(api_key, params, -2013), reports=False))

    async def _open_lists(
        self, request: web.Request, api_key: str, params: dict[str, str]
    ) -> web.Response:
        rows = [m.as_json() for m in self.lists.open_lists(api_key)]
        return web.json_response(rows)
