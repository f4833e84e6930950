"""The quantkit error tree.

Every error quantkit raises derives from `QuantkitError`, grouped by what the caller
should do about it::

    QuantkitError
    ├── ConfigError (ValueError)          fix the configuration or the arguments
    │   ├── ParameterError                a strategy or component parameter is invalid
    │   └── RegistryError (KeyError)      a name is not registered
    ├── DataError (ValueError)            fix the input data (names source, row and problem)
    ├── OrderError (ValueError)           a malformed order request (bad amount, price, type)
    │   ├── InvalidTransitionError        an illegal order status change
    │   └── UnknownSymbolError            a symbol the run does not trade (also a UsageError)
    ├── LookAheadError                    a computation used data from after the current bar
    ├── StoreError                        the local data store cannot be read or written
    ├── ReconciliationError               the venue's account and the run's journal disagree
    ├── StrategyError                     the strategy's own code raised; ``__cause__`` is
    │                                     that exception, ``result`` the run so far
    ├── UsageError (TypeError)            quantkit's API was called the wrong way (the message
    │                                     says how to call it)
    ├── ExchangeError                     the venue refused a request for good (bad symbol,
    │                                     unsupported timeframe, authentication, ...);
    │                                     its ``reason`` tells a refused order from the rest
    └── TransientError                    a passing venue failure; the only branch retried
        ├── RateLimitedError
        ├── VenueUnavailableError
        │   └── VenueBusyError            overloaded, did not act on the request (-1008)
        └── RequestTimeoutError

Orders that the venue or the account refuses (insufficient funds, below the minimum notional)
are not exceptions to the strategy: the venue adapter raises `ExchangeError` with a ``reason``
such as ``"insufficient_funds"``, and the broker turns it into an order with status ``REJECTED``
and that reason, delivered as an event.
"""

from __future__ import annotations

import datetime

__all__ = [
    "ConfigError",
    "DataError",
    "ExchangeError",
    "InvalidTransitionError",
    "LookAheadError",
    "OrderError",
    "ParameterError",
    "QuantkitError",
    "RateLimitedError",
    "ReconciliationError",
    "RegistryError",
    "RequestTimeoutError",
    "StoreError",
    "StrategyError",
    "TransientError",
    "UnknownSymbolError",
    "UsageError",
    "VenueBusyError",
    "VenueUnavailableError",
]


class QuantkitError(Exception):
    """Base class of every error raised by quantkit."""


class ConfigError(QuantkitError, ValueError):
    """The configuration or the arguments given to a component are invalid."""


class ParameterError(ConfigError):
    """A parameter of a strategy or component failed validation.

    Attributes:
        owner: The class or component the parameter belongs to.
        parameter: The parameter's name.
    """

    def __init__(self, message: str, *, owner: str = "", parameter: str = "") -> None:
        super().__init__(message)
        self.owner = owner
        self.parameter = parameter


