"""CcxtTrading: the `TradingVenue` half of `CcxtExchange` (orders, trades, balances).

Every signed call goes through ``CcxtSession._call``; every answer is parsed into quantkit values
by `quantkit.exchanges.orders`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quantkit.domain.bracket import OcoRequest
from quantkit.domain.order import OrderRequest
from quantkit.domain.venue import VenueBalance, VenueOrder, VenueTrade
from quantkit.errors import ExchangeError
from quantkit.exchanges.oco import create_oco
from quantkit.exchanges.orders import (
    OrderArguments,
    order_arguments,
    parse_balances,
    parse_my_trades,
    parse_order,
)
from quantkit.exchanges.session import CcxtSession

__all__ = ["CcxtTrading"]


def _ccxt_error_behind(exc: KeyError) -> BaseException:
    """The ccxt error a ``KeyError`` hides, else the ``KeyError`` itself.

    ccxt 4.5's binance forgets a refused user-data subscription twice (in ``handle_ws_error``
    and again in ``ensure_user_data_stream_ws_subscribe_signature``); the second ``del`` raises
    a ``KeyError`` while handling the venue's refusal (e.g. bad keys), which it hides.
    """
    from ccxt.base.errors import BaseError  # noqa: PLC0415 - ccxt is heavy; load on use

    hidden = exc.__context__
    return hidden if isinstance(hidden, BaseError) else exc


class CcxtTrading(CcxtSession):
    """Orders, executions and balances of the account (see `CcxtExchange`)."""

    def _arguments(
        self, client: Any, market: Mapping[str, Any], request: OrderRequest, client_id: str
    ) -> OrderArguments:
        """Ccxt's arguments for ``request``, checked against the venue's order features."""
        return order_arguments(
            request,
            client_id,
            market=market,
            has=client.has,
            features=client.features,
            exchange=self._id,
        )

    async def create_order(self, request: OrderRequest, client_id: str) -> VenueOrder:
        """Place an order, tagged with ``client_id`` (ccxt's unified ``clientOrderId``).

        Args:
            request: The order; amount and prices already rounded to the market's precision.
            client_id: The client order id; look the order up by it when the outcome of this
                call is unknown.

        Returns:
            The order as the venue reports it right after placing it.

        Raises:
            ExchangeError: If the venue refused the order for good; ``reason`` says why
                (``"insufficient_funds"``, ``"invalid_order"``, ``"not_supported"``, ...).
            RequestTimeoutError: If the venue did not answer in time: the order may exist.
            TransientError: If the venue could not be reached or answered with a server
                error (the order may exist as well) or rate-limited the request.
            DataError: If the answer is malformed.
        """
        client = await self._ready()
        market = self._require(client, request.symbol, "createOrder")
        arguments = self._arguments(client, market, request, client_id)
        action = f"order {client_id!r} ({request.side.value} {request.symbol})"
        if arguments.cost is not None:
            place = (
                client.create_market_buy_order_with_cost
                if arguments.side == "buy"
                else client.create_market_sell_order_with_cost
            )
            raw = await self._call(
                client, place, arguments.symbol, arguments.cost, arguments.params, action=action
            )
        else:
            raw = await self._call(
                client,
                client.create_order,
                arguments.symbol,
                arguments.type,
                arguments.side,
                arguments.amount,
                arguments.price,
                arguments.params,
                action=action,
            )
        return parse_order(raw, exchange=self._id, client_id=client_id)

    async def create_oco(self, request: OcoRequest) -> tuple[VenueOrder, VenueOrder]:
        """Place a take-profit / stop-loss pair as one venue OCO list (Binance spot).

        Args:
            request: The pair; amount and prices already rounded to the market's precision.

        Returns:
            The take-profit leg and the stop-loss leg as the venue reports them.

        Raises:
            ExchangeError: ``reason="not_supported"`` (before any request) where the venue has
                no OCO lists; other reasons for refusals.
            TransientError: If the outcome is unknown or the venue could not be reached.
        """
        client = await self._ready()
        market = self._require(client, request.symbol, "createOrder")
        with self._errors(client, f"OCO {request.list_client_id!r} ({request.symbol})"):
            return await create_oco(client, market, request, exchange=self._id)

    async def edit_order(
        self,
        client_id: str,
        symbol: str,
        request: OrderRequest,
        *,
        new_client_id: str,
        exchange_id: str = "",
    ) -> VenueOrder:
        """Replace an open order with ``request`` through ccxt's ``edit_order``.

        Binance spot answers with a NEW order (``POST /api/v3/order/cancelReplace``): a new
        venue id and the client id ``new_client_id``; the old order is canceled. The amount of
        ``request`` is what the new order is for (on Binance it does not count the old order's
        fills).

        Args:
            client_id: Client id of the order to replace.
            symbol: Its unified symbol.
            request: The replacement; amount and prices already rounded to the market's
                precision; same symbol, side and type.
            new_client_id: The replacement's client id; look it up by it when the outcome of
                this call is unknown.
            exchange_id: The venue's id of the order to replace, if known (saves a lookup).

        Returns:
            The replacement order as the venue reports it.

        Raises:
            ExchangeError: With ``reason`` ``"not_supported"`` (before any request) if ccxt
                cannot edit this venue's orders; ``"order_not_found"`` if the order to replace
                is unknown or closed; other reasons for other refusals.
            RequestTimeoutError: If the venue did not answer in time: either order may exist.
            TransientError: If the venue could not be reached or answered with a server error.
            DataError: If the answer is malformed.
        """
        client = await self._ready()
        market = self._require(client, symbol, "editOrder")
        if not exchange_id:
            found = await self.fetch_order(client_id, symbol)
            if found is None:
                raise ExchangeError(
                    f"edit of order {client_id!r} ({symbol}): order not found",
                    exchange=self._id,
                    reason="order_not_found",
                )
            exchange_id = found.exchange_id
        arguments = self._arguments(client, market, request, new_client_id)
        action = f"edit of order {client_id!r} ({request.side.value} {symbol})"
        raw = await self._call(
            client,
            client.edit_order,
            exchange_id,
            arguments.symbol,
            arguments.type,
            arguments.side,
            arguments.amount,
            arguments.price,
            arguments.params,
            action=action,
        )
        return parse_order(raw, exchange=self._id, client_id=new_client_id)

    async def cancel_order(self, client_id: str, symbol: str) -> VenueOrder:
        """Cancel an order by its client id.

        Args:
            client_id: The client order id it was placed with.
            symbol: Its unified symbol.

        Returns:
            The order's state after the cancel (some fill may have happened before).

        Raises:
            ExchangeError: If the venue does not know the order or it is no longer open
                (``reason`` ``"order_not_found"``), or refused the cancel.
            TransientError: If the venue could not answer now (a subclass says why).
            DataError: If the answer is malformed.
        """
        client = await self._ready()
        self._require(client, symbol, "cancelOrder")
        action = f"cancel of order {client_id!r} ({symbol})"
        params = {"clientOrderId": client_id}
        raw = await self._call(client, client.cancel_order, None, symbol, params, action=action)
        return parse_order(raw, exchange=self._id, client_id=client_id)

    async def fetch_order(self, client_id: str, symbol: str) -> VenueOrder | None:
        """Look an order up by its client id.

        Args:
            client_id: The client order id it was placed with.
            symbol: Its unified symbol.

        Returns:
            The order, or ``None`` when the venue says no such order exists.

        Raises:
            ExchangeError: If the venue refused the request.
            TransientError: If the venue could not answer now (a subclass says why).
            DataError: If the answer is malformed.
        """
        client = await self._ready()
        self._require(client, symbol, "fetchOrder")
        try:
            params = {"clientOrderId": client_id}
            raw = await self._call(client, client.fetch_order, None, symbol, params)
        except ExchangeError as exc:
            if exc.reason == "order_not_found":
                return None
            raise
        return parse_order(raw, exchange=self._id, client_id=client_id)

    async def open_orders(self, symbol: str | None = None) -> list[VenueOrder]:
        """The account's open orders.

        Args:
            symbol: Only this market's; ``None`` for every market (venues weigh that request
                heavier).

        Returns:
            The open orders, as the venue lists them.

        Raises:
            ExchangeError: If the symbol is unknown or the venue refused the request.
            TransientError: If the venue could not answer now (a subclass says why).
            DataError: If the answer is malformed.
        """
        client = await self._ready()
        if symbol is None:
            self._offers(client, "fetchOpenOrders")
        else:
            self._require(client, symbol, "fetchOpenOrders")
        raw = await self._call(client, client.fetch_open_orders, symbol)
        return [parse_order(order, exchange=self._id) for order in raw]

    async def my_trades(self, symbol: str, since_ms: int | None = None) -> list[VenueTrade]:
        """The account's executions in ``symbol``, oldest first.

        One request: at most the venue's default page (Binance: the 500 oldest at or after
        ``since_ms``, else the 500 latest); call again from the last time for more.

        Args:
            symbol: Unified symbol.
            since_ms: Earliest execution time wanted, ms since the epoch; ``None`` for the
                venue's default (usually the latest).

        Returns:
            The executions, with fees.

        Raises:
            ExchangeError: If the symbol is unknown or the venue refused the request.
            TransientError: If the venue could not answer now (a subclass says why).
            DataError: If the answer is malformed.
        """
        client = await self._ready()
        self._require(client, symbol, "fetchMyTrades")
        raw = await self._call(client, client.fetch_my_trades, symbol, since_ms)
        return parse_my_trades(raw, exchange=self._id, symbol=symbol)

    async def watch_my_trades(self, symbol: str | None = None) -> list[VenueTrade]:
        """Wait for the account's next executions over the venue's private websocket.

        The first call authenticates and subscribes (Binance spot: a signed
        ``userDataStream.subscribe.signature`` on its websocket API); it returns once an
        execution happens after that. Later calls on the same connection return every execution
        since the previous call (ccxt buffers them, up to its ``tradesLimit``), or wait for the
        next. Nothing is replayed: executions before the subscription, or while the connection
        was down, are only in `my_trades`. After the connection fails, the call raises; the
        next call connects and subscribes again.

        Args:
            symbol: Only this market's executions; ``None`` for every market.

        Returns:
            The new executions, oldest first, with fees and, where the venue says which order
            traded, the order's client id.

        Raises:
            ExchangeError: If the venue has no private trade websocket (``reason``
                ``"not_supported"``, raised before any request), the symbol is unknown, or the
                venue refused the subscription (e.g. bad keys: ``"authentication"``).
            TransientError: If the connection failed or was closed (`VenueUnavailableError`),
                or the venue could not be reached: call again to reconnect.
            DataError: If an execution is malformed.
        """
        if not self._has.get("watchMyTrades"):
            raise ExchangeError(
                "the venue offers no websocket for the account's trades (watchMyTrades); "
                "poll my_trades instead",
                exchange=self._id,
                reason="not_supported",
            )
        client = await self._ready()
        if symbol is not None:
            self._require(client, symbol, "watchMyTrades")
        with self._errors(client):
            try:
                raw = await client.watch_my_trades(symbol)
            except KeyError as exc:
                raise _ccxt_error_behind(exc) from None
        return parse_my_trades(
            raw,
            exchange=self._id,
            symbol=symbol or "*",
            client_ids=self._cached_client_ids(client),
        )

    @staticmethod
    def _cached_client_ids(client: Any) -> dict[str, str]:
        """Client ids by order id, from the orders ccxt's websocket handlers have cached."""
        by_symbol = getattr(getattr(client, "orders", None), "hashmap", None)
        return {
            str(order_id): str(order["clientOrderId"])
            for orders in (by_symbol.values() if isinstance(by_symbol, Mapping) else ())
            if isinstance(orders, Mapping)
            for order_id, order in orders.items()
            if isinstance(order, Mapping) and order.get("clientOrderId")
        }

    async def balances(self) -> dict[str, VenueBalance]:
        """The account's balances.

        Returns:
            Balances by asset; assets with a zero total are left out.

        Raises:
            ExchangeError: If the venue refused the request (e.g. bad keys:
                ``reason`` ``"authentication"``).
            TransientError: If the venue could not answer now (a subclass says why).
            DataError: If the answer is malformed.
        """
        client = await self._ready()
        raw = await self._call(client, client.fetch_balance)
        return parse_balances(raw, exchange=self._id)
