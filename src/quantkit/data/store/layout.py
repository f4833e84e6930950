"""Where the store keeps each series: safe directory names and one file per calendar period.

The layout under the store's root::

    root/
      binance/                    exchange id
        BTC_USDT/                 symbol, made safe for every file system (see `encode_name`)
          1m/                     canonical timeframe (``"60m"`` is stored as ``"1h"``)
            2024-01.parquet       bars opening in January 2024 (UTC)
            2024-02.parquet
            known_gaps.json       ranges the venue was asked for and had no bars (downloads)
          1h/
            2024.parquet          bars opening in 2024 (UTC)

A bar belongs to the partition of the calendar period (UTC) its open time falls in. The period
depends on the timeframe so that a partition stays between a few hundred kilobytes and a few
megabytes: one **day** for timeframes under a minute (86,400 one-second bars), one **month**
under an hour (44,640 one-minute bars), one **year** otherwise (8,784 hourly bars). Appending
new bars rewrites only the partitions they fall in, never the years before.

Which file holds each partition is recorded in the series' ``manifest.json`` (see
`quantkit.data.store._manifest`); files it does not name are ignored. In a directory without a
manifest, only files whose names match the partition pattern exactly are data; temporary files
(their names start with ``.tmp-``) and anything else are ignored.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np

from quantkit.data.store._manifest import read_manifest
from quantkit.domain.timeframe import format_timeframe, parse_timeframe
from quantkit.errors import ConfigError, StoreError

__all__ = [
    "PARTITION_SUFFIX",
    "Partition",
    "PeriodUnit",
    "SeriesKey",
    "decode_name",
    "encode_name",
    "list_partitions",
    "overlapping",
    "partition_unit",
]

PeriodUnit = Literal["D", "M", "Y"]
"""Calendar period of a partition, as a numpy datetime64 unit: day, month or year."""

PARTITION_SUFFIX = ".parquet"

_MINUTE = 60 * 10**9
_HOUR = 60 * _MINUTE
_VERBATIM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-")
_SHORTHANDS = {"/": "_", ":": "+"}
_ESCAPE = "~"
_PATTERNS: dict[PeriodUnit, re.Pattern[str]] = {
    "D": re.compile(r"^(\d{4}-\d{2}-\d{2})\.parquet$"),
    "M": re.compile(r"^(\d{4}-\d{2})\.parquet$"),
    "Y": re.compile(r"^(\d{4})\.parquet$"),
}


def encode_name(name: str) -> str:
    """Turn an exchange id or a symbol into a directory name that is safe everywhere.

    Letters, digits, ``.`` and ``-`` are kept; ``/`` becomes ``_`` and ``:`` becomes ``+``
    (so ``"BTC/USDT"`` is ``BTC_USDT`` and ``"BTC/USDT:USDT"`` is ``BTC_USDT+USDT``); every
    other character, and a leading ``.``, is written as ``~`` and the two hex digits of each
    of its UTF-8 bytes. The mapping is reversible: `decode_name` undoes it.

    Args:
        name: A non-empty exchange id or symbol.

    Returns:
        The directory name.

    Raises:
        ConfigError: If ``name`` is not a non-empty string.

    Examples:
        >>> encode_name("BTC/USDT"), encode_name("ETH_BTC"), encode_name("1INCH/USDT:USDT")
        ('BTC_USDT', 'ETH~5FBTC', '1INCH_USDT+USDT')
    """
    if not isinstance(name, str) or not name:
        raise ConfigError(f"exchange ids and symbols must be non-empty strings, got {name!r}")
    parts: list[str] = []
    for position, char in enumerate(name):
        if char in _VERBATIM and not (position == 0 and char == "."):
            parts.append(char)
        elif char in _SHORTHANDS:
            parts.append(_SHORTHANDS[char])
        else:
            parts.extend(f"{_ESCAPE}{byte:02X}" for byte in char.encode("utf-8"))
    return "".join(parts)


def decode_name(directory: str) -> str | None:
    """Undo `encode_name`.

    Args:
        directory: A directory name.

    Returns:
        The original name, or ``None`` if ``directory`` is not something `encode_name` makes.

    Examples:
        >>> decode_name("BTC_USDT+USDT"), decode_name("not a store name")
        ('BTC/USDT:USDT', None)
    """
    reverse = {short: char for char, short in _SHORTHANDS.items()}
    raw = bytearray()
    position = 0
    while position < len(directory):
        char = directory[position]
        if char == _ESCAPE:
            digits = directory[position + 1 : position + 3]
            if len(digits) != 2 or not all(c in "0123456789ABCDEF" for c in digits):
                return None
            raw.append(int(digits, 16))
            position += 3
            continue
        raw.extend(reverse.get(char, char).encode("utf-8"))
        position += 1
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return name if name and encode_name(name) == directory else None


def partition_unit(timeframe_ns: int) -> PeriodUnit:
    """The calendar period of the partitions of a timeframe.

    Args:
        timeframe_ns: Bar length in nanoseconds.

    Returns:
        ``"D"`` (day) under one minute, ``"M"`` (month) under one hour, else ``"Y"`` (year).

    Examples:
        >>> partition_unit(60 * 10**9), partition_unit(3600 * 10**9)
        ('M', 'Y')
    """
    if timeframe_ns < _MINUTE:
        return "D"
    if timeframe_ns < _HOUR:
        return "M"
    return "Y"


@dataclass(frozen=True, slots=True)
class Partition:
    """One partition file: the bars opening in ``[start, end)``.

    Attributes:
        path: The file that holds it (in a store with a manifest, a versioned name such as
            ``2024-01.3f2a9c1b0d7e.parquet``; the file may not exist yet for a new partition).
        start: First nanosecond of the period (UTC).
        end: First nanosecond after the period.
        name: The partition's name, e.g. ``2024-01.parquet``.
    """

    path: Path
    start: int
    end: int
    name: str


@dataclass(frozen=True, slots=True)
class SeriesKey:
    """Which series: exchange, symbol and timeframe, and where the store keeps it.

    Attributes:
        exchange: Exchange id as given, e.g. ``"binance"``.
        symbol: Symbol as given, e.g. ``"BTC/USDT"``.
        timeframe: Canonical timeframe string, e.g. ``"1h"``.
        timeframe_ns: The timeframe in nanoseconds.
        unit: Calendar period of the partitions.
    """

    exchange: str
    symbol: str
    timeframe: str
    timeframe_ns: int
    unit: PeriodUnit

    @classmethod
    def make(cls, exchange: str, symbol: str, timeframe: str | int) -> SeriesKey:
        """Check and normalise the three parts of a key.

        Args:
            exchange: Exchange id.
            symbol: Market symbol.
            timeframe: Bar length such as ``"1h"`` or nanoseconds.

        Returns:
            The key.

        Raises:
            ConfigError: If a part is empty or the timeframe is not understood.
        """
        encode_name(exchange)
        encode_name(symbol)
        length = parse_timeframe(timeframe)
        if length % 10**9:
            raise ConfigError(f"the store keeps whole-second timeframes, got {length} ns")
        return cls(exchange, symbol, format_timeframe(length), length, partition_unit(length))

    def directory(self, root: Path) -> Path:
        """The series' directory under ``root``.

        Args:
            root: The store's root.

        Returns:
            ``root / exchange / symbol / timeframe`` with safe names.
        """
        return root / encode_name(self.exchange) / encode_name(self.symbol) / self.timeframe

    def partition_for(self, root: Path, period: np.datetime64) -> Partition:
        """The partition of one calendar period.

        Args:
            root: The store's root.
            period: The period as a numpy datetime64 in this key's `unit`.

        Returns:
            The partition (its file may not exist).
        """
        start = int(period.astype("datetime64[ns]").astype(np.int64))
        end = int((period + 1).astype("datetime64[ns]").astype(np.int64))
        name = f"{period}{PARTITION_SUFFIX}"
        return Partition(self.directory(root) / name, start, end, name)

    def describe(self) -> str:
        """The key in words for messages, e.g. ``binance BTC/USDT 1h``.

        Returns:
            The description.
        """
        return f"{self.exchange} {self.symbol} {self.timeframe}"


def list_partitions(key: SeriesKey, root: Path) -> list[Partition]:
    """The partitions of a series, oldest first: as its manifest names them, if it has one.

    Without a manifest (a store written by an older quantkit) the files named exactly like a
    partition (``2024-01.parquet``) are the partitions.

    Args:
        key: The series.
        root: The store's root.

    Returns:
        The partitions; empty if the series' directory does not exist.

    Raises:
        StoreError: If the directory cannot be listed.
    """
    directory = key.directory(root)
    pattern = _PATTERNS[key.unit]
    files = read_manifest(directory)
    if files is None:
        try:
            names = os.listdir(directory)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StoreError(f"cannot list {directory}: {exc}") from exc
        files = {name: name for name in names}
    found = []
    for name, file in files.items():
        match = pattern.match(name)
        if match:
            part = key.partition_for(root, np.datetime64(match.group(1), key.unit))
            found.append(replace(part, path=directory / file))
    return sorted(found, key=lambda part: part.start)


def overlapping(
    partitions: list[Partition], window: tuple[int | None, int | None]
) -> list[Partition]:
    """The partitions whose period meets ``[start, end)``: partition pruning by file name.

    Args:
        partitions: Partitions, oldest first.
        window: ``(start, end)`` in nanoseconds; ``None`` leaves that side open.

    Returns:
        The partitions that may hold bars opening in the window.
    """
    start, end = window
    return [
        part
        for part in partitions
        if (start is None or part.end > start) and (end is None or part.start < end)
    ]
