"""Funding of perpetual swaps: the rate at each funding timestamp, and the payments made.

`FundingRates` is where the rates come from: a history (times and rates, e.g. downloaded with
ccxt's ``fetch_funding_rate_history``) or one constant rate at every multiple of the funding
interval since the epoch (00:00, 08:00 and 16:00 UTC for 8 hours), for data without history.
`FundingPayment` records one payment booked into the account.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

from quantkit.errors import ConfigError

__all__ = ["FundingPayment", "FundingRates"]


@dataclass(frozen=True, slots=True)
class FundingPayment:
    """One funding payment booked into the account.

    Attributes:
        time: The funding timestamp, ns since the epoch.
        symbol: The perpetual's symbol.
        position: The position held at that timestamp (contracts, > 0 long).
        mark: The mark price it was valued at.
        rate: The funding rate.
        amount: What the account paid (negative: received), settle currency.
        booked_at: Open time of the bar in which it was booked (the first at or after
            ``time``), ns.
    """

    time: int
    symbol: str
    position: float
    mark: float
    rate: float
    amount: float
    booked_at: int


@dataclass(frozen=True, slots=True)
class FundingRates:
    """The funding rate of one perpetual at each funding timestamp.

    Build it with `history` or `constant`.

    Attributes:
        times: Funding timestamps, ns, strictly increasing (empty for a constant rate).
        rates: The rate at each timestamp.
        constant_rate: The rate at every interval for a constant schedule (``None`` otherwise).
        interval_ns: The interval of a constant schedule, ns.
    """

    times: tuple[int, ...] = ()
    rates: tuple[float, ...] = ()
    constant_rate: float | None = None
    interval_ns: int = 8 * 3_600_000_000_000

    def __post_init__(self) -> None:
        if len(self.times) != len(self.rates):
            raise ConfigError(f"funding rates: {len(self.times)} times but {len(self.rates)} rates")
        for k, (time, rate) in enumerate(zip(self.times, self.rates, strict=True)):
            if k and time <= self.times[k - 1]:
                raise ConfigError(
                    f"funding rates: times must increase strictly; entry {k} ({time}) is not "
                    f"after entry {k - 1} ({self.times[k - 1]})"
                )
            if not math.isfinite(rate) or abs(rate) >= 1:
                raise ConfigError(f"funding rates: entry {k} has rate {rate!r}, not in (-1, 1)")
        if self.constant_rate is not None and (
            not math.isfinite(self.constant_rate) or abs(self.constant_rate) >= 1
        ):
            raise ConfigError(f"funding rate {self.constant_rate!r} is not in (-1, 1)")
        if self.interval_ns <= 0:
            raise ConfigError(f"funding interval must be > 0 ns, got {self.interval_ns!r}")

    @classmethod
    def history(cls, times: Sequence[int], rates: Sequence[float]) -> FundingRates:
        """Rates from a history: one rate per funding timestamp.

        Args:
            times: Funding timestamps, ns since the epoch, strictly increasing.
            rates: The rate at each.

        Returns:
            The schedule.

        Raises:
            ConfigError: If the lengths differ, times do not increase or a rate is not finite.
        """
        return cls(tuple(int(t) for t in times), tuple(float(r) for r in rates))

    @classmethod
    def constant(cls, rate: float, interval_ns: int = 8 * 3_600_000_000_000) -> FundingRates:
        """One rate at every multiple of ``interval_ns`` since the epoch.

        Args:
            rate: The funding rate (e.g. 0.0001, Binance's default 0.01 %).
            interval_ns: Time between funding timestamps (default 8 hours).

        Returns:
            The schedule.

        Examples:
            >>> FundingRates.constant(0.0001).due(0, 16 * 3_600_000_000_000)
            [(28800000000000, 0.0001), (57600000000000, 0.0001)]
        """
        return cls(constant_rate=float(rate), interval_ns=int(interval_ns))

    @property
    def description(self) -> str:
        """One line saying where the rates come from (stated in results)."""
        if self.constant_rate is not None:
            hours = self.interval_ns / 3_600_000_000_000
            return f"constant {self.constant_rate:g} every {hours:g}h"
        return f"history of {len(self.times)} rates"

    def next_after(self, time: int) -> int:
        """The first funding timestamp strictly after ``time`` (``2**63 - 1`` if none).

        Args:
            time: A time, ns.

        Returns:
            The timestamp, ns.
        """
        if self.constant_rate is not None:
            return (time // self.interval_ns + 1) * self.interval_ns
        k = bisect.bisect_right(self.times, time)
        return self.times[k] if k < len(self.times) else 2**63 - 1

    def due(self, after: int, upto: int) -> list[tuple[int, float]]:
        """Funding timestamps in ``(after, upto]`` with their rates.

        Args:
            after: Exclusive start, ns.
            upto: Inclusive end, ns.

        Returns:
            ``(time, rate)`` pairs in time order.
        """
        if upto <= after:
            return []
        rate = self.constant_rate
        if rate is not None:
            step = self.interval_ns
            first = (after // step + 1) * step
            return [(t, rate) for t in range(first, upto + 1, step)]
        lo = bisect.bisect_right(self.times, after)
        hi = bisect.bisect_right(self.times, upto)
        return list(zip(self.times[lo:hi], self.rates[lo:hi], strict=True))
