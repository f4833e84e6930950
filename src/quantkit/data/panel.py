"""Multi-symbol bar panels as an ``xarray.DataArray`` with dimensions time x symbol x field.

xarray is an optional extra (``pip install 'quantkit[xarray]'``), imported only when a panel is
made. Bars are never dropped or moved: the time axis is the union of every symbol's open times,
and a symbol without a bar at one of them has NaN there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from quantkit.data._extras import import_extra
from quantkit.data.feed import DataFeed
from quantkit.data.validation import REQUIRED_COLUMNS
from quantkit.domain.bars import BarSeries
from quantkit.domain.timeframe import format_timeframe
from quantkit.errors import ConfigError, DataError

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["bar_panel", "import_xarray"]


def import_xarray(where: str) -> Any:
    """Import xarray, or say how to install it.

    Args:
        where: What needs it, for the message.

    Returns:
        The ``xarray`` module.

    Raises:
        ConfigError: If xarray is not installed.
    """
    return import_extra("xarray", where)


def bar_panel(
    data: DataFeed | Mapping[str, BarSeries],
    *,
    symbols: Sequence[str] | None = None,
    fields: Sequence[str] = REQUIRED_COLUMNS,
) -> xr.DataArray:
    """The bars of several symbols as one ``DataArray`` (time x symbol x field).

    Args:
        data: A feed (loaded here; `ParquetStore.feed` serves the store) or series by symbol.
        symbols: Symbols to include, in this order (default: all, in the data's order).
        fields: Fields to include, in this order, among ``open``, ``high``, ``low``,
            ``close``, ``volume``.

    Returns:
        Float64 values named ``bars`` with coordinates ``time`` (bar open times as UTC
        ``datetime64[ns]``, the union of all symbols' times, sorted), ``symbol`` and
        ``field``; NaN where a symbol has no bar at a time. ``attrs`` hold ``timeframe``
        and ``timezone`` (``"UTC"``).

    Raises:
        ConfigError: If a symbol or field is unknown, the series' timeframes differ, or
            xarray is not installed.
        DataError: If the feed cannot be loaded.

    Examples:
        >>> from quantkit import sample_feed
        >>> panel = bar_panel(sample_feed(["BTC/USDT", "ETH/USDT"]), fields=["close"])
        >>> panel.dims, panel.sizes["symbol"]
        (('time', 'symbol', 'field'), 2)
    """
    xarray = import_xarray("bar_panel")
    series = _chosen(data, symbols)
    names = _fields(fields)
    timeframes = {one.timeframe for one in series}
    if len(timeframes) > 1:
        found = ", ".join(f"{one.symbol} {format_timeframe(one.timeframe)}" for one in series)
        raise ConfigError(f"a panel needs one timeframe, got {found}; resample first")
    times = np.unique(np.concatenate([one.open_time for one in series]))
    values = np.full((len(times), len(series), len(names)), np.nan)
    for column, one in enumerate(series):
        rows = np.searchsorted(times, one.open_time)
        for position, name in enumerate(names):
            values[rows, column, position] = getattr(one, name)
    panel: xr.DataArray = xarray.DataArray(
        values,
        dims=("time", "symbol", "field"),
        coords={
            "time": times.view("datetime64[ns]"),
            "symbol": [one.symbol for one in series],
            "field": list(names),
        },
        name="bars",
        attrs={"timeframe": format_timeframe(timeframes.pop()), "timezone": "UTC"},
    )
    return panel


def _chosen(
    data: DataFeed | Mapping[str, BarSeries], symbols: Sequence[str] | None
) -> list[BarSeries]:
    if isinstance(data, DataFeed):
        loaded = data.load()
    elif isinstance(data, Mapping):
        loaded = dict(data)
    else:
        raise ConfigError(
            f"bar_panel takes a DataFeed or a mapping of symbol to BarSeries, got {data!r:.80}"
        )
    for symbol, one in loaded.items():
        if not isinstance(one, BarSeries):
            raise ConfigError(f"the data for {symbol!r} must be a BarSeries, got {one!r:.80}")
    if not loaded:
        raise DataError("no symbols to make a panel of", source="bar_panel")
    wanted = list(loaded) if symbols is None else list(symbols)
    unknown = [symbol for symbol in wanted if symbol not in loaded]
    if unknown or len(set(wanted)) != len(wanted) or not wanted:
        raise ConfigError(
            f"symbols must be distinct names among {list(loaded)}, got {wanted}"
            + (f" ({unknown} not in the data)" if unknown else "")
        )
    return [loaded[symbol] for symbol in wanted]


def _fields(fields: Sequence[str]) -> tuple[str, ...]:
    names = (fields,) if isinstance(fields, str) else tuple(fields)
    bad = [name for name in names if name not in REQUIRED_COLUMNS]
    if bad or not names or len(set(names)) != len(names):
        raise ConfigError(
            f"fields must be distinct names among {list(REQUIRED_COLUMNS)}, got {list(names)}"
        )
    return names
