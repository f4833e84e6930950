"""Commission: how the local exchange charges trading fees, the way Binance spot does.

Binance charges the fee of a trade in the asset the account receives: a buy of 0.1 BTC credits
``0.1 x (1 - rate)`` BTC, a sell credits the quote amount less ``quote x rate``. An account
that pays its fees in BNB (and holds enough BNB for the discounted fee) keeps the whole amount
received and pays ``value x rate x (1 - discount)`` converted to BNB at the BNB market's price
instead; without enough BNB (or without a BNB market to price it) the full fee is taken from
the asset received. Takers pay ``taker``, makers (orders that rested) ``maker``. Source:
Binance's spot commission FAQ (``faqs/commission_faq.md`` in ``binance/binance-spot-api-docs``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_UP, Decimal

from quantkit.errors import ConfigError

__all__ = ["BINANCE_DEFAULT_RATE", "Commission", "Fee", "charge"]

BINANCE_DEFAULT_RATE = Decimal("0.001")
"""Binance spot's standard maker and taker rate (0.1 %)."""

_COMMISSION_QUANTUM = Decimal("0.00000001")  # Binance's base/quote commission precision (8)


@dataclass(frozen=True, slots=True)
class Commission:
    """An account's commission rates and how it pays them.

    Args:
        maker: Rate charged on trades of orders that rested in the book.
        taker: Rate charged on trades of orders that took liquidity.
        pay_in_bnb: Pay fees in BNB (Binance's "use BNB to pay for fees") when the account
            holds enough BNB; else they are charged in the asset received.
        bnb_discount: Share of the fee waived when it is paid in BNB (Binance: 25 %).

    Raises:
        ConfigError: If a rate is not within [0, 1) or the discount not within [0, 1].

    Examples:
        >>> Commission().fee_in_received(Decimal("0.1"), maker=False)
        Decimal('0.0001')
        >>> Commission(maker=Decimal(0)).fee_in_received(Decimal("0.1"), maker=True)
        Decimal('0.0')
    """

    maker: Decimal = BINANCE_DEFAULT_RATE
    taker: Decimal = BINANCE_DEFAULT_RATE
    pay_in_bnb: bool = False
    bnb_discount: Decimal = Decimal("0.25")

    def __post_init__(self) -> None:
        for name in ("maker", "taker"):
            rate = getattr(self, name)
            if not isinstance(rate, Decimal) or not Decimal(0) <= rate < 1:
                raise ConfigError(f"commission {name} rate must be a Decimal in [0, 1), got {rate}")
        if not isinstance(self.bnb_discount, Decimal) or not 0 <= self.bnb_discount <= 1:
            raise ConfigError(f"bnb_discount must be a Decimal in [0, 1], got {self.bnb_discount}")

    def rate(self, *, maker: bool) -> Decimal:
        """Return the rate of a trade.

        Args:
            maker: Whether the order rested before it traded.

        Returns:
            ``maker`` or ``taker``.
        """
        return self.maker if maker else self.taker

    def fee_in_received(self, received: Decimal, *, maker: bool) -> Decimal:
        """Return the fee charged in the asset received (rounded up to 8 decimals).

        Args:
            received: Amount received by the trade (base on a buy, quote on a sell).
            maker: Whether the order rested before it traded.

        Returns:
            The fee, in the asset received.
        """
        return _round_up(received * self.rate(maker=maker))

    def fee_in_bnb(self, value_in_quote: Decimal, bnb_price: Decimal, *, maker: bool) -> Decimal:
        """Return the discounted fee in BNB for a trade worth ``value_in_quote``.

        Args:
            value_in_quote: The trade's value in the market's quote asset.
            bnb_price: Price of 1 BNB in that quote asset.
            maker: Whether the order rested before it traded.

        Returns:
            The fee in BNB, rounded up to 8 decimals.
        """
        fee = value_in_quote * self.rate(maker=maker) * (1 - self.bnb_discount) / bnb_price
        return _round_up(fee)


@dataclass(frozen=True, slots=True)
class Fee:
    """The fee of one trade: how much and in which asset.

    Attributes:
        amount: The commission.
        asset: The asset it was charged in.
    """

    amount: Decimal
    asset: str


def _round_up(value: Decimal) -> Decimal:
    if value == value.quantize(_COMMISSION_QUANTUM):
        return value
    return value.quantize(_COMMISSION_QUANTUM, rounding=ROUND_UP)


def charge(
    commission: Commission,
    free: dict[str, Decimal],
    received: Decimal,
    received_asset: str,
    value: Decimal,
    bnb_price: Decimal | None,
    *,
    maker: bool,
) -> Fee:
    """Charge a trade's fee: in BNB (taken from ``free`` here) when the account pays so and can.

    Else it is charged in the asset received: the caller credits ``received`` less it.

    Args:
        commission: The account's commission.
        free: The account's free balances (BNB is taken from it).
        received: Amount the trade brings in (base on a buy, quote on a sell).
        received_asset: Its asset.
        value: The trade's value in the market's quote asset.
        bnb_price: Price of 1 BNB in that quote asset; ``None`` when no market prices it.
        maker: Whether the order rested before it traded.

    Returns:
        The fee and its asset.

    Examples:
        >>> free = {"BNB": Decimal(1)}
        >>> charge(Commission(pay_in_bnb=True), free, Decimal("0.1"), "BTC", Decimal(4000),
        ...        Decimal(400), maker=False), free["BNB"]
        (Fee(amount=Decimal('0.00750'), asset='BNB'), Decimal('0.99250'))
    """
    if commission.pay_in_bnb and bnb_price is not None:
        fee = commission.fee_in_bnb(value, bnb_price, maker=maker)
        held = free.get("BNB", Decimal(0))
        if fee <= held:
            free["BNB"] = held - fee
            return Fee(fee, "BNB")
    return Fee(commission.fee_in_received(received, maker=maker), received_asset)
