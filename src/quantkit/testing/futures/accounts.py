"""FuturesAccounts: the local USD-M venue's accounts, prices, settings and user-data events.

This is the venue's private side as a plain, thread-safe object (no HTTP): the futures private
API renders it and the user-data stream listens to it. It models Binance USD-M's documented
rules on its own, never importing quantkit's simulator or domain margin rules, so that it can
check them:

* one-way positions per symbol (`FuturesPosition`), leverage per symbol (Binance's default 20,
  at most the first bracket's, ``-4028``; a position above what a leverage allows, ``-2027``;
  no lowering of an isolated position's leverage, ``-4161``, nor of a cross position's beyond
  what the available balance covers, ``-2028``), margin type ``CROSSED`` or
  ``ISOLATED`` (``-4046`` when unchanged, ``-4048`` with a position, ``-4047`` with open orders);
* hedge mode (``dualSidePosition``) is recorded as Binance does (``-4059`` when unchanged,
  ``-4068`` with a position, ``-4067`` with open orders), but the venue trades one-way only:
  while it is on, every order is refused with ``-4061``;
* orders, fills, fees and income (`quantkit.testing.futures.matching`); funding at funding
  timestamps and liquidation (`quantkit.testing.futures.settlement`).

Each market has a last price (what orders fill at) and a mark price (what P&L, margin and
liquidation use), both set by the server as its candles move or by a test
(`FuturesAccounts.move`).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Mapping
from decimal import Decimal

from quantkit.errors import ConfigError
from quantkit.testing.futures import matching, settlement
from quantkit.testing.futures.contracts import ContractRules
from quantkit.testing.futures.events import VenueEvent, VenueListener
from quantkit.testing.futures.ledger import FuturesAccount
from quantkit.testing.futures.matching import OrderRequest
from quantkit.testing.futures.orders import FuturesOrder, FuturesTrade, Income, VenueRejectionError
from quantkit.testing.futures.partial_fills import FuturesPartialFills
from quantkit.testing.futures.positions import FuturesPosition, MarginType
from quantkit.testing.futures.wire import account_update, algo_update, order_trade_update

__all__ = ["FuturesAccounts", "OrderRequest"]


class FuturesAccounts:
    """USD-M accounts keyed by API key, trading the given contracts.

    Args:
        contracts: The perpetuals traded.
        accounts: API key to ``(secret, USDT wallet balance)``.
        prices: First last (and mark) price per symbol.

    Raises:
        ConfigError: If a price is missing or not positive, or a balance is negative.

    Examples:
        >>> venue = FuturesAccounts([ContractRules("BTCUSDT")], {"k": ("s", 1000)},
        ...                         {"BTCUSDT": 40_000})
        >>> venue.set_leverage("k", "BTCUSDT", 10, now=0)
        (10, Decimal('20000000'))
    """

    def __init__(
        self,
        contracts: Iterable[ContractRules],
        accounts: Mapping[str, tuple[str, float | str | Decimal]],
        prices: Mapping[str, float | str | Decimal],
    ) -> None:
        self.contracts = {c.symbol: c for c in contracts}
        self.lock = threading.RLock()
        self.lasts: dict[str, Decimal] = {}
        self.marks: dict[str, Decimal] = {}
        for symbol in self.contracts:
            if symbol not in prices or Decimal(str(prices[symbol])) <= 0:
                raise ConfigError(f"the futures venue needs a positive first price of {symbol}")
            self.lasts[symbol] = self.marks[symbol] = Decimal(str(prices[symbol]))
        self.accounts: dict[str, FuturesAccount] = {}
        for key, (secret, wallet) in accounts.items():
            amount = Decimal(str(wallet))
            if amount < 0:
                raise ConfigError(f"the wallet of futures account {key!r} is negative")
            self.accounts[key] = FuturesAccount(secret, amount)
        self.partial_fills: FuturesPartialFills | None = None
        """Fill resting orders in parts (see `FuturesPartialFills`); whole when ``None``."""
        self.insurance_fund = Decimal(0)
        """What liquidations left to (positive) or took from (negative) the insurance fund."""
        self._order_ids = itertools.count(1_000_001)
        self._trade_ids = itertools.count(1)
        self._tran_ids = itertools.count(1)
        self._listeners: list[VenueListener] = []

    # ---------------------------------------------------------------------- plumbing

    def secret(self, api_key: str) -> str | None:
        """Return the secret of an API key, ``None`` for an unknown key."""
        account = self.accounts.get(api_key)
        return None if account is None else account.secret

    def account(self, api_key: str) -> FuturesAccount:
        """Return an account (the caller holds `lock` to read it consistently).

        Raises:
            KeyError: For an unknown key.
        """
        return self.accounts[api_key]

    def contract(self, symbol: str) -> ContractRules:
        """Return a contract by venue id.

        Raises:
            VenueRejectionError: ``-1121`` for an unknown symbol.
        """
        found = self.contracts.get(symbol)
        if found is None:
            raise VenueRejectionError(-1121, "Invalid symbol.")
        return found

    def next_order_id(self) -> int:
        """A fresh order id."""
        return next(self._order_ids)

    def next_trade_id(self) -> int:
        """A fresh trade id."""
        return next(self._trade_ids)

    def next_tran_id(self) -> int:
        """A fresh income transaction id."""
        return next(self._tran_ids)

    def add_listener(self, listener: VenueListener) -> None:
        """Hear every user-data event from now on."""
        with self.lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: VenueListener) -> None:
        """Stop a listener (unknown ones are ignored)."""
        with self.lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def emit_order(
        self,
        api_key: str,
        order: FuturesOrder,
        trade: FuturesTrade | None,
        execution: str,
        now: int,
    ) -> None:
        """Tell listeners of an order's change (``ORDER_TRADE_UPDATE``)."""
        self._emit(VenueEvent(api_key, order_trade_update(order, trade, execution, now)))

    def emit_algo(self, api_key: str, order: FuturesOrder, now: int) -> None:
        """Tell listeners of a conditional order's change (``ALGO_UPDATE``)."""
        self._emit(VenueEvent(api_key, algo_update(order, now)))

    def emit_account(
        self, api_key: str, reason: str, symbols: Iterable[str], now: int, change: Decimal
    ) -> None:
        """Tell listeners of a balance and position change (``ACCOUNT_UPDATE``)."""
        account = self.accounts[api_key]
        positions = [(account.position(s), self.marks[s]) for s in symbols]
        payload = account_update(
            reason, account.wallet, account.cross_wallet, change, positions, now
        )
        self._emit(VenueEvent(api_key, payload))

    def _emit(self, event: VenueEvent) -> None:
        for listener in list(self._listeners):
            listener(event)

    # ---------------------------------------------------------------------- prices

    def move(
        self,
        symbol: str,
        *,
        last: float | str | Decimal | None = None,
        mark: float | str | Decimal | None = None,
        now: int,
    ) -> None:
        """Move a market's last and/or mark price, with what follows from it.

        A new last price fills the resting limit orders it reaches (at their limit, maker) and
        triggers the stops that watch it; a new mark triggers ``MARK_PRICE`` stops and
        liquidates the positions whose margin it exhausts.

        Args:
            symbol: Venue id.
            last: The new last price.
            mark: The new mark price.
            now: Server time (ms).

        Raises:
            ConfigError: For an unknown symbol or a price not above 0.
        """
        if symbol not in self.contracts:
            raise ConfigError(f"the futures venue has no market {symbol!r}")
        with self.lock:
            if mark is not None:
                self.marks[symbol] = _positive(mark)
            if last is not None:
                self.lasts[symbol] = _positive(last)
                matching.on_last_price(self, symbol, now)
            if mark is not None:
                matching.on_mark_price(self, symbol, now)
            for api_key in list(self.accounts):
                settlement.liquidate_if_due(self, api_key, now)

    def settle_funding(
        self, symbol: str, rate: float | str | Decimal, *, now: int, mark: Decimal | None = None
    ) -> None:
        """Pay funding on every open position of a symbol (see `settlement.settle_funding`).

        Args:
            symbol: Venue id.
            rate: The funding rate of this timestamp (positive: longs pay shorts).
            now: The funding timestamp (ms).
            mark: The mark price to value positions at; the current mark when ``None``.
        """
        with self.lock:
            if mark is not None:
                self.marks[symbol] = _positive(mark)
            settlement.settle_funding(self, symbol, Decimal(str(rate)), now)

    # ---------------------------------------------------------------------- settings

    def set_leverage(
        self, api_key: str, symbol: str, leverage: int, *, now: int
    ) -> tuple[int, Decimal]:
        """Set a symbol's leverage (``POST /fapi/v1/leverage``).

        Returns:
            The leverage and the largest notional it allows.

        Raises:
            VenueRejectionError: ``-4028`` out of 1..max, ``-2027`` when the position is larger
                than the new leverage allows, ``-4161`` lowering an isolated position's,
                ``-2028`` lowering a cross position's beyond the available balance.
        """
        contract = self.contract(symbol)
        with self.lock:
            position = self.account(api_key).position(symbol)
            if not 1 <= leverage <= contract.brackets.max_leverage:
                raise VenueRejectionError(-4028, f"Leverage {leverage} is not valid")
            cap = max_notional(contract, leverage)
            if cap is not None and abs(position.amount) * self.marks[symbol] > cap:
                raise VenueRejectionError(
                    -2027, "Exceeded the maximum allowable position at current leverage."
                )
            if position.isolated and position.amount and leverage < position.leverage:
                raise VenueRejectionError(
                    -4161,
                    "Leverage reduction is not supported in Isolated Margin Mode with open "
                    "positions.",
                )
            if position.amount and not position.isolated and leverage < position.leverage:
                account = self.account(api_key)
                notional = abs(position.amount) * self.marks[symbol]
                extra = notional / leverage - notional / position.leverage
                if extra > account.available(self.marks, self.lasts):
                    raise VenueRejectionError(
                        -2028, "Leverage is smaller than permitted: insufficient margin balance"
                    )
            position.leverage = leverage
            position.update_time = now
            config = {"e": "ACCOUNT_CONFIG_UPDATE", "E": now, "T": now}
            self._emit(VenueEvent(api_key, config | {"ac": {"s": symbol, "l": leverage}}))
            return leverage, cap if cap is not None else Decimal("9223372036854775807")

    def set_margin_type(self, api_key: str, symbol: str, margin_type: str, *, now: int) -> None:
        """Set a symbol's margin type (``POST /fapi/v1/marginType``).

        Raises:
            VenueRejectionError: ``-1130`` for another type, ``-4046`` unchanged, ``-4048`` with a
                position, ``-4047`` with open orders.
        """
        self.contract(symbol)
        if margin_type not in ("ISOLATED", "CROSSED"):
            raise VenueRejectionError(-1130, "Data sent for parameter 'marginType' is not valid.")
        kind: MarginType = "ISOLATED" if margin_type == "ISOLATED" else "CROSSED"
        with self.lock:
            account = self.account(api_key)
            position = account.position(symbol)
            if position.margin_type == kind:
                raise VenueRejectionError(-4046, "No need to change margin type.")
            if position.amount:
                raise VenueRejectionError(
                    -4048, "Margin type cannot be changed if there exists position."
                )
            if account.open_orders(symbol) or account.open_algo_orders(symbol):
                raise VenueRejectionError(
                    -4047, "Margin type cannot be changed if there exists open orders."
                )
            position.margin_type = kind
            position.update_time = now
            self.emit_account(api_key, "MARGIN_TYPE_CHANGE", [symbol], now, Decimal(0))

    def set_dual_side(self, api_key: str, dual: bool) -> None:
        """Switch hedge mode on or off (``POST /fapi/v1/positionSide/dual``).

        Raises:
            VenueRejectionError: ``-4059`` unchanged, ``-4068`` with a position, ``-4067`` with
                open orders.
        """
        with self.lock:
            account = self.account(api_key)
            if account.dual_side == dual:
                raise VenueRejectionError(-4059, "No need to change position side.")
            if any(p.amount for p in account.positions.values()):
                raise VenueRejectionError(
                    -4068, "Position side cannot be changed if there exists position."
                )
            if account.open_orders() or account.open_algo_orders():
                raise VenueRejectionError(
                    -4067, "Position side cannot be changed if there exists open orders."
                )
            account.dual_side = dual

    def modify_isolated_margin(
        self, api_key: str, symbol: str, amount: Decimal, *, add: bool, now: int
    ) -> None:
        """Add margin to an isolated position, or take some back (``POST /fapi/v1/positionMargin``).

        Raises:
            VenueRejectionError: ``-4055`` for an amount not above 0, ``-4054`` without an
                isolated position, ``-4050`` adding more than is available, ``-4051`` taking
                back more than the margin balance above the initial margin.
        """
        self.contract(symbol)
        if amount <= 0:
            raise VenueRejectionError(-4055, "Amount must be positive.")
        with self.lock:
            account = self.account(api_key)
            position = account.position(symbol)
            if not (position.isolated and position.amount):
                raise VenueRejectionError(-4054, "Cannot add position margin: position is 0.")
            mark = self.marks[symbol]
            if add and amount > account.available(self.marks, self.lasts):
                raise VenueRejectionError(-4050, "Cross balance insufficient.")
            initial = abs(position.amount) * mark / position.leverage
            spare = position.isolated_wallet + position.unrealized(mark) - initial
            if not add and amount > min(spare, position.isolated_wallet):
                raise VenueRejectionError(-4051, "Isolated balance insufficient.")
            position.isolated_wallet += amount if add else -amount
            position.update_time = now
            self.emit_account(api_key, "MARGIN_TRANSFER", [symbol], now, Decimal(0))
            settlement.liquidate_if_due(self, api_key, now)

    # ---------------------------------------------------------------------- orders

    def place(
        self, api_key: str, request: OrderRequest, *, now: int, algo: bool = False
    ) -> FuturesOrder:
        """Place an order, or with ``algo`` a conditional order (see `matching.place`)."""
        with self.lock:
            order = matching.place(self, api_key, request, now, algo=algo)
            settlement.liquidate_if_due(self, api_key, now)
            return order

    def find_algo(
        self, api_key: str, symbol: str | None, *, algo_id: int | None, client_id: str | None
    ) -> FuturesOrder | None:
        """Find a conditional order by algo id, or by client algo id (the latest with it)."""
        with self.lock:
            orders = self.account(api_key).algo_orders
            if algo_id is not None:
                found = orders.get(algo_id)
                return found if found is not None and symbol in (None, found.symbol) else None
            matches = [
                o
                for o in orders.values()
                if o.client_id == client_id and symbol in (None, o.symbol)
            ]
            return matches[-1] if matches else None

    def cancel_algo(self, api_key: str, order: FuturesOrder, *, now: int) -> None:
        """Cancel a conditional order that has not triggered.

        Raises:
            VenueRejectionError: ``-2011`` if it is no longer waiting.
        """
        with self.lock:
            if order.status != "NEW":
                raise VenueRejectionError(-2011, "Unknown order sent.")
            order.status = "CANCELED"
            order.update_time = now
            self.emit_algo(api_key, order, now)

    def find(
        self, api_key: str, symbol: str, *, order_id: int | None, client_id: str | None
    ) -> FuturesOrder | None:
        """Find an order by id, or by client id (the latest with it)."""
        with self.lock:
            orders = self.account(api_key).orders
            if order_id is not None:
                found = orders.get(order_id)
                return found if found is not None and found.symbol == symbol else None
            matches = [
                o for o in orders.values() if o.symbol == symbol and o.client_id == client_id
            ]
            return matches[-1] if matches else None

    def cancel(self, api_key: str, order: FuturesOrder, *, now: int) -> None:
        """Cancel an open order.

        Raises:
            VenueRejectionError: ``-2011`` if it is no longer open.
        """
        with self.lock:
            if not order.is_open:
                raise VenueRejectionError(-2011, "Unknown order sent.")
            order.status = "CANCELED"
            order.update_time = now
            self.emit_order(api_key, order, None, "CANCELED", now)

    def open_orders(self, api_key: str, symbol: str | None) -> list[FuturesOrder]:
        """Open orders of one symbol or all, oldest first."""
        with self.lock:
            return self.account(api_key).open_orders(symbol)

    def trades(self, api_key: str, symbol: str) -> list[FuturesTrade]:
        """The account's trades in a symbol, oldest first."""
        with self.lock:
            return [t for t in self.account(api_key).trades if t.symbol == symbol]

    def income(self, api_key: str) -> list[Income]:
        """The account's income history, oldest first."""
        with self.lock:
            return list(self.account(api_key).income)

    def positions(self, api_key: str) -> list[FuturesPosition]:
        """The account's positions and settings of every contract, in contract order."""
        with self.lock:
            account = self.account(api_key)
            return [account.position(symbol) for symbol in self.contracts]


def max_notional(contract: ContractRules, leverage: int) -> Decimal | None:
    """Return the largest notional a leverage allows (``None``: unbounded).

    Args:
        contract: The contract.
        leverage: The leverage.

    Returns:
        The cap of the last bracket whose maximum leverage is at least ``leverage``.
    """
    allowed = [b for b in contract.brackets.brackets if b.max_leverage >= leverage]
    return allowed[-1].cap if allowed else Decimal(0)


def _positive(value: float | str | Decimal) -> Decimal:
    price = Decimal(str(value))
    if not price.is_finite() or price <= 0:
        raise ConfigError(f"a price must be above 0, got {value!r}")
    return price
