"""Fee models: what a fill costs."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

from quantkit.domain.market import Market
from quantkit.errors import ConfigError

__all__ = ["FeeModel", "FlatFees", "MarketFees"]


class FeeModel(ABC):
    """How fills are charged. Subclass it for a venue's own schedule.

    A fill's fee is ``rate(market, is_maker) * price * amount``, plus ``per_order`` once on the
    order's first fill. A negative rate is a rebate.
    """

    per_order: float = 0.0

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


class MarketFees(FeeModel):
    """Charge each market's own ``maker_fee`` / ``taker_fee`` (the default)."""

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
        return "MarketFees()"


@dataclass(frozen=True, slots=True)
class FlatFees(FeeModel):
    """The same rates on every market, plus an optional fixed fee per order.

    Args:
        maker: Maker rate (negative for a rebate).
        taker: Taker rate.
        per_order: Fixed fee in quote currency, charged once per order on its first fill.

    Raises:
        ConfigError: If a value is not finite, a rate is not in [-0.01, 1) or ``per_order`` < 0.

    Examples:
        >>> FlatFees(maker=-0.0001, taker=0.0005).fee(
        ...     Market("X/Y", "X", "Y"), 1000.0, True, True)
        -0.1
    """

    maker: float = 0.001
    taker: float = 0.001
    per_order: float = 0.0

    def __post_init__(self) -> None:
        for name in ("maker", "taker"):
            value = getattr(self, name)
            if not math.isfinite(value) or not -0.01 <= value < 1:
                raise ConfigError(f"FlatFees.{name} must be a rate in [-0.01, 1), got {value!r}")
        if not math.isfinite(self.per_order) or self.per_order < 0:
            raise ConfigError(f"FlatFees.per_order must be >= 0, got {self.per_order!r}")

    def rate(self, market: Market, is_maker: bool) -> float:
        """Return the configured maker or taker rate.

        Args:
            market: The fill's market (unused).
            is_maker: Whether the fill added liquidity.

        Returns:
            ``maker`` or ``taker``.
        """
        return self.maker if is_maker else self.taker
