"""The Engine: wires feed, strategy, risk and broker, and runs the backtest loop."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np

from quantkit.brokers.backtest import BacktestBroker
from quantkit.brokers.base import Broker
from quantkit.data.feed import DataFeed
from quantkit.domain.bars import BarSeries
from quantkit.domain.fill import Fill
from quantkit.domain.order import OrderRequest
from quantkit.engine.context import RunContext
from quantkit.engine.preflight import check_indicators, check_warmup
from quantkit.engine.record import RunRecord
from quantkit.errors import ConfigError
from quantkit.risk.policy import RiskPolicy, hook
from quantkit.strategy.base import Strategy
from quantkit.strategy.data import SymbolData
from quantkit.strategy.series import Cursor

if TYPE_CHECKING:
    import numpy.typing as npt

    from quantkit.engine.result import Result

    IntArray = npt.NDArray[np.int64]

__all__ = ["Engine"]

# Full collections wait for this many young (generation-1) collections while the loop runs.
_FULL_COLLECTION_AFTER = 1000


@contextmanager
def _young_collections_only() -> Iterator[None]:
    """Defer the garbage collector's full collections while a run and its Result are built.

    A run keeps every order, request and fill it makes (they become the Result), so the heap
    of long-lived objects grows all through the loop, and CPython scans all of it in each full
    collection: 0.1-0.2 s a time with a few hundred thousand objects, several times a run,
    for no garbage (the loop makes almost no reference cycles that outlive a young
    collection). Young collections still run at the usual rate, so short-lived cycles are
    reclaimed as before; a full collection still happens after ``_FULL_COLLECTION_AFTER``
    young ones (some seven million allocations).

    The thresholds found on entry are restored on exit, unless something else changed them in
    the meantime (user code, or another run in another thread that entered before this one and
    left first): then they are left as they are.
    """
    before = gc.get_threshold()
    deferred = (before[0], before[1], max(before[2], _FULL_COLLECTION_AFTER))
    gc.set_threshold(*deferred)
    try:
        yield
    finally:
        if gc.get_threshold() == deferred:
            gc.set_threshold(*before)


class Engine:
    """Runs a strategy over a feed through risk and a broker.

    Args:
        feed: Where the bars come from.
        strategy: The strategy instance (one run per instance).
        broker: Where orders go (default: a `BacktestBroker` with 100,000 USDT).
        risk: Policy (or chain) every order intent passes through.
        id_prefix: Prefix of the client order ids the run generates.
        warmup: Leading bars of each symbol that are history only: indicators see them,
            ``on_bar`` is not called for them (what `LiveEngine`'s ``warmup`` does live).

    Raises:
        ConfigError: If a component has the wrong type.

    Examples:
        >>> from quantkit import Engine, SmaCross, sample_feed
        >>> result = Engine(feed=sample_feed(), strategy=SmaCross(fast=10, slow=30)).run()
        >>> result.stats["Trades"] > 0
        True
    """

    def __init__(
        self,
        *,
        feed: DataFeed,
        strategy: Strategy,
        broker: Broker | None = None,
        risk: RiskPolicy | None = None,
        id_prefix: str = "qk",
        warmup: int = 0,
    ) -> None:
        if not isinstance(feed, DataFeed):
            raise ConfigError(f"Engine: feed must be a DataFeed, got {type(feed).__name__}")
        if not isinstance(strategy, Strategy):
            raise ConfigError(f"Engine: strategy must be a Strategy, got {type(strategy).__name__}")
        if broker is not None and not isinstance(broker, Broker):
            raise ConfigError(f"Engine: broker must be a Broker, got {type(broker).__name__}")
        if risk is not None and not isinstance(risk, RiskPolicy):
            raise ConfigError(f"Engine: risk must be a RiskPolicy, got {type(risk).__name__}")
        if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
            raise ConfigError(f"Engine: warmup must be an integer >= 0, got {warmup!r}")
        self.warmup = warmup
        self.feed = feed
        self.strategy = strategy
        self.broker = broker if broker is not None else BacktestBroker()
        self.risk = risk
        self.id_prefix = id_prefix
        self._ran = False

    def run(self) -> Result:
        """Run the backtest from the first bar to the last.

        Returns:
            The `Result`.

        Raises:
            ConfigError: If the engine already ran (strategy and broker hold run state).
            DataError: If the feed's data is invalid.
        """
        return self._run(self.feed.load())

    def _run(self, history: Mapping[str, BarSeries]) -> Result:
        from quantkit.engine.result import build_result  # noqa: PLC0415 - pandas at the edge

        if self._ran:
            raise ConfigError("Engine.run: this engine already ran; build a new Engine")
        self._ran = True
        if not history:
            raise ConfigError("Engine.run: the feed has no symbols")
        with _young_collections_only():
            record = self._loop(dict(history))
            return build_result(record)

    # -- the loop ------------------------------------------------------------------------------

    def _loop(self, everything: dict[str, BarSeries]) -> RunRecord:
        from quantkit.data.multi import is_informative  # noqa: PLC0415 - keeps import light

        datas = {symbol: SymbolData(series) for symbol, series in everything.items()}
        history = {s: series for s, series in everything.items() if not is_informative(s)}
        informative = {s: series for s, series in everything.items() if is_informative(s)}
        if not history:
            raise ConfigError(
                "Engine.run: the feed has only informative series (keys with '@'); "
                "it needs at least one tradable symbol"
            )
        self._tradable = tuple(history)
        check_warmup(history, self.warmup)
        single = len(datas) == 1
        if single:
            only = next(iter(datas.values()))
            timeline = only.cursor
            times = np.ascontiguousarray(history[only.symbol].close_time, dtype=np.int64)
        else:
            timeline = Cursor()
            times = np.unique(np.concatenate([s.close_time for s in everything.values()]))
            times = times.astype(np.int64, copy=False)
        context = RunContext(self.broker, self.risk, datas, timeline, times, self.id_prefix)
        record = RunRecord(
            repr(self.strategy),
            history,
            times,
            self.broker.portfolio.balance,
            self.broker.portfolio,
        )
        record.informative = informative
        self._record = record
        self._context = context
        self._columns = {symbol: j for j, symbol in enumerate(history)}
        self.broker.prepare(history, context)
        kind = type(self.strategy)
        # Hooks a strategy does not override are not called at all (they do nothing).
        self._on_fill = None if kind.on_fill is Strategy.on_fill else self.strategy.on_fill
        self._on_order = None if kind.on_order is Strategy.on_order else self.strategy.on_order
        risk = self.risk
        self._risk_bar = hook(risk, "on_bar")
        self._risk_fill = hook(risk, "on_fill")
        self.strategy._bind(context, datas, self._tradable)
        self.strategy.on_start()
        self._dispatch()
        owner = {id(data.cursor): symbol for symbol, data in datas.items()}
        declared = [(owner[id(ind._cursor)], ind) for ind in self.strategy.indicators]
        check_indicators(declared, self._tradable, self.warmup)
        if single:
            self._loop_single(only)
        else:
            self._loop_multi(datas, everything, times)
        context._seq_at_stop = context._seq
        self.strategy.on_stop()
        self._dispatch()
        record.risk_events = context.risk_events
        record.ambiguous_orders = self.broker.ambiguous_orders
        record.indicators = tuple((owner[id(ind._cursor)], ind) for ind in self.strategy.indicators)
        return record

    def _loop_single(self, data: SymbolData) -> None:
        """One symbol: the hot loop. Nothing happens on a bar where no order works."""
        symbol = data.symbol
        cursor = data.cursor
        working = self.broker.working(symbol)
        events = self.broker.events
        match = self.broker.on_bar
        on_bar = self.strategy.on_bar
        dispatch = self._dispatch
        risk_bar = self._risk_bar
        context = self._context
        for i in range(self.warmup, len(data._series)):
            cursor.i = i
            if working:
                match(symbol, i)
                if events:
                    dispatch()
            if risk_bar is not None:
                orders = risk_bar(context)  # usually (): nothing else to do
                if orders:
                    self._place_risk_orders(orders)
            on_bar(data)
            if events:
                dispatch()

    def _loop_multi(
        self, datas: dict[str, SymbolData], history: dict[str, BarSeries], times: IntArray
    ) -> None:
        """Several symbols aligned on the union of their close times."""
        timeline = self._context.timeline
        symbols = list(datas)
        steps = np.concatenate([np.searchsorted(times, history[s].close_time) for s in symbols])
        ranks = np.concatenate([np.full(len(history[s]), k) for k, s in enumerate(symbols)])
        bars = np.concatenate([np.arange(len(history[s])) for s in symbols])
        order = np.lexsort((ranks, steps))
        step_list = steps[order].tolist()
        pairs = list(zip(ranks[order].tolist(), bars[order].tolist(), strict=True))
        views = [datas[s] for s in symbols]
        tradable = set(self._tradable)
        working = [self.broker.working(s) if s in tradable else () for s in symbols]
        traded = [s in tradable for s in symbols]
        events = self.broker.events
        warmup = self.warmup
        start = 0
        total = len(pairs)
        while start < total:
            step = step_list[start]
            end = start
            while end < total and step_list[end] == step:
                end += 1
            group = pairs[start:end]
            timeline.i = step
            for rank, bar in group:
                views[rank].cursor.i = bar
            for rank, bar in group:
                if working[rank]:
                    self.broker.on_bar(symbols[rank], bar)
            if events:
                self._dispatch()
            if self._risk_bar is not None:
                self._risk_step()
            for rank, _ in group:
                if traded[rank] and bar >= warmup:  # informative series advance silently
                    self.strategy.on_bar(views[rank])
                    if events:
                        self._dispatch()
            start = end

    def _risk_step(self) -> None:
        """Let the risk policy update on the new step's bars; place what it asks for."""
        hook = self._risk_bar
        if hook is not None:
            orders = hook(self._context)
            if orders:
                self._place_risk_orders(orders)

    def _place_risk_orders(self, orders: Sequence[OrderRequest]) -> None:
        context = self._context
        for request in orders:
            context.place(request)
        if self.broker.events:
            self._dispatch()

    def _dispatch(self) -> None:
        """Deliver pending broker events to the strategy, recording fills and orders."""
        events = self.broker.events
        record = self._record
        on_fill = self._on_fill
        on_order = self._on_order
        risk_fill = self._risk_fill
        orders = record.orders
        step = self._context.timeline.i
        touched: list[str] = []
        k = 0
        while k < len(events):
            event = events[k]
            k += 1
            if isinstance(event, Fill):
                record.fills.append(event)
                record.fill_steps.append(step)
                if event.symbol not in touched:
                    touched.append(event.symbol)
                if risk_fill is not None:
                    risk_fill(event, self._context)
                if on_fill is not None:
                    on_fill(event)
            else:
                if event.client_id not in orders:
                    orders[event.client_id] = event
                if on_order is not None:
                    on_order(event)
        events.clear()
        if touched:
            self._snapshot(step, touched)

    def _snapshot(self, step: int, symbols: list[str]) -> None:
        """Record cash and the positions of ``symbols`` after ``step``'s fills."""
        record = self._record
        portfolio = self.broker.portfolio
        steps = record.snapshot_steps
        if steps and steps[-1] == step:
            record.snapshot_cash[-1] = portfolio.balance
        else:
            steps.append(step)
            record.snapshot_cash.append(portfolio.balance)
        row = len(steps) - 1
        columns = self._columns
        for symbol in symbols:
            record.position_rows.append(row)
            record.position_columns.append(columns[symbol])
            record.position_amounts.append(portfolio.position(symbol).amount)
