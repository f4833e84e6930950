"""The live engine: the backtest's step, driven by bars as they close, on anyio.

Bars, broker events and signals are concurrent tasks; the strategy's synchronous callbacks run
between them, one at a time. Each closed bar goes through the same sequence as in a backtest:
the broker matches working orders (paper), indicators extend by the new bar, the strategy sees
it, its intents pass through risk to the broker. Which broker and which stream are chosen by
the caller; the engine never branches on the mode.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

import anyio
import numpy as np
import structlog

from quantkit.brokers.base import Broker
from quantkit.data.live import StreamStatus
from quantkit.domain.bars import Bar, BarSeries
from quantkit.domain.client_ids import order_number
from quantkit.engine.live_context import LiveContext
from quantkit.engine.live_state import (
    LiveRecorder,
    LiveSummary,
    PositionMismatch,
    persistent_state,
    primary_error,
    promotion_state,
    restore_state,
)
from quantkit.engine.stages import Stage, run_stages
from quantkit.engine.step import BrokerWorking, Step
from quantkit.errors import ConfigError, StrategyError
from quantkit.risk.policy import RiskPolicy
from quantkit.strategy.base import Strategy
from quantkit.strategy.data import SymbolData
from quantkit.strategy.series import Cursor

if TYPE_CHECKING:
    from anyio.abc import TaskStatus

    from quantkit.engine.tape import EventTape
    from quantkit.strategy.indicators import Indicator

__all__ = ["BarStream", "LiveEngine", "LiveSummary", "PositionMismatch"]

_log = structlog.get_logger("quantkit.live")


_STALE = "stale data"


class BarStream(Protocol):
    """Where a live run's bars come from (`LiveBarStream`, `ReplayStream`)."""

    async def __aenter__(self) -> Any:
        """Open connections."""
        ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> Any:
        """Close connections."""
        ...

    async def warmup(self, bars: int) -> Mapping[str, BarSeries]:
        """The last ``bars`` closed bars of each symbol, the run's history."""
        ...

    def __aiter__(self) -> AsyncIterator[Bar | StreamStatus]:
        """New closed bars, each once and in order, and changes of the stream's health."""
        ...


