"""The local USD-M venue's Algo Order API: conditional orders, as ccxt ``binanceusdm`` sends them.

Binance moved USD-M conditional orders (``STOP_MARKET``, ``TAKE_PROFIT_MARKET``, ...) to the
Algo Order API; ``POST /fapi/v1/order`` refuses them with ``-4120``. ccxt 4.5 sends a
``create_order`` with ``stopLossPrice``/``takeProfitPrice``/``triggerPrice`` here:

* ``POST /fapi/v1/algoOrder``: ``algoType=CONDITIONAL``, ``type``, ``side``, ``quantity`` (or
  ``closePosition=true``), ``triggerPrice``, ``workingType``, ``reduceOnly``,
  ``clientAlgoId`` (unique among the account's waiting conditional orders, ``-4116``);
* ``GET``/``DELETE /fapi/v1/algoOrder`` by ``algoId`` or ``clientAlgoId`` (``params={"trigger":
  True}`` in ccxt); ``GET /fapi/v1/openAlgoOrders``.

The venue serves the two market-triggered types; the limit ones (``STOP``, ``TAKE_PROFIT``)
and trailing stops are refused with ``-1116``. Statuses: ``NEW`` while waiting, then
``TRIGGERED`` and ``FINISHED`` (or ``EXPIRED``), or ``CANCELED``; ``actualOrderId`` names the
market order a trigger placed. ``ALGO_UPDATE`` events follow each change on the user stream.
"""

from __future__ import annotations

from aiohttp import web

from quantkit.testing.binance_api import (
    BinanceApiError,
    json_list,
    missing_param,
    order_ids,
)
from quantkit.testing.futures.endpoints import SignedEndpoints
from quantkit.testing.futures.orders import FuturesOrder
from quantkit.testing.futures.private_api import order_request
from quantkit.testing.futures.wire import algo_json

__all__ = ["FuturesAlgoApi"]

_CONDITIONAL = ("STOP_MARKET", "TAKE_PROFIT_MARKET")


class FuturesAlgoApi(SignedEndpoints):
    """Conditional-order endpoints over `FuturesAccounts`.

    Args:
        venue: The accounts.
        signed: Wraps an endpoint with the signature checks (the server's).
        now_ms: The server's clock.
    """

    def routes(self) -> list[web.RouteDef]:
        """Return the aiohttp routes.

        Returns:
            algoOrder (POST, GET, DELETE) and openAlgoOrders.
        """
        return [
            web.post("/fapi/v1/algoOrder", self.wrap(self._new)),
            web.get("/fapi/v1/algoOrder", self.wrap(self._query)),
            web.delete("/fapi/v1/algoOrder", self.wrap(self._cancel)),
            web.get("/fapi/v1/openAlgoOrders", self.wrap(self._open)),
        ]

    async def _new(
        self, request: web.Request, api_key: str, params: dict[str, str]
    ) -> web.Response:
        kind = params.get("algoType")
        if not kind:
            raise missing_param("algoType")
        if kind != "CONDITIONAL":
            raise BinanceApiError(-1130, "Data sent for parameter 'algoType' is not valid.")
        if params.get("type") not in _CONDITIONAL:
            raise BinanceApiError(-1116, "Invalid orderType.")
        if "stopPrice" in params:
            raise BinanceApiError(-1106, "Parameter 'stopPrice' sent when not required.")
        translated = {k: v for k, v in params.items() if k not in ("triggerPrice", "clientAlgoId")}
        if "triggerPrice" in params:
            translated["stopPrice"] = params["triggerPrice"]
        translated["newClientOrderId"] = params.get("clientAlgoId", "")
        if translated.get("stopPrice") in (None, ""):
            raise missing_param("triggerPrice")
        order = self.venue.place(api_key, order_request(translated), now=self.now_ms(), algo=True)
        with self.venue.lock:
            return web.json_response(algo_json(order))

    def _find(self, api_key: str, params: dict[str, str], code: int, msg: str) -> FuturesOrder:
        algo_id, client_id = order_ids(params, "algoId", "clientAlgoId")
        symbol = params.get("symbol") or None
        found = self.venue.find_algo(api_key, symbol, algo_id=algo_id, client_id=client_id)
        if found is None:
            raise BinanceApiError(code, msg)
        return found

    async def _query(
        self, request: web.Request, api_key: str, params: dict[str, str]
    ) -> web.Response:
        order = self._find(api_key, params, -2013, "Order does not exist.")
        with self.venue.lock:
            return web.json_response(algo_json(order))

    async def _cancel(
        self, request: web.Request, api_key: str, params: dict[str, str]
    ) -> web.Response:
        order = self._find(api_key, params, -2011, "Unknown order sent.")
        self.venue.cancel_algo(api_key, order, now=self.now_ms())
        answer = {
            "algoId": order.order_id,
            "clientAlgoId": order.client_id,
            "code": "200",
            "msg": "success",
        }
        return web.json_response(answer)

    async def _open(
        self, request: web.Request, api_key: str, params: dict[str, str]
    ) -> web.Response:
        symbol = params.get("symbol") or None
        if symbol is not None:
            self.venue.contract(symbol)
        with self.venue.lock:
            orders = self.venue.account(api_key).open_algo_orders(symbol)
            return json_list(request, [algo_json(o) for o in orders])
