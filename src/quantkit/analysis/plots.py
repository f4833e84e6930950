"""The main plotly figure of a Result, its panels stacked on one shared time axis.

Panels, top to bottom:

1. one price panel (close) per plotted symbol, with its buy fills as green up-triangles and its
   sell fills as red down-triangles (hover: side, price, amount, time). Beyond
   `MAX_FILL_MARKERS` fills of one symbol and side, the fills are aggregated: the span from the
   first to the last fill is cut into `MAX_FILL_MARKERS` equal intervals and each interval with
   fills gets one marker at the time of its first fill and at its volume-weighted average
   price (hover: the number of fills and their total amount), so a run with thousands of
   trades stays readable and no fill is left out;
2. the equity curve, the equity before fees (equity plus every fee charged so far, dashed) and
   a buy-and-hold benchmark of the first traded symbol, scaled to the same starting equity (no
   fees, no slippage);
3. the drawdown from the running equity peak, in percent (an "underwater" chart);
4. the exposure of each symbol: position value as a percent of equity (negative when short).

plotly is imported lazily, inside the functions: ``import quantkit`` never loads it.
"""

from __future__ import annotations

import difflib
import html
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from quantkit.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from quantkit.engine.result import Result

__all__ = ["MAX_FILL_MARKERS", "MAX_PRICE_PANELS", "result_figure"]

MAX_PRICE_PANELS = 4
"""Price panels drawn by default: the first symbols of a run, in the run's order."""

MAX_FILL_MARKERS = 300
"""Markers per symbol and side; more fills than this are aggregated by time interval."""

_BUY = ("buy", "#2ca02c", "triangle-up")
_SELL = ("sell", "#d62728", "triangle-down")
_EQUITY_COLOUR = "#1f77b4"
_BENCHMARK_COLOUR = "#7f7f7f"
_GROSS_COLOUR = "#9467bd"
_DRAWDOWN_COLOUR = "#d62728"


def _chosen_symbols(result: Result, symbols: Sequence[str] | None) -> list[str]:
    """The symbols to give a price panel, checked against the run's symbols."""
    if symbols is None:
        return list(result.symbols[:MAX_PRICE_PANELS])
    if isinstance(symbols, str):
        symbols = [symbols]
    if not symbols:
        raise ConfigError("plot(symbols=...) needs at least one symbol")
    for symbol in symbols:
        if symbol not in result.symbols:
            close = difflib.get_close_matches(symbol, result.symbols, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"plot(symbols=...): {symbol!r} is not a symbol of this run "
                f"(it has {', '.join(result.symbols)}){hint}"
            )
    return list(dict.fromkeys(symbols))


def close_series(result: Result, symbol: str) -> pd.Series:
    """Return a symbol's close prices over the run, indexed by bar close time (UTC).

    Args:
        result: A finished run.
        symbol: One of ``result.symbols``.

    Returns:
        A float Series named after the symbol.

    Raises:
        ConfigError: If the run has no bars for ``symbol``.
    """
    import pandas as pd  # noqa: PLC0415

    series = result._record.history.get(symbol)
    if series is None:
        raise ConfigError(
            f"the run has no bars for {symbol!r} (it has {', '.join(result.symbols)})"
        )
    index = pd.to_datetime(np.asarray(series.close_time, dtype=np.int64), unit="ns", utc=True)
    return pd.Series(np.asarray(series.close, dtype=np.float64), index=index, name=symbol)


