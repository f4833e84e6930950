"""Markets: what an instrument allows (precision, minimums, fees)."""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from quantkit.domain.amounts import round_amount_down
from quantkit.domain.perpetual import PerpetualSpec
from quantkit.errors import ConfigError, UnknownSymbolError

if TYPE_CHECKING:
    from quantkit.domain.order import OrderRequest

__all__ = ["Market", "unknown_symbol"]


def unknown_symbol(symbol: str, known: Iterable[str]) -> UnknownSymbolError:
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
    return UnknownSymbolError(f"unknown symbol {symbol!r}{hint}")


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
        perpetual: The contract spec of a perpetual swap (``None``: a spot market). Amounts
            of a perpetual market are in contracts.

    Raises:
        ConfigError: If a field is negative or non-finite, the symbol is empty, or a
            perpetual's settle currency is not the quote (linear) or the base (inverse).

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
    perpetual: PerpetualSpec | None = None

    def __post_init__(self) -> None:
        spec = self.perpetual
        if spec is not None:
            settle = self.base if spec.inverse else self.quote
            if spec.settle != settle:
                kind = "an inverse" if spec.inverse else "a linear"
                raise ConfigError(
                    f"market {self.symbol}: {kind} perpetual settles in {settle}, not {spec.settle}"
                )
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

    @property
    def is_perpetual(self) -> bool:
        """Whether this market is a perpetual swap (it carries a `PerpetualSpec`)."""
        return self.perpetual is not None

    @classmethod
    def from_symbol(cls, symbol: str, **fields: Any) -> Market:
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

    def unit_value(self, price: float) -> float:
        """What one unit of an order's amount is worth at ``price``, in the account currency.

        ``price`` for spot and linear contracts of size 1; one contract's notional for other
        perpetuals (``CS * price``, or ``CS / price`` in the coin for inverse), so that
        ``value / unit_value(price)`` is the amount a sizing rule asks for.

        Args:
            price: A price.

        Returns:
            The value.

        Examples:
            >>> from quantkit.domain.perpetual import PerpetualSpec
            >>> coin_m = PerpetualSpec("BTC", inverse=True, contract_size=100.0)
            >>> Market("BTC/USD:BTC", "BTC", "USD", perpetual=coin_m).unit_value(25_000.0)
            0.004
        """
        spec = self.perpetual
        if spec is None or (not spec.inverse and spec.contract_size == 1.0):
            return price
        return spec.notional(1.0, price)

    def round_amount(self, amount: float) -> float:
        """Round an amount down to the step size, as exchanges truncate amounts.

        Args:
            amount: Amount in base currency.

        Returns:
            The largest multiple of ``amount_increment`` not above ``amount`` (up to float
            noise: ``AMOUNT_RTOL`` of `quantkit.domain.amounts`).
        """
        step = self.amount_increment
        if step <= 0:
            return amount
        # One formula with the fast path's kernel (quantkit.domain.amounts): float noise up to
        # AMOUNT_RTOL of the amount is absorbed (2049 / 0.00001 is 204899999.99999997), no more.
        return round_amount_down(amount, step, 10.0 ** _decimals(step))

    @property
    def dust_below(self) -> float:
        """Smallest amount that can still be traded: a holding below it is dust.

        Returns:
            ``max(min_amount, amount_increment)``; ``0`` when the market states neither.
        """
        return max(self.min_amount, self.amount_increment)

    def amount_text(self, amount: float) -> str:
        """Write a rounded amount as the decimal string a venue receives.

        Args:
            amount: Amount in base currency, already rounded with `round_amount`.

        Returns:
            Plain decimal notation with the step's number of decimals (no exponent).

        Examples:
            >>> Market("BTC/USDT", "BTC", "USDT", amount_increment=0.00001).amount_text(0.0003)
            '0.00030'
        """
        step = self.amount_increment
        places = _decimals(step) if step > 0 else 12
        text = f"{amount:.{places}f}"
        return text.rstrip("0").rstrip(".") if step <= 0 else text

    def round_request(self, request: OrderRequest) -> OrderRequest:
        """Round an order request to the market's precision (the rule of every broker).

        Amounts round DOWN to the step size (toward zero: an order never asks for more than
        the strategy or the balance allows); every price (limit, stop, stop-loss and
        take-profit) rounds to the NEAREST tick, as the simulator matches them. An amount that
        would round below the market's minimum is left as given, so the broker refuses the
        order with a reason naming both figures instead of sending something else.

        Args:
            request: The order request.

        Returns:
            ``request`` itself when nothing changes, else a rounded copy.

        Examples:
            >>> from quantkit.domain.order import OrderRequest, OrderType, Side
            >>> m = Market("BTC/USDT", "BTC", "USDT", price_increment=0.1, amount_increment=0.01)
            >>> r = m.round_request(OrderRequest("BTC/USDT", Side.BUY, OrderType.LIMIT,
            ...                                  amount=0.129, limit_price=100.06))
            >>> r.amount, r.limit_price
            (0.12, 100.1)
        """
        changes: dict[str, Any] = {}
        amount = request.amount
        if amount is not None and self.amount_increment > 0:
            rounded = self.round_amount(amount)
            if rounded != amount and rounded > 0 and rounded >= self.min_amount:
                changes["amount"] = rounded
        if self.price_increment > 0:
            for name in ("limit_price", "stop_price", "stop_loss", "take_profit"):
                price = getattr(request, name)
                if price is not None:
                    rounded = self.round_price(price)
                    if rounded != price and rounded > 0:
                        changes[name] = rounded
        return dataclasses.replace(request, **changes) if changes else request

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
