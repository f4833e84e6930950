"""Venue-qualified symbols: ``"binance:BTC/USDT"`` names one market on one venue.

A run over several venues keys every series, market, order and position by its qualified
symbol, so the same pair on two venues never mixes. A bare symbol stays usable where only one
venue lists it.

Examples:
    >>> split_venue("binance:BTC/USDT")
    ('binance', 'BTC/USDT')
    >>> split_venue("BTC/USDT:USDT")  # a perpetual's settle suffix is not a venue
    ('', 'BTC/USDT:USDT')
    >>> resolve_symbol("BTC/USDT", ["binance:BTC/USDT", "kraken:ETH/USDT"])
    'binance:BTC/USDT'
"""

from __future__ import annotations

from collections.abc import Iterable

from quantkit.domain.market import unknown_symbol
from quantkit.errors import ConfigError, UnknownSymbolError

__all__ = ["qualify", "resolve_symbol", "split_venue"]


def split_venue(symbol: str) -> tuple[str, str]:
    """Split a symbol into its venue and the venue's own symbol.

    The venue is the text before the first ``':'`` when that text holds no ``'/'`` (a
    perpetual's ``"BTC/USDT:USDT"`` has a settle suffix, not a venue).

    Args:
        symbol: ``"venue:BASE/QUOTE"`` or a bare ``"BASE/QUOTE"``.

    Returns:
        ``(venue, bare)``; the venue is ``""`` for a bare symbol.
    """
    venue, sep, rest = symbol.partition(":")
    if sep and venue and "/" not in venue:
        return venue, rest
    return "", symbol


def qualify(venue: str, symbol: str) -> str:
    """Return ``symbol`` qualified with ``venue`` (``"binance:BTC/USDT"``).

    Args:
        venue: The venue's name: letters, digits, ``_`` or ``-``.
        symbol: The venue's own (bare) symbol.

    Returns:
        The qualified symbol.

    Raises:
        ConfigError: If the venue name is empty or holds other characters, or the symbol
            is already qualified.
    """
    if not venue or not all(c.isalnum() or c in "_-" for c in venue):
        raise ConfigError(
            f"venue name {venue!r} must be non-empty letters, digits, '_' or '-' "
            "(it prefixes symbols as 'venue:BASE/QUOTE')"
        )
    if split_venue(symbol)[0]:
        raise ConfigError(f"symbol {symbol!r} is already venue-qualified; give the bare symbol")
    return f"{venue}:{symbol}"


def resolve_symbol(symbol: str, known: Iterable[str], venue: str | None = None) -> str:
    """Find the run's qualified symbol meant by ``symbol`` (and ``venue``).

    Args:
        symbol: A qualified symbol, or a bare one.
        known: The run's symbols (qualified where the run has venues).
        venue: The venue to trade on, for a bare ``symbol``.

    Returns:
        The symbol as the run knows it.

    Raises:
        UnknownSymbolError: If no venue lists it, or a bare symbol is listed by several venues
            and no venue was given (the message names them).
    """
    names = list(known)
    if venue is not None:
        own_venue, bare = split_venue(symbol)
        if own_venue and own_venue != venue:
            raise UnknownSymbolError(f"symbol {symbol!r} names venue {own_venue!r}, not {venue!r}")
        wanted = f"{venue}:{bare}"
        if wanted in names:
            return wanted
        listing = sorted(v for v, b in map(split_venue, names) if b == bare and v)
        where = f"; it is listed on {', '.join(listing)}" if listing else ""
        raise UnknownSymbolError(f"venue {venue!r} does not list {bare!r} in this run{where}")
    if symbol in names:
        return symbol
    matches = [name for name in names if _listed_as(name, symbol)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        venues = ", ".join(sorted(split_venue(m)[0] for m in matches))
        raise UnknownSymbolError(
            f"symbol {symbol!r} is ambiguous: venues {venues} list it; qualify it "
            f"('{split_venue(matches[0])[0]}:{symbol}') or pass venue="
        )
    raise unknown_symbol(symbol, names)


def _listed_as(name: str, bare: str) -> bool:
    """Whether ``name`` is ``bare`` qualified with some venue."""
    venue, own = split_venue(name)
    return bool(venue) and own == bare
