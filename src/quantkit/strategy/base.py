"""The Strategy base class that users subclass."""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from quantkit.domain.order import Order, OrderType, Side, TimeInForce, make_request
from quantkit.errors import ConfigError, OrderError, ParameterError, UsageError
from quantkit.strategy.indicators import Indicator, compute_indicator
from quantkit.strategy.params import parameter_model, validate_parameters
from quantkit.strategy.parent_orders import ParentOrders
from quantkit.strategy.targets import TargetOrders

if TYPE_CHECKING:
    from quantkit.domain.fill import Fill
    from quantkit.domain.position import Position
    from quantkit.strategy.context import StrategyContext
    from quantkit.strategy.data import SymbolData
    from quantkit.strategy.series import SeriesView

__all__ = ["Strategy"]

# Enum members as module constants: ``OrderType.MARKET`` is a slow class-attribute lookup.
_BUY, _SELL = Side.BUY, Side.SELL
_MARKET, _LIMIT = OrderType.MARKET, OrderType.LIMIT
_STOP, _STOP_LIMIT = OrderType.STOP, OrderType.STOP_LIMIT

_SIDES: dict[object, Side] = {**{s.value: s for s in Side}, **{s: s for s in Side}}
_TIFS: dict[object, TimeInForce] = {
    **{t.value: t for t in TimeInForce},
    **{t: t for t in TimeInForce},
}