def _nanoseconds(index: pd.Index | pd.Series) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Nanoseconds since the epoch of each time of a ``DatetimeIndex``."""
    import pandas as pd  # noqa: PLC0415

    return pd.DatetimeIndex(index).as_unit("ns").asi8


def utc_naive(index: pd.Index | pd.Series) -> np.ndarray[Any, np.dtype[np.datetime64]]:
    """Return times as naive UTC ``datetime64[ns]`` values, the form plotly serialises fast.

    plotly converts time-zone aware timestamps one Python object at a time (seconds for a few
    ten thousand bars); naive ``datetime64`` arrays go through numpy.

    Args:
        index: Times (a ``DatetimeIndex`` or anything it accepts), aware or naive UTC.

    Returns:
        The times as a ``datetime64[ns]`` array.
    """
    import pandas as pd  # noqa: PLC0415

    times = pd.DatetimeIndex(index)
    if times.tz is not None:
        times = times.tz_convert("UTC").tz_localize(None)
    return times.as_unit("ns").to_numpy()


def _as_of(series: pd.Series, index: pd.Index) -> np.ndarray[Any, np.dtype[np.float64]]:
    """The latest value of ``series`` at or before each time of ``index`` (NaN before its first)."""
    row = np.searchsorted(_nanoseconds(series.index), _nanoseconds(index), side="right") - 1
    values = series.to_numpy(dtype=np.float64)
    if not values.size:
        return np.full(len(index), np.nan)
    return np.where(row >= 0, values[np.maximum(row, 0)], np.nan)


def position_series(result: Result, symbol: str) -> pd.Series:
    """Return a symbol's position (base amount, negative when short) at each bar of the run.

    Rebuilt from the fills: the position at a bar close holds every fill up to that time.

    Args:
        result: A finished run.
        symbol: One of ``result.symbols``.

    Returns:
        A float Series on ``result.equity.index``.
    """
    import pandas as pd  # noqa: PLC0415

    fills = result.fills[result.fills["symbol"] == symbol]
    signed = np.where(fills["side"].to_numpy() == "buy", 1.0, -1.0) * fills["amount"].to_numpy(
        dtype=np.float64
    )
    held = pd.Series(np.cumsum(signed), index=pd.DatetimeIndex(fills["time"]))
    index = pd.DatetimeIndex(result.equity.index)
    amounts = np.nan_to_num(_as_of(held, index), nan=0.0)
    return pd.Series(amounts, index=index, name=symbol)


def benchmark_series(result: Result) -> pd.Series:
    """Return the buy-and-hold equity of the run's first traded symbol.

    The symbol of the first fill (the first symbol when nothing traded) is bought at its first
    close on the equity index and held; the curve starts at the run's starting equity. No fees or
    slippage are charged.

    Args:
        result: A finished run.

    Returns:
        A float Series on ``result.equity.index`` named ``"buy and hold <symbol>"``.
    """
    import pandas as pd  # noqa: PLC0415

    symbol = str(result.fills["symbol"].iloc[0]) if len(result.fills) else result.symbols[0]
    index = pd.DatetimeIndex(result.equity.index)
    price = _as_of(close_series(result, symbol), index)
    valid = np.flatnonzero(np.isfinite(price) & (price > 0))
    start = float(result.equity.iloc[0]) if len(result.equity) else 0.0
    values = start * price / price[valid[0]] if valid.size else np.full(len(index), np.nan)
    return pd.Series(values, index=index, name=f"buy and hold {symbol}")


def gross_equity_series(result: Result) -> pd.Series:
    """Return the equity before fees: equity plus every fee charged up to each bar close.

    A fill is stamped with its bar's open time, so its fee counts from that bar's close on. A
    fee charged in the base asset (rule R20) counts at its fill's price.

    Args:
        result: A finished run.

    Returns:
        A float Series on ``result.equity.index`` named ``"equity before fees"``.
    """
    import pandas as pd  # noqa: PLC0415

    index = pd.DatetimeIndex(result.equity.index)
    fills = result.fills
    charged = np.zeros(len(index))
    if len(fills):
        bar = np.searchsorted(_nanoseconds(index), _nanoseconds(fills["time"]), side="right")
        inside = bar < len(index)
        fees = fills["fee"].to_numpy(dtype=np.float64)
        in_base = (fills["symbol"].str.split("/").str[0] == fills["fee_currency"]).to_numpy(bool)
        fees = np.where(in_base, fees * fills["price"].to_numpy(dtype=np.float64), fees)
        np.add.at(charged, bar[inside], fees[inside])
    values = result.equity.to_numpy(dtype=np.float64) + np.cumsum(charged)
    return pd.Series(values, index=index, name="equity before fees")


def aggregate_fills(
    times: np.ndarray[Any, np.dtype[np.int64]],
    prices: np.ndarray[Any, np.dtype[np.float64]],
    amounts: np.ndarray[Any, np.dtype[np.float64]],
    limit: int = MAX_FILL_MARKERS,
) -> tuple[np.ndarray[Any, Any], ...]:
    """Return at most ``limit`` markers for fills sorted by time: ``(time, price, amount, count)``.

    With ``limit`` fills or fewer, one marker per fill. Otherwise the span from the first to the
    last fill is cut into ``limit`` equal intervals; each interval holding fills gives one
    marker at its first fill's time, the volume-weighted average price, the total amount and
    the number of fills.

    Args:
        times: Fill times, ns, in increasing order.
        prices: Fill prices.
        amounts: Fill amounts (> 0).
        limit: Largest number of markers, at least 1.

    Returns:
        Four arrays of equal length: times, prices, amounts and fill counts.
    """
    if len(times) <= limit:
        return times, prices, amounts, np.ones(len(times), dtype=np.int64)
    edges = np.linspace(float(times[0]), float(times[-1]), limit + 1)
    found = np.searchsorted(edges, times.astype(np.float64), side="right") - 1
    bucket = np.clip(found, 0, limit - 1)
    counts = np.bincount(bucket, minlength=limit)
    total = np.bincount(bucket, weights=amounts, minlength=limit)
    notional = np.bincount(bucket, weights=amounts * prices, minlength=limit)
    used = np.flatnonzero(counts)
    first = np.searchsorted(bucket, used)  # bucket never decreases: times are sorted
    return times[first], notional[used] / total[used], total[used], counts[used]


def _fill_trace(chosen: pd.DataFrame, side: str, colour: str, marker: str, label: str) -> Any:
    """One symbol's fills of one side as markers, aggregated beyond `MAX_FILL_MARKERS`."""
    import plotly.graph_objects as go  # noqa: PLC0415 - plotly loads only when plotting

    chosen = chosen.sort_values("time", kind="stable")
    times, prices, amounts, counts = aggregate_fills(
        _nanoseconds(chosen["time"]),
        chosen["price"].to_numpy(dtype=np.float64),
        chosen["amount"].to_numpy(dtype=np.float64),
    )
    aggregated = len(times) < len(chosen)
    if aggregated:
        hover = (
            f"%{{customdata[1]}} {side}s of {label} from %{{x}}<br>average price %{{y:,.6g}}"
            "<br>amount %{customdata[0]:.6g}<extra></extra>"
        )
    else:
        hover = (
            f"{side} {label}<br>price %{{y:,.6g}}<br>amount %{{customdata[0]:.6g}}"
            "<br>%{x}<extra></extra>"
        )
    return go.Scatter(
        x=times.view("datetime64[ns]"),  # naive UTC, as `utc_naive` gives
        y=prices,
        customdata=np.column_stack([amounts, counts]),
        name=f"{label} {side}s" + (" (aggregated)" if aggregated else ""),
        mode="markers",
        marker={"color": colour, "symbol": marker, "size": 9},
        legendgroup=label,
        hovertemplate=hover,
    )


