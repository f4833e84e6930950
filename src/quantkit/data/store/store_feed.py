"""StoreFeed: a DataFeed over series held in a ParquetStore."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from quantkit.data._timestamps import TimeLike, parse_instant
from quantkit.data.feed import DataFeed
from quantkit.data.gaps import (
    DEFAULT_GAP_POLICY,
    GAP_POLICIES,
    GapPolicy,
    apply_gap_policy_to_series,
)
from quantkit.data.store.layout import SeriesKey
from quantkit.domain.bars import BarSeries
from quantkit.errors import ConfigError

if TYPE_CHECKING:
    from quantkit.data.store.parquet_store import ParquetStore

__all__ = ["StoreFeed"]


class StoreFeed(DataFeed):
    """Bars of one or several symbols of one exchange and timeframe, read from a store.

    Usually made with `ParquetStore.feed`. The first `load` reads every symbol with
    `ParquetStore.read_series` (through the store's cache) and keeps the result; later calls
    return the same series.

    Args:
        store: The store.
        exchange: Exchange id, e.g. ``"binance"``.
        symbols: One symbol or several, served in the order given.
        timeframe: Bar length such as ``"1h"``.
        start: Keep bars opening at or after this instant (UTC when naive).
        end: Keep bars opening before this instant (UTC when naive).
        validate: Run `validate_bars` again on what is read (bars were validated when written).
        gap_policy: ``"keep"`` (default), ``"fail"`` or ``"ffill"``, as for the table feeds
            (see `apply_gap_policy_to_series`).

    Raises:
        ConfigError: If the key, the symbols or the window is invalid.

    Examples:
        >>> import tempfile
        >>> import quantkit as qk
        >>> from quantkit.data.store import ParquetStore
        >>> store = ParquetStore(tempfile.mkdtemp())
        >>> report = store.write("binance", "BTC/USDT", "1h", qk.load_sample("BTC/USDT"))
        >>> feed = store.feed("binance", "BTC/USDT", "1h", "2022-01-01", "2022-02-01")
        >>> len(feed.load()["BTC/USDT"])
        744
    """

    def __init__(
        self,
        store: ParquetStore,
        exchange: str,
        symbols: str | Sequence[str],
        timeframe: str | int,
        *,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        validate: bool = False,
        gap_policy: GapPolicy = DEFAULT_GAP_POLICY,
    ) -> None:
        if gap_policy not in GAP_POLICIES:
            raise ConfigError(f"gap_policy must be one of {GAP_POLICIES}, got {gap_policy!r}")
        self._gap_policy: GapPolicy = gap_policy
        chosen = (symbols,) if isinstance(symbols, str) else tuple(symbols)
        if not chosen:
            raise ConfigError("StoreFeed needs at least one symbol")
        if len(set(chosen)) != len(chosen):
            raise ConfigError(f"StoreFeed: symbols repeat: {list(chosen)}")
        keys = [SeriesKey.make(exchange, symbol, timeframe) for symbol in chosen]
        first = None if start is None else parse_instant(start, name="start")
        stop = None if end is None else parse_instant(end, name="end")
        if first is not None and stop is not None and first >= stop:
            raise ConfigError(f"start ({start!r}) must be before end ({end!r})")
        self._store = store
        self._exchange = exchange
        self._symbols = chosen
        self._timeframe = keys[0].timeframe
        self._start = start
        self._end = end
        self._validate = validate
        self._loaded: dict[str, BarSeries] | None = None

    @property
    def symbols(self) -> tuple[str, ...]:
        """The symbols, in the order given."""
        return self._symbols

    def load(self) -> dict[str, BarSeries]:
        """Read every symbol on the first call; later calls return the same series.

        Returns:
            Symbol to `BarSeries`, in `symbols` order.

        Raises:
            DataError: If a symbol is not held or has no bars in the window.
            StoreError: If a file is corrupt.
        """
        if self._loaded is None:
            self._loaded = {
                symbol: apply_gap_policy_to_series(
                    self._store.read_series(
                        self._exchange,
                        symbol,
                        self._timeframe,
                        self._start,
                        self._end,
                        validate=self._validate,
                    ),
                    self._gap_policy,
                    source=f"{self._exchange} {symbol} {self._timeframe}",
                )
                for symbol in self._symbols
            }
        return dict(self._loaded)

    def __repr__(self) -> str:
        return (
            f"StoreFeed({self._store!r}, exchange={self._exchange!r}, "
            f"symbols={self._symbols!r}, timeframe={self._timeframe!r})"
        )
