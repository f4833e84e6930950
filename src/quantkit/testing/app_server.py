"""AppServer: run an aiohttp application on 127.0.0.1, in the caller's loop or a thread of its own.

The one lifecycle the local exchanges (spot `LocalExchange`, `LocalFuturesExchange`) share:
``async with`` serves in the running event loop (`AppServer.astart` / `AppServer.aclose`),
``with`` serves from a daemon thread with its own loop (`AppServer.start` / `AppServer.stop`),
which synchronous clients need. Port 0 lets the system choose; `AppServer.port` reads the bound
port back. Waits started through `AppServer.sleep` (delay faults) are cancelled on close so they
never hold the shutdown up. `ServedExchange` gives a class that owns an `AppServer` the same
methods and context managers.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any, Self, TypeVar

from aiohttp import web

__all__ = ["AppServer", "ServedExchange"]

T = TypeVar("T")


class AppServer:
    """Serves an application built on start; closes it (and ``on_close``) on stop.

    Args:
        build: Builds the application when the server starts.
        port: Port to bind on 127.0.0.1; ``0`` lets the system choose.
        name: Names the thread (and the error messages unless ``label`` is given).
        label: Names the server in error messages (``"the {label} is not running"``).
        on_start: Called in the server's loop once it accepts connections.
        on_close: Awaited when the server stops, before the application is cleaned up.
    """

    def __init__(
        self,
        build: Callable[[], web.Application],
        *,
        port: int = 0,
        name: str = "AppServer",
        label: str | None = None,
        on_start: Callable[[], None] | None = None,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._build = build
        self._port = port
        self._name = name
        self._label = label or name
        self._on_start = on_start
        self._on_close = on_close
        self._bound: int | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sleeping: set[asyncio.Future[None]] = set()

    @property
    def running(self) -> bool:
        """Whether it accepts connections."""
        return self._bound is not None

    @property
    def threaded(self) -> bool:
        """Whether it serves from a thread of its own (started with `start`)."""
        return self._loop is not None

    @property
    def port(self) -> int:
        """The bound port.

        Raises:
            RuntimeError: If the server is not running.
        """
        if self._bound is None:
            raise RuntimeError(f"the {self._label} is not running; use `with` or `async with`")
        return self._bound

    @property
    def url(self) -> str:
        """Base URL, e.g. ``"http://127.0.0.1:53123"``.

        Raises:
            RuntimeError: If the server is not running.
        """
        return f"http://127.0.0.1:{self.port}"

    async def sleep(self, seconds: float) -> None:
        """Wait, unless the server stops first (then the wait is cancelled).

        Args:
            seconds: How long.
        """
        sleeper = asyncio.ensure_future(asyncio.sleep(seconds))
        self._sleeping.add(sleeper)
        try:
            await sleeper
        finally:
            self._sleeping.discard(sleeper)

    def run_in_loop(self, work: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run a coroutine on the server's own loop (a server started with `start`).

        Args:
            work: The coroutine.
            timeout: Seconds to wait for it.

        Returns:
            Its result.

        Raises:
            RuntimeError: If the server does not run in a thread of its own.
        """
        if self._loop is None:
            work.close()
            raise RuntimeError(f"the {self._label} does not run in a thread of its own")
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=timeout)

    async def astart(self) -> None:
        """Start serving in the running event loop.

        Raises:
            RuntimeError: If it is already running.
            OSError: If the port cannot be bound.
        """
        if self._runner is not None:
            raise RuntimeError(f"the {self._label} is already running")
        runner = web.AppRunner(self._build(), access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", self._port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._bound = int(runner.addresses[0][1])
        if self._on_start is not None:
            self._on_start()

    async def aclose(self) -> None:
        """Stop serving (in-flight requests get half a second to finish)."""
        runner, self._runner, self._bound = self._runner, None, None
        for task in list(self._sleeping):
            task.cancel()
        if runner is not None:
            if self._on_close is not None:
                await self._on_close()
            await runner.cleanup()

    def start(self) -> None:
        """Start serving from a thread of its own, returning once it accepts connections.

        Raises:
            RuntimeError: If it is already running.
            OSError: If the port cannot be bound.
        """
        if self._thread is not None or self._runner is not None:
            raise RuntimeError(f"the {self._label} is already running")
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        loop = asyncio.new_event_loop()
        thread = threading.Thread(
            target=self._serve, args=(loop, ready), name=self._name, daemon=True
        )
        thread.start()
        try:
            ready.result()
        except BaseException:
            thread.join()
            raise
        self._loop, self._thread = loop, thread

    def _serve(
        self, loop: asyncio.AbstractEventLoop, ready: concurrent.futures.Future[None]
    ) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self.astart())
        except BaseException as exc:  # reported to start()
            ready.set_exception(exc)
            loop.close()
            return
        ready.set_result(None)
        loop.run_forever()
        loop.run_until_complete(self.aclose())
        loop.close()

    def stop(self) -> None:
        """Stop the server started by `start` and wait for its thread to end."""
        loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()


class ServedExchange:
    """Lifecycle methods and context managers for a class that serves through `server`.

    Subclasses set ``self.server`` to their `AppServer` in ``__init__``; ``with`` and
    ``async with`` then start and stop it, and `port` and `url` read it.
    """

    server: AppServer
    """The HTTP server (lifecycle, port, URL)."""

    @property
    def port(self) -> int:
        """The bound port.

        Raises:
            RuntimeError: If the server is not running.
        """
        return self.server.port

    @property
    def url(self) -> str:
        """Base URL of the running server, e.g. ``"http://127.0.0.1:53123"``.

        Raises:
            RuntimeError: If the server is not running.
        """
        return self.server.url

    async def astart(self) -> Self:
        """Start serving in the running event loop.

        Returns:
            The exchange itself.

        Raises:
            RuntimeError: If it is already running.
            OSError: If the port cannot be bound.
        """
        await self.server.astart()
        return self

    async def aclose(self) -> None:
        """Stop serving (in-flight requests get half a second to finish)."""
        await self.server.aclose()

    def start(self) -> Self:
        """Start serving from a thread of its own, with its own event loop.

        Returns:
            The exchange itself, once it accepts connections.

        Raises:
            RuntimeError: If it is already running.
            OSError: If the port cannot be bound.
        """
        self.server.start()
        return self

    def stop(self) -> None:
        """Stop the server started by `start` and wait for its thread to end."""
        self.server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await self.astart()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
