"""How the local exchanges check a signed request, the way Binance does (spot and USD-M alike).

`verify_signed` checks the API key (``-2014``/``-2015``), the HMAC-SHA256 ``signature`` over
query and body (``-1022``) and, unless the request was deferred by a fault, its ``timestamp``
against ``recvWindow`` and the server's clock (`check_timestamp`: ``-1102``, ``-1131``,
``-1021``).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl

from aiohttp import web

from quantkit.testing.binance_api import BinanceApiError, int_param, missing_param
from quantkit.testing.fault_middleware import DEFERRED

__all__ = ["check_timestamp", "verify_signed"]


def check_timestamp(params: Mapping[str, str], now: int | None = None) -> None:
    """Check a signed request's ``timestamp`` against ``recvWindow`` and the server's clock.

    Args:
        params: The request's parameters.
        now: The server's time in ms; the machine's clock when ``None``.

    Raises:
        BinanceApiError: ``-1102`` without a timestamp, ``-1131`` for a bad ``recvWindow``,
            ``-1021`` when the timestamp is outside the window or more than a second ahead.
    """
    timestamp = int_param(params, "timestamp")
    if timestamp is None:
        raise missing_param("timestamp")
    window = int_param(params, "recvWindow")
    window = 5000 if window is None else window
    if not 0 < window <= 60_000:
        raise BinanceApiError(-1131, "recvWindow must be less than 60000")
    now = int(time.time() * 1000) if now is None else now
    if timestamp > now + 1000:
        raise BinanceApiError(
            -1021, "Timestamp for this request was 1000ms ahead of the server's time."
        )
    if now - timestamp > window:
        raise BinanceApiError(-1021, "Timestamp for this request is outside of the recvWindow.")


async def verify_signed(
    request: web.Request, secret_of: Callable[[str], str | None], now_ms: Callable[[], int]
) -> tuple[str, dict[str, str]]:
    """Check key, signature and timestamp of a signed request.

    Args:
        request: The request.
        secret_of: The secret of an API key; ``None`` for a key the venue does not know.
        now_ms: The server's clock.

    Returns:
        The API key and the parameters of query and body.

    Raises:
        BinanceApiError: ``-2014``/``-2015`` (key), ``-1022`` (signature), ``-1021``,
            ``-1102`` or ``-1131`` (timestamp and window).
    """
    api_key = request.headers.get("X-MBX-APIKEY", "")
    if not api_key:
        raise BinanceApiError(-2014, "API-key format invalid.", 401)
    secret = secret_of(api_key)
    if secret is None:
        raise BinanceApiError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
    query = request.raw_path.partition("?")[2]
    body = (await request.read()).decode()  # cached: a deferred request reads it again
    signed, sep, signature = (query + body).rpartition("signature=")
    if not sep or (signed and not signed.endswith("&")) or "&" in signature:
        raise BinanceApiError(-1022, "Signature for this request is not valid.")
    expected = hmac.new(secret.encode(), signed[:-1].encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.lower()):
        raise BinanceApiError(-1022, "Signature for this request is not valid.")
    params = dict(parse_qsl(query)) | dict(parse_qsl(body))
    if not request.get(DEFERRED, False):  # a deferred request is not refused for its age
        check_timestamp(params, now_ms())
    return api_key, params
