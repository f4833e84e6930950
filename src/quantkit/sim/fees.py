"""Fee models: what a fill costs, and in which asset.

By default (``charged_in="quote"``) every fee is taken from the quote currency. With
``charged_in="received"`` the fee is taken from the asset the trade brings in, as Binance spot
charges it (``faqs/commission_faq.md`` in ``binance/binance-spot-api-docs``) and as
`quantkit.testing.LocalExchange` does: a buy of ``a`` at ``p`` debits ``a * p`` quote and
credits ``a * (1 - rate)`` base (the fill's fee is ``a * rate`` in the base asset); a sell
debits ``a`` base and credits ``a * p * (1 - rate)`` quote (fee ``a * p * rate`` in quote).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal

from quantkit.domain.market import Market
from quantkit.errors import ConfigError

__all__ = ["FeeAsset", "FeeModel", "FlatFees", "MarketFees"]

FeeAsset = Literal["quote", "received"]
"""Which asset pays a fill's fee: always the quote currency, or the asset the trade brings in."""


def check_fee_asset(owner: str, charged_in: object, per_order: float) -> None:
    """Raise `ConfigError` unless ``charged_in`` is a `FeeAsset` that fits ``per_order``.

    Args:
        owner: The fee model's name, for the message.
        charged_in: The value to check.
        per_order: The model's fixed fee per order.

    Raises:
        ConfigError: If ``charged_in`` is unknown, or ``"received"`` with a fixed per-order fee
            (a quote amount that a buy, paying in the base asset, could not pay).
    """
    if charged_in not in ("quote", "received"):
        raise ConfigError(f"{owner}.charged_in must be 'quote' or 'received', got {charged_in!r}")
    if charged_in == "received" and per_order:
        raise ConfigError(
            f"{owner}: per_order fees are charged in the quote currency and cannot be combined "
            "with charged_in='received' (set per_order=0 or charged_in='quote')"
        )


class FeeModel(ABC):
    """How fills are charged. Subclass it for a venue's own schedule.

    A fill's fee is ``rate(market, is_maker) * price * amount``, plus ``per_order`` once on the
    order's first fill. A negative rate is a rebate.
    """

    per_order: float = 0.0
    charged_in: FeeAsset = "quote"

    @abstractmethod
    def rate(self, market: Market, is_maker: bool) -> float:
        """Return the fee rate for a fill.

        Args:
            market: The fill's market.
            is_maker: Whether the fill added liquidity.

        Returns:
            The rate as a fraction of notional (``0.001`` = 0.1 %).
        """

    def fee(self, market: Market, notional: float, is_maker: bool, first_fill: bool) -> float:
        """Return the fee for one fill.

        Args:
            market: The fill's market.
            notional: ``price * amount`` of the fill.
            is_maker: Whether the fill added liquidity.
            first_fill: Whether this is the order's first fill (``per_order`` is charged once).

        Returns:
            The fee in quote currency (negative for a rebate).
        """
        fixed = self.per_order if first_fill else 0.0
        return self.rate(market, is_maker) * notional + fixed

    def charge(
        self,
        market: Market,
        is_buy: bool,
        price: float,
        amount: float,
        is_maker: bool,
        first_fill: bool,
    ) -> tuple[float, str]:
        """Return one fill's fee and the asset it is charged in.

        A buy pays in the base asset when ``charged_in`` is ``"received"`` (``rate * amount``);
        every other fill pays `fee` in the quote currency.

        Args:
            market: The fill's market.
            is_buy: Whether the fill buys.
            price: Fill price.
            amount: Filled amount, base currency.
            is_maker: Whether the fill added liquidity.
            first_fill: Whether this is the order's first fill.

        Returns:
            ``(fee, asset)``; the fee is negative for a rebate.

        Examples:
            >>> btc = Market("BTC/USDT", "BTC", "USDT")
            >>> FlatFees(charged_in="received").charge(btc, True, 40_000.0, 0.1, False, True)
            (0.0001, 'BTC')
        """
        if is_buy and self.charged_in == "received":
            return self.rate(market, is_maker) * amount, market.base
        return self.fee(market, price * amount, is_maker, first_fill), market.quote


class MarketFees(FeeModel):
    """Charge each market's own ``maker_fee`` / ``taker_fee`` (the default).

    Args:
        charged_in: ``"quote"`` (default) or ``"received"``, see `FeeAsset`.

    Raises:
        ConfigError: If ``charged_in`` is unknown.
    """

    def __init__(self, charged_in: FeeAsset = "quote") -> None:
        check_fee_asset("MarketFees", charged_in, 0.0)
        self.charged_in = charged_in

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MarketFees):
            return NotImplemented
        return self.charged_in == other.charged_in

    def __hash__(self) -> int:
        return hash(("MarketFees", self.charged_in))

    def rate(self, market: Market, is_maker: bool) -> float:
        """Return the market's maker or taker rate.

        Args:
            market: The fill's market.
            is_maker: Whether the fill added liquidity.

        Returns:
            ``market.maker_fee`` or ``market.taker_fee``.
        """
        return market.maker_fee if is_maker else market.taker_fee

    def __repr__(self) -> str:
        if self.charged_in == "quote":
            return "MarketFees()"
        return f"MarketFees(charged_in={self.charged_in!r})"


@dataclass(frozen=True, slots=True)
class FlatFees(FeeModel):
    """The same rates on every market, plus an optional fixed fee per order.

    Args:
        maker: Maker rate (negative for a rebate).
        taker: Taker rate.
        per_order: Fixed fee in quote currency, charged once per order on its first fill.
        charged_in: ``"quote"`` (default: every fee in the quote currency) or ``"received"``
            (a buy's fee in the base asset it receives, as Binance spot), see `FeeAsset`.

    Raises:
        ConfigError: If a value is not finite, a rate is not in [-0.01, 1), ``per_order`` < 0,
            ``charged_in`` is unknown, or ``"received"`` is combined with ``per_order``.

    Examples:
        >>> FlatFees(maker=-0.0001, taker=0.0005).fee(
        ...     Market("X/Y", "X", "Y"), 1000.0, True, True)
        -0.1
    """

    maker: float = 0.001
    taker: float = 0.001
    per_order: float = 0.0
    charged_in: FeeAsset = "quote"

    def __post_init__(self) -> None:
        for name in ("maker", "taker"):
            value = getattr(self, name)
            if not math.isfinite(value) or not -0.01 <= value < 1:
                raise ConfigError(f"FlatFees.{name} must be a rate in [-0.01, 1), got {value!r}")
        if not math.isfinite(self.per_order) or self.per_order < 0:
            raise ConfigError(f"FlatFees.per_order must be >= 0, got {self.per_order!r}")
        check_fee_asset("FlatFees", self.charged_in, self.per_order)

    def rate(self, market: Market, is_maker: bool) -> float:
        """Return the configured maker or taker rate.

        Args:
            market: The fill's market (unused).
            is_maker: Whether the fill added liquidity.

        Returns:
            ``maker`` or ``taker``.
        """
        return self.maker if is_maker else self.taker
