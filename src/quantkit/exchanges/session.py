"""CcxtSession: the ccxt client behind a `CcxtExchange`, its errors, clock and reachability.

The session owns one ccxt client: the ``ccxt.pro`` class of the venue where ccxt has one (it
subclasses the ``ccxt.async_support`` class, so REST works and websockets are available), else
the ``async_support`` class. The client binds to the event loop running at its first request;
after `CcxtSession.aclose` the next call opens a fresh client in whatever loop is running then,
reusing the markets and the clock offset already loaded. `aclose` runs shielded from
cancellation, so a cancelled task still releases the sockets.

Every call into ccxt runs inside ``_errors`` (ccxt's exceptions mapped to quantkit's, the
venue's reachability recorded) and signed calls go through ``_call``, which answers a refused
timestamp (clock skew, Binance -1021) by measuring the clock offset again and retrying once.
"""

from __future__ import annotations

import asyncio
import difflib
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import anyio
import structlog

from quantkit.errors import (
    ConfigError,
    ExchangeError,
    RequestTimeoutError,
    TransientError,
    UsageError,
    VenueUnavailableError,
)
from quantkit.exchanges.client import ClientSettings, check_credentials, new_client
from quantkit.exchanges.clock import Reachability, VenueClock, skew_message
from quantkit.exchanges.errors import map_ccxt_errors

if TYPE_CHECKING:
    from quantkit.secrets import Credentials

__all__ = ["DEFAULT_OHLCV_LIMIT", "CcxtSession", "suggest"]

DEFAULT_OHLCV_LIMIT = 500
"""Candles per request for venues whose ccxt class does not state its maximum."""

_log = structlog.get_logger("quantkit.exchanges")

_REASON_WORDS = {
    "insufficient_funds": "insufficient funds",
    "invalid_order": "invalid order",
    "duplicate_order": "duplicate client order id",
    "order_not_found": "order not found",
    "bad_symbol": "unknown symbol",
    "authentication": "authentication failed",
    "not_supported": "not supported",
}


def suggest(name: str, choices: Sequence[str]) -> str:
    """``"; did you mean 'X'?"`` for close matches of ``name``, else ``""``."""
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.6)
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""


