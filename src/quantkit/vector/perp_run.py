"""The fast path on a perpetual market: inputs for `kernel_perp.simulate_perp`, and its outcome.

`run_signals` comes here when its market carries a `PerpetualSpec`. The settings mirror
`BacktestBroker`'s: ``leverage`` (the symbol's), ``margin_mode``, ``marks`` (mark bars, one
per trade bar, by symbol) and ``funding`` (`FundingRates` by symbol). Funding rates are lined
up with the bars here, once, without look-ahead: bar ``i`` carries the rates whose timestamps
fall in ``(open[i-1], open[i]]``, paid on the position held before bar ``i`` at its mark open
(the event backtest's rule, `quantkit.sim.perpetual`); the first bar carries none.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from quantkit.brokers.perpetual_setup import align_marks
from quantkit.domain.bars import BarSeries
from quantkit.domain.funding import FundingRates
from quantkit.domain.market import Market
from quantkit.domain.perpetual import PerpetualSpec
from quantkit.errors import ConfigError
from quantkit.vector.perp_contracts import check_inverse, contract_columns, fills_in_prices

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

    from quantkit.vector.run import FastSettings, _Raw
    from quantkit.vector.signals import SignalData, Signals

    FloatArray = npt.NDArray[np.float64]
    IntArray = npt.NDArray[np.int64]

__all__ = [
    "PerpInputs",
    "PerpOutcome",
    "funding_per_bar",
    "funding_schedule",
    "leverage_notional_cap",
    "perp_inputs",
    "perp_stats_rows",
    "simulate_perp",
    "trade_funding",
]


@dataclass(frozen=True, slots=True)
class PerpOutcome:
    """What the perpetual rules did in a fast-path run.

    Attributes:
        funding: Funding paid at each bar (negative: received), settle currency.
        paying: The bars where funding was booked (``funding``'s non-zero positions), so the
            totals read a few thousand values instead of every bar.
        liquidations: Forced closes.
        liquidation_fees: Liquidation fees charged (included in the fees paid).
        deficit: Loss beyond zero absorbed after a gap (cross margin).
        source: Where the funding rates came from.
        contract: The perpetual's spec (the kernel's trade table is in one contract's
            notional: `perp_contracts.trades_frame_in_prices`).
    """

    funding: FloatArray = field(repr=False)
    paying: IntArray = field(repr=False)
    liquidations: int
    liquidation_fees: float
    deficit: float
    source: str
    contract: PerpetualSpec | None = None

    @property
    def funding_paid(self) -> float:
        """Funding paid over the run (>= 0)."""
        booked = self.funding[self.paying]
        return math.fsum(booked[booked > 0].tolist())

    @property
    def funding_received(self) -> float:
        """Funding received over the run (>= 0)."""
        booked = self.funding[self.paying]
        return -math.fsum(booked[booked < 0].tolist())


@dataclass(frozen=True, slots=True)
class PerpInputs:
    """The perpetual arrays of one run (see `kernel_perp.simulate_perp`).

    Funding comes as a sparse schedule (`funding_schedule`): the bars with a non-zero rate
    due at their open and those rates.
    """

    marks: tuple[FloatArray, FloatArray, FloatArray, FloatArray]
    pay_bars: IntArray
    pay_rates: FloatArray
    perp: FloatArray
    brackets: FloatArray
    source: str
    notional_cap: float = 0.0


def funding_per_bar(rates: FundingRates | None, open_time: IntArray) -> FloatArray:
    """The funding rate each bar pays at its open: those due in ``(open[i-1], open[i]]``.

    Args:
        rates: The schedule (``None``: no funding).
        open_time: The bars' open times, ns, increasing.

    Returns:
        One float per bar; the sum of the rates due (0 where none is, and at the first bar).

    Examples:
        >>> h = 3_600_000_000_000
        >>> funding_per_bar(FundingRates.constant(0.001, 2 * h), np.arange(5) * h).tolist()
        [0.0, 0.0, 0.001, 0.0, 0.001]
    """
    out = np.zeros(len(open_time))
    if rates is None or len(open_time) < 2:
        return out
    times = np.asarray(open_time, dtype=np.int64)
    if rates.constant_rate is not None:
        counts = np.diff(times // rates.interval_ns)
        out[1:] = counts * rates.constant_rate
        return out
    # the bar that pays a rate at t is the first opening at or after t, unless it is the first
    values = np.asarray(rates.rates, dtype=np.float64)
    paying = np.searchsorted(times, np.asarray(rates.times, dtype=np.int64), "left")
    inside = (paying > 0) & (paying < len(times))
    np.add.at(out, paying[inside], values[inside])  # in time order where a bar pays several
    return out


def funding_schedule(
    rates: FundingRates | None, open_time: IntArray
) -> tuple[IntArray, FloatArray]:
    """`funding_per_bar` as a sparse schedule: the bars with a non-zero sum, and the sums.

    The same floats as ``funding_per_bar``'s non-zero entries (each bar's sum starts at 0.0
    and adds its rates in time order), built without a per-bar array when no bar pays two
    rates of a history.

    Args:
        rates: The schedule (``None``: no funding).
        open_time: The bars' open times, ns, increasing.

    Returns:
        The bars (int64, increasing) and their rates.

    Examples:
        >>> h = 3_600_000_000_000
        >>> bars, due = funding_schedule(FundingRates.constant(0.001, 2 * h), np.arange(5) * h)
        >>> bars.tolist(), due.tolist()
        ([2, 4], [0.001, 0.001])
    """
    if rates is not None and rates.constant_rate is None and len(open_time) >= 2:
        times = np.asarray(open_time, dtype=np.int64)
        paying = np.searchsorted(times, np.asarray(rates.times, dtype=np.int64), "left")
        inside = (paying > 0) & (paying < len(times))
        bars, values = paying[inside], np.asarray(rates.rates, dtype=np.float64)[inside]
        if len(bars) < 2 or bool(np.all(bars[1:] != bars[:-1])):  # one rate per bar
            due = 0.0 + values  # the dense sum's 0.0 + rate (-0.0 becomes 0.0 as there)
            keep = due != 0.0
            return bars[keep].astype(np.int64), due[keep]
    per_bar = funding_per_bar(rates, open_time)
    bars = np.flatnonzero(per_bar)
    return bars, per_bar[bars]


def trade_funding(
    trades: FloatArray, funding: FloatArray, paying: IntArray | None = None
) -> FloatArray:
    """What each closed round trip paid in funding (negative: received).

    The event backtest's attribution (`engine.perp_stats.trade_funding`): a payment booked at
    the open of bar ``k`` belongs to the trade entered before that open and exited at it or
    later, so a trade from bar ``e`` to bar ``x`` pays ``funding[e + 1 : x + 1]``. The sums
    run over the bars that booked a payment only (the others add exact zeros), in bar order:
    the same floats as a running sum over every bar.

    Args:
        trades: The kernel's trade table (closed trades).
        funding: Funding paid at each bar.
        paying: The bars with a payment, increasing (default: ``funding``'s non-zeros).

    Returns:
        One amount per trade.

    Examples:
        >>> trades = np.array([[0.0, 2.0], [2.0, 4.0]])  # entry and exit bars
        >>> trade_funding(trades, np.array([0.0, 1.0, 2.0, 0.0, 4.0])).tolist()
        [3.0, 4.0]
    """
    bars = np.flatnonzero(funding) if paying is None else paying
    total = np.concatenate(([0.0], np.cumsum(funding[bars])))
    entry = trades[:, 0].astype(np.int64)
    exit_ = trades[:, 1].astype(np.int64)
    upto = np.searchsorted(bars, exit_ + 1)  # payments at bars <= exit
    after = np.searchsorted(bars, entry + 1)  # payments at bars <= entry
    paid: FloatArray = total[upto] - total[after]
    return paid


def _floats(columns: Any) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Four float64 columns as they are (a copy only where one is of another type)."""
    o, h, lo, c = (np.ascontiguousarray(column, np.float64) for column in columns)
    return o, h, lo, c


def _one(value: Any, symbol: str, name: str, kind: type) -> Any:
    if value is None or isinstance(value, kind):
        return value
    if isinstance(value, Mapping):
        return value.get(symbol)
    raise ConfigError(
        f"fast path: {name} must be a {kind.__name__} or a mapping of them by symbol, "
        f"got {type(value).__name__}"
    )


def perp_inputs(
    market: Market,
    series: BarSeries,
    *,
    leverage: float,
    margin_mode: str,
    marks: Mapping[str, BarSeries] | BarSeries | None,
    funding: Mapping[str, FundingRates] | FundingRates | None,
) -> PerpInputs:
    """Check a perpetual run's settings and build its arrays.

    Args:
        market: The perpetual market.
        series: The trade bars.
        leverage: The symbol's leverage.
        margin_mode: ``"isolated"`` or ``"cross"``.
        marks: Mark bars (one per trade bar), or by symbol; ``None``: the trade bars.
        funding: Funding rates, or by symbol; ``None``: no funding.

    Returns:
        The inputs.

    Raises:
        ConfigError: For a leverage above the first bracket's maximum, a margin mode that is
            neither, or a mark series missing a trade bar (named).
    """
    spec = market.perpetual
    assert spec is not None
    symbol = series.symbol
    if leverage > spec.brackets[0].max_leverage:
        raise ConfigError(
            f"fast path: leverage {leverage:g}x for {symbol} is above the "
            f"{spec.brackets[0].max_leverage:g}x its first bracket allows"
        )
    if margin_mode not in ("isolated", "cross"):
        raise ConfigError(
            f"fast path: margin_mode must be 'isolated' or 'cross', got {margin_mode!r}"
        )
    notional_cap = leverage_notional_cap(spec, leverage, symbol)
    mark = _one(marks, symbol, "marks", BarSeries)
    columns = (series.open, series.high, series.low, series.close)
    if mark is not None and (
        mark.open_time is series.open_time or np.array_equal(mark.open_time, series.open_time)
    ):
        columns = (mark.open, mark.high, mark.low, mark.close)
    elif mark is not None:
        columns = align_marks({symbol: series}, {symbol: mark})[symbol]
    rates = _one(funding, symbol, "funding", FundingRates)
    brackets = np.array(
        [
            [b.floor for b in spec.brackets],
            [b.cap for b in spec.brackets],
            [b.maintenance_rate for b in spec.brackets],
            [b.maintenance_amount for b in spec.brackets],
        ],
        dtype=np.float64,
    )
    pay_bars, pay_rates = funding_schedule(rates, series.open_time)
    return PerpInputs(  # a contract's notional (`perp_contracts`): an inverse long is a y-short
        marks=contract_columns(_floats(columns), spec),
        pay_bars=pay_bars,
        pay_rates=-pay_rates if spec.inverse else pay_rates,
        perp=np.array([leverage, margin_mode == "isolated", spec.liquidation_fee], np.float64),
        brackets=brackets,
        source=rates.description if rates is not None else "none given: no funding charged",
        notional_cap=notional_cap,
    )


def leverage_notional_cap(spec: PerpetualSpec, leverage: float, symbol: str) -> float:
    """The notional from which the brackets allow less than ``leverage`` (0: never).

    `FuturesPortfolio.check_fill` refuses an opening whose notional falls in a bracket with a
    lower maximum leverage; with brackets whose maximum never rises, those notionals are the
    ones from the first such bracket's floor on, which the kernel compares with.

    Args:
        spec: The perpetual's spec.
        leverage: The run's leverage.
        symbol: For the message.

    Returns:
        That floor, or 0 when every bracket allows the leverage.

    Raises:
        ConfigError: If a bracket allows more leverage than one before it (not a venue's
            table; the event backtest handles it).
    """
    lowers = [b for b in spec.brackets if b.max_leverage < leverage]
    if not lowers:
        return 0.0
    first = lowers[0]
    if any(b.max_leverage >= leverage for b in spec.brackets if b.floor > first.floor):
        raise ConfigError(
            f"fast path: {symbol}'s brackets allow {leverage:g}x again above a notional of "
            f"{first.floor:g}; the fast path needs maximum leverages that never rise (use the "
            "event backtest)"
        )
    return first.floor


def perp_stats_rows(stats: pd.Series, symbol: str, outcome: PerpOutcome) -> pd.Series:
    """Append the event backtest's perpetual rows (`engine.perp_stats`) to a fast run's table.

    Args:
        stats: The statistics.
        symbol: The perpetual's symbol.
        outcome: What the perpetual rules did.

    Returns:
        A new Series with ``Funding paid``, ``Funding received``, ``Net funding``,
        ``Liquidations`` and ``Funding source``.
    """
    import pandas as pd  # noqa: PLC0415 - pandas at the edge

    paid, received = outcome.funding_paid, outcome.funding_received
    rows: dict[Any, Any] = stats.to_dict()
    rows |= {
        "Funding paid": paid,
        "Funding received": received,
        "Net funding": paid - received,
        "Liquidations": outcome.liquidations,
        "Funding source": f"{symbol}: {outcome.source}",
    }
    # one Series from the values (what concatenating two Series gives, unnamed, a tenth
    # of the time)
    combined: pd.Series = pd.Series(rows, dtype=object)
    return combined


def simulate_perp(
    data: SignalData,
    signals: Signals,
    params: np.recarray[Any, Any],
    settings: FastSettings,
    series: BarSeries,
) -> _Raw:
    """Run one perpetual's signals through `kernel_perp.simulate_perp`.

    Args:
        data: The trade bars as arrays.
        signals: The signals.
        params: The kernel's settings record.
        settings: The run's settings (its market carries the perpetual spec).
        series: The trade bars (open times for the marks and funding).

    Returns:
        The raw arrays, with the `PerpOutcome`.
    """
    from quantkit.vector import kernel_perp  # noqa: PLC0415 - numba loads only when used
    from quantkit.vector.layout import FILL_COLUMNS, TRADE_COLUMNS  # noqa: PLC0415
    from quantkit.vector.run import _Raw  # noqa: PLC0415 - import cycle

    market = settings.market
    assert market is not None
    inputs = perp_inputs(
        market,
        series,
        leverage=settings.leverage,
        margin_mode=settings.margin_mode,
        marks=settings.marks,
        funding=settings.funding,
    )
    bars = len(data)
    fills = np.empty((3 * bars + 3, len(FILL_COLUMNS)))
    trades = np.zeros((bars + 1, len(TRADE_COLUMNS)))
    equity, funding = np.empty(bars), np.zeros(bars)
    exposed = np.empty(bars, np.bool_)
    state = np.zeros(len(kernel_perp.PERP_STATE))
    paying = np.full(len(inputs.pay_bars), -1, np.int64)
    assert signals.short_entries is not None
    assert signals.short_exits is not None
    flags = [signals.entries, signals.exits, signals.short_entries, signals.short_exits]
    spec = market.perpetual
    assert spec is not None
    prices = contract_columns(_floats((data.open, data.high, data.low, data.close)), spec)
    if inputs.notional_cap > 0.0 or spec.inverse:
        params = params.copy()
    if inputs.notional_cap > 0.0:
        params["notional_cap"] = inputs.notional_cap
    if spec.inverse:  # a long in prices is a short in y = CS / price
        check_inverse(signals, settings.slippage_bps / 10_000.0, series.symbol)
        flags = [flags[2], flags[3], flags[0], flags[1]]
        params[0].allow_short = True  # both ways, as a futures account in the event backtest
    n_fills, n_trades, fees, rejected = kernel_perp.simulate_perp(
        prices,
        inputs.marks,
        inputs.pay_bars,
        inputs.pay_rates,
        tuple(np.ascontiguousarray(flag, np.bool_) for flag in flags),
        params,
        inputs.perp,
        inputs.brackets,
        fills,
        trades,
        equity,
        exposed,
        funding,
        paying,
        state,
    )
    outcome = PerpOutcome(
        funding=funding,
        paying=paying[paying >= 0],  # the bars that booked a payment (the kernel notes them)
        liquidations=int(state[3]),
        liquidation_fees=float(state[4]),
        deficit=float(state[5]),
        source=inputs.source,
        contract=spec,
    )
    fills, trades = fills[:n_fills], trades[:n_trades]
    fills_in_prices(fills, spec)  # the trade table stays in y: P&L and notional are right
    return _Raw(fills, trades, equity, exposed, float(fees), int(rejected), outcome)
