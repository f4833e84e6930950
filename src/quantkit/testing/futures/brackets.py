"""Leverage brackets of a USD-M perpetual: maximum leverage and maintenance margin by notional.

Binance USD-M futures publish, per symbol, a table of notional brackets (``GET
/fapi/v1/leverageBracket``): for a position whose notional (``|amount| x mark``) lies in
``[floor, cap)`` the maximum leverage is ``max_leverage`` and the maintenance margin is
``notional x mmr - cum``. ``cum`` (the "maintenance amount") makes the margin continuous across
bracket edges; Binance's support page derives it level by level::

    cum[n] = floor[n] x (mmr[n] - mmr[n-1]) + cum[n-1],    cum[1] = 0

Its worked example: with 0.5 % from 50,000 and 1 % from 250,000, the level-3 amount is
``250,000 x (1 % - 0.5 %) + 50 = 1,300`` USDT. `BracketTable.from_rows` computes ``cum`` the
same way, so a table needs only floors, rates and leverages.

The local venue's account model uses these tables on its own: it never imports quantkit's
simulator or domain margin rules, so it can check them independently.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from quantkit.errors import ConfigError

__all__ = ["DEFAULT_BRACKETS", "Bracket", "BracketTable"]


@dataclass(frozen=True, slots=True)
class Bracket:
    """One notional bracket.

    Attributes:
        level: 1 for the smallest notionals.
        floor: Lowest notional of the bracket (USDT).
        cap: Notional where the next bracket starts (``None`` for the last).
        max_leverage: Highest leverage a position of this notional may use.
        mmr: Maintenance margin rate.
        cum: Maintenance amount (USDT), see the module docstring.
    """

    level: int
    floor: Decimal
    cap: Decimal | None
    max_leverage: int
    mmr: Decimal
    cum: Decimal

    def maintenance(self, notional: Decimal) -> Decimal:
        """Return the maintenance margin of a position of this (absolute) notional.

        Args:
            notional: ``|amount| x mark``.

        Returns:
            ``notional x mmr - cum``.
        """
        return notional * self.mmr - self.cum


@dataclass(frozen=True, slots=True)
class BracketTable:
    """A symbol's brackets, ordered by floor, the first starting at 0.

    Build it with `from_rows`.
    """

    brackets: tuple[Bracket, ...]

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[str | int, str, int]]) -> BracketTable:
        """Build a table from ``(floor, mmr, max_leverage)`` rows, computing ``cum``.

        Args:
            rows: One row per bracket, floors increasing from 0, rates not decreasing and
                leverages not increasing.

        Returns:
            The table.

        Raises:
            ConfigError: If the rows are empty, do not start at 0 or are out of order.

        Examples:
            >>> table = BracketTable.from_rows([(0, "0.004", 125), (50_000, "0.005", 100),
            ...                                 (250_000, "0.01", 50)])
            >>> table.for_notional(Decimal(500_000)).cum
            Decimal('1300.000')
        """
        if not rows or Decimal(rows[0][0]) != 0:
            raise ConfigError("a bracket table needs rows and its first floor must be 0")
        brackets: list[Bracket] = []
        cum = Decimal(0)
        for index, (floor_text, mmr_text, leverage) in enumerate(rows):
            floor, mmr = Decimal(floor_text), Decimal(mmr_text)
            if brackets:
                last = brackets[-1]
                if floor <= last.floor or mmr < last.mmr or leverage > last.max_leverage:
                    raise ConfigError(
                        f"bracket {index + 1} ({floor}, {mmr}, {leverage}x) is out of order: "
                        "floors must increase, rates not fall and leverages not rise"
                    )
                cum += floor * (mmr - last.mmr)
            if not (0 < mmr < 1 and leverage >= 1):
                raise ConfigError(f"bracket {index + 1}: rate {mmr} or leverage {leverage} invalid")
            brackets.append(Bracket(index + 1, floor, None, leverage, mmr, cum))
        capped = [
            Bracket(b.level, b.floor, nxt.floor, b.max_leverage, b.mmr, b.cum)
            for b, nxt in itertools.pairwise(brackets)
        ]
        return cls((*capped, brackets[-1]))

    def for_notional(self, notional: Decimal) -> Bracket:
        """Return the bracket a position of this absolute notional falls in.

        Args:
            notional: ``|amount| x price`` (negative values are taken as their size).

        Returns:
            The bracket whose ``[floor, cap)`` holds it.
        """
        size = abs(notional)
        for bracket in self.brackets:
            if bracket.cap is None or size < bracket.cap:
                return bracket
        return self.brackets[-1]  # pragma: no cover - the last bracket has no cap

    @property
    def max_leverage(self) -> int:
        """The highest leverage of the table (that of the first bracket)."""
        return self.brackets[0].max_leverage


DEFAULT_BRACKETS = BracketTable.from_rows(
    [
        (0, "0.004", 125),
        (50_000, "0.005", 100),
        (250_000, "0.01", 50),
        (1_000_000, "0.025", 20),
        (10_000_000, "0.05", 10),
        (20_000_000, "0.1", 5),
        (50_000_000, "0.125", 4),
        (100_000_000, "0.15", 3),
        (200_000_000, "0.25", 2),
        (300_000_000, "0.5", 1),
    ]
)
"""The BTCUSDT brackets of Binance's liquidation-price support page (its worked examples use
them: 1 % at 264,000 USDT, a maintenance amount of 1,300 at 500,000)."""
