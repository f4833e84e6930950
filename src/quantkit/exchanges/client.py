"""Building the ccxt client: credentials, API URL rewrite, options for another server.

The plain keys are read from `Credentials` here and nowhere else, and handed to ccxt as
`MaskedStr` values: they sign and send as usual, but any repr of them (a traceback printing the
locals of a frame, a headers dict, the bytes ccxt signs with) shows ``'**********'``. They are
also registered with `quantkit.redaction`, so no log record or error message quotes them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from quantkit.errors import ConfigError
from quantkit.redaction import MaskedStr, install_record_redaction, register_secret

if TYPE_CHECKING:
    from quantkit.secrets import Credentials

__all__ = [
    "LOOPBACK_HOSTS",
    "ClientSettings",
    "check_credentials",
    "new_client",
    "rewrite_api_urls",
    "server_options",
]

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
"""Hosts an ``api_url`` may name when credentials are given (a local test exchange)."""

_ORIGIN = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/]+")


def rewrite_api_urls(urls: object, base_url: str) -> object:
    """Point every string in ccxt's ``urls["api"]`` at ``base_url``, keeping each path.

    ``"https://api.binance.com/api/v3"`` becomes ``"http://127.0.0.1:8080/api/v3"`` for
    ``base_url="http://127.0.0.1:8080"``. Nested dicts are rewritten too; other values are kept.

    Args:
        urls: ccxt's ``urls["api"]`` (a string or a dict of strings and dicts).
        base_url: Scheme and host (and port) of the replacement, without a trailing path.

    Returns:
        A rewritten copy.

    Examples:
        >>> rewrite_api_urls({"public": "https://api.x.com/v3", "n": 1}, "http://127.0.0.1:9")
        {'public': 'http://127.0.0.1:9/v3', 'n': 1}
    """
    if isinstance(urls, str):
        return _ORIGIN.sub(base_url.rstrip("/"), urls, count=1)
    if isinstance(urls, Mapping):
        return {key: rewrite_api_urls(value, base_url) for key, value in urls.items()}
    return urls


def _websocket_base(api_url: str) -> str:
    """``http://h:p`` -> ``ws://h:p`` (``https`` -> ``wss``)."""
    parts = urlsplit(api_url)
    return f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}"


def server_options(defaults: Mapping[str, Any]) -> dict[str, Any]:
    """Options for ccxt when a venue-compatible server at another URL (``api_url``).

    Such a server serves the venue's trading API, not its side services: ccxt is told not to
    load currencies (Binance: ``/sapi/v1/capital/config/getall``) or margin pairs, and, where
    the class loads spot markets among others, to load spot markets only. A class that loads
    only derivatives (``binanceusdm``) keeps its own list.

    Args:
        defaults: The ccxt class's own ``options``.

    Returns:
        Options to merge under the caller's own.

    Examples:
        >>> server_options({"fetchMarkets": {"types": ["spot", "linear"], "loadAllOptions": 0}})
        {'fetchCurrencies': False, 'fetchMargins': False, 'fetchMarkets': {'types': ['spot'], \
'loadAllOptions': 0}}
    """
    options: dict[str, Any] = {"fetchCurrencies": False, "fetchMargins": False}
    markets = defaults.get("fetchMarkets")
    if isinstance(markets, Mapping) and "spot" in (markets.get("types") or ()):
        options["fetchMarkets"] = {**markets, "types": ["spot"]}
    return options


def check_credentials(
    exchange_id: str, credentials: Credentials | None, api_url: str | None
) -> None:
    """Refuse keys meant for another exchange, or headed for a non-loopback ``api_url``.

    Raises:
        ConfigError: If either holds.
    """
    if credentials is None:
        return
    if credentials.exchange != exchange_id:
        raise ConfigError(
            f"credentials for {credentials.exchange!r} given to a {exchange_id!r} exchange: "
            "keys for one exchange are never sent to another host"
        )
    host = urlsplit(api_url).hostname if api_url is not None else None
    if api_url is not None and host not in LOOPBACK_HOSTS:
        raise ConfigError(
            f"credentials for {exchange_id!r} with api_url host {host!r}: only a local "
            f"test exchange ({', '.join(sorted(LOOPBACK_HOSTS))}) may stand in for the venue"
        )


@dataclass(frozen=True)
class ClientSettings:
    """Everything a ccxt client is built from (kept to build it again after ``aclose``)."""

    exchange_id: str
    ccxt_class: Any = field(repr=False)
    credentials: Credentials | None
    sandbox: bool
    options: Mapping[str, Any]
    api_url: str | None
    rate_limit: bool
    timeout: float


def _keys(credentials: Credentials) -> dict[str, MaskedStr]:
    """The plain keys, as masked strings, registered for redaction."""
    keys = {
        "apiKey": MaskedStr(credentials.api_key.get_secret_value()),
        "secret": MaskedStr(credentials.secret.get_secret_value()),
    }
    if credentials.password is not None:
        keys["password"] = MaskedStr(credentials.password.get_secret_value())
    register_secret(*keys.values())
    install_record_redaction()
    return keys


def new_client(settings: ClientSettings) -> Any:
    """A new ccxt client; it binds to the event loop running at its first request.

    Raises:
        ConfigError: If ``sandbox`` is asked of a venue without a test network.
    """
    config: dict[str, Any] = {
        "enableRateLimit": settings.rate_limit,
        "timeout": round(settings.timeout * 1000),
        "options": {
            "warnOnFetchOpenOrdersWithoutSymbol": False,
            # signed requests carry a timestamp: follow the venue's clock (public ones do not)
            "adjustForTimeDifference": settings.credentials is not None,
            **settings.options,
        },
        # Do not wait for websockets to say goodbye when closing (ccxt waits 250 ms).
        "timeout_on_exit": 0,
    }
    if settings.credentials is not None:
        config.update(_keys(settings.credentials))
    client = settings.ccxt_class(config)
    if settings.sandbox:
        _enter_sandbox(client, settings.exchange_id)
    if settings.api_url is not None:
        for name, value in server_options(client.options).items():
            if name not in settings.options:
                client.options[name] = value
        api = client.urls["api"]
        rewritten = rewrite_api_urls(api, settings.api_url)
        if isinstance(api, Mapping) and isinstance(rewritten, dict) and "ws" in api:
            rewritten["ws"] = rewrite_api_urls(api["ws"], _websocket_base(settings.api_url))
        client.urls["api"] = rewritten
    return client


def _enter_sandbox(client: Any, exchange_id: str) -> None:
    # ccxt raises NotSupported without a "test" entry, but ccxt.pro classes may hold
    # ``"test": None``, on which ccxt fails with a TypeError: check before asking.
    if not client.urls.get("test"):
        raise ConfigError(
            f"{exchange_id!r} has no sandbox (test network) in ccxt; "
            "leave sandbox off or use a local test exchange"
        )
    client.set_sandbox_mode(True)
