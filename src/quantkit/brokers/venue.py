"""What the live broker needs from a venue: a small async interface (adapters implement it).

`quantkit.exchanges.CcxtExchange` implements it over ccxt; the live broker and the live engine
only ever see this protocol, so they never import ccxt.
"""

from __future__ import annotations

from typing import Protocol

from quantkit.domain.market import Market
from quantkit.domain.order import OrderRequest
from quantkit.domain.venue import VenueBalance, VenueOrder, VenueTrade

__all__ = ["BarRow", "TradingVenue"]

BarRow = tuple[int, float, float, float, float, float]
"""One candle: open time in ms since the epoch (UTC), open, high, low, close, base volume."""


class TradingVenue(Protocol):
    """A venue the live broker trades on and the live engine reads bars from.

    All methods are async. Errors are quantkit errors: `TransientError` subclasses for
    failures worth retrying (``RequestTimeoutError`` when the outcome of a request is unknown),
    `ExchangeError` for permanent refusals (its ``reason`` says what, e.g. insufficient funds),
    never the venue library's own exceptions.
    """

    @property
    def id(self) -> str:
        """The venue's id, e.g. ``"binance"``."""
        ...

    async def markets(self) -> dict[str, Market]:
        """Every market of the venue, by unified symbol, with precision, limits and fees."""
        ...

    async def create_order(self, request: OrderRequest, client_id: str) -> VenueOrder:
        """Place an order (amount and price already rounded to the market's precision)."""
        ...

    async def cancel_order(self, client_id: str, symbol: str) -> VenueOrder:
        """Cancel an order by its client id; returns its final state."""
        ...

    async def edit_order(
        self,
        client_id: str,
        symbol: str,
        request: OrderRequest,
        *,
        new_client_id: str,
        exchange_id: str = "",
    ) -> VenueOrder:
        """Replace an open order with ``request`` in one request, where the venue can.

        Venues like Binance spot cancel the order and place the new one (``new_client_id``)
        in one call; the answer is the new order. Raises `ExchangeError` with ``reason``
        ``"not_supported"`` before any request when the venue cannot edit orders, so the
        caller cancels and places instead. ``exchange_id`` is the venue's id of the order when
        known (else the adapter looks it up by ``client_id``).
        """
        ...

    async def fetch_order(self, client_id: str, symbol: str) -> VenueOrder | None:
        """Look an order up by its client id; ``None`` when the venue does not know it."""
        ...

    async def open_orders(self, symbol: str | None = None) -> list[VenueOrder]:
        """The account's open orders (all symbols when ``symbol`` is ``None``)."""
        ...

    async def my_trades(self, symbol: str, since_ms: int | None = None) -> list[VenueTrade]:
        """The account's executions in ``symbol`` at or after ``since_ms``, oldest first."""
        ...

    async def watch_my_trades(self, symbol: str | None = None) -> list[VenueTrade]:
        """Wait for the account's next executions over the venue's private websocket.

        The first call subscribes; each later call returns the executions since the previous
        one (oldest first), or waits for the next. Executions made before the subscription or
        while the connection was down are not replayed: read them with `my_trades`.

        Args:
            symbol: Only this market's executions; ``None`` for every market.

        Returns:
            The new executions, with the order's client id where the venue reports it.

        Raises:
            ExchangeError: With ``reason`` ``"not_supported"`` (before any request) if the
                venue has no such websocket; ``"authentication"`` for refused keys.
            TransientError: If the connection failed or closed; call again to reconnect.
        """
        ...

    async def balances(self) -> dict[str, VenueBalance]:
        """The account's balances by asset (assets with a zero total may be left out)."""
        ...

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str, since_ms: int, limit: int
    ) -> list[BarRow]:
        """Candles opening at or after ``since_ms``, oldest first (the last may be forming)."""
        ...

    async def watch_ohlcv(self, symbol: str, timeframe: str) -> list[BarRow]:
        """Wait for the next candle update over the venue's websocket.

        The last row may still be forming. Raises `ExchangeError` if the venue has none.
        """
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
