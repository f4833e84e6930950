"""Binance spot's stop order types on the local exchange: they wait for a price, then work.

Facts from Binance's spot REST documentation (``POST /api/v3/order``): ``STOP_LOSS`` and
``TAKE_PROFIT`` take ``quantity`` and ``stopPrice`` and execute a MARKET order once the stop
price is reached; ``STOP_LOSS_LIMIT`` and ``TAKE_PROFIT_LIMIT`` also take ``price`` and
``timeInForce`` and place a LIMIT order then. Which way the price must move depends on the side:
a BUY ``STOP_LOSS``/``STOP_LOSS_LIMIT`` triggers when the last price rises to the stop price or
above, a SELL one when it falls to it or below; ``TAKE_PROFIT`` types the other way round. A stop
that the last price already reaches is refused (-2010 "Stop price would trigger immediately."),
and a type missing from the symbol's ``orderTypes`` is refused too (-2010 "Order type not
supported for this symbol."). PRICE_FILTER applies to ``stopPrice`` as to ``price``.

Until it triggers the order is ``NEW`` with ``isWorking`` false and ``workingTime`` -1, and holds
its funds (a SELL the base amount; a BUY the quote amount at its limit price, or at its stop price
for a market stop, topped up at the trigger price). On the trigger it works: a market stop fills
at once at the triggering price (taker; if the account cannot pay for it then, it EXPIRES), a
limit stop fills at once at that price when its limit is marketable (taker), else rests as a
limit order until a later price reaches its limit (maker). Fees follow the account's commission,
in the asset received. Triggers come from the same price moves that fill resting limit orders
(`LocalAccounts.set_price`, which the live clock drives through each candle's path).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Literal, get_args

from quantkit.testing.binance_api import BinanceApiError, missing_param
from quantkit.testing.filters import FilterFailure, check_filters
from quantkit.testing.local_orders import InsufficientBalanceError, LocalOrder

if TYPE_CHECKING:
    from quantkit.testing.accounts import LocalAccounts
    from quantkit.testing.local_orders import OrderSide, TimeInForce
    from quantkit.testing.market_data import LocalMarket
    from quantkit.testing.private_api import BinancePrivateApi

__all__ = ["STOP_TYPES", "StopOrders", "StopType", "place_stop", "triggers"]

StopType = Literal["STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"]
"""A stop order type, Binance's spelling."""
STOP_TYPES: tuple[StopType, ...] = get_args(StopType)
"""Every stop order type Binance spot has."""

_TRIGGERS_AT_ONCE = "Stop price would trigger immediately."
_NOT_LISTED = "Order type not supported for this symbol."


def triggers(order: LocalOrder, price: Decimal) -> bool:
    """Whether ``price`` reaches the stop order's stop price, by Binance's rule for its side.

    Args:
        order: A stop order.
        price: The last price.

    Returns:
        True when the order triggers at this price.

    Examples:
        >>> from decimal import Decimal as D
        >>> buy = LocalOrder(1, "b", "k", "BTCUSDT", "BUY", "STOP_LOSS", D(1), D(0), None, 0,
        ...                  stop_price=D(100))
        >>> triggers(buy, D(99)), triggers(buy, D(100))
        (False, True)
    """
    rising = (order.side == "BUY") == order.type.startswith("STOP_LOSS")
    return price >= order.stop_price if rising else price <= order.stop_price