class Strategy(ParentOrders, TargetOrders, ABC):
    """Base class of trading strategies; the same subclass runs in backtest, paper and live.

    Declare parameters as annotated class attributes (validated with pydantic when the
    strategy is built), declare indicators in `on_start` with `I`, and trade in
    `on_bar`. Order methods return an `Order` handle at
    once; fills arrive later through `on_fill` and `on_order`. Strategy code is
    synchronous and never awaits.

    Examples:
        >>> import talib
        >>> class Breakout(Strategy):
        ...     period: int = 20
        ...
        ...     def on_start(self) -> None:
        ...         self.top = self.I(talib.MAX, self.data.high, timeperiod=self.period)
        ...
        ...     def on_bar(self, bar: SymbolData) -> None:
        ...         if bar.close[-1] >= self.top[-1] and self.position().is_flat:
        ...             self.buy(amount=0.1)
        >>> Breakout(period=50).period
        50
    """

    persistent: ClassVar[tuple[str, ...]] = ()
    """Names of attributes a live run saves after each bar and restores after a restart
    (or carries from a paper run to live); their values must be JSON-able."""

    _ctx: StrategyContext
    _datas: dict[str, SymbolData]
    _primary: SymbolData
    _indicators: list[Indicator]

    def __init__(self, **params: Any) -> None:
        values = validate_parameters(type(self), Strategy, params)
        for name, value in values.items():
            setattr(self, name, value)
        self._params = values
        self._indicators = []
        try:
            self.validate_params()
        except ParameterError:
            raise
        except (ValueError, TypeError) as exc:
            raise ParameterError(
                f"{type(self).__name__}: {exc}", owner=type(self).__name__
            ) from exc

    # -- parameters ----------------------------------------------------------------------------

    @classmethod
    def parameter_names(cls) -> tuple[str, ...]:
        """Names of the strategy's parameters, in declaration order."""
        return tuple(parameter_model(cls, Strategy).model_fields)

    @property
    def params(self) -> dict[str, Any]:
        """The validated parameter values."""
        return dict(self._params)

    def validate_params(self) -> None:
        """Check relations between parameters; raise ``ValueError`` with a clear message.

        Override it for checks a single type cannot express, such as ``fast < slow``.
        """

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._params.items())
        return f"{type(self).__name__}({args})"

    # -- lifecycle hooks -----------------------------------------------------------------------

    def on_start(self) -> None:
        """Called once before the first bar: declare indicators here."""

    @abstractmethod
    def on_bar(self, bar: SymbolData) -> None:
        """Called once for each new closed bar of each symbol.

        Args:
            bar: The symbol's data up to and including the bar that just closed.
        """

    def on_order(self, order: Order) -> None:
        """Called after an order's status changed (accepted, filled, canceled, ...).

        Args:
            order: The order handle, in its new status.
        """

    def on_fill(self, fill: Fill) -> None:
        """Called for each execution.

        Args:
            fill: The execution.
        """

    def on_stop(self) -> None:
        """Called once after the last bar."""

    # -- binding (engine) ----------------------------------------------------------------------

    def _bind(
        self,
        context: StrategyContext,
        datas: Mapping[str, SymbolData],
        tradable: tuple[str, ...] | None = None,
    ) -> None:
        if not datas:
            raise ConfigError("a strategy needs at least one symbol of data")
        self._ctx = context
        self._datas = dict(datas)
        self._symbols = tuple(datas) if tradable is None else tradable
        if not self._symbols:
            raise ConfigError("a strategy needs at least one tradable symbol")
        self._primary = self._datas[self._symbols[0]]
        self._indicators = []

    # -- data ----------------------------------------------------------------------------------

    @property
    def data(self) -> SymbolData:
        """The first (primary) tradable symbol's data."""
        return self._primary

    @property
    def datas(self) -> dict[str, SymbolData]:
        """Every series' data by key, informative series included.

        Besides the tradable symbols this holds informative series such as ``"BTC/USDT@1d"``
        (a higher timeframe, readable but not traded).
        """
        return self._datas

    @property
    def symbols(self) -> tuple[str, ...]:
        """The tradable symbols of the run, in feed order (informative series excluded)."""
        return self._symbols

    @property
    def now(self) -> int:
        """Close time of the latest closed bar, ns since the epoch."""
        return self._ctx.now

    @property
    def indicators(self) -> tuple[Indicator, ...]:
        """Every indicator declared so far."""
        return tuple(self._indicators)

    def I(  # noqa: E743, N802 - the short name is the idiom users know
        self,
        func: Callable[..., Any],
        *inputs: SeriesView,
        name: str | None = None,
        lookback: int | None = None,
        **params: Any,
    ) -> Any:
        """Declare an indicator computed by ``func`` over whole arrays.

        In a backtest it is computed once over the full history; ``self.x[-1]`` then reads the
        value at the current bar and nothing later. User functions are checked for look-ahead
        when declared.

        Args:
            func: ``talib.SMA`` or any function of numpy arrays returning same-length arrays.
            *inputs: Series of one symbol, e.g. ``self.data.close``.
            name: Display name.
            lookback: Bars of history one value needs, for incremental live updates.
            **params: Keyword arguments for ``func``.

        Returns:
            An `Indicator`, or a tuple of them for multi-output functions.

        Raises:
            ConfigError: If the inputs or the output are malformed.
            LookAheadError: If a user function uses later bars.
        """
        made = compute_indicator(func, inputs, params, name=name, lookback=lookback)
        self._indicators.extend(made if isinstance(made, tuple) else (made,))
        return made

    indicator = I

    # -- account -------------------------------------------------------------------------------

    def position(self, symbol: str | None = None, *, venue: str | None = None) -> Position:
        """The position in ``symbol`` (default: the primary symbol).

        Args:
            symbol: Market symbol.
            venue: The venue, in a run over several venues (see `symbol_on`).

        Returns:
            The position (flat if never traded).
        """
        return self._ctx.portfolio.position(self.symbol_on(symbol, venue))

    def symbol_on(self, symbol: str | None = None, venue: str | None = None) -> str:
        """The run's symbol meant by ``symbol`` and ``venue`` (several venues in one run).

        A venue-qualified symbol (``"binance:BTC/USDT"``) is used as it is; a bare one is
        qualified with ``venue``, or with the one venue that lists it.

        Args:
            symbol: Market symbol (default: the primary symbol).
            venue: The venue to trade on.

        Returns:
            The symbol as the run keys it.

        Raises:
            UnknownSymbolError: If no venue lists the symbol, or several do and ``venue`` is not
                given (the message names them).
        """
        if venue is None and (symbol is None or symbol in self._datas):
            return symbol or self._primary.symbol
        from quantkit.domain.venue_symbol import resolve_symbol  # noqa: PLC0415 - rare path

        return resolve_symbol(symbol or self._primary.symbol, self._symbols, venue)

    @property
    def cash(self) -> float:
        """Cash in the account currency."""
        return self._ctx.portfolio.balance

    @property
    def equity(self) -> float:
        """Cash plus positions marked at the latest closes (a perpetual's at its mark close).

        In the account currency: a contract market's position is worth its contracts' value.
        """
        return self._ctx.portfolio.equity()

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Working orders, of one symbol or of all.

        Args:
            symbol: Market symbol, or ``None`` for all.

        Returns:
            The orders, oldest first.
        """
        return self._ctx.open_orders(symbol)

    # -- orders --------------------------------------------------------------------------------

    def buy(self, **kwargs: Any) -> Order:
        """Place a buy order; see `order` for the keyword arguments.

        Returns:
            The order handle.
        """
        return self.order(_BUY, **kwargs)

    def sell(self, **kwargs: Any) -> Order:
        """Place a sell order; see `order` for the keyword arguments.

        Returns:
            The order handle.
        """
        return self.order(_SELL, **kwargs)

    def order(
        self,
        side: Side | str,
        *,
        symbol: str | None = None,
        venue: str | None = None,
        amount: float | None = None,
        cost: float | None = None,
        limit: float | None = None,
        stop: float | None = None,
        sl: float | None = None,
        tp: float | None = None,
        sl_pct: float | None = None,
        tp_pct: float | None = None,
        trail_pct: float | None = None,
        tif: TimeInForce | str = TimeInForce.GTC,
        post_only: bool = False,
        reduce_only: bool = False,
        tag: str = "",
    ) -> Order:
        """Place an order. The type follows from the prices given.

        Args:
            side: ``"buy"`` or ``"sell"``.
            symbol: Market symbol (default: the primary symbol).
            venue: The venue, in a run over several venues (see `symbol_on`).
            amount: Amount in base currency.
            cost: For market orders instead of ``amount``: quote currency to spend (buys, fee
                included) or to receive (sells).
            limit: Limit price; with ``stop`` it makes a stop-limit order.
            stop: Stop (trigger) price.
            sl: Stop-loss price attached to the entry.
            tp: Take-profit price attached to the entry.
            sl_pct: Stop-loss distance from the entry's fill price, as a fraction.
            tp_pct: Take-profit distance from the entry's fill price, as a fraction.
            trail_pct: Trailing stop distance, a fraction in (0, 1): from the close of the bar
                the entry fills in, a reduce-only stop ``trail_pct`` below the highest high
                (longs) or above the lowest low (shorts) since that bar, working from the next
                bar and moved only in the position's favour. It works beside ``sl``/``tp``:
                the first exit to fill closes the position and cancels the others.
            tif: Time in force: ``"gtc"``, ``"ioc"`` or ``"fok"``.
            post_only: Reject instead of taking liquidity (limit orders).
            reduce_only: Only reduce an existing position.
            tag: Free text kept with the order.

        Returns:
            The order handle (``REJECTED`` with a reason if risk or the account refused it).

        Raises:
            OrderError: If the request is malformed (bad amount or price, unknown symbol).
        """
        if stop is None:
            kind = _MARKET if limit is None else _LIMIT
        else:
            kind = _STOP if limit is None else _STOP_LIMIT
        side_value = _SIDES.get(side)
        tif_value = _TIFS.get(tif)
        if side_value is None:
            raise OrderError(f"order: side must be 'buy' or 'sell', got {side!r}")
        if tif_value is None:
            raise OrderError(f"order: tif must be 'gtc', 'ioc' or 'fok', got {tif!r}")
        if venue is not None or (symbol is not None and symbol not in self._datas):
            symbol = self.symbol_on(symbol, venue)  # several venues: qualify a bare symbol
        try:
            request = make_request(  # OrderRequest(...) with the fields in order, made faster
                symbol or self._primary.symbol,
                side_value,
                kind,
                amount,
                cost,
                limit,
                stop,
                tif_value,
                post_only,
                reduce_only,
                sl,
                tp,
                sl_pct,
                tp_pct,
                tag,
                trail_pct,
            )
        except TypeError as exc:
            raise OrderError(f"order: {exc}") from exc
        return self._ctx.submit(request)

    def cancel(self, order: Order) -> None:
        """Cancel a working order (nothing happens if it already ended).

        Args:
            order: The order handle.

        Raises:
            UsageError: If ``order`` is not an order handle (a client id string, for example).
        """
        if not isinstance(order, Order):
            raise _not_an_order("cancel", order)
        self._ctx.cancel(order)

    def amend(
        self, order: Order, *, price: float | None = None, amount: float | None = None
    ) -> Order:
        """Change a working limit or stop order's price and/or amount.

        ``price`` is the limit price of a limit or stop-limit order and the stop price of a
        stop order; ``amount`` is the order's new total amount, what already filled included.
        Backtest and paper brokers amend in place and return ``order`` itself, amended from
        the next bar on. The live broker replaces the order on the venue and returns a NEW
        handle (a new client id) for the rest; ``order`` then ends ``CANCELED``.

        A refused amend (the order ended, is a market order, the new amount is not above what
        filled, or is below the market's minimums) leaves ``order`` unchanged and returns a
        ``REJECTED`` order carrying the reason, also delivered to `on_order`.

        Args:
            order: The order handle.
            price: New limit (or stop) price.
            amount: New total amount in base currency.

        Returns:
            The order that now works, or a ``REJECTED`` order with the reason.

        Raises:
            OrderError: If neither ``price`` nor ``amount`` is given, a value is not a finite
                number > 0, or ``price`` is given for a market order.
            UsageError: If ``order`` is not an order handle.

        Examples:
            >>> from quantkit.domain.order import Order, OrderRequest, OrderType, Side
            >>> order = Order("qk-1", OrderRequest("BTC/USDT", Side.BUY, OrderType.MARKET, 1.0), 0)
            >>> Strategy.amend(object(), order)  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            quantkit.errors.OrderError: amend of qk-1: give price= and/or amount=
        """
        if not isinstance(order, Order):
            raise _not_an_order("amend", order)
        if price is None and amount is None:
            raise OrderError(f"amend of {order.client_id}: give price= and/or amount=")
        request = order.request
        changes: dict[str, Any] = {}
        if amount is not None:
            changes["amount"], changes["cost"] = amount, None
        if price is not None:
            if request.type is _MARKET:
                raise OrderError(f"amend of {order.client_id}: a market order has no price")
            changes["stop_price" if request.type is _STOP else "limit_price"] = price
        return self._ctx.amend(order, dataclasses.replace(request, **changes))


def _not_an_order(method: str, value: object) -> UsageError:
    hint = (
        "; keep the handle buy()/sell()/order() returned, or find it in self.open_orders()"
        if isinstance(value, str)
        else ""
    )
    return UsageError(
        f"{method}() takes the Order handle that buy(), sell() or order() returned, got "
        f"{type(value).__name__} {value!r}{hint}"
    )
