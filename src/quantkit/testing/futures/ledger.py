"""FuturesAccount: one USD-M account's wallet, positions, orders, trades and income.

The wallet balance is the account's USDT: deposits, plus realised P&L, less commissions, plus
or minus funding. Isolated positions hold part of it as their isolated wallets; the rest is the
cross wallet. Margin follows Binance's account endpoint:

* a position's initial margin is ``|amount| x mark / leverage``;
* an open order's initial margin is the part of it that would open or add to the position,
  valued at its price, over the leverage (reduce-only and closing orders need none);
* the available balance is ``cross wallet + cross unrealised P&L - cross initial margin -
  open-order initial margin``; a new order needs its initial margin available (``-2019``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from quantkit.testing.futures.contracts import ContractRules
from quantkit.testing.futures.liquidation import maintenance_margin
from quantkit.testing.futures.orders import FuturesOrder, FuturesTrade, Income, IncomeType
from quantkit.testing.futures.positions import FuturesPosition

__all__ = ["FuturesAccount", "opening_part"]

_ZERO = Decimal(0)


def opening_part(position: Decimal, signed_qty: Decimal) -> Decimal:
    """Return how much of an order would open or add to a position (absolute).

    Args:
        position: The signed position amount.
        signed_qty: The order's signed amount.

    Returns:
        ``max(0, |position + qty| - |position|)`` when it adds, the part beyond flat when it
        flips, 0 when it only reduces.
    """
    return max(_ZERO, abs(position + signed_qty) - abs(position))


@dataclass(slots=True)
class FuturesAccount:
    """One account's state. `FuturesAccounts` changes it under its lock.

    Attributes:
        secret: The API secret (never rendered).
        wallet: Total USDT wallet balance.
        default_leverage: Leverage of symbols not set yet.
        maker: Maker commission rate.
        taker: Taker commission rate.
        dual_side: Hedge mode (recorded; the venue trades one-way only).
        positions: Position and settings per symbol.
        orders: Every order by id.
        algo_orders: Every conditional (algo) order by algo id.
        trades: Every trade, oldest first.
        income: Every income entry, oldest first.
    """

    secret: str
    wallet: Decimal
    default_leverage: int = 20
    maker: Decimal = Decimal("0.0002")
    taker: Decimal = Decimal("0.0005")
    dual_side: bool = False
    positions: dict[str, FuturesPosition] = field(default_factory=dict)
    orders: dict[int, FuturesOrder] = field(default_factory=dict)
    algo_orders: dict[int, FuturesOrder] = field(default_factory=dict)
    trades: list[FuturesTrade] = field(default_factory=list)
    income: list[Income] = field(default_factory=list)

    def position(self, symbol: str) -> FuturesPosition:
        """Return (creating at the default settings) the symbol's position."""
        found = self.positions.get(symbol)
        if found is None:
            found = self.positions[symbol] = FuturesPosition(symbol, self.default_leverage)
        return found

    _live: dict[int, FuturesOrder] = field(
        default_factory=dict, init=False, repr=False
    )  # open, or closed since
    _waiting: dict[int, FuturesOrder] = field(
        default_factory=dict, init=False, repr=False
    )  # the same for algo orders

    def add_order(self, order: FuturesOrder) -> None:
        """Book a new order."""
        self.orders[order.order_id] = order
        if order.is_open:
            self._live[order.order_id] = order

    def add_algo(self, order: FuturesOrder) -> None:
        """Book a new conditional order."""
        self.algo_orders[order.order_id] = order
        self._waiting[order.order_id] = order

    def open_orders(self, symbol: str | None = None) -> list[FuturesOrder]:
        """Return the open orders, oldest first, of one symbol or all."""
        for order_id in [i for i, o in self._live.items() if not o.is_open]:
            del self._live[order_id]  # closed since: dropped from the index, kept in `orders`
        return [o for o in self._live.values() if symbol is None or o.symbol == symbol]

    def open_algo_orders(self, symbol: str | None = None) -> list[FuturesOrder]:
        """Return the conditional orders waiting for their trigger, oldest first."""
        for order_id in [i for i, o in self._waiting.items() if o.status != "NEW"]:
            del self._waiting[order_id]
        return [o for o in self._waiting.values() if symbol is None or o.symbol == symbol]

    @property
    def isolated_wallets(self) -> Decimal:
        """Sum of the isolated positions' wallets."""
        return sum((p.isolated_wallet for p in self.positions.values()), _ZERO)

    @property
    def cross_wallet(self) -> Decimal:
        """The wallet less what isolated positions hold."""
        return self.wallet - self.isolated_wallets

    def cross_positions(self) -> list[FuturesPosition]:
        """Open cross-margin positions."""
        return [p for p in self.positions.values() if p.amount and not p.isolated]

    def unrealized(self, marks: dict[str, Decimal], *, cross_only: bool = False) -> Decimal:
        """Unrealised P&L at the marks (of cross positions only, if asked)."""
        return sum(
            (
                p.unrealized(marks[p.symbol])
                for p in self.positions.values()
                if p.amount and not (cross_only and p.isolated)
            ),
            _ZERO,
        )

    def position_margin(self, marks: dict[str, Decimal], *, cross_only: bool = True) -> Decimal:
        """Initial margin of the (cross) positions at the marks."""
        return sum(
            (
                abs(p.amount) * marks[p.symbol] / p.leverage
                for p in self.positions.values()
                if p.amount and not (cross_only and p.isolated)
            ),
            _ZERO,
        )

    def order_margin(self, order: FuturesOrder, reference: Decimal) -> Decimal:
        """Initial margin an open order holds (its opening part at its price)."""
        if order.reduce_only or order.close_position:
            return _ZERO
        position = self.position(order.symbol)
        price = order.price or order.stop_price or reference
        return opening_part(position.amount, order.signed_qty) * price / position.leverage

    def open_order_margin(self, lasts: dict[str, Decimal]) -> Decimal:
        """Initial margin of every open order."""
        return sum((self.order_margin(o, lasts[o.symbol]) for o in self.open_orders()), _ZERO)

    def available(self, marks: dict[str, Decimal], lasts: dict[str, Decimal]) -> Decimal:
        """The available balance (see the module docstring)."""
        return (
            self.cross_wallet
            + self.unrealized(marks, cross_only=True)
            - self.position_margin(marks)
            - self.open_order_margin(lasts)
        )

    def maintenance(
        self, marks: dict[str, Decimal], contracts: dict[str, ContractRules], *, cross_only: bool
    ) -> Decimal:
        """Maintenance margin of the (cross) positions at the marks."""
        return sum(
            (
                maintenance_margin(p.amount, marks[p.symbol], contracts[p.symbol].brackets)
                for p in self.positions.values()
                if p.amount and not (cross_only and p.isolated)
            ),
            _ZERO,
        )

    def book(
        self, tran_id: int, symbol: str, kind: IncomeType, amount: Decimal, now: int, trade: str
    ) -> None:
        """Record an income entry (the wallet is changed by the caller)."""
        self.income.append(Income(tran_id, symbol, kind, amount, now, trade))