class RegistryError(ConfigError, KeyError):
    """A name looked up in a registry is not registered."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable.
        return str(self.args[0]) if self.args else ""


class DataError(QuantkitError, ValueError):
    """Input market data is invalid.

    Attributes:
        source: Where the data came from (file path, symbol or frame name).
        row: Zero-based row position of the first offending row, if known.
        problem: What is wrong, in words.
    """

    def __init__(self, problem: str, *, source: str = "", row: int | None = None) -> None:
        where = f"{source}: " if source else ""
        at = f"row {row}: " if row is not None else ""
        super().__init__(f"{where}{at}{problem}")
        self.source = source
        self.row = row
        self.problem = problem


class OrderError(QuantkitError, ValueError):
    """An order request is malformed (bad amount, price, type or symbol)."""


class InvalidTransitionError(OrderError):
    """An order was asked to move to a status its state machine does not allow."""


class LookAheadError(QuantkitError):
    """A computation read or used data from after the bar being processed."""


class StoreError(QuantkitError):
    """The local data store cannot be read or written (corrupt file, permissions, layout)."""


class ReconciliationError(QuantkitError):
    """The venue's account holds what the run's journal does not know, or the reverse.

    Raised when a live broker starts on an account with orders or trades its journal has no
    record of (a second client trading the same account, a venue whose order ids restarted
    under a resumed journal): a person must look before quantkit trades it.
    """


class StrategyError(QuantkitError):
    """The strategy's own code raised an exception in one of its hooks or indicators.

    The original exception is ``__cause__``, with its traceback intact. quantkit's own errors
    raised inside a hook (an `OrderError` for a malformed order, a `UsageError`) are not
    wrapped: they keep their type and get a note naming the hook, bar and symbol.

    Attributes:
        strategy: The strategy's class name.
        hook: Where it raised: ``"on_start"``, ``"on_bar"``, ``"on_fill"``, ``"on_order"``,
            ``"on_stop"``, or ``"indicator NAME"`` (a live update of an indicator).
        bar_index: Index of the symbol's current bar (``-1`` before the first).
        bar_time: Close time of that bar, ns since the epoch (``-1`` before the first).
        symbol: The symbol concerned (``""`` when none, e.g. in ``on_start``).
        result: The run up to the failure: a `Result` for backtests, a `LiveSummary` for
            paper and live runs (``None`` when it could not be built).
    """

    def __init__(
        self,
        *,
        strategy: str,
        hook: str,
        bar_index: int,
        bar_time: int,
        symbol: str,
        error: BaseException,
    ) -> None:
        self.strategy = strategy
        self.hook = hook
        self.bar_index = bar_index
        self.bar_time = bar_time
        self.symbol = symbol
        self.result: object = None
        super().__init__(
            f"{strategy}.{hook} raised {type(error).__name__}: {_first_line(error)} "
            f"({self.location(bar_index, bar_time, symbol)})"
        )

    @staticmethod
    def location(bar_index: int, bar_time: int, symbol: str) -> str:
        """Say at which bar something happened, for error messages and notes.

        Args:
            bar_index: Index of the bar (``-1`` before the first).
            bar_time: Close time of the bar, ns since the epoch (``-1`` before the first).
            symbol: The symbol, or ``""``.

        Returns:
            For example ``"bar 41, closed 2024-01-01 00:42:00 UTC, BTC/USDT"``.

        Examples:
            >>> StrategyError.location(41, 1_704_069_720_000_000_000, "BTC/USDT")
            'bar 41, closed 2024-01-01 00:42:00 UTC, BTC/USDT'
            >>> StrategyError.location(-1, -1, "")
            'before the first bar'
        """
        if bar_index < 0 or bar_time < 0:
            head = "before the first bar"
        else:
            stamp = datetime.datetime.fromtimestamp(bar_time / 1e9, datetime.UTC)
            head = f"bar {bar_index}, closed {stamp:%Y-%m-%d %H:%M:%S} UTC"
        return f"{head}, {symbol}" if symbol else head


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else "(no message)"


class UsageError(QuantkitError, TypeError):
    """A quantkit function was called the wrong way; the message says how to call it."""


class UnknownSymbolError(OrderError, UsageError):
    """A symbol the run does not trade; the message suggests close matches.

    Both an `OrderError` (an order named it) and a `UsageError` (the call was wrong).
    """


class ExchangeError(QuantkitError):
    """The venue refused a request for good; retrying the same request will not help.

    Attributes:
        exchange: The venue's id (e.g. ``"binance"``), if known.
        reason: What was refused, as a short code: ``"insufficient_funds"``,
            ``"invalid_order"`` (the venue refused the order's terms), ``"duplicate_order"``,
            ``"order_not_found"``, ``"bad_symbol"``, ``"authentication"``,
            ``"not_supported"``, ``"bad_request"``, ``"invalid_nonce"``, ``"leverage_refused"``
            (a leverage change the position's margin cannot carry); ``""`` when the venue
            did not say. The first three mean "this order is rejected", not "the venue is
            broken".
    """

    def __init__(self, message: str, *, exchange: str = "", reason: str = "") -> None:
        super().__init__(f"{exchange}: {message}" if exchange else message)
        self.exchange = exchange
        self.reason = reason


class TransientError(QuantkitError):
    """A passing failure of a venue; safe to retry with backoff."""


class RateLimitedError(TransientError):
    """The venue refused the request because of its rate limit.

    Attributes:
        retry_after: Seconds the venue asked to wait before the next request (its
            ``Retry-After`` answer), or ``None`` when it did not say.
    """

    def __init__(self, message: str = "", *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class VenueUnavailableError(TransientError):
    """The venue is unreachable or answered with a server error."""


class VenueBusyError(VenueUnavailableError):
    """The venue was overloaded and did not act on the request (Binance ``-1008``).

    Unlike other server errors, the request is known not to have been carried out, so an
    order refused this way may be sent again after a backoff.
    """


class RequestTimeoutError(TransientError):
    """A request to the venue timed out; its outcome is unknown."""
