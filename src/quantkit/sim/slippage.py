"""Slippage models: how far a taker fill moves from its reference price."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

from quantkit.errors import ConfigError

__all__ = ["FixedBps", "NoSlippage", "SlippageModel", "VolumeImpact"]


class SlippageModel(ABC):
    """Adverse price movement applied to market and stop fills.

    The simulator applies the fraction this returns against the order (buys pay more, sells
    receive less), then clamps the price into the fill bar's [low, high].
    """

    @abstractmethod
    def fraction(self, amount: float, bar_volume: float) -> float:
        """Return the slippage as a fraction of the reference price.

        Args:
            amount: Amount being filled (base currency).
            bar_volume: Volume of the fill bar (base currency).

        Returns:
            A fraction >= 0 (``0.0005`` = 5 basis points).
        """


class NoSlippage(SlippageModel):
    """Fill at the reference price."""

    def fraction(self, amount: float, bar_volume: float) -> float:
        """Return 0.

        Args:
            amount: Unused.
            bar_volume: Unused.

        Returns:
            0.0
        """
        return 0.0

    def __repr__(self) -> str:
        return "NoSlippage()"


@dataclass(frozen=True, slots=True)
class FixedBps(SlippageModel):
    """A fixed number of basis points on every taker fill.

    Args:
        bps: Basis points (1 bp = 0.01 %), >= 0.

    Raises:
        ConfigError: If ``bps`` is negative or not finite.
    """

    bps: float

    def __post_init__(self) -> None:
        if not math.isfinite(self.bps) or self.bps < 0:
            raise ConfigError(f"FixedBps.bps must be >= 0, got {self.bps!r}")

    def fraction(self, amount: float, bar_volume: float) -> float:
        """Return ``bps / 10_000``.

        Args:
            amount: Unused.
            bar_volume: Unused.

        Returns:
            The fixed fraction.
        """
        return self.bps / 10_000.0


@dataclass(frozen=True, slots=True)
class VolumeImpact(SlippageModel):
    """Slippage that grows with the order's share of the bar's volume.

    ``fraction = base_bps / 10_000 + coefficient * (amount / bar_volume) ** exponent``; the
    default exponent 0.5 is the square-root impact law. A bar with zero volume counts as a
    share of 1.

    Args:
        coefficient: Impact at 100 % participation, as a fraction (``0.1`` = 10 %).
        exponent: Curvature, > 0.
        base_bps: Constant part in basis points.

    Raises:
        ConfigError: If a value is negative, zero where it must not be, or not finite.
    """

    coefficient: float = 0.1
    exponent: float = 0.5
    base_bps: float = 0.0

    def __post_init__(self) -> None:
        values = (self.coefficient, self.exponent, self.base_bps)
        if not all(math.isfinite(v) and v >= 0 for v in values) or self.exponent == 0:
            raise ConfigError(
                "VolumeImpact needs coefficient >= 0, exponent > 0 and base_bps >= 0, got "
                f"{self.coefficient!r}, {self.exponent!r}, {self.base_bps!r}"
            )

    def fraction(self, amount: float, bar_volume: float) -> float:
        """Return the impact for filling ``amount`` in a bar of ``bar_volume``.

        Args:
            amount: Amount being filled.
            bar_volume: Volume of the fill bar.

        Returns:
            The slippage fraction.
        """
        share = amount / bar_volume if bar_volume > 0 else 1.0
        return self.base_bps / 10_000.0 + self.coefficient * math.pow(share, self.exponent)