class StopOrders:
    """The stop orders of a `LocalAccounts` book; it calls in under the book's lock.

    Args:
        accounts: The book the orders rest in.
    """

    def __init__(self, accounts: LocalAccounts) -> None:
        self.accounts = accounts

    def place(
        self,
        api_key: str,
        market: LocalMarket,
        side: OrderSide,
        kind: StopType,
        qty: Decimal,
        *,
        stop: Decimal,
        price: Decimal | None,
        time_in_force: TimeInForce,
        client_id: str,
        now: int,
    ) -> LocalOrder:
        """Check and rest a stop order (``NEW``, not working until its stop price triggers it).

        Args:
            api_key: The account's key.
            market: The market.
            side: ``"BUY"`` or ``"SELL"``.
            kind: The stop type.
            qty: Base amount.
            stop: ``stopPrice``.
            price: Limit price (the ``*_LIMIT`` types), else ``None``.
            time_in_force: Of the limit order placed on the trigger.
            client_id: ``newClientOrderId`` (``"quantkit-<id>"`` when empty).
            now: Time, ms since the epoch.

        Returns:
            The order.

        Raises:
            BinanceApiError: -2010 for an unlisted type, a stop that would trigger at once, a
                duplicate client id or a lack of funds; -1013 for a filter failure.
        """
        if kind not in market.order_types:
            raise BinanceApiError(-2010, _NOT_LISTED)
        book = self.accounts
        with book.locked():
            last = book.price(market.venue_id)
            _check_filters(market, qty, stop, price, last)
            if client_id and any(
                o.client_id == client_id for o in book.open_orders(api_key, market.venue_id)
            ):
                raise BinanceApiError(-2010, "Duplicate order sent.")
            order = LocalOrder(
                order_id=book.next_order_id(), client_id=client_id, api_key=api_key,
                symbol=market.venue_id, side=side, type=kind, qty=qty,
                price=Decimal(0) if price is None else price,
                time_in_force=None if price is None else time_in_force,
                time=now, update_time=now, stop_price=stop, working=False, working_time=-1,
            )  # fmt: skip
            order.client_id = client_id or f"quantkit-{order.order_id}"
            if triggers(order, last):
                raise BinanceApiError(-2010, _TRIGGERS_AT_ONCE)
            try:
                book.lock_funds(order, market, price if price is not None else stop)
            except InsufficientBalanceError:
                raise BinanceApiError(
                    -2010, "Account has insufficient balance for requested action."
                ) from None
            book.add_order(order)
            return order

    def on_price(self, venue_id: str, price: Decimal, now: int) -> None:
        """Trigger the stop orders a new price reaches and let each work.

        Args:
            venue_id: The market whose price moved.
            price: The new price.
            now: Time, ms since the epoch.
        """
        book = self.accounts
        for order in book.pending_stops(venue_id):
            if triggers(order, price):
                order.working, order.working_time, order.update_time = True, now, now
                if order.type.endswith("_LIMIT"):
                    self._work_limit(order, price, now)
                else:
                    self._work_market(order, price, now)

    def _work_limit(self, order: LocalOrder, price: Decimal, now: int) -> None:
        book = self.accounts
        marketable = price <= order.price if order.side == "BUY" else price >= order.price
        if marketable:
            book.fill_order(order, price, now, maker=False)
        else:
            book.notify(order, None)  # now working: it rests as a limit order

    def _work_market(self, order: LocalOrder, price: Decimal, now: int) -> None:
        book = self.accounts
        market = book.venue.market(order.symbol)
        if order.side == "BUY":  # the funds held at the stop price, re-held at the fill price
            book.unlock_funds(order, market, order.stop_price)
            try:
                book.lock_funds(order, market, price)
            except InsufficientBalanceError:
                order.status = "EXPIRED"
                book.notify(order, None)
                return
        book.fill_order(order, price, now, maker=False)


def _check_filters(
    market: LocalMarket, qty: Decimal, stop: Decimal, price: Decimal | None, last: Decimal
) -> None:
    try:
        check_filters(market, "LIMIT", qty, stop if price is None else price, last)
        check_filters(market, "LIMIT", qty, stop, last)  # PRICE_FILTER applies to stopPrice
    except FilterFailure as exc:
        raise BinanceApiError(-1013, str(exc)) from None


def place_stop(
    api: BinancePrivateApi, api_key: str, market: LocalMarket, params: dict[str, str]
) -> LocalOrder:
    """Place a stop order from the parameters of ``POST /api/v3/order``.

    Args:
        api: The private API serving the request (its book, clock and parameter parsing).
        api_key: The account's key.
        market: The market.
        params: The request's parameters (``type`` one of `STOP_TYPES`).

    Returns:
        The order, ``NEW`` and not yet working.

    Raises:
        BinanceApiError: For a missing or malformed parameter (``price`` on a market stop
            is -1106 "not required"), and the refusals of `StopOrders.place`.
    """
    kind = next(k for k in STOP_TYPES if k == params.get("type"))
    side = params.get("side", "")
    if side not in ("BUY", "SELL"):
        raise BinanceApiError(-1100, "Illegal characters found in parameter 'side'.")
    stop = api.decimal_param(params, "stopPrice")
    price = api.decimal_param(params, "price")
    limit = kind.endswith("_LIMIT")
    for name, value in (("stopPrice", stop), ("price", price if limit else Decimal(1))):
        if value is None:
            raise missing_param(name)
    if not limit and price is not None:
        raise BinanceApiError(-1106, "Parameter 'price' sent when not required.")
    tif = params.get("timeInForce", "GTC")
    if tif not in ("GTC", "IOC", "FOK"):
        raise BinanceApiError(-1115, "Invalid timeInForce.")
    assert stop is not None  # checked above
    return api.accounts.stop_orders.place(
        api_key, market, "BUY" if side == "BUY" else "SELL", kind,
        api.order_quantity(params, market), stop=stop, price=price,
        time_in_force="GTC" if tif == "GTC" else ("IOC" if tif == "IOC" else "FOK"),
        client_id=params.get("newClientOrderId", ""), now=api.clock.now_ms(),
    )  # fmt: skip
