"""The backtest broker: the simulated exchange over historical bars."""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Sized
from typing import Any

import numpy as np

from quantkit.brokers.base import Clock
from quantkit.brokers.perp_gate import PerpetualBarGate, funding_bars
from quantkit.brokers.perpetual_setup import align_marks
from quantkit.brokers.simulated import SimulatedBroker
from quantkit.domain.bars import BarSeries
from quantkit.domain.futures_portfolio import FuturesPortfolio
from quantkit.sim.perpetual import PerpetualExchange
from quantkit.strategy.series import native_view

__all__ = ["BacktestBroker"]


class BacktestBroker(SimulatedBroker):
    """Fills orders against historical bars with the rules of `quantkit.sim`.

    Args:
        settings: The account and its fill rules (default: `SimSettings()`).
        **options: Any `SimSettings` field by keyword (``cash=5_000``), overriding
            ``settings``.

    Raises:
        ConfigError: If a setting is invalid.

    Examples:
        >>> broker = BacktestBroker(cash=10_000, currency="USDT")
        >>> broker.portfolio.balance
        10000.0
    """

    _history: Mapping[str, BarSeries]
    _bars: dict[str, tuple[Sequence[Any], ...]]
    _marks: dict[str, Any]
    _mark_views: dict[str, tuple[Sequence[float], ...]]
    _gates: dict[str, PerpetualBarGate]

    def prepare(self, history: Mapping[str, BarSeries], clock: Clock) -> None:
        """Build the simulated exchange for the run's symbols.

        Args:
            history: The bars of the run, by symbol.
            clock: The engine's clock.

        Raises:
            ConfigError: If called twice, or a market is not quoted in the account currency.
        """
        super().prepare(history, clock)
        self._history = history
        self._marks = align_marks(history, self.settings.marks or {})
        portfolio = self._portfolio
        if isinstance(portfolio, FuturesPortfolio):
            for symbol, columns in self._marks.items():
                portfolio.mark_close[symbol] = columns[3]
        self._bars = {symbol: _bar_columns(series) for symbol, series in history.items()}
        self._mark_views = _mark_views(self._marks)
        self._gates = {}

    def working(self, symbol: str) -> Sized:
        """Non-empty while the symbol's bars must be matched by this broker.

        A held perpetual's bar is skipped when nothing can happen in it (see
        `quantkit.brokers.perp_gate`); other symbols follow `SimulatedBroker.working`.

        Args:
            symbol: Market symbol.

        Returns:
            A live container to test for emptiness.
        """
        exchange = self.exchange
        series = self._history.get(symbol)
        if not isinstance(exchange, PerpetualExchange) or symbol not in exchange.futures.specs:
            return super().working(symbol)
        assert series is not None
        marks = self._marks.get(symbol)
        if marks is None:
            low, high, close = series.low, series.high, series.close
        else:
            _, high, low, close = marks
        gate = PerpetualBarGate(
            exchange,
            symbol,
            self._clock,
            native_view(series.close_time),
            (low, high, close),
            funding_bars(series, exchange.funding.get(symbol)),
        )
        self._gates[symbol] = gate  # planned after each processed bar (`on_bar`)
        return gate

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_bars"] = {}  # memoryviews cannot be pickled or copied; rebuilt on load
        state["_mark_views"] = {}
        state["_gates"] = {}  # hold memoryviews too; a copy plans nothing until asked again
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        history: Mapping[str, BarSeries] = state.get("_history", {})
        self._bars = {symbol: _bar_columns(series) for symbol, series in history.items()}
        self._mark_views = _mark_views(state.get("_marks", {}))

    def on_bar(self, symbol: str, index: int) -> None:
        """Match the symbol's working orders against bar ``index``.

        Args:
            symbol: Market symbol.
            index: Bar position in the run's history.
        """
        exchange = self._exchange or self.exchange  # the property raises if not prepared
        marks = self._mark_views.get(symbol) if self._mark_views else None
        if marks is not None and isinstance(exchange, PerpetualExchange):
            mo, mh, ml, mc = marks
            exchange.set_mark(symbol, mo[index], mh[index], ml[index], mc[index])
        open_time, open_, high, low, close, volume = self._bars[symbol]
        exchange.process_bar(
            symbol,
            open_time[index],
            open_[index],
            high[index],
            low[index],
            close[index],
            volume[index],
        )
        gate = self._gates.get(symbol) if self._gates else None
        if gate is not None:
            gate.plan(index)


def _mark_views(marks: Mapping[str, Any]) -> dict[str, tuple[Sequence[float], ...]]:
    """Readers of each symbol's aligned mark columns, giving Python floats by index."""
    return {symbol: tuple(native_view(c) for c in columns) for symbol, columns in marks.items()}


def _bar_columns(series: BarSeries) -> tuple[Sequence[Any], ...]:
    """Readers of the columns ``on_bar`` passes on, each giving Python scalars by index.

    int64 and float64 columns are read through memoryviews (no copy; ``.item()`` on the array
    gives the same int or float, at twice the cost); other dtypes through ``tolist()``.
    """
    columns = (series.open_time, series.open, series.high, series.low, series.close, series.volume)
    readers: list[Sequence[Any]] = []
    for column in columns:
        if column.ndim == 1 and column.dtype in (np.int64, np.float64):
            readers.append(native_view(column))
        else:
            readers.append(column.tolist())
    return tuple(readers)
