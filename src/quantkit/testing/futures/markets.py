"""FuturesMarket: a USD-M perpetual the local futures exchange lists, with its leverage brackets.

A perpetual is named the ccxt way (``"BTC/USDT:USDT"``: base, quote and settlement asset) and
has the venue id Binance uses (``"BTCUSDT"``). Its price and lot filters follow Binance USD-M's
``exchangeInfo`` (``PRICE_FILTER``, ``LOT_SIZE``, ``MARKET_LOT_SIZE``, ``MIN_NOTIONAL``), and
its notional brackets follow ``GET /fapi/v1/leverageBracket``: each bracket covers notionals
from ``floor`` to ``cap``, allows up to ``initial_leverage`` and keeps a maintenance margin rate
``maint_margin_ratio`` with a maintenance amount ``cum``. Binance's ``cum`` makes the
maintenance margin continuous across brackets, so it is derived here, never typed in:
``cum[0] = 0`` and ``cum[i] = cum[i-1] + floor[i] * (mmr[i] - mmr[i-1])``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from quantkit.errors import ConfigError
from quantkit.testing.market_data import LocalMarket, check_positive

__all__ = [
    "BTC_BRACKETS",
    "DEFAULT_FUTURES_MARKETS",
    "ETH_BRACKETS",
    "FuturesMarket",
    "LeverageBracket",
    "brackets_from_table",
]


@dataclass(frozen=True, slots=True)
class LeverageBracket:
    """One notional bracket of a perpetual (Binance's ``leverageBracket`` entry).

    Attributes:
        bracket: Bracket number, from 1.
        floor: Lowest position notional of the bracket (quote asset).
        cap: Notional the bracket ends at (exclusive).
        initial_leverage: Highest leverage allowed in the bracket.
        maint_margin_ratio: Maintenance margin rate, e.g. ``Decimal("0.004")``.
        cum: Maintenance amount, subtracted from ``notional * maint_margin_ratio``.
    """

    bracket: int
    floor: Decimal
    cap: Decimal
    initial_leverage: int
    maint_margin_ratio: Decimal
    cum: Decimal


def brackets_from_table(
    rows: Sequence[tuple[int | str, int | str, int, str]], *, source: str
) -> tuple[LeverageBracket, ...]:
    """Build contiguous brackets from ``(floor, cap, max leverage, maintenance rate)`` rows.

    Args:
        rows: The brackets in order; each floor must equal the previous cap, the first is 0,
            leverage must fall and the maintenance rate rise from one to the next.
        source: Names the table in error messages (e.g. the symbol).

    Returns:
        The brackets, with ``cum`` derived so that maintenance margin is continuous.

    Raises:
        ConfigError: If the rows are empty, not contiguous, or not monotonic.

    Examples:
        >>> b = brackets_from_table([(0, 50_000, 125, "0.004"), (50_000, 600_000, 100, "0.005")],
        ...                         source="BTCUSDT")
        >>> [str(x.cum) for x in b]
        ['0', '50.000']
    """
    if not rows:
        raise ConfigError(f"{source}: a perpetual needs at least one leverage bracket")
    brackets: list[LeverageBracket] = []
    for number, (floor, cap, leverage, rate) in enumerate(rows, start=1):
        low, high, mmr = Decimal(floor), Decimal(cap), Decimal(rate)
        prev = brackets[-1] if brackets else None
        if prev is None and low != 0:
            raise ConfigError(f"{source}: the first bracket must start at notional 0, not {low}")
        if prev is not None and low != prev.cap:
            raise ConfigError(f"{source}: bracket {number} starts at {low}, not at {prev.cap}")
        if not low < high or not 0 < mmr < 1 or leverage < 1:
            raise ConfigError(f"{source}: bracket {number} has floor >= cap or a bad rate")
        if prev is not None and (
            leverage > prev.initial_leverage or mmr <= prev.maint_margin_ratio
        ):
            raise ConfigError(
                f"{source}: bracket {number} must allow no more leverage and keep a higher "
                "maintenance rate than the one before"
            )
        cum = Decimal(0) if prev is None else prev.cum + low * (mmr - prev.maint_margin_ratio)
        brackets.append(LeverageBracket(number, low, high, leverage, mmr, cum))
    return tuple(brackets)


BTC_BRACKETS = brackets_from_table(
    [
        (0, 50_000, 125, "0.004"), (50_000, 600_000, 100, "0.005"),
        (600_000, 3_000_000, 75, "0.0065"), (3_000_000, 12_000_000, 50, "0.01"),
        (12_000_000, 70_000_000, 25, "0.02"), (70_000_000, 100_000_000, 20, "0.025"),
        (100_000_000, 230_000_000, 10, "0.05"), (230_000_000, 480_000_000, 5, "0.1"),
        (480_000_000, 600_000_000, 4, "0.125"), (600_000_000, 800_000_000, 3, "0.15"),
        (800_000_000, 1_200_000_000, 2, "0.25"), (1_200_000_000, 1_800_000_000, 1, "0.5"),
    ],
    source="BTCUSDT",
)  # fmt: skip
"""A BTCUSDT-like bracket table (12 brackets, 125x down to 1x)."""

ETH_BRACKETS = brackets_from_table(
    [
        (0, 50_000, 100, "0.005"), (50_000, 500_000, 75, "0.0065"),
        (500_000, 1_000_000, 50, "0.01"), (1_000_000, 10_000_000, 20, "0.025"),
        (10_000_000, 20_000_000, 10, "0.05"), (20_000_000, 50_000_000, 5, "0.1"),
        (50_000_000, 100_000_000, 4, "0.125"), (100_000_000, 200_000_000, 2, "0.25"),
        (200_000_000, 300_000_000, 1, "0.5"),
    ],
    source="ETHUSDT",
)  # fmt: skip
"""An ETHUSDT-like bracket table (9 brackets, 100x down to 1x)."""


@dataclass(frozen=True, slots=True)
class FuturesMarket:
    """A linear (USDT-margined) perpetual of the local futures exchange.

    Args:
        symbol: ccxt's unified symbol, ``BASE/QUOTE:SETTLE`` with SETTLE equal to QUOTE, e.g.
            ``"BTC/USDT:USDT"``.
        price: First price of the synthetic data.
        tick_size: Price increment (``PRICE_FILTER.tickSize``).
        step_size: Quantity increment (``LOT_SIZE.stepSize``).
        min_qty: Smallest quantity.
        max_qty: Largest quantity of a limit order (``LOT_SIZE.maxQty``).
        market_max_qty: Largest quantity of a market order (``MARKET_LOT_SIZE.maxQty``).
        min_notional: Smallest order notional (``MIN_NOTIONAL.notional``).
        brackets: The notional brackets (see `brackets_from_table`); a BTCUSDT-like table
            when empty.
        funding_interval_hours: Hours between funding timestamps (8 on most Binance
            perpetuals); must divide 24.
        liquidation_fee: Rate charged on a liquidated position's notional
            (``exchangeInfo.liquidationFee``).
        status: ``"TRADING"``, or another Binance status to list it as inactive.

    Raises:
        ConfigError: If the symbol is not ``BASE/QUOTE:QUOTE``, a number is not positive, or
            the funding interval does not divide a day.
    """

    symbol: str
    price: float = 100.0
    tick_size: float = 0.01
    step_size: float = 0.001
    min_qty: float = 0.001
    max_qty: float = 10_000.0
    market_max_qty: float = 1_000.0
    min_notional: float = 5.0
    brackets: tuple[LeverageBracket, ...] = field(default=())
    funding_interval_hours: int = 8
    liquidation_fee: Decimal = Decimal("0.0125")
    status: str = "TRADING"

    def __post_init__(self) -> None:
        pair, colon, settle = self.symbol.partition(":")
        base, slash, quote = pair.partition("/")
        if not colon or not slash or not base.isalnum() or not quote.isalnum():
            raise ConfigError(f"futures market symbol {self.symbol!r} is not BASE/QUOTE:SETTLE")
        if settle != quote:
            raise ConfigError(
                f"futures market {self.symbol!r}: only linear perpetuals (settled in the quote "
                f"asset, {base}/{quote}:{quote}) are served"
            )
        names = ("price", "tick_size", "step_size", "min_qty", "max_qty", "market_max_qty",
                 "min_notional")  # fmt: skip
        check_positive(f"futures market {self.symbol}", {n: getattr(self, n) for n in names})
        hours = self.funding_interval_hours
        if not 1 <= hours <= 24 or 24 % hours:
            raise ConfigError(
                f"futures market {self.symbol}: funding_interval_hours must divide 24, got {hours}"
            )
        if not self.brackets:
            object.__setattr__(self, "brackets", BTC_BRACKETS)

    @property
    def base(self) -> str:
        """The base asset, e.g. ``"BTC"``."""
        return self.symbol.partition("/")[0]

    @property
    def quote(self) -> str:
        """The quote (and settlement) asset, e.g. ``"USDT"``."""
        return self.symbol.partition(":")[0].partition("/")[2]

    @property
    def venue_id(self) -> str:
        """The exchange's id, e.g. ``"BTCUSDT"`` (also its ``pair``)."""
        return self.base + self.quote

    @property
    def funding_interval_ms(self) -> int:
        """Milliseconds between funding timestamps."""
        return self.funding_interval_hours * 3_600_000

    @property
    def max_leverage(self) -> int:
        """The first bracket's leverage: the most the market allows."""
        return self.brackets[0].initial_leverage

    def local_market(self) -> LocalMarket:
        """The same market as a spot `LocalMarket`, whose random walk the last price follows.

        Returns:
            A market ``BASE/QUOTE`` with this market's price and filters.
        """
        return LocalMarket(
            f"{self.base}/{self.quote}",
            price=self.price,
            tick_size=self.tick_size,
            step_size=self.step_size,
            min_qty=self.min_qty,
            max_qty=self.max_qty,
            min_notional=self.min_notional,
        )


DEFAULT_FUTURES_MARKETS = (
    FuturesMarket("BTC/USDT:USDT", price=42_000.0, tick_size=0.1, step_size=0.001,
                  min_qty=0.001, max_qty=1_000.0, market_max_qty=120.0, min_notional=100.0,
                  brackets=BTC_BRACKETS),
    FuturesMarket("ETH/USDT:USDT", price=2_300.0, tick_size=0.01, step_size=0.001,
                  min_qty=0.001, max_qty=10_000.0, market_max_qty=2_000.0, min_notional=20.0,
                  brackets=ETH_BRACKETS),
)  # fmt: skip
"""Perpetuals served when none are given: BTC/USDT:USDT and ETH/USDT:USDT."""
