"""Exposure limits: gross, net, leverage and concentration of the whole account.

Every limit is measured on the pro-forma account: the positions as they would be after the
order fills, all marked at the latest prices, against the equity marked at the latest prices
(a fill at the mark moves cash and position value by the same amount, so equity does not
change; fees are left out).
"""

from __future__ import annotations

import dataclasses
import math
from abc import abstractmethod
from typing import NamedTuple

from quantkit.domain.order import OrderRequest
from quantkit.domain.portfolio import Portfolio
from quantkit.errors import ConfigError
from quantkit.risk.policy import (
    Decision,
    RiskContext,
    ScreenedPolicy,
    positive_required,
)

__all__ = ["MaxConcentration", "MaxGrossExposure", "MaxLeverage", "MaxNetExposure"]

_TOL = 1e-12
_isfinite = math.isfinite
# Builds a named tuple from a tuple of its fields without its generated Python ``__new__``
# (``_new(_Book, (equity, gross, net))``): a third of the cost, the same object.
_new = tuple.__new__


class _Book(NamedTuple):
    """The account marked at the latest prices.

    Attributes:
        equity: Cash plus signed position values.
        gross: Sum of absolute position values.
        net: Sum of signed position values.
    """

    equity: float
    gross: float
    net: float


def _mark_book(context: RiskContext, portfolio: Portfolio, symbol: str, price: float) -> _Book:
    """Value the account at the latest prices.

    A symbol without a latest price is marked at the portfolio's last mark, else its entry
    price.

    Args:
        context: Account and prices now.
        portfolio: ``context.portfolio``, already fetched.
        symbol: A symbol whose latest price is known already (the order's).
        price: ``context.price(symbol)``.

    Returns:
        Equity, gross and net exposure.
    """
    last = portfolio.last_price
    equity = portfolio.balance
    gross = net = 0.0
    price_of = context.price
    for held, position in portfolio.positions.items():
        amount = position.amount
        if not amount:
            continue
        mark = price if held == symbol else price_of(held)
        if not (_isfinite(mark) and mark > 0):
            mark = last.get(held, position.entry_price)
        value = amount * mark
        net += value
        gross += abs(value)
    equity += net
    return _new(_Book, (equity, gross, net))


class _Room(NamedTuple):
    """How much an order may add under one limit.

    Attributes:
        amount: Largest order amount (base currency) that keeps the limit.
        measure: The limited quantity now (e.g. the gross exposure).
        limit: Its limit in quote currency.
    """

    amount: float
    measure: float
    limit: float


class _ExposureLimit(ScreenedPolicy):
    """Base of the exposure limits: resize entries down to the limit, never block reductions.

    Subclasses say how much room an order has (`_room`); this class handles reduce-only and
    reducing orders, cost-sized orders, rounding to the market and the reasons.
    """

    _what = "exposure"
    # whether the class overrides `_refuse` (the screen skips the call otherwise)
    _may_refuse = False

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls._may_refuse = cls._refuse is not _ExposureLimit._refuse

    @abstractmethod
    def _room(self, book: _Book, held: float, sign: int, mark: float) -> _Room:
        """How much may be added in direction ``sign`` to a position of ``held``.

        Args:
            book: The account marked at the latest prices.
            held: The order's symbol's signed position.
            sign: ``+1`` for a buy, ``-1`` for a sell.
            mark: The symbol's latest price.

        Returns:
            The room, the current measure and its limit.
        """

    @abstractmethod
    def _describe(self, book: _Book) -> str:
        """How the limit is set, for reasons (e.g. ``"2x equity 10,000.00"``).

        Args:
            book: The account marked at the latest prices.

        Returns:
            A short phrase.
        """

    def _refuse(self, book: _Book) -> str:
        """A reason to refuse every entry outright, or ``""`` (default: none).

        Args:
            book: The account marked at the latest prices.

        Returns:
            The reason, or an empty string.
        """
        return ""

    def screen(
        self, request: OrderRequest, context: RiskContext, portfolio: Portfolio, price: float
    ) -> Decision | None:
        """Approve, resize or reject ``request`` against the limit.

        Args:
            request: What the strategy asks for.
            context: Account and prices now.
            portfolio: The marked account.
            price: ``context.price(request.symbol)``, the order's symbol's latest price.

        Returns:
            ``None`` (approved as it is), or the resize or rejection.
        """
        if request.reduce_only:
            return None
        symbol = request.symbol
        position = portfolio.positions.get(symbol)  # no position object built for a new symbol
        held = 0.0 if position is None else position.amount
        sign = request.sign
        mark = price
        priced = _isfinite(mark) and mark > 0
        if request.amount is not None:
            amount = request.amount
        elif priced:
            amount = (request.cost or 0.0) / mark
        else:
            amount = math.nan
        if held * sign < 0 and amount <= abs(held) * (1 + _TOL):
            return None  # reduces (nan: not known to)
        if not priced:
            return Decision.reject(self.name, f"no price for {symbol} yet to value the order")
        book = _mark_book(context, portfolio, symbol, mark)
        refusal = self._refuse(book) if self._may_refuse else ""
        if refusal:
            return Decision.reject(self.name, refusal)
        room = self._room(book, held, sign, mark)
        allowed_raw = room.amount
        if held * sign < 0:
            allowed_raw = max(allowed_raw, abs(held))  # closing is always allowed
        if amount <= allowed_raw * (1 + _TOL) + _TOL * abs(held):
            return None
        market = context.market(symbol)
        allowed = market.round_amount(max(allowed_raw, 0.0))
        limit = f"{room.limit:,.2f} ({self._describe(book)})"
        if allowed <= 0:
            return Decision.reject(
                self.name,
                f"{self._what} {room.measure:,.2f} leaves no room under its limit {limit}; "
                f"order of {amount:g} {symbol} refused",
            )
        if allowed < market.min_amount or allowed * mark < market.min_notional:
            return Decision.reject(
                self.name,
                f"{self._what} {room.measure:,.2f} leaves room for {allowed:g} {symbol} under its "
                f"limit {limit}, below the market's minimum",
            )
        if request.amount is None:
            resized = dataclasses.replace(request, cost=(request.cost or 0.0) * allowed / amount)
        else:
            resized = dataclasses.replace(request, amount=allowed)
        return Decision.resize(
            resized,
            self.name,
            f"{self._what} would exceed its limit {limit}; resized from {amount:g} to "
            f"{allowed:g} {symbol}",
        )


