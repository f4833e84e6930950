"""Signal strategies: logic declared once over whole arrays, run by the engine or the fast path."""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING, Annotated

import numpy as np
from annotated_types import Ge, Gt, Le, Lt

from quantkit.errors import ConfigError, LookAheadError
from quantkit.strategy.base import Strategy
from quantkit.strategy.library.sma_cross import crossover_signal
from quantkit.vector.signals import EntryType, SignalData, Signals

if TYPE_CHECKING:
    from quantkit.domain.order import Order
    from quantkit.strategy.data import SymbolData

__all__ = ["SignalStrategy", "SmaCrossSignals", "signal_data"]

_CHECK_MIN_BARS = 8


def signal_data(data: SymbolData) -> SignalData:
    """Return a symbol's whole history as arrays (a backtest's full series).

    Args:
        data: The symbol's data as the engine holds it.

    Returns:
        The arrays every bar of the run, views without copies.
    """
    return SignalData(
        data.symbol,
        data.open._array,
        data.high._array,
        data.low._array,
        data.close._array,
        data.volume._array,
    )


class SignalStrategy(Strategy):
    """A strategy whose logic is boolean signals computed once over whole arrays.

    Implement `signals`; it receives every bar of one symbol and returns `Signals`. The
    same subclass runs in the ordinary `Engine` (backtest, paper, live: ``on_bar`` places
    the orders the signals call for) and in the compiled fast path
    (`quantkit.vector.run_signals`, `quantkit.vector.sweep`), which gives the same fills.

    ``signals[i]`` may use bars ``0..i`` only. `signals` sees the whole history, so this is
    checked when the strategy starts: the signals are recomputed on the first third and the
    first two thirds of the bars, and any earlier value that changes raises `LookAheadError`.

    Examples:
        >>> import numpy as np
        >>> class Momentum(SignalStrategy):
        ...     lookback: int = 5
        ...
        ...     def signals(self, data: SignalData) -> Signals:
        ...         change = np.full(len(data), np.nan)
        ...         change[self.lookback :] = data.close[self.lookback :] / data.close[
        ...             : -self.lookback
        ...         ]
        ...         return Signals(entries=change > 1.01, exits=change < 0.99, sl_pct=0.05)
        >>> Momentum(lookback=10).lookback
        10
    """

    _signal_cache: dict[str, Signals]
    _entry_orders: dict[str, tuple[Order, int]]

    @abstractmethod
    def signals(self, data: SignalData) -> Signals:
        """Compute the signals of one symbol over all its bars.

        Args:
            data: Every bar of the symbol; parameters are attributes of ``self``.

        Returns:
            One signal per bar; ``signals[i]`` may only depend on bars up to ``i``.
        """

    def compute_signals(self, data: SignalData, *, check_causal: bool = True) -> Signals:
        """Call `signals` and check what it returned.

        Args:
            data: Every bar of the symbol.
            check_causal: Recompute on truncated history to catch look-ahead.

        Returns:
            The signals.

        Raises:
            ConfigError: If `signals` does not return `Signals` with one value per bar.
            LookAheadError: If a signal changes when later bars are removed.
        """
        name = type(self).__name__
        made = self._call(data, name)
        length = len(data)
        if check_causal and length >= _CHECK_MIN_BARS:
            for cut in (length // 3, (2 * length) // 3):
                bar = made.same_prefix(self._call(data.head(cut), name), cut)
                if bar >= 0:
                    raise LookAheadError(
                        f"{name}.signals looks ahead on {data.symbol}: its value at bar {bar} "
                        f"changes when the bars from {cut} on are removed; signals[i] may only "
                        "use bars up to i"
                    )
        return made

    def _call(self, data: SignalData, name: str) -> Signals:
        made = self.signals(data)
        if not isinstance(made, Signals):
            raise ConfigError(f"{name}.signals must return Signals, got {type(made).__name__}")
        made.check_length(len(data), f"{name}.signals on {data.symbol}")
        return made

    def on_start(self) -> None:
        """Compute (and check) every tradable symbol's signals over its whole history."""
        self._signal_cache = {
            symbol: self.compute_signals(signal_data(self.datas[symbol])) for symbol in self.symbols
        }
        self._entry_orders = {}

    def on_bar(self, bar: SymbolData) -> None:
        """Place the orders the signals call for at this bar (they fill at the next open).

        Args:
            bar: The symbol's data.
        """
        symbol = bar.symbol
        i = bar.index
        made = self._signal_cache[symbol]
        if i >= len(made):  # live: new bars arrived since the signals were computed
            made = self._signal_cache[symbol] = self.compute_signals(
                signal_data(bar), check_causal=False
            )
        position = self.position(symbol)
        held, flat = position.amount, position.is_flat  # dust counts as flat (as the kernel)
        if not flat and held > 0.0:
            if made.exits[i]:
                self.close(symbol)
        elif not flat and held < 0.0:
            assert made.short_exits is not None
            if made.short_exits[i]:
                self.close(symbol)
        elif not self._entry_working(symbol, i, made):
            assert made.short_entries is not None
            long, short = bool(made.entries[i]), bool(made.short_entries[i])
            if long or short:
                self._enter(bar, made, "buy" if long else "sell")

    def _entry_working(self, symbol: str, i: int, made: Signals) -> bool:
        """Whether a limit or stop entry still works; cancel it after its valid bars."""
        entry = self._entry_orders.get(symbol)
        if entry is None:
            return False
        order, placed = entry
        if order.is_active and i - placed < made.entry_valid_bars:
            return True
        if order.is_active:
            self.cancel(order)  # expired
        del self._entry_orders[symbol]
        return False

    def _enter(self, bar: SymbolData, made: Signals, side: str) -> None:
        """Place the entry order the signals call for at this bar."""
        symbol = bar.symbol
        budget = self.cash * made.size
        if budget <= 0.0:  # cash can sit a rounding error below zero after a sale
            return
        if made.entry_type == "market":
            self.order(
                side,
                symbol=symbol,
                cost=budget,
                sl_pct=made.sl_pct,
                tp_pct=made.tp_pct,
                trail_pct=made.trail_pct,
            )
            return
        sign = 1.0 if side == "buy" else -1.0
        away = sign * made.entry_offset if made.entry_type == "stop" else -sign * made.entry_offset
        price = float(bar.close._array[bar.index]) * (1.0 + away)
        taker = self._ctx.market(symbol).taker_fee
        stop = made.entry_type == "stop"
        order = self.order(
            side,
            symbol=symbol,
            amount=budget / (price * (1.0 + taker)),
            limit=None if stop else price,
            stop=price if stop else None,
            sl_pct=made.sl_pct,
            tp_pct=made.tp_pct,
            trail_pct=made.trail_pct,
        )
        self._entry_orders[symbol] = (order, bar.index)


class SmaCrossSignals(SignalStrategy):
    """Moving-average crossover as signals, with an optional bracket and short side.

    A cross of the fast SMA of the close above the slow one enters long (and, with
    ``short=True``, exits a short); a cross below exits the long (and enters short). Entries
    spend ``size`` of the cash, fee included; ``sl_pct`` / ``tp_pct`` attach a stop-loss and a
    take-profit measured from the entry's fill price.

    Attributes:
        fast: Fast SMA period (bars), >= 2.
        slow: Slow SMA period (bars), > fast.
        size: Fraction of cash an entry spends, in (0, 1].
        sl_pct: Stop-loss distance as a fraction, or None.
        tp_pct: Take-profit distance as a fraction, or None.
        short: Whether a cross down also enters a short position (needs ``allow_short``).
        entry_type: ``"market"``, ``"limit"`` or ``"stop"`` entries (see `Signals`).
        entry_offset: Distance of a limit or stop entry from the signal bar's close.
        entry_valid_bars: Bars a limit or stop entry works before it is canceled.
        trail_pct: Trailing stop distance from the extreme since entry, or None.
    """

    fast: Annotated[int, Ge(2)] = 10
    slow: Annotated[int, Ge(3)] = 30
    size: Annotated[float, Gt(0), Le(1)] = 1.0
    sl_pct: Annotated[float, Gt(0), Lt(1)] | None = None
    tp_pct: Annotated[float, Gt(0)] | None = None
    short: bool = False
    entry_type: EntryType = "market"
    entry_offset: Annotated[float, Ge(0), Lt(1)] = 0.0
    entry_valid_bars: Annotated[int, Ge(1)] = 1
    trail_pct: Annotated[float, Gt(0), Lt(1)] | None = None

    def validate_params(self) -> None:
        """Require ``fast < slow``."""
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be below slow ({self.slow})")

    def signals(self, data: SignalData) -> Signals:
        """Cross up enters long, cross down exits (and enters short with ``short``).

        Args:
            data: Every bar of the symbol.

        Returns:
            The signals.
        """
        import talib  # noqa: PLC0415 - TA-Lib loads only when a strategy uses it

        close = np.ascontiguousarray(data.close, dtype=np.float64)
        fast = talib.SMA(close, timeperiod=self.fast)
        slow = talib.SMA(close, timeperiod=self.slow)
        cross = crossover_signal(fast, slow)
        up, down = cross > 0.0, cross < 0.0
        return Signals(
            entries=up,
            exits=down,
            short_entries=down if self.short else None,
            short_exits=up if self.short else None,
            size=self.size,
            sl_pct=self.sl_pct,
            tp_pct=self.tp_pct,
            entry_type=self.entry_type,
            entry_offset=self.entry_offset,
            entry_valid_bars=self.entry_valid_bars,
            trail_pct=self.trail_pct,
        )