class LiveEngine:
    """Runs a strategy on bars as they close, through risk and a paper or live broker.

    Args:
        stream: Where bars come from (`LiveBarStream` for a venue, `ReplayStream` for
            recorded bars).
        strategy: The strategy instance, unchanged from its backtest.
        broker: `PaperBroker` or `LiveBroker` (any `Broker`).
        risk: Policy (or chain) every order intent passes through.
        warmup: Closed bars of history per symbol loaded before the first live bar; the
            strategy's indicators are computed over them, ``on_bar`` is not called for them.
        run_id: The run's identifier (client order ids derive from it).
        cancel_on_shutdown: Whether to cancel working orders when the run stops.
        max_bars: Stop after this many bars (``None``: run until the stream ends or a signal).
        handle_signals: Stop gracefully on SIGINT and SIGTERM (main thread only).
            The run logs its events with structlog; if structlog is not configured yet when
            the run starts, `quantkit.log.configure_logging` is called with its defaults.
        tape: Records bars, intents, order updates and fills for the divergence report.
        resume_from: A snapshot file written by `LiveEngine.save_snapshot` (for example by a
            paper run being promoted to live): the strategy's persistent attributes are
            restored from it and its positions are checked against the broker's account.
        on_position_mismatch: ``"refuse"`` (default) to stop when the snapshot's positions
            differ from the account's, ``"adopt_account"`` to carry on with the account's.
        closing: Resources with an ``aclose()`` coroutine (the venue client) that the run
            closes when it ends, however it ends (shielded from cancellation).

    Raises:
        ConfigError: If a component has the wrong type or a setting is invalid.
    """

    def __init__(
        self,
        *,
        stream: BarStream,
        strategy: Strategy,
        broker: Broker,
        risk: RiskPolicy | None = None,
        warmup: int = 100,
        run_id: str = "live",
        cancel_on_shutdown: bool = True,
        max_bars: int | None = None,
        handle_signals: bool = True,
        tape: EventTape | None = None,
        resume_from: str | os.PathLike[str] | None = None,
        on_position_mismatch: PositionMismatch = "refuse",
        closing: Sequence[Any] = (),
    ) -> None:
        if not isinstance(strategy, Strategy):
            raise ConfigError(f"LiveEngine: strategy must be a Strategy, got {type(strategy)}")
        if not isinstance(broker, Broker):
            raise ConfigError(f"LiveEngine: broker must be a Broker, got {type(broker)}")
        if risk is not None and not isinstance(risk, RiskPolicy):
            raise ConfigError(f"LiveEngine: risk must be a RiskPolicy, got {type(risk)}")
        if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
            raise ConfigError(f"LiveEngine: warmup must be an integer >= 0, got {warmup!r}")
        if max_bars is not None and (isinstance(max_bars, bool) or max_bars < 1):
            raise ConfigError(f"LiveEngine: max_bars must be >= 1 or None, got {max_bars!r}")
        if on_position_mismatch not in ("refuse", "adopt_account"):
            raise ConfigError(
                "LiveEngine: on_position_mismatch must be 'refuse' or 'adopt_account', "
                f"got {on_position_mismatch!r}"
            )
        if not run_id:
            raise ConfigError("LiveEngine: run_id must not be empty")
        self.stream = stream
        self.strategy = strategy
        self.broker = broker
        self.risk = risk
        self.warmup = warmup
        self.run_id = run_id
        self.cancel_on_shutdown = cancel_on_shutdown
        self.max_bars = max_bars
        self.handle_signals = handle_signals
        self.tape = tape
        self.resume_from = None if resume_from is None else Path(resume_from)
        self.on_position_mismatch = on_position_mismatch
        self.closing = tuple(closing)
        self.latencies_ns: list[int] = []
        """For each bar that produced orders: ns from the bar's arrival to the last order
        leaving the broker (strategy, risk, journal and broker included)."""
        self._ran = False
        self._stop_reason = ""
        self._bars_scope: anyio.CancelScope | None = None
        self._counts = {"bars": 0, "fills": 0, "rejected": 0, "canceled": 0, "stale": 0}
        self._saved: str = ""
        self._bar: Bar | None = None  # the bar being stepped, for the broker's matching
        self._started = False  # on_start and the state's restoration completed
        self._arrived_ns: int | None = None  # perf_counter_ns() when the latest bar arrived

    # -- running ---------------------------------------------------------------------------------

    def run(self) -> LiveSummary:
        """Run until the stream ends, ``max_bars`` bars, or SIGINT/SIGTERM.

        Returns:
            The summary.
        """
        return anyio.run(self.arun)

    def request_stop(self, reason: str = "stop requested") -> None:
        """Stop after the current bar: no new orders, then the shutdown sequence.

        Args:
            reason: Why, for the summary and the logs.
        """
        if not self._stop_reason:
            self._stop_reason = reason
        if self._bars_scope is not None:
            self._bars_scope.cancel()

    async def arun(self) -> LiveSummary:
        """Run in the current event loop; see `run`.

        Returns:
            The summary.

        Raises:
            ConfigError: If the engine already ran, or resuming finds positions that differ
                from the account's (with ``on_position_mismatch="refuse"``).
        """
        if self._ran:
            raise ConfigError("LiveEngine.arun: this engine already ran; build a new one")
        self._ran = True
        if not structlog.is_configured():
            from quantkit.log import configure_logging  # noqa: PLC0415

            configure_logging()  # JSON lines on stderr, or readable when stderr is a terminal
        failure: BaseException | None = None
        try:
            try:
                await self._run_tasks()
            except BaseExceptionGroup as group:
                primary = primary_error(group)
                if primary is None:
                    raise
                raise primary from primary.__cause__  # as it was, its cause kept
        except StrategyError as exc:
            exc.result = self._partial_summary(exc)
            failure = exc
            raise
        except BaseException as exc:
            failure = exc
            raise
        finally:
            with anyio.CancelScope(shield=True):
                await self._close_resources(failure)
        summary = self._summary()
        fields = {name: getattr(summary, name) for name in summary.__dataclass_fields__}
        _log.info("live_run_stopped", **fields)
        return summary

    async def _close_resources(self, failure: BaseException | None) -> None:
        """Close ``closing`` in turn; an error never replaces the run's own ``failure``."""
        await run_stages([(f"closing {type(r).__name__}", r.aclose) for r in self.closing], failure)

    async def _run_tasks(self) -> None:
        async with self.stream:
            history = dict(await self.stream.warmup(self.warmup))
            self._setup(history)
            async with anyio.create_task_group() as tasks:
                await self.broker.astart(tasks)
                failure: BaseException | None = None
                try:
                    self._start_strategy()
                    tasks.start_soon(self._deliver_events)
                    if (
                        self.handle_signals
                        and threading.current_thread() is threading.main_thread()
                    ):
                        await tasks.start(self._watch_signals)  # handlers in place first
                    await self._consume()
                except BaseException as exc:
                    failure = exc
                    raise
                finally:
                    with anyio.CancelScope(shield=True):
                        await self._shutdown(failure)
                    tasks.cancel_scope.cancel()

    def _setup(self, history: dict[str, BarSeries]) -> None:
        if not history:
            raise ConfigError("LiveEngine: the stream has no symbols")
        if any("@" in symbol for symbol in history):
            raise ConfigError("LiveEngine: informative series ('SYM@tf') are not supported live")
        datas = {symbol: SymbolData(series) for symbol, series in history.items()}
        for data in datas.values():
            data.cursor.i = len(data.close._array) - 1
        closes = [s.close_time for s in history.values() if len(s)]
        times = np.unique(np.concatenate(closes)) if closes else np.empty(0, np.int64)
        timeline = Cursor()
        timeline.i = len(times) - 1
        self.datas = datas
        self._history = history
        self._history_times = times
        self.context = LiveContext(
            self.broker, self.risk, datas, timeline, times.astype(np.int64), f"{self.run_id}"
        )
        self.context.tape = self.tape
        if self.tape is not None:  # the divergence report replays the warm-up too
            for series in history.values():
                for i in range(len(series)):
                    self.tape.record_bar(series.bar(i), series.timeframe)
        self.broker.prepare(history, self.context)

    def _start_strategy(self) -> None:
        context = self.context
        resume = self.broker.resume_state()
        context.set_run(self.run_id, int(resume.get("seq", 0)))
        strategy = self.strategy
        broker = self.broker

        def match(data: SymbolData) -> None:
            bar = self._bar
            if bar is None or bar.symbol != data.symbol:  # pragma: no cover - step() sets it
                raise RuntimeError("LiveEngine: matching without the bar that just closed")
            broker.on_bar_closed(bar)  # the stream's own bar, as the broker expects

        self._step = Step(
            strategy=strategy,
            broker=broker,
            context=context,
            risk=self.risk,
            match=match,
            working=BrokerWorking(broker, tuple(self.datas)),
            recorder=LiveRecorder(self._counts, self.tape, self._bar_clock),
        )
        self._resume_parents()
        strategy._bind(context, self.datas, tuple(self.datas))
        self._step.learn_history(self._history, len(self._history_times))
        self._step.start()
        saved = resume.get("strategy")
        if self.resume_from is not None:
            saved = self._promote()
        if saved:
            restore_state(strategy, saved)
        self._indicators = self._indicators_by_symbol()
        self._started = True  # from here on, shutdown calls on_stop and saves the state
        self._dispatch()
        _log.info(
            "live_run_started",
            run_id=self.run_id,
            symbols=list(self.datas),
            warmup=self.warmup,
            resumed_orders=int(resume.get("seq", 0)),
        )

    def _resume_parents(self) -> None:
        """Give the parent orders the broker's journal and resume those it holds (restarts)."""
        journal = self.broker.parent_journal()
        if journal is None:
            return
        algos = self.context.algos
        algos.journal = journal
        algos.restore()
        numbers = [order_number(parent.id) for parent in algos.parents]
        if numbers and max(numbers) > self.context.sent_seq:  # never reuse a parent's id
            self.context.set_run(self.run_id, max(numbers))

    def _bar_clock(self, symbol: str) -> tuple[int, int] | None:
        """The run's bar-clock reading: latest close plus the time since that bar arrived."""
        data = self.datas.get(symbol)
        if data is None or self._arrived_ns is None:
            return None
        elapsed = time.perf_counter_ns() - self._arrived_ns
        return self.context.now + elapsed, data.timeframe

    def _indicators_by_symbol(self) -> dict[str, list[Indicator]]:
        owner = {id(data.cursor): symbol for symbol, data in self.datas.items()}
        grouped: dict[str, list[Indicator]] = {symbol: [] for symbol in self.datas}
        for indicator in self.strategy.indicators:
            grouped[owner[id(indicator._cursor)]].append(indicator)
        return grouped

    async def _consume(self) -> None:
        with anyio.CancelScope() as scope:
            self._bars_scope = scope
            if self._stop_reason:
                scope.cancel()
            async for item in self.stream:
                if isinstance(item, Bar):
                    self.step(item)
                    if self.max_bars is not None and self._counts["bars"] >= self.max_bars:
                        self._stop_reason = self._stop_reason or f"max_bars ({self.max_bars})"
                        break
                else:
                    self._on_status(item)
        if not self._stop_reason:
            self._stop_reason = "stopped" if scope.cancel_called else "end of data"

    def step(self, bar: Bar) -> None:
        """Hand one new closed bar through broker, indicators, strategy and risk.

        Args:
            bar: The bar; bars at or before the symbol's latest are ignored (logged).

        Raises:
            ConfigError: If the bar's symbol is not part of the run.
        """
        arrived = time.perf_counter_ns()
        self._arrived_ns = arrived
        data = self.datas.get(bar.symbol)
        if data is None:
            raise ConfigError(f"LiveEngine: bar for {bar.symbol!r}, not a symbol of this run")
        if len(data) and bar.open_time <= data.open_time:
            _log.warning("duplicate_bar_ignored", symbol=bar.symbol, open_time=bar.open_time)
            return
        if len(data) and bar.open_time > data.open_time + data.timeframe:
            _log.warning(
                "bar_gap", symbol=bar.symbol, after=data.open_time, open_time=bar.open_time
            )
        data._append_bar(bar.open_time, bar.open, bar.high, bar.low, bar.close, bar.volume)
        self.context.advance(bar.close_time)
        for indicator in self._indicators[bar.symbol]:
            try:
                indicator.update()
            except Exception as exc:
                self._step.fail(f"indicator {indicator.name}", exc, bar.symbol)
        if self.tape is not None:
            self.tape.record_bar(bar, data.timeframe)
        sent = self.context.sent
        self._bar = bar
        self._step.bar(data)
        if self.context.sent != sent:
            self.latencies_ns.append(self.context.last_sent_ns - arrived)
        self._counts["bars"] += 1
        self._save_state()

    def _on_status(self, status: StreamStatus) -> None:
        context = self.context
        if status.stale:
            self._counts["stale"] += 1
            if not context.halted:
                context.halted = f"{_STALE}: {status.reason}"
            _log.warning("data_stale", symbol=status.symbol, reason=status.reason)
        else:
            if context.halted.startswith(_STALE):
                context.halted = ""
            _log.info("data_fresh", symbol=status.symbol, reason=status.reason)

    async def _deliver_events(self) -> None:
        while True:
            await self.broker.events_ready()
            if self.broker.events:
                self._dispatch()

    async def _watch_signals(
        self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        # anyio installs its own handlers for both signals, so a stop works even when the
        # process inherited SIGINT as ignored (started in the background by a shell or CI).
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            task_status.started()
            async for number in signals:
                name = signal.Signals(number).name
                _log.info("signal_received", signal=name)
                self.request_stop(f"signal {name}")

    async def _shutdown(self, failure: BaseException | None) -> None:
        """Stop the broker, call ``on_stop``, save state and close the tape (`run_stages`)."""
        self.context.halted = "shutting down"
        await run_stages(self._shutdown_stages(), failure)

    def _shutdown_stages(self) -> list[Stage]:
        async def broker() -> None:
            await self.broker.ashutdown(cancel_open=self.cancel_on_shutdown)
            self._dispatch()

        async def stop() -> None:
            self._step.stop()

        async def save() -> None:
            self._save_state()

        async def tape() -> None:
            if self.tape is not None:
                self.tape.close()

        stages = [("the broker's shutdown", broker), ("on_stop", stop), ("saving state", save)]
        if not self._started:  # did not start (or refused a resume): nothing to stop or save
            stages = [stages[0]]
        return [*stages, ("closing the tape", tape)]

    # -- events and state --------------------------------------------------------------------------

    def _dispatch(self) -> None:
        step = getattr(self, "_step", None)  # None until the strategy started
        if step is not None and self.broker.events:
            step.deliver()

    def persistent_state(self) -> dict[str, Any]:
        """The strategy's persistent attributes (``Strategy.persistent``) as JSON values.

        Returns:
            Attribute name to value.

        Raises:
            ConfigError: If an attribute is missing or not JSON-serialisable.
        """
        return persistent_state(self.strategy)

    def _save_state(self) -> None:
        """Journal the strategy's persistent attributes when they changed.

        Order numbers are recovered from the journal's intents, so a bar that changes nothing
        writes nothing.
        """
        if not type(self.strategy).persistent:
            return
        state = {"strategy": self.persistent_state()}
        text = json.dumps(state, sort_keys=True)
        if text != self._saved:
            self.broker.save_state(state)
            self._saved = text

    def snapshot(self) -> dict[str, Any]:
        """What a promotion to live carries over: strategy state, positions, order count.

        Returns:
            A JSON-able dict.
        """
        portfolio = self.broker.portfolio
        return {
            "run_id": self.run_id,
            "seq": self.context.sent_seq,
            "strategy": self.persistent_state(),
            "positions": {s: p.amount for s, p in portfolio.positions.items() if p.amount},
            "cash": portfolio.balance,
        }

    def save_snapshot(self, path: str | os.PathLike[str]) -> Path:
        """Write `snapshot` to ``path`` atomically (for ``resume_from`` of the next run).

        Args:
            path: The JSON file.

        Returns:
            The path written.
        """
        target = Path(path)
        temporary = target.with_name(target.name + ".tmp")
        temporary.write_text(json.dumps(self.snapshot(), indent=2, sort_keys=True))
        os.replace(temporary, target)
        return target

    def _promote(self) -> dict[str, Any]:
        assert self.resume_from is not None
        return promotion_state(
            self.resume_from, self.broker.portfolio, self.datas, self.on_position_mismatch
        )

    def _partial_summary(self, error: StrategyError) -> LiveSummary | None:
        """The summary of the run up to a strategy's failure (``None`` if it cannot be built)."""
        if not hasattr(self, "context"):
            return None
        self._stop_reason = self._stop_reason or f"error: {error}"
        try:
            return self._summary()
        except Exception as exc:  # the strategy's error stays the one raised
            error.add_note(f"the partial summary could not be built: {type(exc).__name__}: {exc}")
            return None

    def _summary(self) -> LiveSummary:
        portfolio = self.context.portfolio
        counts = self._counts
        return LiveSummary(
            run_id=self.run_id,
            stop_reason=self._stop_reason or "stopped",
            bars=counts["bars"],
            orders=self.context.sent,
            fills=counts["fills"],
            rejected=counts["rejected"],
            canceled=counts["canceled"],
            open_orders=len(self.broker.open_orders()),
            cash=portfolio.balance,
            equity=portfolio.equity(),
            positions={s: p.amount for s, p in portfolio.positions.items() if p.amount},
            stale_periods=counts["stale"],
            left_on_venue=self.broker.left_on_venue,
            dust={s: p.amount for s, p in portfolio.positions.items() if p.is_dust},
        )
