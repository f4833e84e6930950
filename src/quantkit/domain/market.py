"""Markets: what an instrument allows (precision, minimums, fees)."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from dataclasses import dataclass

from quantkit.errors import ConfigError, OrderError

__all__ = ["Market", "unknown_symbol"]


def unknown_symbol(symbol: str, known: Iterable[str]) -> OrderError:
    """Build the error for an order on a symbol the run does not trade, with close matches.

    Args:
        symbol: The symbol asked for.
        known: The symbols that exist.

    Returns:
        The error to raise.
    """
    names = sorted(known)
    close = difflib.get_close_matches(symbol, names, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; the run trades {names}"
    return OrderError(f"unknown symbol {symbol!r}{hint}")


def _decimals(increment: float) -> int:
    """Number of decimals needed to write ``increment`` exactly (at most 12)."""
    for places in range(13):
        if abs(round(increment, places) - increment) <= 1e-15 * max(1.0, increment):
            return places
    return 12


@dataclass(frozen=True, slots=True)
class Market:
    """A tradable market, with the fields of ccxt's market structure that trading needs.

    Args:
        symbol: Unified symbol, e.g. ``"BTC/USDT"``.
        base: Base currency (what is bought and sold), e.g. ``"BTC"``.
        quote: Quote currency (what prices are in), e.g. ``"USDT"``.
        price_increment: Tick size; prices are rounded to a multiple of it. ``0`` means any.
        amount_increment: Step size; amounts are rounded down to a multiple of it. ``0`` means any.
        min_amount: Smallest accepted order amount in base currency.
        min_notional: Smallest accepted order value (amount x price) in quote currency.
        maker_fee: Fee rate for fills that add liquidity; negative for a rebate.
        taker_fee: Fee rate for fills that take liquidity.

    Raises:
        ConfigError: If a field is negative or non-finite, or the symbol is empty.

    Examples:
        >>> m = Market("BTC/USDT", "BTC", "USDT", price_increment=0.01, amount_increment=0.001)
        >>> m.round_amount(0.12345), m.round_price(101.234)
        (0.123, 101.23)
    """

    symbol: str
    base: str
    quote: str
    price_increment: float = 0.0
    amount_increment: float = 0.0
    min_amount: float = 0.0
    min_notional: float = 0.0
    maker_fee: float = 0.001
    taker_fee: float = 0.001

    def __post_init__(self) -> None:
        if not self.symbol or not self.base or not self.quote:
            raise ConfigError(f"market {self.symbol!r}: symbol, base and quote must be non-empty")
        for name in ("price_increment", "amount_increment", "min_amount", "min_notional"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"market {self.symbol}: {name} must be >= 0, got {value!r}")
        for name in ("maker_fee", "taker_fee"):
            value = getattr(self, name)
            if not math.isfinite(value) or not -0.01 <= value < 1:
                raise ConfigError(
                    f"market {self.symbol}: {name} must be a rate in [-0.01, 1), got {value!r}"
                )

    @classmethod
    def from_symbol(cls, symbol: str, **fields: float) -> Market:
        """Build a market from a ``BASE/QUOTE`` symbol.

        Args:
            symbol: Unified symbol such as ``"ETH/USDT"``.
            **fields: Any other `Market` field.

        Returns:
            The market.

        Raises:
            ConfigError: If the symbol is not of the form ``BASE/QUOTE``.
        """
        base, sep, quote = symbol.partition("/")
        if not sep or not base or not quote:
            raise ConfigError(f"symbol {symbol!r} is not of the form BASE/QUOTE, e.g. 'BTC/USDT'")
        quote = quote.split(":")[0]
        return cls(symbol, base, quote, **fields)

    def round_amount(self, amount: float) -> float:
        """Round an amount down to the step size, as exchanges truncate amounts.

        Args:
            amount: Amount in base currency.

        Returns:
            The largest multiple of ``amount_increment`` not above ``amount``.
        """
        step = self.amount_increment
        if step <= 0:
            return amount
        units = math.floor(amount / step + 1e-9)
        return round(units * step, _decimals(step))

    def round_price(self, price: float) -> float:
        """Round a price to the nearest tick.

        Args:
            price: Price in quote currency.

        Returns:
            The nearest multiple of ``price_increment``.
        """
        tick = self.price_increment
        if tick <= 0:
            return price
        return round(round(price / tick) * tick, _decimals(tick))
