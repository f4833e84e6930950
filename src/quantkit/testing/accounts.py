"""LocalAccounts: balances per API key and a tiny, deterministic matching book.

The local exchange trades against a price, not against other orders. Each market's price is
the close of its last candle until a test sets one (`LocalAccounts.set_price`). Market orders,
and limit orders that cross the price, fill at once at that price (taker). Other limit orders
rest, with their funds locked, until `set_price` moves the price through their limit; they then
fill in full at their own limit price (maker), or, under the `PartialFills` rule
(`LocalAccounts.partial_fills`), one part per price step. Nothing happens in the background: no
timers. Amounts and balances are `decimal.Decimal`, so sums are exact.

Two rules of the real venue hold here: a client order id is refused as a duplicate only while
an open order of the account in that market has it (once it filled, was canceled or expired,
the id is accepted again and makes a second order), and every trade pays a commission, in the
asset received unless the account pays in BNB (see `Commission`; Binance's 0.1 % by default).

The book knows nothing of HTTP: `BinancePrivateApi` renders it the Binance way. Listeners added
with `LocalAccounts.add_listener` hear of every change of an order as it happens (placed,
traded, canceled, expired), which is what the websocket user-data stream pushes.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from decimal import Decimal
from typing import Literal

from quantkit.errors import ConfigError
from quantkit.testing.account_book import AccountBook, SpotAccount, as_decimal
from quantkit.testing.fees import Commission, Fee, charge
from quantkit.testing.local_orders import (
    DuplicateOrderError,
    InsufficientBalanceError,
    LocalFill,
    LocalOrder,
    OrderListener,
    OrderSide,
    OrderStatus,
    TimeInForce,
)
from quantkit.testing.market_data import LocalMarket, format_number
from quantkit.testing.partial_fills import PartialFills
from quantkit.testing.venue import LocalVenue

__all__ = [
    "Commission",
    "DuplicateOrderError",
    "InsufficientBalanceError",
    "LocalAccounts",
    "LocalFill",
    "LocalOrder",
    "OrderListener",
    "OrderSide",
    "OrderStatus",
    "TimeInForce",
]


class LocalAccounts(AccountBook):
    """Spot accounts keyed by API key, and the orders and trades they make.

    Thread-safe: the test's thread may set prices while the server's loop places orders.

    Args:
        venue: The venue whose markets are traded (and whose last closes are the first prices).
        accounts: API key to ``(secret, balances)``, e.g.
            ``{"key": ("secret", {"USDT": 10_000})}``.
        commission: The commission of every account opened without one of its own
            (Binance's 0.1 %, charged in the asset received, by default).

    Raises:
        ConfigError: If a key or secret is empty or a balance is negative.

    Examples:
        >>> book = LocalAccounts(LocalVenue(), {"k": ("s", {"USDT": 1000})})
        >>> book.set_price("BTC/USDT", 40_000)
        >>> order = book.place("k", "BTCUSDT", "BUY", "MARKET", Decimal("0.01"), now=0)
        >>> order.status, str(book.balances("k")["USDT"][0]), str(book.balances("k")["BTC"][0])
        ('FILLED', '600.00', '0.00999')
    """

    def __init__(
        self,
        venue: LocalVenue,
        accounts: Mapping[str, tuple[str, Mapping[str, float | str | Decimal]]] | None = None,
        *,
        commission: Commission | None = None,
    ) -> None:
        super().__init__(venue, commission)
        self.partial_fills: PartialFills | None = None
        """Fill resting orders in several trades (`PartialFills`); ``None`` fills them whole."""
        from quantkit.testing.order_lists import OrderLists  # noqa: PLC0415 - it imports us

        self.order_lists = OrderLists(self)
        """The OCO order lists (`quantkit.testing.order_lists`)."""
        from quantkit.testing.stop_orders import StopOrders  # noqa: PLC0415 - it imports us

        self.stop_orders = StopOrders(self)
        """The stop orders waiting for their trigger (`quantkit.testing.stop_orders`)."""
        for key, (secret, balances) in (accounts or {}).items():
            self.add_account(key, secret, balances)

    # ----------------------------------------------------------------------------- prices

    def price(self, symbol: str) -> Decimal:
        """Return the current price of a market: the one set last, else its last candle's close.

        Args:
            symbol: Unified symbol or venue id.

        Returns:
            The price.

        Raises:
            ConfigError: If the market is unknown.
        """
        market = self.venue.market(symbol)
        with self._lock:
            if market.venue_id not in self._prices:
                closes = self.venue.candles(market, self.venue.timeframe).close
                last = float(closes[-1]) if closes.size else market.price
                self._prices[market.venue_id] = as_decimal(last)
            return self._prices[market.venue_id]

    def set_price(self, symbol: str, price: float | str | Decimal, *, now: int = 0) -> None:
        """Move a market's price; resting limit orders it reaches fill at their limit price.

        Args:
            symbol: Unified symbol or venue id.
            price: The new price (> 0).
            now: Time of the fills, in ms since the epoch.

        Raises:
            ConfigError: If the market is unknown or the price is not positive.
        """
        market = self.venue.market(symbol)
        new = as_decimal(price)
        if not new > 0:
            raise ConfigError(f"price must be > 0, got {price}")
        with self._lock:
            self._prices[market.venue_id] = new
            for order in list(self._orders.values()):
                if order.list_id >= 0 or not order.working:
                    continue  # order-list legs and untriggered stops: executed below
                if order.is_open and order.symbol == market.venue_id and self._crosses(order, new):
                    self._fill(order, order.price, now, maker=True, qty=self.part_of(order))
            self.order_lists.on_price(market.venue_id, new, now)
            self.stop_orders.on_price(market.venue_id, new, now)

    @staticmethod
    def _crosses(order: LocalOrder, price: Decimal) -> bool:
        return price <= order.price if order.side == "BUY" else price >= order.price

    # ----------------------------------------------------------------------------- orders

    def place(
        self,
        api_key: str,
        symbol: str,
        side: OrderSide,
        type: Literal["MARKET", "LIMIT"],
        qty: Decimal,
        price: Decimal | None = None,
        *,
        time_in_force: TimeInForce = "GTC",
        client_id: str = "",
        now: int,
    ) -> LocalOrder:
        """Place an order, fill what can fill at once, and rest the rest.

        Args:
            api_key: The account's key.
            symbol: Venue id or unified symbol of the market.
            side: ``"BUY"`` or ``"SELL"``.
            type: ``"MARKET"`` or ``"LIMIT"``.
            qty: Base amount (> 0).
            price: Limit price (``"LIMIT"`` orders).
            time_in_force: For limit orders: ``"IOC"`` and ``"FOK"`` expire unless they fill
                at once.
            client_id: The client's id; ``"quantkit-<id>"`` when empty. Refused while an open
                order of the account in this market has it.
            now: Time of the order, in ms since the epoch.

        Returns:
            The order, already ``FILLED`` or ``EXPIRED``, or ``NEW`` when it rests.

        Raises:
            ConfigError: If a limit order lacks a positive price or the amount is not positive.
            DuplicateOrderError: If an open order of the account in this market has
                ``client_id``.
            InsufficientBalanceError: If the account cannot pay for the order.
        """
        market = self.venue.market(symbol)
        if not qty > 0:
            raise ConfigError(f"quantity must be > 0, got {qty}")
        if type == "LIMIT" and (price is None or not price > 0):
            raise ConfigError("a limit order needs a price > 0")
        with self._lock:
            if client_id and any(
                o.is_open and o.client_id == client_id and o.api_key == api_key
                for o in self._orders.values()
                if o.symbol == market.venue_id
            ):
                raise DuplicateOrderError(client_id)
            current = self.price(market.venue_id)
            limit = current if type == "MARKET" or price is None else price
            order = LocalOrder(
                order_id=next(self._order_ids),
                client_id="",
                api_key=api_key,
                symbol=market.venue_id,
                side=side,
                type=type,
                qty=qty,
                price=Decimal(0) if type == "MARKET" else limit,
                time_in_force=None if type == "MARKET" else time_in_force,
                time=now,
                update_time=now,
            )
            order.client_id = client_id or f"quantkit-{order.order_id}"
            self._lock_funds(order, market, limit)
            self._orders[order.order_id] = order
            self._notify(order, None)
            if type == "MARKET" or self._crosses(order, current):
                self._fill(order, current, now, maker=False)
            elif time_in_force != "GTC":
                self._release(order, market, now, "EXPIRED")
            return order

    def _lock_funds(self, order: LocalOrder, market: LocalMarket, limit: Decimal) -> None:
        account = self._accounts[order.api_key]
        asset, need = (
            (market.quote, order.qty * limit) if order.side == "BUY" else (market.base, order.qty)
        )
        free = account.free.get(asset, Decimal(0))
        if free < need:
            raise InsufficientBalanceError(asset)
        account.free[asset] = free - need
        account.locked[asset] = account.locked.get(asset, Decimal(0)) + need

    def part_of(self, order: LocalOrder) -> Decimal | None:
        """What a resting order's next maker trade fills: a part, or ``None`` for the rest."""
        if self.partial_fills is None:
            return None
        step = Decimal(format_number(self.venue.market(order.symbol).step_size))
        return self.partial_fills.next_part(order, step)

    def _fill(
        self, order: LocalOrder, price: Decimal, now: int, *, maker: bool,
        qty: Decimal | None = None,
    ) -> None:  # fmt: skip
        market = self.venue.market(order.symbol)
        account = self._accounts[order.api_key]
        zero = Decimal(0)
        part = order.left if qty is None else qty
        cost = part * price
        if order.side == "BUY":
            reserved = part * (price if order.price == 0 else order.price)  # 0: market
            account.locked[market.quote] -= reserved
            account.free[market.quote] += reserved - cost  # a better price frees the rest
            received, received_asset = part, market.base
        else:
            account.locked[market.base] -= part
            received, received_asset = cost, market.quote
        fee = self._charge(account, market, received, received_asset, cost, maker=maker)
        if fee.asset == received_asset:
            received -= fee.amount
        account.free[received_asset] = account.free.get(received_asset, zero) + received
        fill = LocalFill(
            next(self._trade_ids), order.order_id, order.symbol, order.side, price, part, now,
            maker, fee.amount, fee.asset,
        )  # fmt: skip
        order.fills.append(fill)
        self._trades.append(fill)
        order.status = "FILLED" if order.left <= 0 else "PARTIALLY_FILLED"
        order.update_time = now
        self._notify(order, fill)

    def _charge(
        self,
        account: SpotAccount,
        market: LocalMarket,
        received: Decimal,
        received_asset: str,
        value: Decimal,
        *,
        maker: bool,
    ) -> Fee:
        bnb = Decimal(1) if market.quote == "BNB" else self._bnb_price(market.quote)
        return charge(
            account.commission, account.free, received, received_asset, value, bnb, maker=maker
        )

    def _bnb_price(self, quote: str) -> Decimal | None:
        market = next((m for m in self.venue.markets if m.base == "BNB" and m.quote == quote), None)
        return None if market is None else self.price(market.venue_id)

    def _release(
        self, order: LocalOrder, market: LocalMarket, now: int, status: OrderStatus
    ) -> None:
        account = self._accounts[order.api_key]
        asset, held = (  # what is locked for the part not filled yet
            (market.quote, order.left * order.price)
            if order.side == "BUY"
            else (market.base, order.left)
        )
        account.locked[asset] -= held
        account.free[asset] += held
        order.status, order.update_time = status, now
        self._notify(order, None)

    def cancel(self, api_key: str, order: LocalOrder, *, now: int) -> LocalOrder:
        """Cancel an open order and unlock its funds.

        Args:
            api_key: The account's key.
            order: The order, as found by `find`.
            now: Time of the cancel, in ms since the epoch.

        Returns:
            The order, now ``CANCELED``.

        Raises:
            KeyError: If the order is no longer open (Binance answers ``-2011``).
        """
        with self._lock:
            if not order.is_open or order.api_key != api_key:
                raise KeyError(order.order_id)
            made = self.order_lists.list_of(order)
            if made is not None and not made.done:  # a leg: Binance cancels the whole list
                self.order_lists.cancel(made, now)
                return order
            self._release(order, self.venue.market(order.symbol), now, "CANCELED")
            return order

    # ------------------------------------------------------------ hooks for order lists

    def locked(self) -> threading.RLock:
        """The book's lock (re-entrant): hold it across changes that must look atomic."""
        return self._lock

    def next_order_id(self) -> int:
        """Take the next order id (order lists number their legs with it)."""
        return next(self._order_ids)

    def add_order(self, order: LocalOrder) -> None:
        """Rest an order made elsewhere (an order-list leg) in the book and announce it."""
        with self._lock:
            self._orders[order.order_id] = order
            self._notify(order, None)

    def lock_funds(self, order: LocalOrder, market: LocalMarket, limit: Decimal) -> None:
        """Lock what ``order`` needs (see `place`); raises `InsufficientBalanceError`."""
        self._lock_funds(order, market, limit)

    def unlock_funds(self, order: LocalOrder, market: LocalMarket, limit: Decimal) -> None:
        """Unlock what `lock_funds` locked for ``order`` at ``limit``."""
        account = self._accounts[order.api_key]
        asset, held = (
            (market.quote, order.qty * limit) if order.side == "BUY" else (market.base, order.qty)
        )
        account.locked[asset] -= held
        account.free[asset] += held

    def pending_stops(self, venue_id: str) -> list[LocalOrder]:
        """The open stop orders of a market not yet triggered, oldest first."""
        return [
            o for o in self._orders.values()
            if o.symbol == venue_id and o.is_open and not o.working and o.list_id < 0
        ]  # fmt: skip

    def fill_order(
        self, order: LocalOrder, price: Decimal, now: int, *, maker: bool,
        qty: Decimal | None = None,
    ) -> None:  # fmt: skip
        """Fill ``qty`` of ``order`` (all that is left when ``None``) at ``price``."""
        self._fill(order, price, now, maker=maker, qty=qty)

    def release(
        self, order: LocalOrder, market: LocalMarket, now: int, status: OrderStatus
    ) -> None:
        """End ``order`` with ``status`` and unlock its funds."""
        self._release(order, market, now, status)

    def notify(self, order: LocalOrder, fill: LocalFill | None) -> None:
        """Tell the listeners of a change made elsewhere (an expired order-list leg)."""
        self._notify(order, fill)
