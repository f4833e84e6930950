"""One engine step for every mode: match, risk hooks, strategy, event delivery.

The backtest loop and `LiveEngine` both drive a `Step`; they differ only in how a bar becomes
current (the backtest moves a cursor over loaded history, a live run appends the bar that just
closed and extends the indicators) and in what they keep of the events (a `StepRecorder`).
Every call into the strategy goes through here, so an exception it raises is turned into a
`StrategyError` that names the hook, bar and symbol the same way in every mode.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence, Sized
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

import numpy as np

from quantkit.domain.fill import Fill
from quantkit.engine.risk_gate import CLOSED, RiskBarGate, has_fill, quiet_owner
from quantkit.errors import QuantkitError, StrategyError
from quantkit.risk.policy import RiskPolicy, hook
from quantkit.strategy.base import Strategy

if TYPE_CHECKING:
    from quantkit.brokers.base import Broker
    from quantkit.domain.bars import BarSeries
    from quantkit.domain.order import Order, OrderRequest
    from quantkit.engine.context import RunContext
    from quantkit.strategy.data import SymbolData

__all__ = ["BrokerWorking", "Step", "StepRecorder", "working_parts"]


class StepRecorder(Protocol):
    """What a mode keeps of the events a step delivers (a backtest's record, a live tape)."""

    def fill(self, fill: Fill) -> None:
        """A fill, before the risk policy and the strategy see it."""
        ...

    def order(self, order: Order) -> None:
        """An order update, before the strategy sees it."""
        ...

    def delivered(self) -> None:
        """The end of a batch of events."""
        ...

    # A recorder may also offer ``take(events)``: keep a whole batch (fills, orders, then
    # `delivered`) and clear ``events``; a step whose hooks take no events calls only that.


def working_parts(working: Sized) -> tuple[Sized, Sized]:
    """Two containers whose emptiness together is that of ``working``.

    A container may offer ``parts``: a pair of plain containers (lists, dicts) that are both
    empty exactly when it is. Testing those is a C-level truth test, where ``len(working)``
    would be a Python call on every bar. Other containers are returned as they are, with an
    empty tuple.

    Args:
        working: What `Broker.working` returned.

    Returns:
        The pair to test with ``first or second``.
    """
    parts: tuple[Sized, Sized] | None = getattr(working, "parts", None)
    return parts if parts is not None else (working, ())


class BrokerWorking(Mapping[str, Sized]):
    """`Broker.working` of each symbol, asked anew at each lookup.

    For brokers whose container changes identity, such as the paper broker's while orders are
    in flight.
    """

    def __init__(self, broker: Broker, symbols: tuple[str, ...]) -> None:
        self._broker = broker
        self._symbols = symbols

    def __getitem__(self, symbol: str) -> Sized:
        return self._broker.working(symbol)

    def __iter__(self) -> Iterator[str]:
        return iter(self._symbols)

    def __len__(self) -> int:
        return len(self._symbols)


class Step:
    """The per-bar sequence shared by the backtest loop and the live engine.

    Args:
        strategy: The run's strategy, already bound to ``context``.
        broker: The run's broker.
        context: The run's context (what strategy and risk call).
        risk: The run's risk policy, if any.
        match: Matches working orders of a symbol against its current bar (the backtest calls
            ``broker.on_bar(symbol, index)``, a live run ``broker.on_bar_closed(bar)``).
        working: For each tradable symbol, a container that is non-empty while its orders
            need matching (`Broker.working`: a backtest keeps the broker's live containers, a
            live run asks the broker at each bar).
        recorder: What the mode keeps of the events.
    """

    def __init__(
        self,
        *,
        strategy: Strategy,
        broker: Broker,
        context: RunContext,
        risk: RiskPolicy | None,
        match: Callable[[SymbolData], None],
        working: Mapping[str, Sized],
        recorder: StepRecorder,
    ) -> None:
        self.strategy = strategy
        self.broker = broker
        self.context = context
        self._policy = risk
        self.events = broker.events
        self.recorder = recorder
        self._match = match
        self._working = working
        self.algos = context.algos
        kind = type(strategy)
        # Hooks a strategy does not override are not called at all (they do nothing).
        self.on_bar = strategy.on_bar
        self.on_fill = None if kind.on_fill is Strategy.on_fill else strategy.on_fill
        self.on_order = None if kind.on_order is Strategy.on_order else strategy.on_order
        self.risk_bar: Any = hook(risk, "on_bar")
        self.risk_fill: Any = hook(risk, "on_fill")
        self.risk_history: Any = hook(risk, "on_history")
        if self.on_fill is None and self.on_order is None and self.risk_fill is None:
            # Only the recorder takes the events: no hook can raise or add any.
            take: Callable[[list[Order | Fill]], None] | None = getattr(recorder, "take", None)
            if take is None:
                self.deliver = self._record_only  # type: ignore[method-assign]
            else:  # the recorder keeps a whole batch in one call
                self.deliver = functools.partial(take, self.events)  # type: ignore[method-assign]

    # -- the step --------------------------------------------------------------------------------

    def bar(self, data: SymbolData) -> None:
        """Run one bar of one symbol: match, deliver, risk, strategy, deliver.

        The bar must already be current (``data``'s cursor on it, indicators up to date).

        Args:
            data: The symbol's data.

        Raises:
            StrategyError: If the strategy raised (``__cause__`` is its exception).
        """
        events = self.events
        if self._working[data.symbol]:
            self._match(data)
            if events:
                self.deliver()
        if self.algos.working:
            self.parents(data)
        if self.risk_bar is not None:
            self.risk()
        try:
            self.on_bar(data)
        except Exception as exc:
            self.fail("on_bar", exc, data.symbol)
        if events:
            self.deliver()

    def run(self, data: SymbolData, start: int, stop: int) -> None:
        """`bar` for bars ``start`` to ``stop - 1`` of one symbol: the backtest's hot loop.

        The same sequence as `bar`, with the lookups hoisted out of the loop; nothing happens
        for matching on a bar where no order works.

        Args:
            data: The symbol's data; its cursor is moved to each bar in turn.
            start: First bar.
            stop: One past the last bar.

        Raises:
            StrategyError: If the strategy raised.
        """
        cursor = data.cursor
        container = self._working[data.symbol]
        working, also_working = working_parts(container)
        # a per-bar schedule of bars to match besides (a held perpetual: `perp_gate`)
        due: Sequence[int] | None = getattr(container, "due", None)
        match = self._match
        events = self.events
        deliver = self.deliver
        risk_bar = self.risk_bar
        context = self.context
        on_bar = self.on_bar
        parents = self.algos.working
        # The risk gate (`quantkit.engine.risk_gate`): bars before ``quiet`` whose close is in
        # [low, high] skip the breaker's on_bar while it still holds ``band``.
        owner: Any = quiet_owner(self._policy) if risk_bar is not None else None
        gate = RiskBarGate(owner, context, data.symbol) if owner is not None else None
        close_at = context.equity_prices(data.symbol)  # the mark's value on perpetuals
        quiet, low, high, band = CLOSED
        for i in range(start, stop):
            cursor.i = i
            if working or also_working or (due is not None and due[i]):  # no Python call
                match(data)
                quiet = 0  # fills, funding or a liquidation may have changed the account
                if events:
                    deliver()
            if parents:  # a plain list: parent orders work
                self.parents(data)
                quiet = 0  # their children may have been placed or canceled: check the bar
            if risk_bar is not None and not (
                i < quiet and owner.quiet is band and low <= close_at[i] <= high
            ):
                orders = risk_bar(context)  # usually (): nothing else to do
                if orders:
                    self._place(orders)
                if gate is not None:
                    quiet, low, high, band = gate.window()
            try:
                on_bar(data)
            except Exception as exc:
                self.fail("on_bar", exc, data.symbol)
            if events:
                if quiet and has_fill(events):
                    quiet = 0
                deliver()

    def match(self, data: SymbolData) -> None:
        """Match ``data``'s symbol's working orders against its current bar, if any work.

        Args:
            data: The symbol's data.
        """
        if self._working[data.symbol]:
            self._match(data)

    def parents(self, data: SymbolData) -> None:
        """Let the working parent orders of ``data``'s symbol act on its new bar.

        Args:
            data: The symbol's data, on the bar that just closed (already matched).
        """
        self.algos.on_bar(data.symbol)
        if self.events:
            self.deliver()

    def parents_of(self, datas: Sequence[SymbolData]) -> None:
        """`parents` for each of ``datas`` in turn (the symbols whose bars closed at a step).

        Args:
            datas: The symbols' data, matched on their new bars.
        """
        for data in datas:
            self.parents(data)

    def strategy_bar(self, data: SymbolData) -> None:
        """Call the strategy's ``on_bar``.

        Args:
            data: The symbol's data.

        Raises:
            StrategyError: If the strategy raised.
        """
        try:
            self.on_bar(data)
        except Exception as exc:
            self.fail("on_bar", exc, data.symbol)

    def risk(self) -> None:
        """Let the risk policy update on the new bar; place the orders it asks for."""
        hook = self.risk_bar
        if hook is not None:
            orders = hook(self.context)
            if orders:
                self._place(orders)

    def _place(self, orders: Sequence[OrderRequest]) -> None:
        for request in orders:
            self.context.place(request)
        if self.events:
            self.deliver()

    def deliver(self) -> None:
        """Deliver the broker's pending events: to the recorder, risk, then the strategy.

        Raises:
            StrategyError: If the strategy's ``on_fill`` or ``on_order`` raised.
        """
        events = self.events
        recorder = self.recorder
        on_fill = self.on_fill
        on_order = self.on_order
        risk_fill = self.risk_fill
        k = 0
        while k < len(events):
            event = events[k]
            k += 1
            if isinstance(event, Fill):
                recorder.fill(event)
                if risk_fill is not None:
                    risk_fill(event, self.context)
                if on_fill is not None:
                    try:
                        on_fill(event)
                    except Exception as exc:
                        del events[:k]  # delivered; the rest stay for the partial result
                        self.fail("on_fill", exc, event.symbol)
            else:
                recorder.order(event)
                if on_order is not None:
                    try:
                        on_order(event)
                    except Exception as exc:
                        del events[:k]
                        self.fail("on_order", exc, event.symbol)
        events.clear()
        recorder.delivered()

    def _record_only(self) -> None:
        """`deliver` when only the recorder takes the events (no hook can raise or add any)."""
        events = self.events
        recorder = self.recorder
        for event in events:
            if isinstance(event, Fill):
                recorder.fill(event)
            else:
                recorder.order(event)
        events.clear()
        recorder.delivered()

    def history_step(self) -> None:
        """Show the risk policy the current step as history (`on_history`), nothing else."""
        learn = self.risk_history
        if learn is not None:
            learn(self.context)

    def learn_history(self, history: Mapping[str, BarSeries], steps: int) -> None:
        """Show the risk policy the first ``steps`` steps of the loaded history (`on_history`).

        The timeline and each symbol's cursor are moved to each step in turn (a symbol to its
        latest bar closed by then), then put back where they were.

        Args:
            history: The bars loaded at start, by symbol (the series the data views hold).
            steps: How many steps of the run's timeline are history.
        """
        learn = self.risk_history
        if learn is None or steps <= 0:
            return
        context = self.context
        times = context.times[:steps]
        views = [(context.datas[s], series) for s, series in history.items() if s in context.datas]
        positions = [
            (data.cursor, np.searchsorted(series.close_time, times, "right") - 1)
            for data, series in views
        ]
        saved = [cursor.i for cursor, _ in positions]
        saved_step = context.timeline.i
        try:
            for k in range(steps):
                for cursor, at in positions:
                    cursor.i = int(at[k])
                context.timeline.i = k
                learn(context)
        finally:
            for (cursor, _), i in zip(positions, saved, strict=True):
                cursor.i = i
            context.timeline.i = saved_step

    # -- start, stop and errors ----------------------------------------------------------------

    def start(self) -> None:
        """Call the strategy's ``on_start`` (where it declares its indicators).

        Raises:
            StrategyError: If it raised.
        """
        try:
            self.strategy.on_start()
        except Exception as exc:
            self.fail("on_start", exc, "")

    def stop(self) -> None:
        """Call the strategy's ``on_stop``, then deliver what it caused.

        Raises:
            StrategyError: If it raised.
        """
        try:
            self.strategy.on_stop()
        except Exception as exc:
            self.fail("on_stop", exc, "")
        if self.events:
            self.deliver()

    def fail(self, where: str, error: Exception, symbol: str) -> NoReturn:
        """Raise ``error`` of the strategy's ``where`` with the place it happened.

        quantkit's own errors (a malformed order, a misuse) keep their type and get a note
        naming the place; anything else becomes a `StrategyError` caused by ``error``.

        Args:
            where: The hook (``"on_bar"``, ...) or ``"indicator NAME"``.
            error: What it raised.
            symbol: The symbol concerned, or ``""``.

        Raises:
            StrategyError: For an exception of the strategy's own.
            QuantkitError: ``error`` itself, annotated.
        """
        context = self.context
        data = context.datas.get(symbol) if symbol else None
        index = data.cursor.i if data is not None else context.timeline.i
        time = data.time if data is not None else context.now
        name = type(self.strategy).__name__
        if isinstance(error, QuantkitError):
            place = StrategyError.location(index, time, symbol)
            error.add_note(f"raised in {name}.{where} ({place})")
            raise error
        raise StrategyError(
            strategy=name, hook=where, bar_index=index, bar_time=time, symbol=symbol, error=error
        ) from error
