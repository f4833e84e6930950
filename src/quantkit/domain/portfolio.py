"""The account: cash by currency, positions, and the checks an exchange makes before a fill."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from quantkit.domain.fill import Fill
from quantkit.domain.market import Market
from quantkit.domain.order import Side
from quantkit.domain.position import Position
from quantkit.errors import ConfigError

__all__ = ["MAX_LEVERAGE", "MarginConfig", "Portfolio"]

MAX_LEVERAGE = 125.0
"""The largest leverage a simulated margin account accepts (Binance USD-M futures' maximum)."""

_TOL = 1e-9
_BUY = Side.BUY  # a module constant: ``Side.BUY`` is a slow class-attribute lookup


@dataclass(frozen=True, slots=True)
class MarginConfig:
    """What the account may borrow.

    Args:
        allow_short: Whether positions may go below zero.
        leverage: Maximum gross exposure as a multiple of equity (1 = no borrowing), at most
            `MAX_LEVERAGE` (125, Binance USD-M futures' largest).

    Raises:
        ConfigError: If leverage is not a number in [1, 125].
    """

    allow_short: bool = False
    leverage: float = 1.0

    def __post_init__(self) -> None:
        leverage = self.leverage
        if isinstance(leverage, bool) or not isinstance(leverage, (int, float)):
            raise ConfigError(f"leverage must be a number, got {leverage!r}")
        if not (math.isfinite(leverage) and 1 <= leverage <= MAX_LEVERAGE):
            raise ConfigError(
                f"leverage must be a finite number from 1 to {MAX_LEVERAGE:g} (the largest a "
                f"venue offers), got {leverage!r}"
            )

    @property
    def is_spot(self) -> bool:
        """Whether this is a plain cash account (no shorting, no leverage)."""
        return not self.allow_short and self.leverage == 1.0


@dataclass(slots=True)
class Portfolio:
    """Cash by currency and positions by symbol, valued in one account currency.

    Every market traded must be quoted in the account currency. Equity is
    ``cash[currency] + sum(position.amount * last_price)``.

    Attributes:
        currency: Account currency, e.g. ``"USDT"``.
        cash: Balance by currency.
        positions: Position by symbol.
        last_price: Latest mark price by symbol.
        margin: Borrowing rules.
        fees_paid: Total fees charged (quote currency), rebates subtracted; a fee charged in
            the base asset counts at its fill's price.
        dust_below: Per symbol, the smallest tradable amount (the market's minimum); a
            position below it is dust and counts as flat. Brokers set it from the markets.
    """

    currency: str
    cash: dict[str, float]
    margin: MarginConfig = field(default_factory=MarginConfig)
    positions: dict[str, Position] = field(default_factory=dict)
    last_price: dict[str, float] = field(default_factory=dict)
    fees_paid: float = 0.0
    dust_below: dict[str, float] = field(default_factory=dict)

    def set_markets(self, markets: Iterable[Market]) -> None:
        """Take each market's minimum tradable amount as its dust threshold.

        Args:
            markets: The markets traded.
        """
        for market in markets:
            self.dust_below[market.symbol] = market.dust_below
            pos = self.positions.get(market.symbol)
            if pos is not None:
                pos.dust_below = market.dust_below

    def position(self, symbol: str) -> Position:
        """Return the position of ``symbol`` (a flat one if never traded).

        Args:
            symbol: Market symbol.

        Returns:
            The live position object.
        """
        pos = self.positions.get(symbol)
        if pos is None:
            pos = self.positions[symbol] = Position(
                symbol, dust_below=self.dust_below.get(symbol, 0.0)
            )
        return pos

    @property
    def balance(self) -> float:
        """Cash in the account currency."""
        return self.cash.get(self.currency, 0.0)

    def equity(self) -> float:
        """Cash plus positions marked at their last prices, in the account currency."""
        value = self.balance
        for symbol, pos in self.positions.items():
            if pos.amount:
                value += pos.amount * self.last_price.get(symbol, pos.entry_price)
        return value

    def gross_exposure(self) -> float:
        """Sum of absolute position values at the last prices."""
        return sum(
            abs(p.amount) * self.last_price.get(s, p.entry_price) for s, p in self.positions.items()
        )

    def check_fill(self, market: Market, signed_amount: float, price: float, fee: float) -> str:
        """Return why the account cannot take a fill, or ``""`` if it can.

        Args:
            market: The fill's market.
            signed_amount: Amount, positive to buy, negative to sell.
            price: Fill price.
            fee: Fee the fill would charge (quote currency).

        Returns:
            A rejection reason, or an empty string.
        """
        position = self.positions.get(market.symbol)
        pos = (position or self.position(market.symbol)).amount
        new = pos + signed_amount
        margin = self.margin
        if not margin.allow_short and new < 0.0 and new < -_TOL * max(1.0, abs(pos)):
            return (
                f"insufficient {market.base}: selling {abs(signed_amount):g} but holding "
                f"{max(pos, 0.0):g} (shorting is off)"
            )
        if not margin.allow_short and margin.leverage == 1.0:  # a cash account (is_spot)
            if signed_amount > 0:
                need = signed_amount * price + fee
                have = self.cash.get(self.currency, 0.0)
                if need > have * (1 + _TOL) + _TOL:
                    return f"insufficient {market.quote}: needs {need:.8g}, has {have:.8g}"
            return ""
        if abs(new) <= abs(pos) and (new >= 0) == (pos >= 0):
            return ""  # reducing a position is always allowed
        mark = dict(self.last_price)
        mark[market.symbol] = price
        equity = self.balance - signed_amount * price - fee
        gross = 0.0
        for symbol, p in self.positions.items():
            amount = new if symbol == market.symbol else p.amount
            value = amount * mark.get(symbol, p.entry_price)
            equity += value
            gross += abs(value)
        if market.symbol not in self.positions:  # pragma: no cover - position() created it
            gross += abs(new * price)
        limit = max(equity, 0.0) * self.margin.leverage
        if gross > limit * (1 + _TOL) + _TOL:
            return (
                f"insufficient margin: gross exposure {gross:.8g} would exceed "
                f"{self.margin.leverage:g}x equity {equity:.8g}"
            )
        return ""

    def apply_fill(self, fill: Fill) -> float:
        """Book a fill: move cash, update the position, charge the fee.

        A fee in the account currency is taken from cash. A fee in another currency is one
        charged in the base asset the fill received (a buy, Binance spot's rule): the position
        grows by ``amount - fee`` at the fill price and `fees_paid` grows by ``fee * price``.
        Either way the accounting identity holds exactly (up to float rounding)::

            cash + sum(amount * mark) == start + realised + unrealised - fees_paid

        where realised and unrealised P&L are before fees (`Position`).

        Args:
            fill: The execution to book.

        Returns:
            The PnL the fill realised, before fees.
        """
        price, fee, symbol = fill.price, fill.fee, fill.symbol
        signed = fill.amount if fill.side is _BUY else -fill.amount  # fill.signed_amount
        cash = self.cash
        currency = self.currency
        if fill.fee_currency == currency or not fee:
            cash[currency] = cash.get(currency, 0.0) - signed * price - fee
            self.fees_paid += fee
        else:  # charged in the base asset received (Binance spot): the position gets less
            cash[currency] = cash.get(currency, 0.0) - signed * price
            self.fees_paid += fee * price
            signed -= fee
        self.last_price.setdefault(symbol, price)
        position = self.positions.get(symbol)
        return (position or self.position(symbol)).apply(signed, price)

    def apply_quote_fill(self, symbol: str, signed_amount: float, price: float, fee: float) -> None:
        """`apply_fill` of a fill whose fee is in the account currency, from its figures.

        The same booking as ``apply_fill(fill)`` for such a fill (the simulator's common case),
        without a `Fill` to read.

        Args:
            symbol: The fill's market symbol.
            signed_amount: Amount, positive for a buy, negative for a sell.
            price: Fill price.
            fee: Fee in the account currency.
        """
        cash = self.cash
        currency = self.currency
        cash[currency] = cash.get(currency, 0.0) - signed_amount * price - fee
        self.fees_paid += fee
        self.last_price.setdefault(symbol, price)
        position = self.positions.get(symbol)
        (position or self.position(symbol)).apply(signed_amount, price)