class CcxtSession:
    """The client, its lifecycle and the checks shared by every request (see `CcxtExchange`)."""

    def __init__(
        self,
        exchange_id: str,
        *,
        credentials: Credentials | None = None,
        sandbox: bool = False,
        options: Mapping[str, Any] | None = None,
        api_url: str | None = None,
        rate_limit: bool = True,
        timeout: float = 10.0,
        ohlcv_limit: int | None = None,
        time_sync_interval: float = 600.0,
        unreachable_after: float = 60.0,
    ) -> None:
        import ccxt.async_support as ccxt_async  # noqa: PLC0415 - ccxt is heavy; load on use
        import ccxt.pro as ccxt_pro  # noqa: PLC0415

        if exchange_id not in ccxt_async.exchanges:
            raise ConfigError(
                f"ccxt has no exchange {exchange_id!r}{suggest(exchange_id, ccxt_async.exchanges)}"
            )
        for name, value in (("timeout", timeout), ("time_sync_interval", time_sync_interval)):
            if not value > 0:
                raise ConfigError(f"{name} must be a positive number of seconds, got {value!r}")
        if not unreachable_after >= 0:
            raise ConfigError(
                f"unreachable_after must be zero or a positive number of seconds, "
                f"got {unreachable_after!r}"
            )
        if ohlcv_limit is not None and ohlcv_limit < 1:
            raise ConfigError(f"ohlcv_limit must be at least 1, got {ohlcv_limit!r}")
        check_credentials(exchange_id, credentials, api_url)
        module = ccxt_pro if exchange_id in ccxt_pro.exchanges else ccxt_async
        self._settings = ClientSettings(
            exchange_id=exchange_id,
            ccxt_class=getattr(module, exchange_id),
            credentials=credentials,
            sandbox=sandbox,
            options=dict(options or {}),
            api_url=api_url,
            rate_limit=rate_limit,
            timeout=timeout,
        )
        self._id = exchange_id
        self._clock = VenueClock(time_sync_interval)
        self._reach = Reachability()
        self._halt_logged = False
        self._unreachable_after = unreachable_after
        self._client: Any = new_client(self._settings)
        self._cached: tuple[Any, Any, Any] = (None, None, 0)
        self._timeframes = tuple(self._client.timeframes or ())
        self._has: Mapping[str, Any] = dict(self._client.has or {})
        self._urls: Mapping[str, Any] = self._client.urls["api"]
        self._ohlcv_limit = ohlcv_limit or self._stated_ohlcv_limit()

    def _stated_ohlcv_limit(self) -> int:
        features = self._client.features if isinstance(self._client.features, dict) else {}
        for market_type in ("spot", "swap", "future"):
            section = features.get(market_type) or {}
            for entry in (section, *(v for v in section.values() if isinstance(v, dict))):
                limit = (entry.get("fetchOHLCV") or {}).get("limit")
                if isinstance(limit, int) and limit > 0:
                    return limit
        return DEFAULT_OHLCV_LIMIT

    @property
    def id(self) -> str:
        """The venue's ccxt id, e.g. ``"binance"``."""
        return self._id

    @property
    def timeframes(self) -> tuple[str, ...]:
        """Timeframes the venue serves candles for, as ccxt names them (``"1m"``, ``"1h"``)."""
        return self._timeframes

    @property
    def ohlcv_limit(self) -> int:
        """Most candles one request returns."""
        return self._ohlcv_limit

    @property
    def rate_limited(self) -> bool:
        """Whether ccxt spaces the requests by the venue's rate limit."""
        return self._settings.rate_limit

    @property
    def api_urls(self) -> Mapping[str, Any]:
        """The API base URLs the client sends requests to (ccxt's ``urls["api"]``)."""
        return self._urls

    @property
    def unreachable_for(self) -> float:
        """Seconds since requests began failing for want of the venue; 0 while it answers.

        Counted from the first of an unbroken run of failed requests (venue unreachable, timed
        out, or answering with server errors); any answer, even a refusal, resets it.
        """
        return self._reach.unreachable_for()

    @property
    def halt_reason(self) -> str:
        """Why new entries should stop now, or ``""``: the venue unreachable for too long.

        Non-empty once `unreachable_for` reaches ``unreachable_after``, e.g. ``"binance
        unreachable for 75 s (limit 60 s; last error: ...): no new entries until it answers
        again"``. A broker polls it before sending a new entry.
        """
        if self._reach.failing_since is None:
            return ""
        seconds = self._reach.unreachable_for()
        if seconds < self._unreachable_after:
            return ""
        return (
            f"{self._id} unreachable for {seconds:.0f} s (limit {self._unreachable_after:g} s; "
            f"last error: {self._reach.last_error}): no new entries until it answers again"
        )

    @contextmanager
    def _errors(self, client: Any, action: str = "") -> Iterator[None]:
        """Map ccxt's exceptions; a rate-limit error reads the client's last headers.

        With ``action``, a refusal whose reason is known says what was refused and why:
        ``"binance: order 'qk-1' (buy BTC/USDT) refused: insufficient funds: ..."``. Every
        outcome updates the venue's reachability.
        """
        try:
            with map_ccxt_errors(
                exchange=self._id,
                headers=lambda: client.last_response_headers,
                secrets=lambda: (client.apiKey, client.secret, client.password),
            ):
                yield
        except (VenueUnavailableError, RequestTimeoutError) as exc:
            self._unreachable(exc)
            raise
        except ExchangeError as exc:
            self._answered()
            words = _REASON_WORDS.get(exc.reason)
            if not action or words is None:
                raise
            detail = str(exc).removeprefix(f"{self._id}: ")
            raise ExchangeError(
                f"{action} refused: {words}: {detail}", exchange=self._id, reason=exc.reason
            ) from exc.__cause__
        else:
            self._answered()

    def _answered(self) -> None:
        self._halt_logged = False
        if self._reach.answered():
            _log.info("venue_reachable_again", exchange=self._id)

    def _unreachable(self, exc: BaseException) -> None:
        """Record a failure; warn once per outage, at the first failure past the limit."""
        self._reach.failed(exc)
        reason = self.halt_reason
        if reason and not self._halt_logged:
            self._halt_logged = True
            _log.warning("venue_unreachable", exchange=self._id, reason=reason)

    async def _call(
        self, client: Any, method: Callable[..., Awaitable[Any]], *args: Any, action: str = ""
    ) -> Any:
        """Call ccxt; on a timestamp refusal measure the clock offset again and retry once.

        A refused timestamp (Binance -1021) means the venue did not act on the request, so
        sending it again with a corrected timestamp cannot double anything.
        """
        try:
            with self._errors(client, action):
                return await method(*args)
        except ExchangeError as exc:
            if exc.reason != "invalid_nonce":
                raise
        before = VenueClock.offset_ms(client)
        try:
            with self._errors(client):
                after = await self._clock.sync(client)
        except (ExchangeError, TransientError) as exc:  # the venue's time cannot be read
            message = await self._skew_message(client)
            raise ExchangeError(message, exchange=self._id, reason="invalid_nonce") from exc
        _log.warning(
            "venue_clock_resynchronised",
            exchange=self._id,
            offset_ms_before=before,
            offset_ms=after,
        )
        try:
            with self._errors(client, action):
                return await method(*args)
        except ExchangeError as exc:
            if exc.reason != "invalid_nonce":
                raise
            message = await self._skew_message(client)
            raise ExchangeError(message, exchange=self._id, reason="invalid_nonce") from exc

    async def _skew_message(self, client: Any) -> str:
        venue_ms: int | None
        try:
            with self._errors(client):
                venue_ms = int(await client.fetch_time())
        except (ExchangeError, TransientError):
            venue_ms = None
        return skew_message(
            self._id,
            local_ms=int(time.time() * 1000),
            venue_ms=venue_ms,
            recv_window=client.options.get("recvWindow"),
        )

    def _check_loop(self, client: Any) -> None:
        """Refuse a client opened in another event loop (its sockets belong to that loop)."""
        bound = getattr(client, "asyncio_loop", None)
        if bound is None or bound is asyncio.get_running_loop():
            return
        state = "now closed" if bound.is_closed() else "still running"
        raise UsageError(
            f"{self._id}: this CcxtExchange's client was opened in another event loop "
            f"({state}); a client serves the loop it first ran in. Close it with "
            "`await venue.aclose()` (or `async with venue:`) before that loop ends: the next "
            "call then opens a new client in the loop running then"
        )

    async def _ready(self) -> Any:
        """The client, opened in the running loop, with its markets and clock offset loaded."""
        if self._client is None:
            markets, currencies, offset = self._cached
            self._client = new_client(self._settings)
            if markets:
                self._client.set_markets(markets, currencies)
                self._client.options["timeDifference"] = offset or 0
        client = self._client
        self._check_loop(client)
        if not client.markets:  # loaded once; a cached answer is no news of the venue
            with self._errors(client):
                await client.load_markets()
        if self._clock.due(client):
            with self._errors(client):
                await self._clock.sync(client)
        return client

    def _offers(self, client: Any, feature: str) -> None:
        """Check ccxt says the venue offers ``feature`` (a key of ccxt's ``has``)."""
        if not client.has.get(feature):
            raise ExchangeError(
                f"the venue does not offer {feature}", exchange=self._id, reason="not_supported"
            )

    def _require(self, client: Any, symbol: str, feature: str) -> Mapping[str, Any]:
        """Check the venue offers ``feature`` and lists ``symbol``; return ccxt's market."""
        self._offers(client, feature)
        if symbol not in client.markets:
            raise ExchangeError(
                f"unknown symbol {symbol!r}{suggest(symbol, list(client.markets))}",
                exchange=self._id,
                reason="bad_symbol",
            )
        market: Mapping[str, Any] = client.markets[symbol]
        return market

    def _check_timeframe(self, timeframe: str) -> None:
        if timeframe not in self.timeframes:
            raise ExchangeError(
                f"timeframe {timeframe!r} is not offered (offered: {', '.join(self.timeframes)})",
                exchange=self._id,
                reason="not_supported",
            )

    async def aclose(self) -> None:
        """Close the client's connections, websockets included; the next call opens a new client.

        The markets already loaded are kept for that new client.
        """
        client, self._client = self._client, None
        if client is None:
            return
        self._cached = (client.markets, client.currencies, client.options.get("timeDifference"))
        with anyio.CancelScope(shield=True):  # a cancelled task still releases the sockets
            await client.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        settings = self._settings
        where = f", api_url={settings.api_url!r}" if settings.api_url else ""
        extra = ", sandbox=True" if settings.sandbox else ""
        extra += ", credentials=<hidden>" if settings.credentials is not None else ""
        return f"CcxtExchange({self._id!r}{where}, rate_limit={settings.rate_limit}{extra})"
