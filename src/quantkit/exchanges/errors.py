"""ccxt's exceptions, translated into quantkit's error tree at the adapter's edge.

ccxt raises its own exception classes; none of them may cross into the rest of quantkit.
`map_ccxt_errors` wraps every call into ccxt and re-raises each ccxt exception as the quantkit
error that tells the caller what to do, chained with ``raise ... from exc``:

| ccxt class (and subclasses) | quantkit class | what to do |
| --- | --- | --- |
| ``RateLimitExceeded`` | `RateLimitedError` | back off, then retry |
| ``DDoSProtection`` (HTTP 418, 429) | `RateLimitedError` | back off, then retry |
| ``RequestTimeout`` (HTTP 408, 504) | `RequestTimeoutError` | outcome unknown; retry reads |
| ``InvalidNonce`` | `ExchangeError` | fix the clock or nonce first |
| other ``NetworkError`` (5xx, 404) | `VenueUnavailableError` | retry later |
| other ``OperationFailed`` | `VenueUnavailableError` | a garbled answer: retry later |
| anything else (``ExchangeError``) | `ExchangeError` | permanent: bad symbol, bad request |

The first matching row wins, so the order of the table matters. ccxt itself is imported only when
an exception has to be classified: importing this module stays cheap.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from quantkit.errors import (
    ExchangeError,
    QuantkitError,
    RateLimitedError,
    RequestTimeoutError,
    VenueUnavailableError,
)

__all__ = [
    "CCXT_ERROR_TABLE",
    "HeadersGetter",
    "map_ccxt_errors",
    "parse_retry_after",
    "quantkit_error_for",
    "translate",
]

CCXT_ERROR_TABLE: tuple[tuple[str, type[QuantkitError]], ...] = (
    ("RateLimitExceeded", RateLimitedError),
    ("DDoSProtection", RateLimitedError),
    ("RequestTimeout", RequestTimeoutError),
    ("InvalidNonce", ExchangeError),
    ("NetworkError", VenueUnavailableError),
    ("OperationFailed", VenueUnavailableError),
    ("BaseError", ExchangeError),
)
"""``(ccxt class name, quantkit class)`` pairs, most specific first; the first match wins."""

HeadersGetter = Callable[[], Mapping[str, str] | None]
"""Returns the headers of the venue's last answer (for ``Retry-After``), or ``None``."""


def quantkit_error_for(exc: BaseException) -> type[QuantkitError] | None:
    """Return the quantkit error class a ccxt exception maps to.

    Args:
        exc: Any exception.

    Returns:
        The class from `CCXT_ERROR_TABLE`, or ``None`` if ``exc`` is not a ccxt exception.
    """
    import ccxt  # noqa: PLC0415 - ccxt is heavy: import it only when an error needs a class

    for name, target in CCXT_ERROR_TABLE:
        if isinstance(exc, getattr(ccxt, name)):
            return target
    return None


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Read a ``Retry-After`` header: a number of seconds, or an HTTP date.

    Args:
        value: The header's value, or ``None`` when the answer had none.
        now: The current Unix time, for HTTP dates (defaults to the clock).

    Returns:
        Seconds to wait, never negative, or ``None`` if the value is missing or not understood.

    Examples:
        >>> parse_retry_after("2"), parse_retry_after("0.25"), parse_retry_after("soon")
        (2.0, 0.25, None)
    """
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


def _retry_after(headers: HeadersGetter | None) -> float | None:
    """Find ``Retry-After`` (any case) among the last answer's headers."""
    found = headers() if headers is not None else None
    for name, value in (found or {}).items():
        if name.lower() == "retry-after":
            return parse_retry_after(value)
    return None


def _message(exc: BaseException, exchange: str) -> str:
    """The message of a ccxt exception, without the venue id it usually starts with."""
    text = str(exc).strip() or type(exc).__name__
    if exchange and text.startswith(f"{exchange} "):
        text = text[len(exchange) + 1 :]
    return f"{type(exc).__name__}: {text}"


def translate(
    exc: BaseException, *, exchange: str = "", headers: HeadersGetter | None = None
) -> QuantkitError | None:
    """Build the quantkit error for a ccxt exception (without raising it).

    Args:
        exc: The exception ccxt raised.
        exchange: The venue's id, named in the message.
        headers: Returns the headers of the venue's last answer, read for ``Retry-After``.

    Returns:
        The quantkit error, or ``None`` if ``exc`` is not a ccxt exception.
    """
    target = quantkit_error_for(exc)
    if target is None:
        return None
    message = _message(exc, exchange)
    if target is ExchangeError:
        return ExchangeError(message, exchange=exchange)
    text = f"{exchange}: {message}" if exchange else message
    if target is RateLimitedError:
        return RateLimitedError(text, retry_after=_retry_after(headers))
    return target(text)


@contextmanager
def map_ccxt_errors(*, exchange: str = "", headers: HeadersGetter | None = None) -> Iterator[None]:
    """Re-raise ccxt exceptions raised in the block as quantkit errors.

    Works around synchronous and asynchronous code alike (``with`` inside a coroutine). Other
    exceptions pass through untouched.

    Args:
        exchange: The venue's id, named in every message.
        headers: Returns the headers of the venue's last answer; a rate-limit error carries
            their ``Retry-After`` as `RateLimitedError.retry_after`.

    Yields:
        Nothing; the block runs inside the mapping.

    Raises:
        RateLimitedError: For ccxt's ``RateLimitExceeded`` and ``DDoSProtection``.
        RequestTimeoutError: For ccxt's ``RequestTimeout``.
        VenueUnavailableError: For the rest of ccxt's ``NetworkError`` and ``OperationFailed``.
        ExchangeError: For every other ccxt exception (bad symbol, bad request, ...).

    Examples:
        >>> import ccxt
        >>> with map_ccxt_errors(exchange="binance"):
        ...     raise ccxt.BadSymbol("binance does not have market symbol FOO/BAR")
        Traceback (most recent call last):
        quantkit.errors.ExchangeError: binance: BadSymbol: does not have market symbol FOO/BAR
    """
    try:
        yield
    except Exception as exc:
        mapped = translate(exc, exchange=exchange, headers=headers)
        if mapped is None:
            raise
        raise mapped from exc