class MaxGrossExposure(_ExposureLimit):
    """Cap gross exposure: the sum of absolute position values, as a multiple of equity.

    Rule, on the pro-forma account: ``sum |position value| <= max_multiple * equity``. A
    multiple below 1 caps how much of the equity is invested (``0.5``: at most half);
    above 1 allows leverage. When equity is zero or negative nothing can be added.

    Args:
        max_multiple: Largest gross exposure as a multiple of equity.

    Raises:
        ConfigError: If ``max_multiple`` is not a finite number > 0.

    Examples:
        >>> MaxGrossExposure(max_multiple=1.5)
        MaxGrossExposure(max_multiple=1.5)
    """

    _what = "gross exposure"

    def __init__(self, *, max_multiple: float) -> None:
        self.max_multiple = positive_required(max_multiple, type(self).__name__, "max_multiple")

    def _room(self, book: _Book, held: float, sign: int, mark: float) -> _Room:
        """Room under ``max_multiple * equity`` for the gross exposure.

        Args:
            book: The account marked at the latest prices.
            held: The order's symbol's signed position.
            sign: ``+1`` for a buy, ``-1`` for a sell.
            mark: The symbol's latest price.

        Returns:
            The room.
        """
        limit = self.max_multiple * book.equity
        others = book.gross - abs(held) * mark
        # after the order the position is held + sign * a, with |.| = sign * held + a
        return _new(_Room, ((limit - others) / mark - sign * held, book.gross, limit))

    def _describe(self, book: _Book) -> str:
        """The limit's setting, for reasons.

        Args:
            book: The account marked at the latest prices.

        Returns:
            E.g. ``"2x equity 10,000.00"``.
        """
        return f"{self.max_multiple:g}x equity {book.equity:,.2f}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(max_multiple={self.max_multiple!r})"


