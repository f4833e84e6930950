"""Signals: what a vectorised strategy declares over whole arrays, and the data it sees."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from quantkit.errors import ConfigError

if TYPE_CHECKING:
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]
    BoolArray = npt.NDArray[np.bool_]

__all__ = ["SignalData", "Signals"]

_SIGNAL_FIELDS = ("entries", "exits", "short_entries", "short_exits")
_SETTINGS = (
    "size",
    "sl_pct",
    "tp_pct",
    "entry_type",
    "entry_offset",
    "entry_valid_bars",
    "trail_pct",
)

EntryType = Literal["market", "limit", "stop"]


@dataclass(frozen=True, slots=True, eq=False)
class SignalData:
    """The bars of one symbol as whole arrays: what `SignalStrategy.signals` receives.

    Attributes:
        symbol: Market symbol.
        open: Open prices.
        high: High prices.
        low: Low prices.
        close: Close prices.
        volume: Volumes.
    """

    symbol: str
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    def __len__(self) -> int:
        return len(self.close)

    def head(self, count: int) -> SignalData:
        """Return the first ``count`` bars (the causality check recomputes on these).

        Args:
            count: Number of leading bars to keep.

        Returns:
            A `SignalData` over views of the leading bars.
        """
        return SignalData(
            self.symbol,
            self.open[:count],
            self.high[:count],
            self.low[:count],
            self.close[:count],
            self.volume[:count],
        )


def _bool_array(name: str, value: Any) -> BoolArray:
    raw = value.to_numpy() if hasattr(value, "to_numpy") else value
    array = np.asarray(raw)
    if array.dtype != np.bool_:
        raise ConfigError(
            f"Signals.{name} must be a boolean array (e.g. fast > slow), got dtype {array.dtype}"
        )
    if array.ndim != 1:
        raise ConfigError(f"Signals.{name} must be one-dimensional, got shape {array.shape}")
    return np.ascontiguousarray(array)


def _fraction(name: str, value: float | None, *, upper: float, required: bool) -> float | None:
    if value is None:
        if required:
            raise ConfigError(f"Signals.{name} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise ConfigError(f"Signals.{name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or not 0.0 < number <= upper:
        raise ConfigError(f"Signals.{name} must be in (0, {upper:g}], got {value!r}")
    return number


@dataclass(frozen=True, slots=True, eq=False)
class Signals:
    """Entry and exit signals of one symbol, one boolean per bar, and how to trade them.

    A signal at bar ``i`` acts at bar ``i + 1``, exactly like an order placed in ``on_bar`` at
    bar ``i``: a market order that fills at the next bar's open. Rules per bar, with the
    position after that bar's fills:

    - long: ``exits[i]`` closes the whole position;
    - short: ``short_exits[i]`` closes the whole position;
    - flat: ``entries[i]`` buys, else ``short_entries[i]`` sells short, each spending
      ``size`` x cash (fee included) and attaching the ``sl_pct`` / ``tp_pct`` bracket
      measured from the entry's fill price.

    Entries are market orders by default. With ``entry_type="limit"`` an entry signal at bar
    ``i`` places a limit order ``entry_offset`` away from ``close[i]`` on the favourable side
    (below for a buy, above for a sell); with ``"stop"`` a stop order that far on the other
    side (above for a buy, below for a sell). The order works for ``entry_valid_bars`` bars
    and is then canceled; entry signals are ignored while it works. It is sized when placed:
    ``size`` x cash / (price x (1 + the market's taker fee)), rounded down.

    ``trail_pct`` adds a trailing stop: at each close in a position, a reduce-only stop order
    ``trail_pct`` below the highest high (longs) or above the lowest low (shorts) of the bars
    since the entry's fill bar, this bar included, replaced whenever that extreme moves. It
    works from the next bar, beside the ``sl_pct`` / ``tp_pct`` bracket: the first exit to
    fill closes the position and cancels the others.

    Signals that do not apply in the current position are ignored (an entry while long, an
    exit while flat); a position is never reversed in one order.

    Args:
        entries: Long entries.
        exits: Long exits.
        short_entries: Short entries (default: none); they need ``allow_short=True``.
        short_exits: Short exits (default: none).
        size: Fraction of cash an entry spends, fee included, in (0, 1].
        sl_pct: Stop-loss distance from the entry fill price as a fraction, in (0, 1).
        tp_pct: Take-profit distance from the entry fill price as a fraction, > 0.
        entry_type: ``"market"``, ``"limit"`` or ``"stop"`` entry orders.
        entry_offset: Distance of a limit or stop entry from the signal bar's close, as a
            fraction in [0, 1).
        entry_valid_bars: Bars a limit or stop entry works before it is canceled, >= 1.
        trail_pct: Trailing stop distance from the extreme since entry, in (0, 1), or None.

    Raises:
        ConfigError: If an array is not a one-dimensional boolean array, the arrays differ in
            length, or a setting is out of range.

    Examples:
        >>> import numpy as np
        >>> s = Signals(np.array([True, False]), np.array([False, True]), sl_pct=0.02)
        >>> len(s), s.sl_pct, s.short_entries.any()
        (2, 0.02, np.False_)
    """

    entries: BoolArray
    exits: BoolArray
    short_entries: BoolArray | None = None
    short_exits: BoolArray | None = None
    size: float = 1.0
    sl_pct: float | None = None
    tp_pct: float | None = None
    entry_type: EntryType = "market"
    entry_offset: float = 0.0
    entry_valid_bars: int = 1
    trail_pct: float | None = None

    def __post_init__(self) -> None:
        entries = _bool_array("entries", self.entries)
        length = len(entries)
        for name in _SIGNAL_FIELDS:
            value = getattr(self, name)
            array = np.zeros(length, np.bool_) if value is None else _bool_array(name, value)
            if len(array) != length:
                raise ConfigError(
                    f"Signals.{name} has {len(array)} values but entries has {length}; "
                    "give one value per bar"
                )
            object.__setattr__(self, name, array)
        object.__setattr__(self, "size", _fraction("size", self.size, upper=1.0, required=True))
        sl = _fraction("sl_pct", self.sl_pct, upper=1.0, required=False)
        if sl is not None and sl >= 1.0:
            raise ConfigError(f"Signals.sl_pct must be below 1, got {self.sl_pct!r}")
        object.__setattr__(self, "sl_pct", sl)
        tp = _fraction("tp_pct", self.tp_pct, upper=math.inf, required=False)
        object.__setattr__(self, "tp_pct", tp)
        self._check_entry_order()
        trail = _fraction("trail_pct", self.trail_pct, upper=1.0, required=False)
        if trail is not None and trail >= 1.0:
            raise ConfigError(f"Signals.trail_pct must be below 1, got {self.trail_pct!r}")
        object.__setattr__(self, "trail_pct", trail)

    def _check_entry_order(self) -> None:
        if self.entry_type not in ("market", "limit", "stop"):
            raise ConfigError(
                f"Signals.entry_type must be 'market', 'limit' or 'stop', got {self.entry_type!r}"
            )
        offset = self.entry_offset
        if (
            isinstance(offset, bool)
            or not isinstance(offset, int | float | np.floating | np.integer)
            or not 0.0 <= float(offset) < 1.0
        ):
            raise ConfigError(f"Signals.entry_offset must be in [0, 1), got {offset!r}")
        object.__setattr__(self, "entry_offset", float(offset))
        valid = self.entry_valid_bars
        if isinstance(valid, bool) or not isinstance(valid, int | np.integer) or valid < 1:
            raise ConfigError(f"Signals.entry_valid_bars must be an integer >= 1, got {valid!r}")
        object.__setattr__(self, "entry_valid_bars", int(valid))

    def __len__(self) -> int:
        return len(self.entries)

    def check_length(self, bars: int, where: str) -> None:
        """Check that there is one signal per bar.

        Args:
            bars: Number of bars of the data.
            where: Who computed the signals, for the message.

        Raises:
            ConfigError: If the lengths differ.
        """
        if len(self) != bars:
            raise ConfigError(
                f"{where}: signals() returned {len(self)} values for {bars} bars; "
                "give one value per bar"
            )

    def same_prefix(self, other: Signals, count: int) -> int:
        """Return the first bar below ``count`` where the two disagree, or -1.

        Args:
            other: Signals computed on the first ``count`` bars.
            count: Number of leading bars to compare.

        Returns:
            The first differing bar, or ``-1`` when the first ``count`` bars agree.
        """
        differs = np.zeros(count, np.bool_)
        for name in _SIGNAL_FIELDS:
            mine: BoolArray = getattr(self, name)
            theirs: BoolArray = getattr(other, name)
            differs |= mine[:count] != theirs[:count]
        if any(getattr(self, name) != getattr(other, name) for name in _SETTINGS):
            return 0
        return int(np.argmax(differs)) if differs.any() else -1
