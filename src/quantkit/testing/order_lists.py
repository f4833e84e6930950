"""Binance spot's OCO order lists on the local exchange: two legs, one cancels the other.

Facts from Binance's spot REST documentation (``POST /api/v3/orderList/oco``): an OCO has an
*above* and a *below* order. On the SELL side (what protects a long position) the above order
is a ``LIMIT_MAKER`` (take-profit, at ``abovePrice``) and the below order a ``STOP_LOSS``
(stop-market, triggered at ``belowStopPrice``); the prices must satisfy
``abovePrice > last price > belowStopPrice`` ("The relationship of the prices for the orders is
not correct.", -2010). The quantity is locked once for the list. When one leg executes, the
other expires (status ``EXPIRED``) and the list's ``listStatusType`` and ``listOrderStatus``
become ``ALL_DONE``; while both work they are ``EXEC_STARTED`` / ``EXECUTING``. Both legs are
ordinary orders for ``GET /api/v3/order``, ``openOrders`` and the user-data stream (with their
``orderListId``); canceling either leg, or ``DELETE /api/v3/orderList``, cancels the list.
Under `PartialFills` the take-profit leg fills in parts: its first part expires the stop-loss
leg (activating one leg cancels the other), and the list is ``ALL_DONE`` once the take-profit
leg has ended too; until then that leg is canceled like a plain order.

Client ids follow the venue's rules: ``listClientOrderId`` is unique among the account's OPEN
lists (a list with the same id is accepted again once the earlier one has ended), and each
leg's client id, like any ``newClientOrderId``, among its open orders; a duplicate is refused
with -2010 "Duplicate order sent.".

Only SELL lists are modelled (a spot account protects what it holds); a BUY list is refused
with a clear message naming this local limitation.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from quantkit.testing.binance_api import BinanceApiError

if TYPE_CHECKING:
    from quantkit.testing.accounts import LocalAccounts, LocalOrder

__all__ = ["LocalOrderList", "OrderLists"]

_PRICE_RELATION = "The relationship of the prices for the orders is not correct."


@dataclass(slots=True)
class LocalOrderList:
    """One OCO list of the local book.

    Attributes:
        list_id: ``orderListId``.
        client_id: ``listClientOrderId``.
        api_key: The account that placed it.
        symbol: Venue id of the market.
        above: The above leg (``LIMIT_MAKER`` take-profit of a SELL list).
        below: The below leg (``STOP_LOSS`` of a SELL list).
        time: Creation time, ms since the epoch.
        done: Whether one leg executed (the other expired) or the list was canceled; it is
            ``ALL_DONE`` once no leg is open.
    """

    list_id: int
    client_id: str
    api_key: str
    symbol: str
    above: LocalOrder
    below: LocalOrder
    time: int
    done: bool = False

    @property
    def legs(self) -> tuple[LocalOrder, LocalOrder]:
        """Both legs, below first (Binance lists them in this order)."""
        return (self.below, self.above)

    def as_json(self, order_json: dict[int, dict[str, Any]] | None = None) -> dict[str, Any]:
        """Render the list as Binance does (``orderReports`` when the legs' JSON is given)."""
        ended = self.done and not any(o.is_open for o in self.legs)
        answer: dict[str, Any] = {
            "orderListId": self.list_id,
            "contingencyType": "OCO",
            "listStatusType": "ALL_DONE" if ended else "EXEC_STARTED",
            "listOrderStatus": "ALL_DONE" if ended else "EXECUTING",
            "listClientOrderId": self.client_id,
            "transactionTime": self.time,
            "symbol": self.symbol,
            "orders": [
                {"symbol": o.symbol, "orderId": o.order_id, "clientOrderId": o.client_id}
                for o in self.legs
            ],
        }
        if order_json is not None:
            answer["orderReports"] = [order_json[o.order_id] for o in self.legs]
        return answer


class OrderLists:
    """The OCO lists of a `LocalAccounts` book; it calls in under the book's lock.

    Args:
        accounts: The book whose orders the legs are.
    """

    def __init__(self, accounts: LocalAccounts) -> None:
        self.accounts = accounts
        self.lists: dict[int, LocalOrderList] = {}
        self._list_ids = itertools.count(1)
        self._by_order: dict[int, LocalOrderList] = {}

    def place_oco(
        self,
        api_key: str,
        symbol: str,
        side: str,
        qty: Decimal,
        *,
        above_price: Decimal,
        below_stop: Decimal,
        client_ids: tuple[str, str, str],
        now: int,
    ) -> LocalOrderList:
        """Place a SELL OCO: a LIMIT_MAKER above the price and a STOP_LOSS below it.

        Args:
            api_key: The account's key.
            symbol: Venue id of the market.
            side: ``"SELL"`` (``"BUY"`` lists are not modelled).
            qty: Base amount of each leg (locked once).
            above_price: The take-profit leg's limit price.
            below_stop: The stop-loss leg's trigger price.
            client_ids: ``listClientOrderId``, ``aboveClientOrderId``, ``belowClientOrderId``.
            now: Time, ms since the epoch.

        Returns:
            The list, both legs ``NEW``.

        Raises:
            BinanceApiError: For a BUY list, prices on the wrong sides of the last price, or
                an account that lacks the base amount (-2010).
        """
        if side != "SELL":
            raise BinanceApiError(
                -1013, "The local exchange models SELL OCO lists only (spot long protection)."
            )
        with self.accounts.locked():
            return self._place_sell(api_key, symbol, qty, above_price, below_stop, client_ids, now)

    def _place_sell(
        self,
        api_key: str,
        symbol: str,
        qty: Decimal,
        above_price: Decimal,
        below_stop: Decimal,
        client_ids: tuple[str, str, str],
        now: int,
    ) -> LocalOrderList:
        from quantkit.testing.accounts import (  # noqa: PLC0415 - accounts imports this module
            InsufficientBalanceError,
            LocalOrder,
        )

        book = self.accounts
        market = book.venue.market(symbol)
        last = book.price(market.venue_id)
        if not above_price > last > below_stop:
            raise BinanceApiError(-2010, _PRICE_RELATION)
        list_client, above_client, below_client = client_ids
        self._check_unique(api_key, market.venue_id, list_client, (above_client, below_client))
        list_id = next(self._list_ids)

        def leg(kind: Any, price: Decimal, stop: Decimal, client_id: str) -> LocalOrder:
            order = LocalOrder(
                order_id=book.next_order_id(),
                client_id=client_id,
                api_key=api_key,
                symbol=market.venue_id,
                side="SELL",
                type=kind,
                qty=qty,
                price=price,
                time_in_force="GTC" if kind == "STOP_LOSS" else None,
                time=now,
                update_time=now,
                stop_price=stop,
                list_id=list_id,
            )
            order.client_id = client_id or f"quantkit-{order.order_id}"
            return order

        below = leg("STOP_LOSS", Decimal(0), below_stop, below_client)
        above = leg("LIMIT_MAKER", above_price, Decimal(0), above_client)
        try:
            book.lock_funds(above, market, above_price)  # the base amount, once per list
        except InsufficientBalanceError:
            raise BinanceApiError(
                -2010, "Account has insufficient balance for requested action."
            ) from None
        made = LocalOrderList(
            list_id, list_client or f"quantkit-list-{list_id}", api_key, market.venue_id,
            above, below, now,
        )  # fmt: skip
        self.lists[list_id] = made
        for order in made.legs:
            self._by_order[order.order_id] = made
            book.add_order(order)
        return made

    def _check_unique(
        self, api_key: str, venue_id: str, list_client: str, leg_clients: tuple[str, str]
    ) -> None:
        book = self.accounts
        taken = {o.client_id for o in book.open_orders(api_key, venue_id)}
        open_lists = {m.client_id for m in self.open_lists(api_key)}
        if (list_client and list_client in open_lists) or any(
            c and c in taken for c in leg_clients
        ):
            raise BinanceApiError(-2010, "Duplicate order sent.")

    def on_price(self, venue_id: str, price: Decimal, now: int) -> None:
        """Execute the legs a new price reaches; the other leg of each list expires.

        Args:
            venue_id: The market whose price moved.
            price: The new price.
            now: Time, ms since the epoch.
        """
        for made in list(self.lists.values()):
            if made.symbol != venue_id:
                continue
            if price >= made.above.price and made.above.is_open:  # the take-profit rests:
                part = self.accounts.part_of(made.above)  # it fills at its limit, maybe in parts
                self._execute(made, made.above, made.above.price, now, maker=True, qty=part)
            elif price <= made.below.stop_price and not made.done:  # the stop: a market sell
                self._execute(made, made.below, price, now, maker=False)

    def _execute(
        self, made: LocalOrderList, leg: LocalOrder, price: Decimal, now: int, *, maker: bool,
        qty: Decimal | None = None,
    ) -> None:  # fmt: skip
        other = made.below if leg is made.above else made.above
        first, made.done = not made.done, True
        self.accounts.fill_order(leg, price, now, maker=maker, qty=qty)
        if first:
            other.status, other.update_time = "EXPIRED", now
            self.accounts.notify(other, None)

    def list_of(self, order: LocalOrder) -> LocalOrderList | None:
        """The list ``order`` is a leg of, or ``None``."""
        return self._by_order.get(order.order_id)

    def cancel(self, made: LocalOrderList, now: int) -> None:
        """Cancel a working list: its open legs ``CANCELED``, what is locked unlocked once.

        A list whose take-profit has filled in part (its stop expired) still works: canceling
        it cancels the rest of the take-profit.

        Args:
            made: The list.
            now: Time, ms since the epoch.

        Raises:
            KeyError: If no leg of the list is open (Binance answers ``-2011``).
        """
        if not any(o.is_open for o in made.legs):
            raise KeyError(made.list_id)
        made.done = True
        market = self.accounts.venue.market(made.symbol)
        if made.above.is_open:  # it holds the list's lock: what is left of the amount
            self.accounts.release(made.above, market, now, "CANCELED")
        if made.below.is_open:
            made.below.status, made.below.update_time = "CANCELED", now
            self.accounts.notify(made.below, None)

    def find(
        self, api_key: str, *, list_id: int | None, client_id: str | None
    ) -> LocalOrderList | None:
        """Find an account's list by ``orderListId`` or ``listClientOrderId``."""
        for made in reversed(self.lists.values()):
            if made.api_key == api_key and (
                made.list_id == list_id if list_id is not None else made.client_id == client_id
            ):
                return made
        return None

    def open_lists(self, api_key: str) -> list[LocalOrderList]:
        """The account's working lists (a leg still open), oldest first."""
        return [
            m
            for m in self.lists.values()
            if m.api_key == api_key and any(o.is_open for o in m.legs)
        ]
