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
| any error quoting Binance code ``-1008`` | `VenueBusyError` | not acted on: retry later |
| other ``NetworkError`` (5xx, 404) | `VenueUnavailableError` | retry later |
| other ``OperationFailed`` | `VenueUnavailableError` | a garbled answer: retry later |
| anything else (``ExchangeError``) | `ExchangeError` | permanent: bad symbol, bad request |

The first matching row wins, so the order of the table matters. A permanent `ExchangeError` also
carries a ``reason`` read from `CCXT_REASON_TABLE` (``"insufficient_funds"``, ``"invalid_order"``,
...), so a broker can tell a refused order from a refused request. Secrets handed in through
``redact`` (the account's keys) are masked in the message of the error and of its ccxt cause.
ccxt itself is imported only when an exception has to be classified: importing this module stays
cheap.
"""

from __future__ import annotations

import email.utils
import math
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager

from quantkit.errors import (
    ExchangeError,
    QuantkitError,
    RateLimitedError,
    RequestTimeoutError,
    VenueBusyError,
    VenueUnavailableError,
)
from quantkit.exchanges.causes import network_cause
from quantkit.redaction import REDACTED as _REDACTED
from quantkit.redaction import redact_text

__all__ = [
    "CCXT_ERROR_TABLE",
    "CCXT_REASON_TABLE",
    "REDACTED",
    "HeadersGetter",
    "SecretsGetter",
    "map_ccxt_errors",
    "parse_retry_after",
    "quantkit_error_for",
    "reason_for",
    "redact",
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

CCXT_REASON_TABLE: tuple[tuple[str, str], ...] = (
    ("InsufficientFunds", "insufficient_funds"),
    ("OrderNotFound", "order_not_found"),
    ("DuplicateOrderId", "duplicate_order"),
    ("InvalidOrder", "invalid_order"),
    ("BadSymbol", "bad_symbol"),
    ("AuthenticationError", "authentication"),
    ("NotSupported", "not_supported"),
    ("InvalidNonce", "invalid_nonce"),
    ("BadRequest", "bad_request"),
)
"""``(ccxt class name, ExchangeError.reason)`` pairs, most specific first; the first match wins."""

_DUPLICATE = "Duplicate order sent."
"""Binance's -2010 message for a client id (order or order list) already used by an open one."""

_NOT_ACTED_ON = re.compile(r'"code"\s*:\s*-1008\b')
"""Binance's -1008 SERVER_BUSY: overloaded, the request was not carried out."""

REDACTED = _REDACTED
"""What a secret is replaced with in error messages (pydantic's `SecretStr` mask)."""

HeadersGetter = Callable[[], Mapping[str, str] | None]
"""Returns the headers of the venue's last answer (for ``Retry-After``), or ``None``."""

SecretsGetter = Callable[[], Iterable[str | None]]
"""Returns the secret strings (API key, secret, password) to mask in error messages."""


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


def reason_for(exc: BaseException) -> str:
    """Return the `ExchangeError.reason` a ccxt exception maps to.

    Args:
        exc: Any exception.

    Returns:
        The reason from `CCXT_REASON_TABLE`, or ``""`` when no row matches.

    Examples:
        >>> import ccxt
        >>> reason_for(ccxt.InsufficientFunds("x")), reason_for(ccxt.ExchangeError("x"))
        ('insufficient_funds', '')
        >>> reason_for(ccxt.InvalidOrder('binance {"code":-2010,"msg":"Duplicate order sent."}'))
        'duplicate_order'
    """
    import ccxt  # noqa: PLC0415 - ccxt is heavy: import it only when an error needs a class

    if isinstance(exc, ccxt.InvalidOrder) and _DUPLICATE in str(exc):
        return "duplicate_order"  # ccxt maps all of Binance's -2010 to InvalidOrder
    for name, reason in CCXT_REASON_TABLE:
        if isinstance(exc, getattr(ccxt, name)):
            return reason
    return ""


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every occurrence of each non-empty secret in ``text`` with `REDACTED`.

    Args:
        text: A message that might quote a secret (a URL, a request body).
        secrets: The secret strings; ``None`` and empty ones are ignored.

    Returns:
        The text with the secrets masked.

    Examples:
        >>> redact("GET /x?apikey=k3y&a=1", ["k3y", None])
        'GET /x?apikey=**********&a=1'
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


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
    exc: BaseException,
    *,
    exchange: str = "",
    headers: HeadersGetter | None = None,
    secrets: Iterable[str | None] = (),
) -> QuantkitError | None:
    """Build the quantkit error for a ccxt exception (without raising it).

    Args:
        exc: The exception ccxt raised.
        exchange: The venue's id, named in the message.
        headers: Returns the headers of the venue's last answer, read for ``Retry-After``.
        secrets: Strings to mask in the message, and in ``exc``'s own arguments (so a
            traceback of the chained cause shows no secret either).

    Returns:
        The quantkit error, or ``None`` if ``exc`` is not a ccxt exception.
    """
    target = quantkit_error_for(exc)
    if target is None:
        return None
    secrets = tuple(secrets)
    if any(secrets):
        exc.args = tuple(redact(a, secrets) if isinstance(a, str) else a for a in exc.args)
    message = redact_text(redact(_message(exc, exchange), secrets))
    if target is VenueUnavailableError or target is RequestTimeoutError:
        cause = network_cause(exc)
        message = f"{message} ({redact_text(cause)})" if cause else message
    text = f"{exchange}: {message}" if exchange else message
    if target in (ExchangeError, VenueUnavailableError) and _NOT_ACTED_ON.search(message):
        return VenueBusyError(text)  # ccxt files -1008 as OperationFailed or ExchangeError
    if target is ExchangeError:
        return ExchangeError(message, exchange=exchange, reason=reason_for(exc))
    if target is RateLimitedError:
        return RateLimitedError(text, retry_after=_retry_after(headers))
    return target(text)


@contextmanager
def map_ccxt_errors(
    *,
    exchange: str = "",
    headers: HeadersGetter | None = None,
    secrets: SecretsGetter | None = None,
) -> Iterator[None]:
    """Re-raise ccxt exceptions raised in the block as quantkit errors.

    Works around synchronous and asynchronous code alike (``with`` inside a coroutine). Other
    exceptions pass through untouched.

    Args:
        exchange: The venue's id, named in every message.
        headers: Returns the headers of the venue's last answer; a rate-limit error carries
            their ``Retry-After`` as `RateLimitedError.retry_after`.
        secrets: Returns the strings to mask in messages (the account's keys).

    Yields:
        Nothing; the block runs inside the mapping.

    Raises:
        RateLimitedError: For ccxt's ``RateLimitExceeded`` and ``DDoSProtection``.
        RequestTimeoutError: For ccxt's ``RequestTimeout``.
        VenueUnavailableError: For the rest of ccxt's ``NetworkError`` and ``OperationFailed``.
        ExchangeError: For every other ccxt exception (bad symbol, bad request, ...), with
            its ``reason`` from `CCXT_REASON_TABLE`.

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
        hidden = secrets() if secrets is not None else ()
        mapped = translate(exc, exchange=exchange, headers=headers, secrets=hidden)
        if mapped is None:
            raise
        raise mapped from exc
