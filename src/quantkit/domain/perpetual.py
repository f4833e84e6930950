"""Perpetual contracts: the spec a perpetual `Market` carries, with its margin brackets.

A `PerpetualSpec` says what one contract is (linear or inverse, contract size, settle
currency), how often funding is paid, and the venue's leverage and maintenance margin brackets
(Binance calls them leverage brackets, ccxt leverage tiers). The formulas live in
`quantkit.domain.perp_math` as pure float functions; this module picks the bracket and feeds
them.

Only one-way position mode is modelled; hedge mode is refused (`check_position_mode`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from quantkit.domain.perp_math import (
    liquidation_price_inverse,
    liquidation_price_linear,
    notional_value,
)
from quantkit.errors import ConfigError

__all__ = [
    "MarginBracket",
    "MarginMode",
    "PerpetualSpec",
    "PositionMode",
    "brackets_with_cum",
    "check_margin_mode",
    "check_position_mode",
]

MarginMode = Literal["isolated", "cross"]
"""How a position's margin is held: its own (isolated) or the whole account's (cross)."""

PositionMode = Literal["one-way", "hedge"]
"""One net position per symbol (one-way), or a long and a short side at once (hedge)."""

_HOUR_NS = 3_600_000_000_000


def check_margin_mode(mode: str, where: str = "margin_mode") -> MarginMode:
    """Return ``mode`` if it is a margin mode quantkit models.

    Args:
        mode: ``"isolated"`` or ``"cross"``.
        where: What the value is, for the message.

    Returns:
        The mode.

    Raises:
        ConfigError: If the mode is unknown.
    """
    if mode not in get_args(MarginMode):
        raise ConfigError(f"{where} must be 'isolated' or 'cross', got {mode!r}")
    return mode  # type: ignore[return-value]


def check_position_mode(mode: str, where: str = "position_mode") -> PositionMode:
    """Return ``mode`` if it is the one-way position mode; refuse hedge mode clearly.

    Args:
        mode: ``"one-way"`` (supported) or ``"hedge"`` (not yet).
        where: What the value is, for the message.

    Returns:
        ``"one-way"``.

    Raises:
        ConfigError: For hedge mode (not supported yet) or an unknown mode.

    Examples:
        >>> check_position_mode("one-way")
        'one-way'
    """
    if mode == "hedge":
        raise ConfigError(
            f"{where}='hedge' is not supported yet: quantkit models one-way position mode (one "
            "net position per symbol, Binance's dualSidePosition=false); use 'one-way'"
        )
    if mode != "one-way":
        raise ConfigError(f"{where} must be 'one-way', got {mode!r}")
    return "one-way"


@dataclass(frozen=True, slots=True)
class MarginBracket:
    """One leverage / maintenance margin bracket (a ccxt leverage tier).

    Args:
        floor: Smallest notional of the bracket (inclusive), settle currency.
        cap: Largest notional of the bracket (exclusive; ``inf`` for the last).
        max_leverage: Largest leverage a position in this bracket may use.
        maintenance_rate: Maintenance margin rate (e.g. 0.004 for 0.4 %).
        maintenance_amount: The bracket's maintenance amount ("cum"), settle currency.

    Raises:
        ConfigError: If a figure is negative, non-finite or out of order.
    """

    floor: float
    cap: float
    max_leverage: float
    maintenance_rate: float
    maintenance_amount: float = 0.0

    def __post_init__(self) -> None:
        where = f"margin bracket [{self.floor!r}, {self.cap!r})"
        if not (math.isfinite(self.floor) and self.floor >= 0 and self.cap > self.floor):
            raise ConfigError(f"{where}: needs 0 <= floor < cap")
        if not (math.isfinite(self.max_leverage) and self.max_leverage >= 1):
            raise ConfigError(f"{where}: max_leverage must be >= 1, got {self.max_leverage!r}")
        if not (math.isfinite(self.maintenance_rate) and 0 <= self.maintenance_rate < 1):
            raise ConfigError(
                f"{where}: maintenance_rate must be in [0, 1), got {self.maintenance_rate!r}"
            )
        if not math.isfinite(self.maintenance_amount) or self.maintenance_amount < 0:
            raise ConfigError(
                f"{where}: maintenance_amount must be >= 0, got {self.maintenance_amount!r}"
            )

    def contains(self, notional: float) -> bool:
        """Whether ``notional`` falls in this bracket (floor inclusive, cap exclusive)."""
        return self.floor <= notional < self.cap


def brackets_with_cum(
    tiers: Sequence[tuple[float, float, float, float]],
) -> tuple[MarginBracket, ...]:
    """Build brackets from ``(floor, cap, max_leverage, rate)`` rows, deriving each "cum".

    The venue's rule: ``cum_n = floor_n * (rate_n - rate_(n-1)) + cum_(n-1)``, ``cum_1 = 0``,
    which makes the maintenance margin continuous across bracket edges.

    Args:
        tiers: The brackets in ascending order.

    Returns:
        The brackets with their maintenance amounts.

    Examples:
        >>> b = brackets_with_cum([(0, 50_000, 125, 0.004), (50_000, 250_000, 100, 0.005),
        ...                        (250_000, 1_000_000, 50, 0.01)])
        >>> [round(x.maintenance_amount, 6) for x in b]
        [0.0, 50.0, 1300.0]
    """
    out: list[MarginBracket] = []
    cum, previous_rate = 0.0, 0.0
    for index, (floor, cap, leverage, rate) in enumerate(tiers):
        cum = 0.0 if index == 0 else floor * (rate - previous_rate) + cum
        out.append(MarginBracket(float(floor), float(cap), float(leverage), float(rate), cum))
        previous_rate = rate
    return tuple(out)


_DEFAULT_BRACKETS = (MarginBracket(0.0, math.inf, 125.0, 0.004, 0.0),)


@dataclass(frozen=True, slots=True)
class PerpetualSpec:
    """What a perpetual swap contract is and the margin rules it trades under.

    Args:
        settle: Settle (margin) currency: the quote for linear, the base coin for inverse.
        inverse: Whether the contract is coin-margined (inverse) rather than linear.
        contract_size: Base units per contract (linear, usually 1) or quote units per
            contract (inverse, e.g. 100 USD).
        funding_interval_ns: Time between funding timestamps (default 8 hours), ns.
        brackets: Leverage / maintenance brackets in ascending notional order, contiguous,
            starting at 0 (default: one bracket, 125x, 0.4 %).
        liquidation_fee: Liquidation clearance fee rate on the notional at the liquidation
            price (Binance USD-M charges up to 1.25 % on BTCUSDT; default 0.0125).

    Raises:
        ConfigError: If the brackets are empty, unordered or not contiguous, or a figure is
            out of range.

    Examples:
        >>> spec = PerpetualSpec("USDT", brackets=brackets_with_cum(
        ...     [(0, 50_000, 125, 0.004), (50_000, 250_000, 100, 0.005)]))
        >>> spec.max_leverage, spec.bracket(60_000).maintenance_rate
        (125.0, 0.005)
    """

    settle: str
    inverse: bool = False
    contract_size: float = 1.0
    funding_interval_ns: int = 8 * _HOUR_NS
    brackets: tuple[MarginBracket, ...] = _DEFAULT_BRACKETS
    liquidation_fee: float = 0.0125

    def __post_init__(self) -> None:
        if not self.settle:
            raise ConfigError("perpetual spec: settle currency must be non-empty")
        if not (math.isfinite(self.contract_size) and self.contract_size > 0):
            raise ConfigError(
                f"perpetual spec: contract_size must be > 0, got {self.contract_size!r}"
            )
        if self.funding_interval_ns <= 0:
            raise ConfigError(
                f"perpetual spec: funding_interval_ns must be > 0, got {self.funding_interval_ns!r}"
            )
        if not 0 <= self.liquidation_fee < 1:
            raise ConfigError(
                f"perpetual spec: liquidation_fee must be in [0, 1), got {self.liquidation_fee!r}"
            )
        _check_brackets(self.brackets)

    @property
    def max_leverage(self) -> float:
        """The largest leverage any position may use (the first bracket's)."""
        return max(b.max_leverage for b in self.brackets)

    def bracket(self, notional: float) -> MarginBracket:
        """The bracket a position of ``notional`` falls in (the last one beyond every cap).

        Args:
            notional: Absolute notional value in the settle currency.

        Returns:
            The bracket.
        """
        for b in self.brackets:
            if notional < b.cap:
                return b
        return self.brackets[-1]

    def notional(self, size: float, price: float) -> float:
        """Absolute notional of ``size`` contracts at ``price``, in the settle currency."""
        return notional_value(size, price, self.contract_size, self.inverse)

    def maintenance(self, size: float, price: float) -> float:
        """Maintenance margin of ``size`` contracts marked at ``price`` (its bracket's rule)."""
        notional = self.notional(size, price)
        b = self.bracket(notional)
        return notional * b.maintenance_rate - b.maintenance_amount

    def liquidation_price(
        self,
        wallet: float,
        signed_size: float,
        entry: float,
        *,
        other_maintenance: float = 0.0,
        other_upnl: float = 0.0,
    ) -> float:
        """Liquidation price of a one-way position, with the venue's bracket rule.

        The formula is solved with each bracket's rate and amount; the answer is the one whose
        notional at the liquidation price falls in the bracket used (the venue's note: when
        the bracket at the liquidation price differs from the assumed one, recompute with it).

        Args:
            wallet: Cross wallet balance (cross) or the position's isolated wallet balance.
            signed_size: Position size in contracts, > 0 long.
            entry: Average entry price.
            other_maintenance: Maintenance margin of every other position (cross only).
            other_upnl: Unrealised P&L of every other position (cross only).

        Returns:
            The price (a long is liquidated at or below it, a short at or above it); ``nan``
            when flat; ``<= 0`` for a long no fall liquidates; ``inf`` for a short no rise
            liquidates.
        """
        if signed_size == 0.0:
            return math.nan
        first = math.nan
        for b in self.brackets:
            price = self._solve(wallet, signed_size, entry, other_maintenance, other_upnl, b)
            if math.isnan(first):
                first = price
            if 0 < price < math.inf and b.contains(self.notional(signed_size, price)):
                return price
        return first

    def _solve(
        self, wallet: float, size: float, entry: float, tmm: float, upnl: float, b: MarginBracket
    ) -> float:
        rate, cum = b.maintenance_rate, b.maintenance_amount
        if self.inverse:
            return liquidation_price_inverse(
                wallet, tmm, upnl, cum, size, entry, rate, self.contract_size
            )
        return liquidation_price_linear(
            wallet, tmm, upnl, cum, size * self.contract_size, entry, rate
        )


def _check_brackets(brackets: tuple[MarginBracket, ...]) -> None:
    if not brackets:
        raise ConfigError("perpetual spec: brackets must not be empty")
    if brackets[0].floor != 0:
        raise ConfigError(
            f"perpetual spec: the first bracket must start at 0, not {brackets[0].floor!r}"
        )
    for before, after in itertools.pairwise(brackets):
        if not math.isclose(before.cap, after.floor, rel_tol=1e-12):
            raise ConfigError(
                f"perpetual spec: brackets must be contiguous and ascending; one ends at "
                f"{before.cap!r} and the next starts at {after.floor!r}"
            )
