"""The local USD-M venue's user-data stream: listen keys and the account's websocket.

What ccxt.pro's ``binanceusdm`` does for ``watch_orders``, ``watch_my_trades``,
``watch_positions`` and ``watch_balance``: ``POST /fapi/v1/listenKey`` (API key header only,
no signature) for a key, then a websocket to ``/private/ws?listenKey=<key>`` (the older
``/ws/<key>`` is served too), renewing the key with ``PUT /fapi/v1/listenKey`` now and then.

As on Binance: a POST while the account has a valid key returns that key and extends it; a key
lives 60 minutes from its last POST/PUT (server clock); a PUT of an expired or deleted key is
refused with ``-1125`` "This listenKey does not exist."; ``DELETE`` ends it, and its sockets
get a ``listenKeyExpired`` event and are closed, as when it expires: at the first event after
its lifetime, or when a test calls `expire`.

The stream pushes each account's `VenueEvent` s (``ORDER_TRADE_UPDATE``, ``ACCOUNT_UPDATE``) in
the order the venue made them, whatever thread made them. `drop` closes every socket (clients
must reconnect), `mute` keeps them open but silent (events are lost) and `hold` keeps them
open and holds the events back until `release` (a slow network: a poll may learn first).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, web

from quantkit.testing.binance_api import BinanceApiError
from quantkit.testing.futures.accounts import FuturesAccounts
from quantkit.testing.futures.events import VenueEvent

__all__ = ["LISTEN_KEY_LIFETIME_MS", "FuturesUserStream"]

LISTEN_KEY_LIFETIME_MS = 60 * 60_000
"""How long a listen key stays valid after its last POST or PUT."""


@dataclass(slots=True)
class _Socket:
    api_key: str
    listen_key: str
    socket: web.WebSocketResponse
    outbox: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)


class FuturesUserStream:
    """Listen keys and the user-data websocket over `FuturesAccounts`.

    Args:
        venue: The accounts whose events are pushed.
        now_ms: The server's clock.
    """

    def __init__(self, venue: FuturesAccounts, now_ms: Callable[[], int]) -> None:
        self.venue = venue
        self.now_ms = now_ms
        self._lock = threading.Lock()
        self._keys: dict[str, tuple[str, int]] = {}  # listen key -> (api key, expiry)
        self._sockets: list[_Socket] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._muted = False
        self._held: list[VenueEvent] | None = None
        self.accepted = 0
        """How many user-data sockets were opened so far (a reconnect adds one)."""
        venue.add_listener(self._on_event)

    def routes(self) -> list[web.RouteDef]:
        """Return the aiohttp routes.

        Returns:
            ``/fapi/v1/listenKey`` (POST, PUT, DELETE), ``/private/ws`` and ``/ws/{key}``.
        """
        return [
            web.post("/fapi/v1/listenKey", self._create),
            web.put("/fapi/v1/listenKey", self._renew),
            web.delete("/fapi/v1/listenKey", self._delete),
            web.get("/private/ws", self._connect),
            web.get("/ws/{listen_key}", self._connect),
        ]

    # ---------------------------------------------------------------------- control

    @property
    def connections(self) -> int:
        """How many user-data sockets are open."""
        with self._lock:
            return len(self._sockets)

    def mute(self, muted: bool = True) -> None:
        """Push nothing while muted (events made meanwhile are lost)."""
        self._muted = muted

    def hold(self) -> None:
        """Hold every event back (in order) until `release`."""
        with self._lock:
            if self._held is None:
                self._held = []

    def release(self) -> None:
        """Push the held events, oldest first, and stop holding."""
        with self._lock:
            held, self._held = self._held or [], None
        for event in held:
            self._on_event(event)

    def drop(self) -> None:
        """Close every socket (code 1001); clients must reconnect."""
        with self._lock:
            sockets = list(self._sockets)
        for socket in sockets:
            self._in_loop(socket.outbox, None)

    def expire(self, api_key: str) -> None:
        """Expire the account's listen key now: ``listenKeyExpired``, then the sockets close."""
        with self._lock:
            keys = [k for k, (owner, _) in self._keys.items() if owner == api_key]
        for key in keys:
            self._end(key)

    async def aclose(self) -> None:
        """Close every socket (the server calls this when it stops)."""
        with self._lock:
            sockets = list(self._sockets)
        for socket in sockets:
            await socket.socket.close(code=WSCloseCode.GOING_AWAY)

    # ---------------------------------------------------------------------- events

    def _on_event(self, event: VenueEvent) -> None:
        if self._muted:
            return
        with self._lock:
            if self._held is not None:
                self._held.append(event)
                return
        text = json.dumps(event.payload)
        now = self.now_ms()
        with self._lock:
            targets = [s for s in self._sockets if s.api_key == event.api_key]
            expired = {
                s.listen_key for s in targets if self._keys.get(s.listen_key, ("", 0))[1] <= now
            }
        for key in expired:
            self._end(key)  # a key that lapsed unrenewed: listenKeyExpired instead of the event
        for socket in targets:
            if socket.listen_key not in expired:
                self._in_loop(socket.outbox, text)

    def _in_loop(self, outbox: asyncio.Queue[str | None], item: str | None) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(outbox.put_nowait, item)  # FIFO across threads

    def _end(self, listen_key: str) -> None:
        with self._lock:
            self._keys.pop(listen_key, None)
            sockets = [s for s in self._sockets if s.listen_key == listen_key]
        expired = json.dumps({"e": "listenKeyExpired", "E": self.now_ms(), "listenKey": listen_key})
        for socket in sockets:
            self._in_loop(socket.outbox, expired)
            self._in_loop(socket.outbox, None)

    # ---------------------------------------------------------------------- REST

    def _api_key(self, request: web.Request) -> str:
        api_key = request.headers.get("X-MBX-APIKEY", "")
        if not api_key:
            raise BinanceApiError(-2014, "API-key format invalid.", 401)
        if self.venue.secret(api_key) is None:
            raise BinanceApiError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        return api_key

    def _valid_key(self, api_key: str) -> str | None:
        now = self.now_ms()
        with self._lock:
            for key, (owner, expiry) in self._keys.items():
                if owner == api_key and expiry > now:
                    return key
        return None

    async def _create(self, request: web.Request) -> web.Response:
        api_key = self._api_key(request)
        key = self._valid_key(api_key) or secrets.token_urlsafe(48)
        with self._lock:
            self._keys[key] = (api_key, self.now_ms() + LISTEN_KEY_LIFETIME_MS)
        return web.json_response({"listenKey": key})

    async def _renew(self, request: web.Request) -> web.Response:
        api_key = self._api_key(request)
        key = self._valid_key(api_key)
        if key is None:
            raise BinanceApiError(-1125, "This listenKey does not exist.")
        with self._lock:
            self._keys[key] = (api_key, self.now_ms() + LISTEN_KEY_LIFETIME_MS)
        return web.json_response({"listenKey": key})

    async def _delete(self, request: web.Request) -> web.Response:
        api_key = self._api_key(request)
        key = self._valid_key(api_key)
        if key is not None:
            self._end(key)
        return web.json_response({})

    # ---------------------------------------------------------------------- websocket

    async def _connect(self, request: web.Request) -> web.StreamResponse:
        listen_key = request.match_info.get("listen_key") or request.query.get("listenKey", "")
        with self._lock:
            owner, expiry = self._keys.get(listen_key, ("", 0))
        if not owner or expiry <= self.now_ms():
            raise BinanceApiError(-1125, "This listenKey does not exist.")
        self._loop = asyncio.get_running_loop()
        socket = web.WebSocketResponse(heartbeat=None)
        await socket.prepare(request)
        entry = _Socket(owner, listen_key, socket)
        with self._lock:
            self._sockets.append(entry)
            self.accepted += 1
        writer = asyncio.ensure_future(self._write(entry))
        try:
            async for _message in socket:  # clients send nothing but pings/pongs here
                pass
        finally:
            writer.cancel()
            with self._lock:
                if entry in self._sockets:
                    self._sockets.remove(entry)
        return socket

    async def _write(self, entry: _Socket) -> Any:
        while True:
            text = await entry.outbox.get()
            if text is None:
                await entry.socket.close(code=WSCloseCode.GOING_AWAY)
                return
            await entry.socket.send_str(text)
