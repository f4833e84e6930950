"""AccountBook: the local spot venue's accounts, their listeners, and the orders and trades kept.

The state `LocalAccounts` matches orders against (see `quantkit.testing.accounts`): balances per
API key with each account's commission, the listeners told of every order change, and the
look-ups of orders and trades. Amounts are `decimal.Decimal`; every method is thread-safe.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from quantkit.errors import ConfigError
from quantkit.testing.fees import Commission
from quantkit.testing.local_orders import LocalFill, LocalOrder, OrderListener
from quantkit.testing.market_data import format_number
from quantkit.testing.venue import LocalVenue

__all__ = ["AccountBook", "SpotAccount", "as_decimal"]


@dataclass(slots=True)
class SpotAccount:
    """One account: its secret, free and locked balances, and its commission."""

    secret: str
    free: dict[str, Decimal]
    locked: dict[str, Decimal]
    commission: Commission = field(default_factory=Commission)


def as_decimal(value: float | str | Decimal) -> Decimal:
    """A price or amount as an exact `Decimal` (floats by their shortest repr)."""
    if isinstance(value, Decimal):
        return value
    return Decimal(value if isinstance(value, str) else format_number(value))


class AccountBook:
    """Spot accounts keyed by API key, the order listeners, and the orders and trades made.

    `LocalAccounts` builds on it with prices and matching; use that class.

    Args:
        venue: The venue whose markets are traded.
        commission: The commission of every account opened without one of its own.
    """

    def __init__(self, venue: LocalVenue, commission: Commission | None = None) -> None:
        self.venue = venue
        self.commission = Commission() if commission is None else commission
        """The commission of accounts opened without one of their own."""
        self._lock = threading.RLock()
        self._accounts: dict[str, SpotAccount] = {}
        self._prices: dict[str, Decimal] = {}
        self._orders: dict[int, LocalOrder] = {}
        self._trades: list[LocalFill] = []
        self._order_ids = itertools.count(1)
        self._trade_ids = itertools.count(1)
        self._listeners: list[OrderListener] = []

    def add_account(
        self,
        api_key: str,
        secret: str,
        balances: Mapping[str, float | str | Decimal],
        *,
        commission: Commission | None = None,
    ) -> None:
        """Open (or replace) an account.

        Args:
            api_key: The API key (sent as ``X-MBX-APIKEY``).
            secret: The secret requests are signed with.
            balances: Free balance per asset, e.g. ``{"USDT": 10_000}``.
            commission: Its commission rates and BNB mode; `commission` of the book when
                ``None``.

        Raises:
            ConfigError: If the key or secret is empty or a balance is negative.
        """
        if not api_key or not secret:
            raise ConfigError("a local account needs a non-empty API key and secret")
        free = {asset: as_decimal(amount) for asset, amount in balances.items()}
        if any(amount < 0 for amount in free.values()):
            raise ConfigError(f"balances of {api_key!r} must not be negative")
        with self._lock:
            self._accounts[api_key] = SpotAccount(secret, free, {}, commission or self.commission)

    def set_commission(self, api_key: str, commission: Commission) -> None:
        """Change an account's commission rates or BNB mode, for its trades from now on.

        Args:
            api_key: The account's key.
            commission: The new commission.

        Raises:
            ConfigError: If there is no such account.
        """
        with self._lock:
            account = self._accounts.get(api_key)
            if account is None:
                raise ConfigError(f"the local exchange has no account {api_key!r}")
            account.commission = commission

    def commission_of(self, api_key: str) -> Commission:
        """Return an account's commission.

        Args:
            api_key: The account's key.

        Returns:
            Its rates and BNB mode.
        """
        with self._lock:
            return self._accounts[api_key].commission

    def add_listener(self, listener: OrderListener) -> None:
        """Call ``listener`` on every order change from now on (see `OrderListener`).

        A new order is reported once as placed (status ``NEW``) before its fill or expiry.

        Args:
            listener: The callback.
        """
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: OrderListener) -> None:
        """Stop calling a listener added with `add_listener`; unknown listeners are ignored.

        Args:
            listener: The callback.
        """
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _notify(self, order: LocalOrder, fill: LocalFill | None) -> None:
        for listener in self._listeners:
            listener(order.api_key, order, fill)

    def secret(self, api_key: str) -> str | None:
        """Return the secret of an API key, or ``None`` if there is no such account.

        Args:
            api_key: The key.

        Returns:
            The secret, if any.
        """
        account = self._accounts.get(api_key)
        return None if account is None else account.secret

    def balances(self, api_key: str) -> dict[str, tuple[Decimal, Decimal]]:
        """Return ``(free, locked)`` per asset of an account.

        Args:
            api_key: The account's key.

        Returns:
            Every asset the account has held, sorted by name.
        """
        with self._lock:
            account = self._accounts[api_key]
            assets = sorted(set(account.free) | set(account.locked))
            zero = Decimal(0)
            return {a: (account.free.get(a, zero), account.locked.get(a, zero)) for a in assets}

    # ---------------------------------------------------------------------------- queries

    def find(
        self,
        api_key: str,
        symbol: str,
        *,
        order_id: int | None = None,
        client_id: str | None = None,
    ) -> LocalOrder | None:
        """Find an account's order in a market by id or by client id.

        Args:
            api_key: The account's key.
            symbol: Venue id of the market.
            order_id: The order id, if known.
            client_id: The client id, used when ``order_id`` is ``None``.

        Returns:
            The order, or ``None``.
        """
        with self._lock:
            if order_id is not None:
                found = self._orders.get(order_id)
            else:
                found = next(
                    (o for o in reversed(self._orders.values()) if o.client_id == client_id), None
                )
            if found is None or found.api_key != api_key or found.symbol != symbol:
                return None
            return found

    def orders(self, api_key: str, symbol: str | None = None) -> list[LocalOrder]:
        """Return every order an account ever placed, open or not, oldest first.

        Args:
            api_key: The account's key.
            symbol: Only this market (venue id); ``None`` for all.

        Returns:
            The orders.
        """
        with self._lock:
            return [
                o
                for o in self._orders.values()
                if o.api_key == api_key and symbol in (None, o.symbol)
            ]

    def open_orders(self, api_key: str, symbol: str | None = None) -> list[LocalOrder]:
        """Return an account's resting orders, oldest first.

        Args:
            api_key: The account's key.
            symbol: Only this market (venue id); ``None`` for all.

        Returns:
            The orders.
        """
        return [order for order in self.orders(api_key, symbol) if order.is_open]

    def trades(self, api_key: str, symbol: str) -> list[LocalFill]:
        """Return an account's trades in a market, oldest first.

        Args:
            api_key: The account's key.
            symbol: Venue id of the market.

        Returns:
            The trades.
        """
        with self._lock:
            return [
                t
                for t in self._trades
                if t.symbol == symbol and self._orders[t.order_id].api_key == api_key
            ]
