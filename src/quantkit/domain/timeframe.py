"""Timeframes: parse ``"1m"``, ``"4h"``, ``"1d"`` style strings into nanoseconds."""

from __future__ import annotations

import re

from quantkit.errors import ConfigError

__all__ = ["NS_PER_SECOND", "format_timeframe", "parse_timeframe"]

NS_PER_SECOND = 1_000_000_000
_UNITS = {
    "s": NS_PER_SECOND,
    "m": 60 * NS_PER_SECOND,
    "h": 3600 * NS_PER_SECOND,
    "d": 86400 * NS_PER_SECOND,
    "w": 7 * 86400 * NS_PER_SECOND,
}
_PATTERN = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")


def parse_timeframe(timeframe: str | int) -> int:
    """Return the length of a timeframe in nanoseconds.

    Args:
        timeframe: A ccxt-style string such as ``"1m"``, ``"15m"``, ``"1h"``, ``"1d"``, ``"1w"``,
            or a positive number of nanoseconds.

    Returns:
        The timeframe's length in nanoseconds.

    Raises:
        ConfigError: If the timeframe is not understood or not positive.

    Examples:
        >>> parse_timeframe("1h")
        3600000000000
    """
    if isinstance(timeframe, bool):
        raise ConfigError(f"timeframe must be a string like '1h' or nanoseconds, got {timeframe!r}")
    if isinstance(timeframe, int):
        if timeframe <= 0:
            raise ConfigError(f"timeframe must be positive, got {timeframe} ns")
        return timeframe
    match = _PATTERN.match(timeframe) if isinstance(timeframe, str) else None
    if match is None or int(match.group(1)) == 0:
        raise ConfigError(
            f"timeframe {timeframe!r} is not understood; use a positive count and one of "
            "s, m, h, d, w (for example '1m', '4h', '1d')"
        )
    return int(match.group(1)) * _UNITS[match.group(2)]


def format_timeframe(nanoseconds: int) -> str:
    """Return the shortest ccxt-style string for a timeframe given in nanoseconds.

    Args:
        nanoseconds: The timeframe's length.

    Returns:
        A string such as ``"1h"``; seconds are used when no larger unit divides it.

    Examples:
        >>> format_timeframe(90 * 60 * 10**9)
        '90m'
    """
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNITS[unit]
        if nanoseconds % size == 0:
            return f"{nanoseconds // size}{unit}"
    return f"{nanoseconds}ns"
