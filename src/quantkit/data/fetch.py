"""Download candles from a venue between two instants, with retries.

Trades are fetched by `quantkit.data.trades`, which shares the helpers here.

`fetch_ohlcv_range` pages through an `OhlcvSource` (such as
`quantkit.exchanges.CcxtExchange`) ``source.ohlcv_limit`` candles at a time and returns one
DataFrame: a UTC ``DatetimeIndex`` named ``"time"`` (bar open times), float columns ``open``,
``high``, ``low``, ``close``, ``volume``, strictly increasing, without duplicates.

Paging. Each request asks for the candles opening at or after a cursor. The cursor then moves
to the last candle received plus one timeframe, so a short page (a venue that answers fewer rows
than asked, or a hole in its data) is not taken for the end: paging stops at ``end``, or at the
first empty page (the venue has nothing at or after the cursor).

Retries. Only `TransientError` subclasses are retried (timeouts, rate limits, server errors),
with exponential backoff and jitter (`RetryPolicy`); a venue's ``Retry-After`` is honoured as a
lower bound on the wait. `ExchangeError` (unknown symbol, unsupported timeframe, refused
request) fails at once with one message naming the venue, symbol and timeframe.

Rate limits. Nothing here throttles: `CcxtExchange` relies on ccxt's own limiter
(``enableRateLimit``), which spaces requests by the venue's published weights. A second limiter
would only slow downloads down.

The functions without an ``a`` prefix run their async twin in a fresh event loop (``anyio.run``)
and close the source before returning, because its connections belong to that loop;
`CcxtExchange` reopens on its next use. In async code, call the ``a`` versions and close the
source yourself.
"""

from __future__ import annotations

import asyncio
import math
import random
import re
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np

from quantkit.data._timestamps import TimeLike, parse_instant
from quantkit.domain.timeframe import parse_timeframe
from quantkit.errors import ConfigError, ExchangeError, RateLimitedError, TransientError

if TYPE_CHECKING:
    import pandas as pd
    from tqdm import tqdm

    from quantkit.data.source import OhlcvRow, OhlcvSource

__all__ = ["RetryPolicy", "afetch_ohlcv_range", "fetch_ohlcv_range"]

