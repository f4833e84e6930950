"""ReplayStream: recorded bars played back as if they were arriving live.

Paper trading over history, rehearsing a live configuration, and tests use it: the live engine
consumes it exactly like `LiveBarStream`, so the same strategy, risk chain and broker run over
known bars without a venue.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import TracebackType
from typing import Self

import anyio
import numpy as np
from anyio.lowlevel import checkpoint

from quantkit.data.feed import DataFeed
from quantkit.domain.bars import Bar, BarSeries
from quantkit.errors import ConfigError

__all__ = ["ReplayStream"]


class ReplayStream:
    """Bars of a feed handed out one at a time, ordered by (close time, symbol order).

    `warmup` takes the first bars of each symbol as history; iteration then yields every later
    bar once. ``pace`` seconds pass between bars (0: as fast as the consumer takes them).

    Args:
        source: A `DataFeed` or bars by symbol.
        pace: Seconds to wait before each bar.

    Raises:
        ConfigError: If ``pace`` is negative or there are no bars.

    Examples:
        >>> import anyio
        >>> from quantkit import sample_feed
        >>> async def first_live_close() -> float:
        ...     async with ReplayStream(sample_feed()) as stream:
        ...         await stream.warmup(50)
        ...         async for bar in stream:
        ...             return bar.close
        ...     return float("nan")
        >>> anyio.run(first_live_close) > 0
        True
    """

    def __init__(self, source: DataFeed | Mapping[str, BarSeries], *, pace: float = 0.0) -> None:
        if not (math.isfinite(pace) and pace >= 0):
            raise ConfigError(f"ReplayStream: pace must be >= 0 seconds, got {pace!r}")
        self._source = source
        self._pace = float(pace)
        self._series: dict[str, BarSeries] | None = None
        self._start: dict[str, int] = {}
        self._queue: list[tuple[str, int]] | None = None
        self._next = 0

    def _load(self) -> dict[str, BarSeries]:
        if self._series is None:
            source = self._source
            series = dict(source.load() if isinstance(source, DataFeed) else source)
            if not series or not any(len(s) for s in series.values()):
                raise ConfigError("ReplayStream: the source has no bars")
            self._series = series
            self._start = dict.fromkeys(series, 0)
        return self._series

    async def __aenter__(self) -> Self:
        self._load()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop handing out bars."""
        self._queue = []

    async def warmup(self, bars: int) -> dict[str, BarSeries]:
        """Take the first ``bars`` bars of each symbol as history.

        Args:
            bars: How many bars per symbol (fewer when a symbol has fewer).

        Returns:
            The history by symbol.

        Raises:
            ConfigError: If ``bars`` is negative or iteration already began.
        """
        if isinstance(bars, bool) or not isinstance(bars, int) or bars < 0:
            raise ConfigError(f"ReplayStream.warmup: bars must be an integer >= 0, got {bars!r}")
        if self._queue is not None:
            raise ConfigError("ReplayStream.warmup: call it before iterating")
        series = self._load()
        self._start = {s: min(bars, len(v)) for s, v in series.items()}
        return {s: v.head(self._start[s]) for s, v in series.items()}

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Bar:
        queue = self._queue
        if queue is None:
            queue = self._queue = self._build_queue()
        if self._next >= len(queue):
            raise StopAsyncIteration
        symbol, index = queue[self._next]
        self._next += 1
        if self._pace:
            await anyio.sleep(self._pace)
        else:
            await checkpoint()
        return self._load()[symbol].bar(index)

    def _build_queue(self) -> list[tuple[str, int]]:
        series = self._load()
        symbols = list(series)
        times = [series[s].close_time[self._start[s] :] for s in symbols]
        ranks = [np.full(len(t), k) for k, t in enumerate(times)]
        indices = [np.arange(self._start[s], len(series[s])) for s in symbols]
        if not any(len(t) for t in times):
            return []
        all_times = np.concatenate(times)
        all_ranks = np.concatenate(ranks)
        all_indices = np.concatenate(indices)
        order = np.lexsort((all_ranks, all_times))
        return [(symbols[int(all_ranks[k])], int(all_indices[k])) for k in order.tolist()]
