"""The local exchange's aiohttp middleware: log each request, then apply its planned fault.

See `FaultPlan` for what each kind of fault does. Errors a handler raises as `BinanceApiError`
are answered the Binance way here too.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from quantkit.testing.binance_api import KEEP_ROWS, BinanceApiError, fault_response
from quantkit.testing.faults import TIMEOUT_BODY, Fault, FaultPlan
from quantkit.testing.pending import PendingOutcomes
from quantkit.testing.request_log import RequestLog, RequestRecord

__all__ = ["DEFERRED", "HALF_REPLACE", "FaultMiddleware", "timeout_response"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Sleep = Callable[[float], Awaitable[None]]

DEFERRED = web.RequestKey("deferred", bool)
"""Request key: the request is carried out later (its timestamp was checked on arrival)."""
HALF_REPLACE = web.RequestKey("half_replace", Fault)
"""Request key: the cancelReplace is to half-succeed as this fault says."""
_log = structlog.get_logger("quantkit.testing")
_HTTP_ONLY = ("unknown", "accept", "half", "truncate", "delay")
"""Faults that make no sense for a websocket upgrade: it is refused with 503 instead."""


def timeout_response() -> web.Response:
    """Binance's 503 ``-1007`` answer: status unknown, execution status unknown.

    Returns:
        The aiohttp response.
    """
    return web.Response(status=503, text=TIMEOUT_BODY, content_type="application/json")


class FaultMiddleware:
    """Logs requests and applies the faults of a plan.

    Args:
        faults: The plan.
        log: Where requests are recorded.
        pending: Where requests answered ``-1007`` wait to be carried out.
        sleep: Waits a number of seconds (cancelled when the server stops).
    """

    def __init__(
        self, faults: FaultPlan, log: RequestLog, pending: PendingOutcomes, sleep: Sleep
    ) -> None:
        self.faults = faults
        self.log = log
        self.pending = pending
        self._sleep = sleep

    @web.middleware
    async def handle(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Log the request, then answer it as its planned fault says (normally without one).

        Args:
            request: The request.
            handler: The route's handler.

        Returns:
            The response.
        """
        fault = self.faults.take(request.path, request.method)
        self.log.add(
            RequestRecord(
                request.method,
                request.path,
                dict(request.query),
                time.monotonic(),
                None if fault is None else fault.describe(),
            )
        )
        if fault is None:
            return await self.answer(handler, request)
        return await self._apply(fault, handler, request)

    @staticmethod
    async def answer(handler: Handler, request: web.Request) -> web.StreamResponse:
        """Answer a request normally, errors the Binance way.

        Args:
            handler: The route's handler.
            request: The request.

        Returns:
            The response.
        """
        try:
            return await handler(request)
        except BinanceApiError as exc:
            return exc.response()

    async def _apply(
        self, fault: Fault, handler: Handler, request: web.Request
    ) -> web.StreamResponse:
        kind = fault.kind
        if request.headers.get("Upgrade", "").lower() == "websocket" and kind in _HTTP_ONLY:
            return web.Response(status=503, text="Service unavailable.")  # not upgraded
        if kind == "status":
            return fault_response(fault)
        if kind == "hold":  # never acted on; answered after the client gave up
            await self._sleep(fault.seconds)
            return fault_response(fault)
        if kind == "unknown":
            await self._defer(handler, request, fault.execute_after)
            return timeout_response()
        if kind == "drop":
            if fault.acted:
                await self.answer(handler, request)
            if request.transport is not None:
                request.transport.abort()
            raise web.HTTPServiceUnavailable  # never reaches the client: the socket is gone
        if kind == "delay":
            await self._sleep(fault.seconds)
        elif kind == "truncate":
            request[KEEP_ROWS] = fault.keep
        elif kind == "half":
            request[HALF_REPLACE] = fault
        answer = await self.answer(handler, request)
        if kind == "accept":  # done, but the answer is lost
            await self._sleep(fault.seconds)
            return fault_response(fault)
        return answer

    async def _defer(self, handler: Handler, request: web.Request, after: float | None) -> None:
        await request.read()  # kept by aiohttp for the handler's later read

        async def carry_out() -> None:
            request[DEFERRED] = True
            answer = await self.answer(handler, request)
            if answer.status >= 400:
                body = answer.text if isinstance(answer, web.Response) else None
                _log.info("deferred request refused", path=request.path, answer=body)

        self.pending.defer(carry_out, after, f"{request.method} {request.path}")