class MaxLeverage(MaxGrossExposure):
    """Cap leverage on a margin account: gross exposure / equity <= ``max_leverage``.

    The same measure as `MaxGrossExposure`, spelled the way margin traders speak:
    ``max_leverage`` must be at least 1 (1 = no borrowing), and leverage is undefined when
    equity is not positive, so every entry is then refused with a reason that says the
    account is under water.

    Args:
        max_leverage: Largest gross exposure divided by equity, >= 1.

    Raises:
        ConfigError: If ``max_leverage`` is not a finite number >= 1.

    Examples:
        >>> MaxLeverage(max_leverage=3.0)
        MaxLeverage(max_leverage=3.0)
    """

    def __init__(self, *, max_leverage: float) -> None:
        value = positive_required(max_leverage, "MaxLeverage", "max_leverage")
        if value < 1:
            raise ConfigError(f"MaxLeverage: max_leverage must be >= 1, got {max_leverage!r}")
        super().__init__(max_multiple=value)
        self.max_leverage = value

    def _refuse(self, book: _Book) -> str:
        """Refuse entries while equity is not positive.

        Args:
            book: The account marked at the latest prices.

        Returns:
            The reason, or an empty string.
        """
        if book.equity > 0:
            return ""
        return f"equity {book.equity:,.2f} is not positive: leverage is undefined"

    def _describe(self, book: _Book) -> str:
        """The limit's setting, for reasons.

        Args:
            book: The account marked at the latest prices.

        Returns:
            E.g. ``"leverage 3x on equity 10,000.00"``.
        """
        return f"leverage {self.max_leverage:g}x on equity {book.equity:,.2f}"

    def __repr__(self) -> str:
        return f"MaxLeverage(max_leverage={self.max_leverage!r})"


class MaxNetExposure(_ExposureLimit):
    """Cap net exposure: the absolute sum of signed position values, as a multiple of equity.

    Rule, on the pro-forma account: ``|sum position value| <= max_multiple * equity``. Longs
    and shorts offset each other, so a hedge is cheap here and expensive under
    `MaxGrossExposure`. An order that moves the net exposure towards zero is never
    blocked, even when the net stays beyond the limit.

    Args:
        max_multiple: Largest absolute net exposure as a multiple of equity.

    Raises:
        ConfigError: If ``max_multiple`` is not a finite number > 0.

    Examples:
        >>> MaxNetExposure(max_multiple=0.5)
        MaxNetExposure(max_multiple=0.5)
    """

    _what = "net exposure"

    def __init__(self, *, max_multiple: float) -> None:
        self.max_multiple = positive_required(max_multiple, "MaxNetExposure", "max_multiple")

    def _room(self, book: _Book, held: float, sign: int, mark: float) -> _Room:
        """Room under ``max_multiple * equity`` for the net exposure in the order's direction.

        Args:
            book: The account marked at the latest prices.
            held: The order's symbol's signed position.
            sign: ``+1`` for a buy, ``-1`` for a sell.
            mark: The symbol's latest price.

        Returns:
            The room.
        """
        limit = self.max_multiple * book.equity
        toward = sign * book.net  # net exposure in the order's direction
        # the order may take the net up to +limit (up to zero while equity is negative); from
        # below -limit it first brings the net back towards zero
        return _new(_Room, ((max(limit, 0.0) - toward) / mark, abs(book.net), limit))

    def _describe(self, book: _Book) -> str:
        """The limit's setting, for reasons.

        Args:
            book: The account marked at the latest prices.

        Returns:
            E.g. ``"0.5x equity 10,000.00"``.
        """
        return f"{self.max_multiple:g}x equity {book.equity:,.2f}"

    def __repr__(self) -> str:
        return f"MaxNetExposure(max_multiple={self.max_multiple!r})"


class MaxConcentration(_ExposureLimit):
    """Cap one symbol's share of the account: ``|position value| <= max_fraction * equity``.

    Measured on the pro-forma position of the order's symbol, marked at its latest price.

    Args:
        max_fraction: Largest absolute position value as a fraction of equity (``0.25``:
            no symbol above a quarter of equity); above 1 is allowed on margin.

    Raises:
        ConfigError: If ``max_fraction`` is not a finite number > 0.

    Examples:
        >>> MaxConcentration(max_fraction=0.25)
        MaxConcentration(max_fraction=0.25)
    """

    _what = "position value"

    def __init__(self, *, max_fraction: float) -> None:
        self.max_fraction = positive_required(max_fraction, "MaxConcentration", "max_fraction")

    def _room(self, book: _Book, held: float, sign: int, mark: float) -> _Room:
        """Room under ``max_fraction * equity`` for the symbol's absolute position value.

        Args:
            book: The account marked at the latest prices.
            held: The order's symbol's signed position.
            sign: ``+1`` for a buy, ``-1`` for a sell.
            mark: The symbol's latest price.

        Returns:
            The room.
        """
        limit = self.max_fraction * book.equity
        return _new(_Room, (limit / mark - sign * held, abs(held) * mark, limit))

    def _describe(self, book: _Book) -> str:
        """The limit's setting, for reasons.

        Args:
            book: The account marked at the latest prices.

        Returns:
            E.g. ``"25% of equity 10,000.00"``.
        """
        return f"{self.max_fraction * 100:g}% of equity {book.equity:,.2f}"

    def __repr__(self) -> str:
        return f"MaxConcentration(max_fraction={self.max_fraction!r})"