T = TypeVar("T")
_MS = 1_000_000  # nanoseconds per millisecond
_WEEK_NS = 7 * 86_400 * 10**9
_MONDAY_NS = 4 * 86_400 * 10**9  # 1970-01-01 was a Thursday; weekly bars open on Mondays
_CALENDAR = re.compile(r"^(\d+)([My])$")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How transient venue failures are retried: exponential backoff with jitter.

    The wait after failed attempt ``n`` (1-based) is ``base_delay * 2 ** (n - 1)``, capped at
    ``max_delay``, then scaled by a random factor in ``[1 - jitter, 1 + jitter]``. A venue's
    ``Retry-After`` (`RateLimitedError.retry_after`) raises the wait to at least that much; if
    it asks for more than ``max_delay``, the download fails at once instead of stalling.

    Args:
        max_attempts: Attempts per request, the first included (1 disables retries).
        base_delay: Seconds to wait after the first failure.
        max_delay: Longest wait between attempts, in seconds.
        jitter: Relative spread of the waits, in ``[0, 1)``; spreads retries of parallel
            downloads apart.
        seed: Seed of the jitter's random generator, for reproducible waits; ``None`` draws
            from the system.

    Raises:
        ConfigError: If a value is out of range.

    Examples:
        >>> policy = RetryPolicy(base_delay=1.0, max_delay=5.0, jitter=0.0)
        >>> [policy.delay(n) for n in (1, 2, 3, 4)], policy.delay(1, retry_after=3.0)
        ([1.0, 2.0, 4.0, 5.0], 3.0)
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    jitter: float = 0.1
    seed: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
            raise ConfigError(f"max_attempts must be an integer, got {self.max_attempts!r}")
        if self.max_attempts < 1:
            raise ConfigError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if not (math.isfinite(self.base_delay) and self.base_delay >= 0):
            raise ConfigError(f"base_delay must be >= 0 seconds, got {self.base_delay!r}")
        if not (math.isfinite(self.max_delay) and self.max_delay >= self.base_delay):
            raise ConfigError(
                f"max_delay must be >= base_delay ({self.base_delay}), got {self.max_delay!r}"
            )
        if not 0 <= self.jitter < 1:
            raise ConfigError(f"jitter must be in [0, 1), got {self.jitter!r}")

    def delay(
        self, attempt: int, *, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based).

        Args:
            attempt: The attempt that just failed.
            retry_after: What the venue asked for, if anything; a lower bound on the wait.
            rng: Random generator for the jitter (a new one from `seed` when ``None``).

        Returns:
            The wait; above `max_delay` only when ``retry_after`` is.
        """
        wait = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        if self.jitter:
            spread = (rng or random.Random(self.seed)).uniform(-self.jitter, self.jitter)
            wait = min(self.max_delay, wait * (1 + spread))
        return wait if retry_after is None else max(wait, retry_after)


def _again(exc: TransientError, message: str) -> TransientError:
    """A new error of the same class as ``exc`` with a message that tells the whole story."""
    if isinstance(exc, RateLimitedError):
        return type(exc)(message, retry_after=exc.retry_after)
    try:
        return type(exc)(message)
    except TypeError:  # a subclass with another constructor: keep its family
        return TransientError(message)


class _Retrier:
    """Runs venue calls under a `RetryPolicy`, naming what was being fetched when it gives up."""

    def __init__(self, policy: RetryPolicy, context: str) -> None:
        self.policy = policy
        self.context = context
        self.rng = random.Random(policy.seed)

    async def __call__(self, call: Callable[[], Awaitable[T]]) -> T:
        import anyio  # noqa: PLC0415 - keep `import quantkit` light

        policy = self.policy
        for attempt in range(1, policy.max_attempts + 1):
            try:
                return await call()
            except TransientError as exc:
                if attempt == policy.max_attempts:
                    raise _again(
                        exc, f"{self.context}: gave up after {attempt} attempts: {exc}"
                    ) from exc
                hint = exc.retry_after if isinstance(exc, RateLimitedError) else None
                wait = policy.delay(attempt, retry_after=hint, rng=self.rng)
                if wait > policy.max_delay:
                    raise _again(
                        exc,
                        f"{self.context}: the venue asks to wait {wait:g} s, longer than "
                        f"RetryPolicy.max_delay ({policy.max_delay:g} s): {exc}",
                    ) from exc
                _log_retry(self.context, attempt, wait, exc)
                await anyio.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover


def _run_sync(name: str, call: Callable[[], Awaitable[T]]) -> T:
    """Run ``call`` in a new event loop, refusing clearly inside a running one."""
    import anyio  # noqa: PLC0415 - keep `import quantkit` light

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass  # no loop here: run one (outside the handler, so no error chains onto this one)
    else:
        raise RuntimeError(f"{name}() cannot run inside an event loop; use `await a{name}(...)`")
    return anyio.run(call)


class _Closable(Protocol):
    async def aclose(self) -> None: ...


def _run_closing(name: str, source: _Closable, call: Callable[[], Awaitable[T]]) -> T:
    """`_run_sync` ``call``, closing ``source`` when it ends (a `CcxtExchange` reopens on use)."""

    async def run() -> T:
        try:
            return await call()
        finally:
            await source.aclose()

    return _run_sync(name, run)


def _log_retry(context: str, attempt: int, wait: float, exc: Exception) -> None:
    import structlog  # noqa: PLC0415 - keep `import quantkit` light

    structlog.get_logger("quantkit.data.fetch").info(
        "retrying", what=context, attempt=attempt, wait_s=round(wait, 3), error=str(exc)
    )


def _timeframe_ms(timeframe: str) -> tuple[int, bool]:
    """Length of a timeframe in ms, and whether it is exact (months and years are not)."""
    match = _CALENDAR.match(timeframe)
    if match:
        days = 30 if match.group(2) == "M" else 365
        return int(match.group(1)) * days * 86_400_000, False
    return parse_timeframe(timeframe) // _MS, True


def _bounds(start: TimeLike, end: TimeLike | None) -> tuple[int, int]:
    start_ms = parse_instant(start, name="start") // _MS
    end_ms = time.time_ns() // _MS if end is None else parse_instant(end, name="end") // _MS
    if end_ms <= start_ms:
        raise ConfigError(f"end ({end or 'now'}) must be after start ({start})")
    return start_ms, end_ms


def _progress_bar(progress: bool | None, total: float, pages: float, desc: str) -> tqdm[Any]:
    """A tqdm bar on stderr, forced on or off by ``progress``.

    When ``progress`` is ``None`` it shows on a terminal if more than one page is expected.
    """
    from tqdm import tqdm  # noqa: PLC0415 - keep `import quantkit` light

    show = progress if progress is not None else (sys.stderr.isatty() and pages > 1)
    return tqdm(total=total, desc=desc, unit="bar", disable=not show, file=sys.stderr, leave=False)


def _refuse(exc: ExchangeError, source: OhlcvSource, what: str) -> ExchangeError:
    detail = str(exc)
    if exc.exchange and detail.startswith(f"{exc.exchange}: "):
        detail = detail[len(exc.exchange) + 2 :]
    return ExchangeError(f"cannot download {what}: {detail}", exchange=source.id)


def _check_timeframe(source: OhlcvSource, symbol: str, timeframe: str) -> None:
    offered = list(source.timeframes)
    if timeframe not in offered:
        raise ExchangeError(
            f"cannot download {symbol} {timeframe} candles: timeframe {timeframe!r} is not "
            f"offered (offered: {', '.join(offered)})",
            exchange=source.id,
        )


async def afetch_ohlcv_range(
    source: OhlcvSource,
    symbol: str,
    timeframe: str,
    start: TimeLike,
    end: TimeLike | None = None,
    *,
    progress: bool | None = None,
    retry: RetryPolicy | None = None,
) -> pd.DataFrame:
    """Download the candles of ``symbol`` opening in ``[start, end)``, page by page.

    Args:
        source: The venue, e.g. a `CcxtExchange`.
        symbol: Unified symbol, e.g. ``"BTC/USDT"``.
        timeframe: One of ``source.timeframes``, e.g. ``"1h"``.
        start: First open time wanted (UTC when naive): a date string, ``datetime``, ``date``,
            ``pandas.Timestamp`` or ``datetime64``.
        end: End of the range, exclusive (UTC when naive). ``None`` means now, leaving out the
            bar still forming.
        progress: Show a progress bar on stderr: ``None`` shows it on a terminal for downloads
            of more than one page, ``True`` always, ``False`` never.
        retry: How transient failures are retried; `RetryPolicy()` when ``None``.

    Returns:
        The candles: UTC ``DatetimeIndex`` named ``"time"`` (open times), float columns
        ``open``, ``high``, ``low``, ``close``, ``volume``; ``attrs`` holds ``exchange``,
        ``symbol`` and ``timeframe``. Holes in the venue's data stay holes.

    Raises:
        ExchangeError: Before any request if the venue does not offer the timeframe; after one
            if the venue refuses (unknown symbol, ...). The message names venue, symbol and
            timeframe.
        TransientError: If a request still fails after the retries (`RateLimitedError`,
            `VenueUnavailableError` or `RequestTimeoutError`).
        ConfigError: If the dates are invalid or ``end`` is not after ``start``.
        DataError: If the venue answers malformed candles.
    """
    _check_timeframe(source, symbol, timeframe)
    step_ms, exact = _timeframe_ms(timeframe)
    start_ms, end_ms = _bounds(start, end)
    closed_by = end_ms if end is None else None  # leave out the bar still forming
    what = f"{symbol} {timeframe} candles"
    fetch = _Retrier(retry or RetryPolicy(), f"{source.id} {what}")
    limit = max(1, source.ohlcv_limit)
    total = max(0, -(-(end_ms - start_ms) // step_ms))
    rows: list[OhlcvRow] = []
    cursor = start_ms
    with _progress_bar(progress, total, total / limit, f"{source.id} {symbol} {timeframe}") as bar:
        while cursor < end_ms:
            want = int(min(limit, max(1, -(-(end_ms - cursor) // step_ms))))
            since = cursor
            try:
                page = await fetch(partial(source.fetch_ohlcv, symbol, timeframe, since, want))
            except ExchangeError as exc:
                raise _refuse(exc, source, what) from exc
            if not page:
                break
            rows.extend(
                row
                for row in page
                if since <= row[0] < end_ms and (closed_by is None or row[0] + step_ms <= closed_by)
            )
            cursor = max(row[0] for row in page) + (step_ms if exact else 1)
            if cursor <= since:  # the venue ignored `since`: no progress possible
                break
            bar.update(min(total, (min(cursor, end_ms) - start_ms) // step_ms) - bar.n)
    return _candle_frame(rows, source.id, symbol, timeframe)


def _utc_index(ns: np.ndarray[Any, np.dtype[np.int64]]) -> pd.DatetimeIndex:
    """A UTC ``DatetimeIndex`` named ``"time"`` from nanoseconds since the epoch."""
    import pandas as pd  # noqa: PLC0415 - keep `import quantkit` light

    return pd.DatetimeIndex(ns.astype("datetime64[ns]"), name="time").tz_localize("UTC")


def _candle_frame(rows: list[OhlcvRow], exchange: str, symbol: str, timeframe: str) -> pd.DataFrame:
    import pandas as pd  # noqa: PLC0415 - keep `import quantkit` light

    times = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    values = np.array([row[1:] for row in rows], dtype=np.float64).reshape(len(rows), 5)
    frame = pd.DataFrame(values, index=_utc_index(times * _MS), columns=_OHLCV)
    frame = frame[~frame.index.duplicated(keep="first")].sort_index()
    frame.attrs.update(exchange=exchange, symbol=symbol, timeframe=timeframe)
    return frame


_OHLCV = ["open", "high", "low", "close", "volume"]


def fetch_ohlcv_range(
    source: OhlcvSource,
    symbol: str,
    timeframe: str,
    start: TimeLike,
    end: TimeLike | None = None,
    *,
    progress: bool | None = None,
    retry: RetryPolicy | None = None,
) -> pd.DataFrame:
    """Download candles from synchronous code; see `afetch_ohlcv_range`.

    Runs in a fresh event loop and closes ``source`` before returning (a `CcxtExchange`
    reopens on its next use).

    Args:
        source: The venue, e.g. a `CcxtExchange`.
        symbol: Unified symbol, e.g. ``"BTC/USDT"``.
        timeframe: One of ``source.timeframes``, e.g. ``"1h"``.
        start: First open time wanted (UTC when naive).
        end: End of the range, exclusive; ``None`` means now (without the forming bar).
        progress: ``None``: a progress bar on a terminal for multi-page downloads; ``True``:
            always; ``False``: never.
        retry: How transient failures are retried; `RetryPolicy()` when ``None``.

    Returns:
        The candles, as `afetch_ohlcv_range` returns them.

    Raises:
        ExchangeError: If the venue does not offer the timeframe or refuses the request.
        TransientError: If a request still fails after the retries.
        ConfigError: If the dates are invalid.
        DataError: If the venue answers malformed candles.

    Examples:
        >>> from quantkit.testing import LocalExchange
        >>> with LocalExchange() as local:
        ...     bars = fetch_ohlcv_range(
        ...         local.ccxt_exchange(), "BTC/USDT", "1h", "2024-01-01", "2024-01-02"
        ...     )
        >>> len(bars), bars.index[0].isoformat(), list(bars.columns)
        (24, '2024-01-01T00:00:00+00:00', ['open', 'high', 'low', 'close', 'volume'])
    """
    call = partial(afetch_ohlcv_range, source, symbol, timeframe, start, end,
                   progress=progress, retry=retry)  # fmt: skip
    return _run_closing("fetch_ohlcv_range", source, call)