def _price_traces(result: Result, symbol: str) -> list[Any]:
    import plotly.graph_objects as go  # noqa: PLC0415 - plotly loads only when plotting

    label = html.escape(symbol)  # plotly renders trace names as HTML
    close = close_series(result, symbol)
    traces = [
        go.Scatter(
            x=utc_naive(close.index),
            y=close.to_numpy(),
            name=f"{label} close",
            mode="lines",
            line={"color": "#444", "width": 1},
            legendgroup=label,
        )
    ]
    fills = result.fills[result.fills["symbol"] == symbol]
    for side, colour, marker in (_BUY, _SELL):
        traces.append(_fill_trace(fills[fills["side"] == side], side, colour, marker, label))
    return traces


def result_figure(result: Result, symbols: Sequence[str] | None = None) -> Any:
    """Return the run's main figure: price with fills, equity, drawdown and exposure.

    See the module docstring for the panels. The traces are named ``"<symbol> close"``,
    ``"<symbol> buys"``, ``"<symbol> sells"`` (with `` (aggregated)`` beyond `MAX_FILL_MARKERS`
    fills), ``"equity"``, ``"equity before fees"``, ``"buy and hold <symbol>"``, ``"drawdown"``
    and ``"<symbol> exposure"``.

    Args:
        result: A finished run.
        symbols: Symbols to draw a price panel for; the first `MAX_PRICE_PANELS` symbols of
            the run when not given.

    Returns:
        A ``plotly.graph_objects.Figure`` whose panels share the time axis.

    Raises:
        ConfigError: If ``symbols`` is empty or names a symbol the run does not have.

    Examples:
        >>> import quantkit as qk
        >>> result = qk.Engine(feed=qk.sample_feed(end="2021-03-01"), strategy=qk.SmaCross()).run()
        >>> [trace.name for trace in result.plot().data][:3]
        ['BTC/USDT close', 'BTC/USDT buys', 'BTC/USDT sells']
    """
    import plotly.graph_objects as go  # noqa: PLC0415 - plotly loads only when plotting
    from plotly.subplots import make_subplots  # noqa: PLC0415

    shown = _chosen_symbols(result, symbols)
    prices = len(shown)
    rows = prices + 3
    heights = [0.45 / prices] * prices + [0.25, 0.15, 0.15]
    titles = [f"{html.escape(s)} close" for s in shown]
    titles += ["Equity", "Drawdown [%]", "Exposure [% of equity]"]
    figure = make_subplots(
        rows=rows,
        cols=1,
        shared_xaxes=True,
        row_heights=heights,
        vertical_spacing=0.035,
        subplot_titles=titles,
    )
    for row, symbol in enumerate(shown, start=1):
        for trace in _price_traces(result, symbol):
            figure.add_trace(trace, row, 1)
    equity = result.equity
    benchmark = benchmark_series(result)
    figure.add_trace(
        go.Scatter(
            x=utc_naive(equity.index), y=equity.to_numpy(), name="equity", line_color=_EQUITY_COLOUR
        ),
        prices + 1,
        1,
    )
    gross = gross_equity_series(result)
    figure.add_trace(
        go.Scatter(
            x=utc_naive(gross.index),
            y=gross.to_numpy(),
            name="equity before fees",
            line={"color": _GROSS_COLOUR, "dash": "dash", "width": 1},
        ),
        prices + 1,
        1,
    )
    figure.add_trace(
        go.Scatter(
            x=utc_naive(benchmark.index),
            y=benchmark.to_numpy(),
            name=html.escape(str(benchmark.name)),
            line={"color": _BENCHMARK_COLOUR, "dash": "dot"},
        ),
        prices + 1,
        1,
    )
    figure.add_trace(
        go.Scatter(
            x=utc_naive(result.drawdown.index),
            y=100.0 * result.drawdown.to_numpy(dtype=np.float64),
            name="drawdown",
            fill="tozeroy",
            line={"color": _DRAWDOWN_COLOUR, "width": 1},
            hovertemplate="%{y:.2f}%<extra>drawdown</extra>",
        ),
        prices + 2,
        1,
    )
    _add_exposure(figure, result, prices + 3)
    title = html.escape(f"{result.strategy} on {', '.join(result.symbols)} ({result.timeframe})")
    figure.update_layout(
        height=230 * prices + 680,
        title={"text": title, "x": 0.01, "y": 0.995, "yanchor": "top"},
        hovermode="x unified",
        margin={"l": 60, "r": 20, "t": 130, "b": 40},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0.0},
        template="plotly_white",
    )
    figure.update_xaxes(hoverformat="%Y-%m-%d %H:%M UTC")
    return figure


def _add_exposure(figure: Any, result: Result, row: int) -> None:
    """One exposure trace per symbol: position value as a percent of equity."""
    import plotly.graph_objects as go  # noqa: PLC0415 - plotly loads only when plotting

    equity = result.equity.to_numpy(dtype=np.float64)
    index = result.equity.index
    for symbol in result.symbols:
        amounts = position_series(result, symbol).to_numpy()
        price = np.nan_to_num(_as_of(close_series(result, symbol), index), nan=0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            percent = np.where(equity != 0.0, 100.0 * amounts * price / equity, np.nan)
        label = html.escape(symbol)
        figure.add_trace(
            go.Scatter(
                x=utc_naive(index),
                y=percent,
                customdata=amounts,
                name=f"{label} exposure",
                mode="lines",
                line={"shape": "hv", "width": 1},
                fill="tozeroy",
                hovertemplate=(
                    f"%{{y:.1f}}% of equity (%{{customdata:.6g}} held)<extra>{label}</extra>"
                ),
            ),
            row,
            1,
        )
