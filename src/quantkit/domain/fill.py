"""Fills: one execution of (part of) an order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from quantkit.domain.order import Side

__all__ = ["Fill", "make_fill"]

_BUY = Side.BUY  # a module constant: ``Side.BUY`` is a slow class-attribute lookup


@dataclass(frozen=True, slots=True, init=False)
class Fill:
    """One execution.

    Attributes:
        client_id: The order's client id.
        symbol: Market symbol.
        side: Buy or sell.
        price: Execution price (quote currency per base unit).
        amount: Executed amount, base currency, > 0.
        fee: Fee charged, in ``fee_currency``; negative for a rebate.
        fee_currency: Currency of the fee: the market's quote currency, or its base currency
            for a buy whose fee is charged in the asset received (Binance spot).
        timestamp: Execution time, ns since the epoch. In simulations this is the fill bar's
            open time, whether the fill came at the open or later inside the bar (the exact
            moment inside a bar is not known).
        is_maker: Whether the fill added liquidity.
        ambiguous: Whether the outcome rested on an assumption about the order of prices
            inside the bar.
    """

    client_id: str
    symbol: str
    side: Side
    price: float
    amount: float
    fee: float
    fee_currency: str
    timestamp: int
    is_maker: bool = False
    ambiguous: bool = False

    def __init__(
        self,
        client_id: str,
        symbol: str,
        side: Side,
        price: float,
        amount: float,
        fee: float,
        fee_currency: str,
        timestamp: int,
        is_maker: bool = False,
        ambiguous: bool = False,
    ) -> None:
        if self.__class__ is Fill:
            # As in OrderRequest.__init__: stored while the instance is an _OpenFill (the same
            # slots without the frozen __setattr__), a Fill again before anything can see it.
            _set_attribute(self, "__class__", _OpenFill)
            plain: Any = self
            plain.client_id = client_id
            plain.symbol = symbol
            plain.side = side
            plain.price = price
            plain.amount = amount
            plain.fee = fee
            plain.fee_currency = fee_currency
            plain.timestamp = timestamp
            plain.is_maker = is_maker
            plain.ambiguous = ambiguous
            plain.__class__ = Fill
            return
        values = (client_id, symbol, side, price, amount, fee, fee_currency, timestamp)
        for setter, value in zip(_FILL_SETTERS, (*values, is_maker, ambiguous), strict=True):
            setter(self, value)  # a subclass (other slots): the slots' own setters

    @property
    def notional(self) -> float:
        """``price * amount``, quote currency."""
        return self.price * self.amount

    @property
    def fee_in_base(self) -> bool:
        """Whether the fee was charged in the base asset (the part of ``symbol`` before ``/``).

        Such a fee (Binance spot's, on a buy) is taken from the amount received: the position
        grows by ``amount - fee``. A contract's fee in its settle currency (``BTC`` of the
        coin-margined ``BTC/USD:BTC``) is not: it is paid from the margin.
        """
        currency = self.fee_currency
        symbol = self.symbol
        if not (currency and symbol.startswith(currency) and symbol[len(currency) :][:1] == "/"):
            return False
        _, colon, settle = symbol.partition(":")
        return not (colon and settle == currency)

    @property
    def fee_in_quote(self) -> float:
        """The fee valued in quote currency: ``fee * price`` when `fee_in_base`, else ``fee``."""
        return self.fee * self.price if self.fee_in_base else self.fee

    @property
    def signed_amount(self) -> float:
        """Amount with the side's sign (+ buy, - sell)."""
        return self.amount if self.side is _BUY else -self.amount


# The slots' setters of Fill's fields, in field order (see Fill.__init__).
_FILL_SETTERS: tuple[Callable[[Fill, Any], None], ...] = tuple(
    vars(Fill)[f.name].__set__ for f in fields(Fill)
)


class _OpenFill:
    """Fill's slots without its frozen ``__setattr__``, while a `Fill` is built."""

    __slots__ = Fill.__slots__  # same layout: an instance can change between the two


_set_attribute = object.__setattr__


def make_fill(
    client_id: str,
    symbol: str,
    side: Side,
    price: float,
    amount: float,
    fee: float,
    fee_currency: str,
    timestamp: int,
    is_maker: bool,
) -> Fill:
    """``Fill(...)`` (not ambiguous) for the simulator's hot path: the same frozen value, faster.

    `Fill.__init__` changes the new instance's class twice (to `_OpenFill` and back); this
    makes an `_OpenFill`, stores the fields and changes its class once, without the generic
    constructor's dispatch: about half the work.

    Returns:
        The fill, equal to ``Fill(client_id, symbol, side, ..., is_maker)``.
    """
    fill: Any = _OpenFill()
    fill.client_id = client_id
    fill.symbol = symbol
    fill.side = side
    fill.price = price
    fill.amount = amount
    fill.fee = fee
    fill.fee_currency = fee_currency
    fill.timestamp = timestamp
    fill.is_maker = is_maker
    fill.ambiguous = False
    fill.__class__ = Fill
    return fill  # type: ignore[no-any-return]
