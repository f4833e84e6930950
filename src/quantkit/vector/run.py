"""Run a signal strategy through the compiled simulator (sweeps: `quantkit.vector.sweep_run`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from quantkit.data.feed import DataFeed
from quantkit.domain.bars import BarSeries
from quantkit.errors import ConfigError
from quantkit.vector.causal_cache import checked_signals
from quantkit.vector.fast_settings import FastSettings
from quantkit.vector.margin import refuse_liquidation
from quantkit.vector.signals import SignalData, Signals

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

    from quantkit.vector.perp_run import PerpOutcome
    from quantkit.vector.strategy import SignalStrategy

    FloatArray = npt.NDArray[np.float64]

__all__ = ["FastResult", "FastSettings", "run_signals"]

_KINDS = np.array(["entry", "exit", "stop_loss", "take_profit", "trailing_stop", "liquidation"])
# Hooks the fast path cannot run: a subclass that overrides one needs the Engine.
_EVENT_HOOKS = ("on_start", "on_bar", "on_order", "on_fill")


@dataclass(slots=True)
class _Raw:
    fills: FloatArray
    trades: FloatArray
    equity: FloatArray
    exposed: npt.NDArray[np.bool_]
    fees: float
    rejected: int
    perp: PerpOutcome | None = None


@dataclass(frozen=True, eq=False)
class FastResult:
    """What a fast-path run produced.

    The statistics are reduced from the run's arrays when it ends (`quantkit.vector.
    stats_table`: a float vector, no pandas); the pandas tables (``stats`` as a Series, ``equity``,
    ``fills``, ``trades``, ``drawdowns``) are built from the run's arrays the first time they
    are read, and then kept.

    Attributes:
        strategy: The strategy and its parameters.
        symbol: The traded symbol.
        rejected: Orders the venue or the account refused.
        signals: The signals that were run.
        stats_vector: The statistics as a float vector, slots named by
            ``quantkit.vector.stats_table.STAT_NAMES`` (times as bar positions).
    """

    strategy: str
    symbol: str
    rejected: int
    signals: Signals
    stats_vector: FloatArray = field(repr=False)
    _series: BarSeries = field(repr=False)
    _raw: _Raw = field(repr=False)

    @cached_property
    def stats(self) -> pd.Series:
        """`compute_stats` of the run: the same table as `Result.stats` (labels, values).

        On a perpetual market it ends with the event backtest's perpetual rows (funding paid,
        received and net, liquidations, funding source).
        """
        from quantkit.vector.stats_table import stats_series  # noqa: PLC0415

        stats = stats_series(self.stats_vector, self._series.close_time)
        if self.perp is None:
            return stats
        from quantkit.vector.perp_run import perp_stats_rows  # noqa: PLC0415

        return perp_stats_rows(stats, self.symbol, self.perp)

    @property
    def perp(self) -> PerpOutcome | None:
        """On a perpetual market, what funding and liquidation did (else ``None``)."""
        return self._raw.perp

    @cached_property
    def equity(self) -> pd.Series:
        """Equity at each bar close (UTC index of close times, like `Result.equity`)."""
        import pandas as pd  # noqa: PLC0415

        index = _time_index(self._series)
        return pd.Series(self._raw.equity, index=index, name="equity", copy=False)

    @cached_property
    def fills(self) -> pd.DataFrame:
        """One row per fill.

        Columns: ``time`` (the fill bar's open), ``bar``, ``side``, ``price``, ``amount``,
        ``fee``, ``kind`` (``entry``, ``exit``, ``stop_loss``, ``take_profit``,
        ``trailing_stop``), ``is_maker``, ``ambiguous``.
        """
        return _fills_frame(self._raw.fills, self._series)

    @cached_property
    def trades(self) -> pd.DataFrame:
        """Closed round trips.

        The columns of `Result.trades` (but ``orders``), plus ``entry_bar`` and ``exit_bar``;
        on a perpetual also ``funding`` (what the trade paid), its ``pnl`` net of it.
        """
        frame = _trades_frame(self._raw.trades, self._series)
        if self.perp is not None:
            from quantkit.vector.perp_contracts import trades_frame_in_prices  # noqa: PLC0415
            from quantkit.vector.perp_run import trade_funding  # noqa: PLC0415

            if self.perp.contract is not None:  # the kernel's table is in a contract's value
                frame = trades_frame_in_prices(frame, self.perp.contract)
            frame["funding"] = trade_funding(self._raw.trades, self.perp.funding, self.perp.paying)
            frame["pnl"] = frame["pnl"] - frame["funding"]
        return frame

    @cached_property
    def drawdowns(self) -> pd.DataFrame:
        """Every spell of the equity below a previous peak, in time order.

        The table of `quantkit.metrics.drawdowns.drawdown_periods`: ``peak``, ``trough``,
        ``recovery``, ``depth`` and ``duration``.
        """
        from quantkit.metrics.drawdowns import drawdown_periods  # noqa: PLC0415

        return drawdown_periods(self.equity)


def _one_series(data: BarSeries | DataFeed | Mapping[str, BarSeries]) -> dict[str, BarSeries]:
    if isinstance(data, BarSeries):
        return {data.symbol: data}
    if isinstance(data, DataFeed):
        loaded = dict(data.load())
    elif isinstance(data, Mapping):
        loaded = dict(data)
    else:
        raise ConfigError(
            f"fast path: data must be a BarSeries, a DataFeed or a mapping of them, "
            f"got {type(data).__name__}"
        )
    informative = [key for key in loaded if "@" in key]
    if informative:
        raise ConfigError(
            f"fast path: informative series {informative} are not supported; "
            "run the strategy with the Engine"
        )
    if not loaded:
        raise ConfigError("fast path: the data has no symbols")
    return loaded


def _check_strategy(strategy: object) -> SignalStrategy:
    from quantkit.vector.strategy import SignalStrategy  # noqa: PLC0415 - import cycle

    if not isinstance(strategy, SignalStrategy):
        raise ConfigError(
            f"fast path: the strategy must be a SignalStrategy, got {type(strategy).__name__}; "
            "strategies with their own on_bar need the Engine"
        )
    kind = type(strategy)
    for hook in _EVENT_HOOKS:
        if getattr(kind, hook) is not getattr(SignalStrategy, hook):
            raise ConfigError(
                f"fast path: {kind.__name__} overrides {hook}, which the fast path does not "
                "run (it runs only signals()); run it with the Engine"
            )
    return strategy


def _data_of(series: BarSeries) -> SignalData:
    return SignalData(
        series.symbol,
        np.ascontiguousarray(series.open, np.float64),
        np.ascontiguousarray(series.high, np.float64),
        np.ascontiguousarray(series.low, np.float64),
        np.ascontiguousarray(series.close, np.float64),
        np.ascontiguousarray(series.volume, np.float64),
    )


def _read_only(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """A read-only view of a bar array: numba compiles one `kernel.run_bars` for every input.

    numba types a read-only array (what data feeds make) apart from a writable one (what a
    strategy computes), so mixing them compiled the simulator twice; a view costs nothing.
    The sweep passes its bars the same way, so it loads the simulator's cached `run_bars`.
    """
    if not array.flags.writeable:
        return array
    view = array.view()
    view.flags.writeable = False
    return view


def _writable(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """A signal array as the sweep's compiled crossings make them: writable (copied if not).

    The simulator never writes to it; a strategy's signals are writable unless it made them
    read-only (`np.broadcast_to`), which costs a copy of one byte per bar.
    """
    return array if array.flags.writeable else array.copy()


def _simulate(data: SignalData, signals: Signals, params: np.recarray[Any, Any]) -> _Raw:
    from quantkit.vector import kernel  # noqa: PLC0415 - numba loads only when used

    bars = len(data)
    fills = np.empty((3 * bars + 3, len(kernel.FILL_COLUMNS)))
    trades = np.zeros((bars + 1, len(kernel.TRADE_COLUMNS)))
    equity = np.empty(bars)
    exposed = np.empty(bars, np.bool_)
    assert signals.short_entries is not None
    assert signals.short_exits is not None
    open_, high, low, close = map(_read_only, (data.open, data.high, data.low, data.close))
    flags = [signals.entries, signals.exits, signals.short_entries, signals.short_exits]
    entries, exits, short_entries, short_exits = map(_writable, flags)
    n_fills, n_trades, fees, rejected = kernel.simulate(
        open_,
        high,
        low,
        close,
        entries,
        exits,
        short_entries,
        short_exits,
        params,
        fills,
        trades,
        equity,
        exposed,
    )
    if params.allow_short[0] or params.leverage[0] != 1:
        refuse_liquidation(fills[:n_fills], equity, data.high, data.low, data.close)
    return _Raw(fills[:n_fills], trades[:n_trades], equity, exposed, float(fees), int(rejected))


def _trades_frame(raw: FloatArray, series: BarSeries) -> pd.DataFrame:
    import pandas as pd  # noqa: PLC0415

    entry_bar = raw[:, 0].astype(np.int64)
    exit_bar = raw[:, 1].astype(np.int64)
    direction = raw[:, 2]
    entry_value, entry_amount = raw[:, 4], raw[:, 5]
    exit_value, exit_amount, fees = raw[:, 6], raw[:, 7], raw[:, 8]
    with np.errstate(invalid="ignore", divide="ignore"):
        entry_price = entry_value / entry_amount
        exit_price = exit_value / exit_amount
        closed = np.minimum(exit_amount, entry_amount)
        pnl = direction * (exit_value - entry_price * closed) - fees
        return_pct = 100.0 * pnl / (entry_price * exit_amount)
    times = series.open_time
    frame = pd.DataFrame(
        {
            "symbol": series.symbol,
            "direction": np.where(direction > 0, "long", "short"),
            "entry_time": pd.to_datetime(times[entry_bar], unit="ns", utc=True),
            "exit_time": pd.to_datetime(times[exit_bar], unit="ns", utc=True),
            "size": raw[:, 3],
            "entry_price": entry_price,
            "exit_price": exit_price,
            "pnl": pnl,
            "return_pct": return_pct,
            "fees": fees,
            "ambiguous": raw[:, 9] != 0.0,
            "entry_bar": entry_bar,
            "exit_bar": exit_bar,
        }
    )
    frame["duration"] = frame["exit_time"] - frame["entry_time"]
    return frame


def _fills_frame(raw: FloatArray, series: BarSeries) -> pd.DataFrame:
    import pandas as pd  # noqa: PLC0415

    bar = raw[:, 0].astype(np.int64)
    return pd.DataFrame(
        {
            "time": pd.to_datetime(series.open_time[bar], unit="ns", utc=True),
            "bar": bar,
            "side": np.where(raw[:, 1] > 0, "buy", "sell"),
            "price": raw[:, 2],
            "amount": raw[:, 3],
            "fee": raw[:, 4],
            "kind": _KINDS[raw[:, 5].astype(np.int64)],
            "is_maker": raw[:, 6] != 0.0,
            "ambiguous": raw[:, 7] != 0.0,
        }
    )


def _time_index(series: BarSeries) -> pd.DatetimeIndex:
    import pandas as pd  # noqa: PLC0415

    stamps = np.asarray(series.close_time, dtype=np.int64).view("datetime64[ns]")
    index = pd.DatetimeIndex(stamps).tz_localize("UTC")
    index.name = "time"
    return index


def _buy_and_hold(series: BarSeries, equity: pd.Series) -> pd.Series | None:
    """The starting equity put into the symbol at its first close, and held (as `Result`)."""
    import pandas as pd  # noqa: PLC0415

    close = np.asarray(series.close, dtype=np.float64)
    if not len(close) or not close[0] > 0:
        return None
    held = close / close[0] * float(equity.iloc[0])
    return pd.Series(held, index=equity.index, name="buy and hold")


def _stats(
    raw: _Raw, series: BarSeries, trades: pd.DataFrame, index: pd.DatetimeIndex
) -> tuple[pd.Series, pd.Series]:
    import pandas as pd  # noqa: PLC0415

    from quantkit.metrics.stats import compute_stats, periods_per_year  # noqa: PLC0415

    equity = pd.Series(raw.equity, index=index, name="equity", copy=False)
    stats = compute_stats(
        equity,
        trades,
        benchmark=_buy_and_hold(series, equity),
        periods_per_year=periods_per_year(series.timeframe),
        exposure=float(raw.exposed.mean()) if len(raw.exposed) else 0.0,
        fees=raw.fees,
        ambiguous_fills=int(np.count_nonzero(raw.fills[:, 7])),
        ambiguous_trades=int(np.count_nonzero(raw.trades[:, 9])),
    )
    return equity, stats


def run_signals(
    strategy: SignalStrategy,
    data: BarSeries | DataFeed | Mapping[str, BarSeries],
    *,
    symbol: str | None = None,
    settings: FastSettings | None = None,
    check_causal: bool = True,
    **options: Any,
) -> FastResult:
    """Run a signal strategy on one symbol through the compiled simulator.

    The fills equal those of ``Engine(feed=..., strategy=strategy, broker=BacktestBroker(...))``
    with the same settings and ``FixedBps(slippage_bps)`` slippage (see ``docs/fast-path.md``).

    Args:
        strategy: The strategy (its parameters are used; it is not bound to a run).
        data: One series, a feed, or series by symbol.
        symbol: Which symbol to run when the data has several.
        settings: Account and venue settings; or give them as keyword ``options``.
        check_causal: Recompute the signals on truncated history to catch look-ahead (a
            check that passed for the same strategy, parameters and bars is not repeated:
            see `quantkit.vector.causal_cache`).
        **options: Fields of `FastSettings` (``cash``, ``market``, ``fees``,
            ``slippage_bps``, ``allow_short``, ``leverage``, ``intrabar``,
            ``warmup``).

    Returns:
        The `FastResult`.

    Raises:
        ConfigError: If the strategy, the data or a setting is not supported by the fast path
            (the message says which), or the symbol is not in the data.
        LookAheadError: If the signals use later bars.

    Examples:
        >>> from quantkit import sample_feed
        >>> from quantkit.vector.strategy import SmaCrossSignals
        >>> result = run_signals(SmaCrossSignals(fast=10, slow=30), sample_feed(),
        ...                      symbol="BTC/USDT", slippage_bps=2.0)
        >>> result.stats["Trades"] > 0
        True
    """
    chosen = _check_strategy(strategy)
    config = _settings(settings, options)
    loaded = _one_series(data)
    series = _pick(loaded, symbol)
    arrays = _data_of(series)
    signals = checked_signals(chosen, arrays, check_causal=check_causal)
    params = config.params(series.symbol, signals)
    market = config.market
    if market is not None and market.perpetual is not None:
        from quantkit.vector.perp_run import simulate_perp  # noqa: PLC0415

        raw = simulate_perp(arrays, signals, params, config, series)
    else:
        raw = _simulate(arrays, signals, params)
    return FastResult(
        strategy=repr(chosen),
        symbol=series.symbol,
        rejected=raw.rejected,
        signals=signals,
        stats_vector=_stats_vector(raw, series),
        _series=series,
        _raw=raw,
    )


def _stats_vector(raw: _Raw, series: BarSeries) -> FloatArray:
    """The run's statistics vector (as `compute_stats` defines them), from whole arrays.

    `quantkit.vector.stats_numpy`: nothing to compile, so a cold numba cache compiles only the
    simulator; `quantkit.vector.stats_kernel` computes the same vector in compiled code.
    """
    from quantkit.metrics.stats import periods_per_year  # noqa: PLC0415
    from quantkit.vector.stats_numpy import numpy_stats_vector  # noqa: PLC0415

    trades = raw.trades
    if raw.perp is not None:  # trade figures net of funding, as the event backtest's
        from quantkit.vector.perp_run import trade_funding  # noqa: PLC0415

        trades = trades.copy()
        trades[:, 8] += trade_funding(raw.trades, raw.perp.funding, raw.perp.paying)
    return numpy_stats_vector(
        raw.equity,
        raw.exposed,
        trades,
        raw.fills,
        series.open_time,
        series.close_time,
        close=series.close,
        periods_per_year=periods_per_year(series.timeframe),
        fees=raw.fees,
    )


def _settings(settings: FastSettings | None, options: Mapping[str, Any]) -> FastSettings:
    if settings is not None and options:
        raise ConfigError(
            f"fast path: give settings= or keyword settings, not both (got {sorted(options)})"
        )
    if settings is not None:
        return settings
    known = set(FastSettings.__dataclass_fields__)
    unknown = sorted(set(options) - known)
    if unknown:
        import difflib  # noqa: PLC0415

        hints = [m for name in unknown for m in difflib.get_close_matches(name, sorted(known))]
        hint = f"; did you mean {', '.join(hints)}?" if hints else f"; known: {sorted(known)}"
        raise ConfigError(f"fast path: unknown setting(s) {unknown}{hint}")
    return FastSettings(**options)


def _pick(loaded: Mapping[str, BarSeries], symbol: str | None) -> BarSeries:
    if symbol is None:
        if len(loaded) > 1:
            raise ConfigError(
                f"fast path: the data has {len(loaded)} symbols {sorted(loaded)}; "
                "pick one with symbol= (or use sweep for all)"
            )
        return next(iter(loaded.values()))
    if symbol not in loaded:
        raise ConfigError(f"fast path: no symbol {symbol!r} in the data; it has {sorted(loaded)}")
    return loaded[symbol]
