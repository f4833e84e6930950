"""BinanceWebsocketApi: Binance spot's kline streams over a `LocalVenue`, as aiohttp routes.

What ccxt.pro's ``binance`` class needs for ``watch_ohlcv``: it connects to its ``ws`` URL
plus a suffix (``/ws/0``, ``/stream/ws/1``, ...), sends
``{"method": "SUBSCRIBE", "params": ["btcusdt@kline_1m"], "id": 1}``, reads the answer
``{"result": null, "id": 1}`` and then dispatches every message on its ``"e"`` field; kline
events (``"e": "kline"``) carry the candle in ``"k"``. So every path under ``/ws`` and
``/stream`` is accepted, and the suffix is ignored.

Also served, as Binance does: ``UNSUBSCRIBE`` and ``LIST_SUBSCRIPTIONS``; streams named in the
URL (``/ws/btcusdt@kline_1m`` or ``/stream?streams=a/b``); and on ``/stream`` itself events
wrapped as ``{"stream": name, "data": event}``. Bad requests get
``{"error": {"code": ..., "msg": ...}, "id": ...}``.

Events come from the live clock, never from wall time: `BinanceWebsocketApi.publish` is called
after each published candle and pushes, to each subscriber of a stream, the final update of the
candle that closed (``"x": true``) and then the opening update of the new forming candle
(``"x": false``). In live mode a new subscription is also sent the current candle of its stream
at once (Binance sends it within a second or two), so a client knows its subscription is live.

For tests, `BinanceWebsocketApi.drop` closes every connection and `BinanceWebsocketApi.mute`
keeps them open but stops every push: a silently dead stream.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiohttp import WSCloseCode, WSMsgType, web

from quantkit.testing.accounts import LocalAccounts, LocalFill, LocalOrder
from quantkit.testing.binance_api import BinanceApiError
from quantkit.testing.market_data import LocalMarket, interval_buckets
from quantkit.testing.signing import check_timestamp
from quantkit.testing.venue import LocalVenue
from quantkit.testing.ws_events import execution_report, kline_event

__all__ = ["BinanceWebsocketApi", "execution_report", "kline_event"]

_KLINE = "@kline_"


@dataclass(eq=False, slots=True)
class _Connection:
    socket: web.WebSocketResponse
    combined: bool
    outbox: asyncio.Queue[str | None]
    streams: set[str] = field(default_factory=set)
    users: dict[int, str] = field(default_factory=dict)  # ws-api: subscription id -> API key
    next_user_id: int = 0


class _RequestError(Exception):
    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


class BinanceWebsocketApi:
    """Binance spot's kline websocket streams and user-data stream over a `LocalVenue`.

    Thread-safe: `publish`, `drop` and `mute` may be called from any thread, and so may the
    account changes that feed the user-data stream; the pushes happen in the server's event
    loop, in the order the changes happened.

    Args:
        venue: The markets and data streamed.
        accounts: The accounts whose order changes the user-data stream pushes; without them
            ``/ws-api/v3`` refuses every subscription (``-2015``).
    """

    def __init__(self, venue: LocalVenue, accounts: LocalAccounts | None = None) -> None:
        self.venue = venue
        self.accounts = accounts
        self._lock = threading.Lock()
        self._connections: set[_Connection] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._muted = False
        if accounts is not None:
            accounts.add_listener(self._order_changed)

    def routes(self) -> list[web.RouteDef]:
        """Return the aiohttp routes: ``/ws``, ``/ws/{tail}``, ``/stream``, ``/stream/{tail}``.

        Also ``/ws-api/v3``, the websocket API, for the user-data stream.

        Returns:
            Route definitions; the tail may hold slashes and is ignored unless it names a
            stream.
        """
        return [
            web.get("/ws", self._handle),
            web.get("/ws/{tail:.*}", self._handle),
            web.get("/stream", self._handle),
            web.get("/stream/{tail:.*}", self._handle),
            web.get("/ws-api/v3", self._handle_ws_api),
        ]

    # ------------------------------------------------------------------------ control

    @property
    def connections(self) -> int:
        """How many websocket connections are open."""
        with self._lock:
            return len(self._connections)

    def subscriptions(self) -> set[str]:
        """Return the streams some connection is subscribed to.

        Returns:
            Stream names such as ``"btcusdt@kline_1m"``.
        """
        with self._lock:
            return {s for c in self._connections for s in c.streams}

    def user_streams(self) -> list[str]:
        """Return the API key of each open user-data subscription.

        Returns:
            One key per subscription, sorted; a key subscribed twice is listed twice.
        """
        with self._lock:
            return sorted(k for c in self._connections for k in c.users.values())

    @property
    def muted(self) -> bool:
        """Whether pushes are suppressed (see `mute`)."""
        return self._muted

    def mute(self, muted: bool = True) -> None:
        """Keep connections open and answering requests, but push no events while muted.

        Events published while muted are lost, as on a stream that silently died.

        Args:
            muted: ``True`` to stop pushing, ``False`` to resume.
        """
        self._muted = muted

    def drop(self) -> None:
        """Close every open connection (code 1001, going away); clients must reconnect."""
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            self._in_loop(connection.outbox.put_nowait, None)

    def publish(self, through_ms: int) -> None:
        """Push the kline events of a newly published candle to every subscriber.

        Args:
            through_ms: Open time of the candle just published (see `LocalVenue.reveal`).
        """
        if self._muted:
            return
        with self._lock:
            targets = [(c, set(c.streams)) for c in self._connections if c.streams]
        events: dict[str, list[dict[str, Any]]] = {}
        for connection, streams in targets:
            for stream in sorted(streams):
                if stream not in events:
                    events[stream] = self._publish_events(stream, through_ms)
                self._send(connection, stream, events[stream])

    def _order_changed(self, api_key: str, order: LocalOrder, fill: LocalFill | None) -> None:
        """Push an ``executionReport`` to the account's user-data subscribers (a listener)."""
        if self._muted:
            return
        with self._lock:
            targets = [
                (c, sid) for c in self._connections for sid, k in c.users.items() if k == api_key
            ]
        if not targets:
            return
        market = self.venue.market(order.symbol)
        event = execution_report(
            order,
            fill,
            commission_asset=market.base if order.side == "BUY" else market.quote,
            now_ms=int(time.time() * 1000),
        )
        loop = self._loop
        if loop is None or loop.is_closed():  # pragma: no cover - a subscriber implies a loop
            return
        for connection, subscription_id in targets:
            text = json.dumps({"subscriptionId": subscription_id, "event": event})
            # always through the loop's queue, even from the loop: keeps the order across threads
            loop.call_soon_threadsafe(connection.outbox.put_nowait, text)

    async def aclose(self) -> None:
        """Close every connection and wait until they are closed (the server calls this)."""
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            await connection.socket.close(code=WSCloseCode.GOING_AWAY)

    # ------------------------------------------------------------------------- events

    def _stream(self, stream: str) -> tuple[LocalMarket, str] | None:
        symbol, sep, interval = stream.partition(_KLINE)
        market = self.venue.market_by_id(symbol.upper()) if sep else None
        if market is None or symbol != symbol.lower() or not self.venue.serves(interval):
            return None
        return market, interval

    def _publish_events(self, stream: str, through_ms: int) -> list[dict[str, Any]]:
        """The final update of the candle through_ms closes (or updates), then the forming one."""
        parsed = self._stream(stream)
        if parsed is None:  # pragma: no cover - only valid streams are subscribed
            return []
        market, interval = parsed
        candles = self.venue.served_candles(market, interval, through_ms=through_ms)
        forming = self.venue.closed_count(market, through_ms) < len(
            self.venue.candles(market, self.venue.timeframe)
        )
        bucket = int(interval_buckets(np.array([through_ms], dtype=np.int64), interval)[0][0])
        row = int(np.searchsorted(candles.time, bucket, "left"))
        now = through_ms + self.venue.step_ms
        last = len(candles) - 1
        if row > last or int(candles.time[row]) != bucket:
            return []  # this market has no candle at that time
        if forming and row == last:  # a coarser candle still forming
            return [kline_event(market, interval, candles, row, closed=False, now_ms=now)]
        events = [kline_event(market, interval, candles, row, closed=True, now_ms=now)]
        if forming:
            events.append(kline_event(market, interval, candles, last, closed=False, now_ms=now))
        return events

    def _current_event(self, stream: str) -> list[dict[str, Any]]:
        """The current candle of a stream, sent on subscribing in live mode."""
        through = self.venue.revealed_through
        parsed = self._stream(stream)
        if through is None or parsed is None or self._muted:
            return []
        market, interval = parsed
        candles = self.venue.served_candles(market, interval, through_ms=through)
        if not len(candles):
            return []
        forming = self.venue.closed_count(market, through) < len(
            self.venue.candles(market, self.venue.timeframe)
        )
        now = through + self.venue.step_ms
        row = len(candles) - 1
        return [kline_event(market, interval, candles, row, closed=not forming, now_ms=now)]

    def _send(self, connection: _Connection, stream: str, events: list[dict[str, Any]]) -> None:
        for event in events:
            payload = {"stream": stream, "data": event} if connection.combined else event
            self._in_loop(connection.outbox.put_nowait, json.dumps(payload))

    def _in_loop(self, function: Callable[[str | None], None], argument: str | None) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():  # pragma: no cover - no connection was ever made
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            function(argument)
        else:
            loop.call_soon_threadsafe(function, argument)

    # ----------------------------------------------------------------------- handlers

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        tail = request.match_info.get("tail", "")
        named = [*request.query.get("streams", "").split("/"), tail]

        def greet(connection: _Connection) -> None:
            for stream, events in self._subscribe(
                connection, [s for s in named if self._stream(s) is not None]
            ):
                self._send(connection, stream, events)

        return await self._serve(request, request.path == "/stream", self._answer, greet)

    async def _handle_ws_api(self, request: web.Request) -> web.WebSocketResponse:
        return await self._serve(request, False, self._answer_ws_api, None)

    async def _serve(
        self,
        request: web.Request,
        combined: bool,
        answer: Callable[[_Connection, str], None],
        greet: Callable[[_Connection], None] | None,
    ) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(timeout=1.0)
        await socket.prepare(request)
        self._loop = asyncio.get_running_loop()
        connection = _Connection(socket, combined, asyncio.Queue())
        with self._lock:
            self._connections.add(connection)
        writer = asyncio.ensure_future(self._write(connection))
        try:
            if greet is not None:
                greet(connection)
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    answer(connection, message.data)
        finally:
            with self._lock:
                self._connections.discard(connection)
            connection.outbox.put_nowait(None)
            await writer
        return socket

    async def _write(self, connection: _Connection) -> None:
        socket = connection.socket
        while (text := await connection.outbox.get()) is not None and not socket.closed:
            try:
                await socket.send_str(text)
            except ConnectionError:  # pragma: no cover - the peer vanished mid-send
                break
        await socket.close(code=WSCloseCode.GOING_AWAY)

    def _answer(self, connection: _Connection, text: str) -> None:
        request_id: Any = None
        snapshots: list[tuple[str, list[dict[str, Any]]]] = []
        try:
            try:
                message = json.loads(text)
            except ValueError as exc:
                raise _RequestError(3, f"Invalid JSON: {exc}") from None
            if not isinstance(message, dict):
                raise _RequestError(2, "Invalid request: expected a JSON object")
            request_id = message.get("id")
            result, snapshots = self._request(connection, message)
            answer: dict[str, Any] = {"result": result, "id": request_id}
        except _RequestError as exc:
            answer = {"error": {"code": exc.code, "msg": exc.msg}, "id": request_id}
        connection.outbox.put_nowait(json.dumps(answer))
        for stream, events in snapshots:
            self._send(connection, stream, events)

    def _request(
        self, connection: _Connection, message: dict[str, Any]
    ) -> tuple[list[str] | None, list[tuple[str, list[dict[str, Any]]]]]:
        method = message.get("method")
        if method == "LIST_SUBSCRIPTIONS":
            return sorted(connection.streams), []
        if method not in ("SUBSCRIBE", "UNSUBSCRIBE"):
            raise _RequestError(
                2,
                f"Invalid request: unknown variant {method!r}, expected one of SUBSCRIBE, "
                "UNSUBSCRIBE, LIST_SUBSCRIPTIONS",
            )
        params = message.get("params")
        if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
            raise _RequestError(2, "Invalid request: 'params' must be a list of stream names")
        unknown = [p for p in params if self._stream(p) is None]
        if unknown:
            raise _RequestError(2, f"Invalid request: unknown stream(s) {', '.join(unknown)}")
        if method == "UNSUBSCRIBE":
            with self._lock:
                connection.streams.difference_update(params)
            return None, []
        return None, self._subscribe(connection, params)

    def _subscribe(
        self, connection: _Connection, streams: list[str]
    ) -> list[tuple[str, list[dict[str, Any]]]]:
        """Add streams; return the current candle of each new one, to send after the answer."""
        with self._lock:
            new = [s for s in dict.fromkeys(streams) if s not in connection.streams]
            connection.streams.update(new)
        return [(s, self._current_event(s)) for s in new]

    # ------------------------------------------------------------ websocket API (ws-api)

    def _answer_ws_api(self, connection: _Connection, text: str) -> None:
        request_id: Any = None
        try:
            try:
                message = json.loads(text)
            except ValueError:
                raise BinanceApiError(-1102, "Malformed request: invalid JSON.") from None
            if not isinstance(message, dict):
                raise BinanceApiError(-1102, "Malformed request: expected a JSON object.")
            request_id = message.get("id")
            answer: dict[str, Any] = {
                "id": request_id,
                "status": 200,
                "result": self._ws_api_request(connection, message),
            }
        except BinanceApiError as exc:
            answer = {
                "id": request_id,
                "status": exc.status,
                "error": {"code": exc.code, "msg": exc.msg},
            }
        connection.outbox.put_nowait(json.dumps(answer))

    def _ws_api_request(self, connection: _Connection, message: dict[str, Any]) -> Any:
        method = message.get("method")
        params = message.get("params", {})
        if not isinstance(params, dict):
            raise BinanceApiError(-1102, "Malformed request: 'params' must be an object.")
        if method == "userDataStream.subscribe.signature":
            api_key = self._verify_signature(params)
            with self._lock:
                subscription_id = connection.next_user_id
                connection.next_user_id += 1
                connection.users[subscription_id] = api_key
            return {"subscriptionId": subscription_id}
        if method == "userDataStream.unsubscribe":
            wanted = params.get("subscriptionId")
            with self._lock:
                if wanted is None and connection.users:
                    connection.users.clear()
                    return {}
                if isinstance(wanted, int) and connection.users.pop(wanted, None) is not None:
                    return {}
            raise BinanceApiError(-2035, "User Data Stream subscription not active.")
        if method == "session.subscriptions":
            with self._lock:
                return [{"subscriptionId": sid} for sid in sorted(connection.users)]
        if method == "ping":
            return {}
        raise BinanceApiError(-1020, f"This operation is not supported: method {method!r}.")

    def _verify_signature(self, params: dict[str, Any]) -> str:
        """Check a ws-api signature (HMAC of the sorted parameters); return the API key."""
        values = {
            str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in params.items()
        }
        api_key = values.get("apiKey", "")
        if not api_key:
            raise BinanceApiError(-1102, "Mandatory parameter 'apiKey' was not sent.")
        secret = None if self.accounts is None else self.accounts.secret(api_key)
        if secret is None:
            raise BinanceApiError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        signature = values.pop("signature", "")
        payload = "&".join(f"{key}={values[key]}" for key in sorted(values))
        expected = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature.lower()):
            raise BinanceApiError(-1022, "Signature for this request is not valid.")
        check_timestamp(values)
        return api_key
