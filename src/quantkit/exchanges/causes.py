"""The root cause of a network failure, in words, for one-line error messages.

ccxt wraps a failed connection in ``NetworkError("binance GET https://...")``, which names the
request but not why it failed; the reason sits at the bottom of the exception chain (an
``OSError`` from the resolver or the socket). `network_cause` walks the chain and names it:
``"DNS lookup failed for api.example.invalid: Name or service not known"``, ``"connection
refused by 127.0.0.1:9"``, ``"TLS error: ..."``.
"""

from __future__ import annotations

import socket
import ssl

__all__ = ["network_cause"]

_MAX_CHAIN = 16


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < _MAX_CHAIN:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _host(chain: list[BaseException]) -> str:
    """``host:port`` from an aiohttp connector error (``.host``, ``.port``), if any."""
    for error in chain:
        host, port = getattr(error, "host", None), getattr(error, "port", None)
        if isinstance(host, str) and host:
            return f"{host}:{port}" if isinstance(port, int) else host
    return ""


def _describe(root: BaseException, host: str) -> str:
    where = f" {host}" if host else ""
    if isinstance(root, socket.gaierror):
        detail = root.strerror or str(root)
        return f"DNS lookup failed for{where or ' the host'}: {detail}"
    if isinstance(root, ConnectionRefusedError):
        return f"connection refused by{where or ' the host'}"
    if isinstance(root, ConnectionResetError):
        return f"connection reset by{where or ' the host'}"
    if isinstance(root, ssl.SSLError | ssl.CertificateError):
        return f"TLS error with{where or ' the host'}: {root}"
    if isinstance(root, TimeoutError):
        return f"no answer from{where or ' the host'} in time"
    text = str(root).strip()
    return f"{type(root).__name__}: {text}" if text else type(root).__name__


def network_cause(exc: BaseException) -> str:
    """Name the root cause of a network failure, or ``""`` when the chain has none below ``exc``.

    Args:
        exc: The exception ccxt raised (its ``__cause__`` / ``__context__`` chain is read).

    Returns:
        A short phrase, e.g. ``"connection refused by 127.0.0.1:9"``.

    Examples:
        >>> try:
        ...     try:
        ...         raise ConnectionRefusedError(111, "Connect call failed")
        ...     except OSError as low:
        ...         raise RuntimeError("binance GET http://127.0.0.1:9/api") from low
        ... except RuntimeError as exc:
        ...     network_cause(exc)
        'connection refused by the host'
    """
    chain = _chain(exc)
    if len(chain) < 2:
        return ""
    return _describe(chain[-1], _host(chain))
