"""The Engine: wires feed, strategy, risk and broker, and runs the backtest loop."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np

from quantkit.brokers.backtest import BacktestBroker
from quantkit.brokers.base import Broker
from quantkit.brokers.simulated import SimulatedBroker
from quantkit.brokers.venues import Venues
from quantkit.data.feed import DataFeed
from quantkit.domain.bars import BarSeries
from quantkit.domain.futures_portfolio import FuturesPortfolio
from quantkit.engine.context import RunContext
from quantkit.engine.perp_context import PerpetualRunContext
from quantkit.engine.preflight import check_indicators, check_warmup
from quantkit.engine.record import RunRecord, RunRecorder
from quantkit.engine.step import Step
from quantkit.errors import ConfigError, StrategyError
from quantkit.risk.policy import RiskPolicy
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


def _context_type(broker: Broker) -> type[RunContext]:
    """The run's context class, chosen once per run: a perpetual account is seen at its marks."""
    return PerpetualRunContext if isinstance(broker.portfolio, FuturesPortfolio) else RunContext


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
        brokers: Several venues' brokers by venue name instead of ``broker`` (a `Venues`
            broker is built from them; the feed's series are keyed ``"venue:SYMBOL"``).
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
        brokers: Mapping[str, SimulatedBroker] | None = None,
    ) -> None:
        if brokers is not None:
            if broker is not None:
                raise ConfigError("Engine: give broker= or brokers=, not both")
            broker = Venues(brokers)
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
            StrategyError: If the strategy's code raised; it names the hook, bar and symbol,
                its ``__cause__`` is the original exception and ``result`` the partial
                `Result`.
        """
        return self._run(self.feed.load())

    def run_record(self, history: Mapping[str, BarSeries] | None = None) -> RunRecord:
        """Run and return the raw `RunRecord`, without building the `Result` tables.

        For tools that rerun a strategy many times and compare raw outputs (the look-ahead
        audit).

        Args:
            history: Bars to run on instead of the feed's.

        Returns:
            The record.

        Raises:
            ConfigError: If the engine already ran or the history has no tradable symbol.
            StrategyError: If the strategy's code raised.
        """
        if self._ran:
            raise ConfigError("Engine.run_record: this engine already ran; build a new Engine")
        self._ran = True
        return self._loop(dict(self.feed.load() if history is None else history))

    def _run(self, history: Mapping[str, BarSeries]) -> Result:
        from quantkit.engine.result import build_result  # noqa: PLC0415 - pandas at the edge

        if self._ran:
            raise ConfigError("Engine.run: this engine already ran; build a new Engine")
        self._ran = True
        if not history:
            raise ConfigError("Engine.run: the feed has no symbols")
        with _young_collections_only():
            try:
                record = self._loop(dict(history))
            except StrategyError as exc:
                exc.result = self._partial_result(exc)
                raise
            return build_result(record)

    def _partial_result(self, error: StrategyError) -> Result | None:
        """The `Result` of the run up to a strategy's failure (``None`` if it cannot be built)."""
        from quantkit.engine.result import build_result  # noqa: PLC0415 - pandas at the edge

        record = getattr(self, "_record", None)
        if record is None:
            return None
        try:
            return build_result(record)
        except Exception as exc:  # the strategy's error stays the one raised
            error.add_note(f"the partial result could not be built: {type(exc).__name__}: {exc}")
            return None

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
        context = _context_type(self.broker)(
            self.broker, self.risk, datas, timeline, times, self.id_prefix
        )
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
        self.broker.prepare(history, context)
        context.bind_marks(history)
        broker = self.broker

        def match(data: SymbolData) -> None:
            broker.on_bar(data.symbol, data.cursor.i)

        step = Step(
            strategy=self.strategy,
            broker=broker,
            context=context,
            risk=self.risk,
            match=match,
            working={symbol: broker.working(symbol) for symbol in history},
            recorder=RunRecorder(record, context, {symbol: j for j, symbol in enumerate(history)}),
        )
        self._step = step
        self.strategy._bind(context, datas, self._tradable)
        owner = {id(data.cursor): symbol for symbol, data in datas.items()}
        try:
            step.start()
            if step.events:
                step.deliver()
            declared = [(owner[id(ind._cursor)], ind) for ind in self.strategy.indicators]
            check_indicators(declared, self._tradable, self.warmup)
            if single:
                self._loop_single(only)
            else:
                self._loop_multi(datas, everything, times)
            record.orders_before_stop = context._seq
            step.stop()
            context.mark_to_last_bars()  # the account's final state at the last bars' marks
        finally:
            record.risk_events = context.risk_events
            record.parents = context.algos.parents
            record.ambiguous_orders = self.broker.ambiguous_orders
            record.indicators = tuple(
                (owner[id(ind._cursor)], ind) for ind in self.strategy.indicators
            )
        return record

    def _loop_single(self, data: SymbolData) -> None:
        """One symbol: the hot loop, one shared step per bar."""
        step = self._step
        step.learn_history({data.symbol: data._series}, self.warmup)
        step.run(data, self.warmup, len(data._series))

    def _loop_multi(
        self, datas: dict[str, SymbolData], history: dict[str, BarSeries], times: IntArray
    ) -> None:
        """Several symbols aligned on the union of their close times.

        Per step: every symbol whose bar closes then is matched, the risk policy updates once,
        then the strategy sees each tradable symbol's bar (informative series advance
        silently).
        """
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
        traded = [s in tradable for s in symbols]
        step = self._step
        events = self.broker.events
        warmup = self.warmup
        start = 0
        total = len(pairs)
        while start < total:
            at = step_list[start]
            end = start
            while end < total and step_list[end] == at:
                end += 1
            group = pairs[start:end]
            timeline.i = at
            for rank, bar in group:
                views[rank].cursor.i = bar
            for rank, _ in group:
                if traded[rank]:
                    step.match(views[rank])
            if events:
                step.deliver()
            if step.algos.working:
                step.parents_of([views[rank] for rank, _ in group if traded[rank]])
            if any(traded[rank] and bar >= warmup for rank, bar in group):
                step.risk()
            else:  # a warm-up step: history for the risk policy, nothing else
                step.history_step()
            for rank, bar in group:
                if traded[rank] and bar >= warmup:
                    step.strategy_bar(views[rank])
                    if events:
                        step.deliver()
            start = end
