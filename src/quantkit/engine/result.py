"""The Result of a run: tables and series at the edge, in pandas."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from quantkit.domain.order import OrderStatus, OrderType, Side, TimeInForce
from quantkit.domain.timeframe import format_timeframe
from quantkit.engine.contract_trades import (
    contract_symbols,
    notional_trades,
    restore_prices,
    value_fills,
)
from quantkit.engine.parent_table import parents_frame
from quantkit.engine.perp_stats import add_perpetual_stats, quote_equity, trade_funding
from quantkit.engine.record import RunRecord
from quantkit.engine.trade_table import TradeColumns
from quantkit.engine.trades import round_trips
from quantkit.metrics.stats import compute_stats, drawdown, format_stats, periods_per_year
from quantkit.metrics.trades import turnover

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy.typing as npt
    import pandas as pd

    FloatArray = npt.NDArray[np.float64]

__all__ = ["Result", "build_result"]


@dataclass(frozen=True, eq=False)
class Result:
    """Everything a run produced.

    Attributes:
        strategy: The strategy and its parameters.
        symbols: Symbols of the run.
        timeframe: Bar length, e.g. ``"1h"``.
        equity: Equity at each bar close (UTC index).
        drawdown: Fractional drawdown from the running peak (<= 0).
        orders: One row per order (including risk rejections and bracket exits).
        fills: One row per fill.
        trades: Closed round trips with net PnL.
        open_trades: Round trips still open at the end.
        positions: Final positions.
        stats: The statistics table (see `quantkit.metrics.stats.compute_stats`).
        risk_events: Every risk decision.
        parents: One row per parent order.

    ``orders``, ``fills`` and ``risk_events`` are built from the run's record when first read
    (one row per order: a run that only needs its statistics never pays for them), then kept.
    """

    strategy: str
    symbols: tuple[str, ...]
    timeframe: str
    equity: pd.Series
    drawdown: pd.Series
    trades: pd.DataFrame
    open_trades: pd.DataFrame
    positions: pd.DataFrame
    stats: pd.Series
    _record: RunRecord = field(repr=False)

    @cached_property
    def orders(self) -> pd.DataFrame:
        """One row per order (including risk rejections and bracket exits)."""
        return _orders_frame(self._record)

    @cached_property
    def fills(self) -> pd.DataFrame:
        """One row per fill."""
        return _fills_frame(self._record)

    @cached_property
    def parents(self) -> pd.DataFrame:
        """One row per parent order (TWAP, iceberg, participation).

        Its children are ordinary rows of `orders`, tagged ``algo:<parent_id>``.
        """
        return parents_frame(self._record.parents)

    @cached_property
    def risk_events(self) -> pd.DataFrame:
        """Every risk decision."""
        return _risk_frame(self._record)

    @property
    def indicators(self) -> dict[str, pd.Series]:
        """Each declared indicator's values over the whole run, by name.

        With several symbols the names are prefixed with the symbol (``"BTC/USDT:sma"``).
        """
        import pandas as pd  # noqa: PLC0415

        many = len(self.symbols) > 1
        out: dict[str, pd.Series] = {}
        for symbol, indicator in self._record.indicators:
            series = self._record.history.get(symbol) or self._record.informative[symbol]
            index = pd.to_datetime(series.close_time, utc=True)
            name = f"{symbol}:{indicator.name}" if many else indicator.name
            out[name] = pd.Series(indicator._array, index=index, name=name)
        return out

    @cached_property
    def equity_quote(self) -> pd.Series:
        """The equity curve in the quote currency.

        `equity` is in the account currency, which for a coin-margined (inverse perpetual)
        account is its settle coin: a ``BTC/USD:BTC`` run's equity is in BTC. This is that
        curve times the perpetual's mark close at each bar (USD); for any other account it is
        `equity` itself.
        """
        return quote_equity(self.equity, self._record.portfolio, self._record.history)

    @property
    def liquidations(self) -> pd.DataFrame:
        """The orders of a forced liquidation (empty unless a margin account lost its margin).

        A margin account whose equity would cross zero inside a bar has every position closed
        there and refuses orders afterwards (see ``docs/stats.md``); its orders carry the tag
        ``"liquidation"`` and say why in ``reason``.
        """
        orders = self.orders
        return orders[orders["tag"] == "liquidation"]

    def __repr__(self) -> str:
        bars = len(self.equity)
        head = (
            f"Result: {self.strategy} on {', '.join(self.symbols)} ({self.timeframe}, {bars} bars)"
        )
        liquidations = self.liquidations
        if len(liquidations):
            head += f"\nLIQUIDATED at {liquidations['created_at'].iloc[0]}: "
            head += str(liquidations["reason"].iloc[0])
        return f"{head}\n{format_stats(self.stats)}"

    def _repr_html_(self) -> str:
        from quantkit.analysis.report import stats_table  # noqa: PLC0415 - loads pandas helpers

        title = html.escape(f"{self.strategy} on {', '.join(self.symbols)} ({self.timeframe})")
        return f"<div><strong>{title}</strong>{stats_table(self.stats)}</div>"

    def plot(self, symbols: Sequence[str] | None = None) -> Any:
        """Return a plotly Figure: price with fills, equity and benchmark, drawdown, exposure.

        See `quantkit.analysis.plots.result_figure` for the panels and trace names.

        Args:
            symbols: Symbols to draw a price panel for; the first four of the run by default.

        Returns:
            A ``plotly.graph_objects.Figure`` whose panels share the time axis.

        Raises:
            ConfigError: If ``symbols`` is empty or names a symbol the run does not have.
        """
        from quantkit.analysis.plots import result_figure  # noqa: PLC0415 - plotly is lazy

        return result_figure(self, symbols)

    def report(self, path: str | Path) -> Path:
        """Write a self-contained HTML tear sheet (works offline: plotly.js is embedded).

        See `quantkit.analysis.report.render_report` for its sections.

        Args:
            path: Where to write it; missing parent folders are created.

        Returns:
            The path written.

        Raises:
            ConfigError: If ``path`` is a directory or cannot be written.
        """
        from quantkit.analysis.report import write_report  # noqa: PLC0415 - plotly is lazy

        return write_report(self, Path(path))


def _time(values: npt.ArrayLike) -> pd.DatetimeIndex:
    """A UTC index over int64 ns stamps, sharing their memory (a bar-long index is 8 bytes a bar).

    The stamps are the run's own close times, which nothing modifies, and an index is
    immutable.
    """
    import pandas as pd  # noqa: PLC0415

    stamps = np.asarray(values, dtype=np.int64)
    return pd.DatetimeIndex(stamps, dtype="datetime64[ns, UTC]", copy=False)


def _frame(columns: dict[str, Any], rows: int) -> pd.DataFrame:
    """A frame from column lists; with no rows, the frame an empty list of row dicts gives."""
    import pandas as pd  # noqa: PLC0415

    if not rows:
        return pd.DataFrame([], columns=list(columns))
    return pd.DataFrame(columns)


# Enum member -> its value, by a dict lookup (``member.value`` is a Python-level property).
_VALUES: dict[object, str] = {m: m.value for e in (Side, OrderType, TimeInForce) for m in e}
_VALUES.update({m: m.value for m in OrderStatus})


def _orders_frame(record: RunRecord) -> pd.DataFrame:
    import pandas as pd  # noqa: PLC0415

    orders = list(record.orders.values())
    requests = [o.request for o in orders]
    values = _VALUES
    columns: dict[str, list[Any]] = {
        "client_id": [o.client_id for o in orders],
        "symbol": [r.symbol for r in requests],
        "side": [values[r.side] for r in requests],
        "type": [values[r.type] for r in requests],
        "amount": [o.amount for o in orders],
        "cost": [r.cost for r in requests],
        "limit_price": [r.limit_price for r in requests],
        "stop_price": [r.stop_price for r in requests],
        "time_in_force": [values[r.time_in_force] for r in requests],
        "reduce_only": [r.reduce_only for r in requests],
        "status": [values[o.status] for o in orders],
        "filled": [o.filled for o in orders],
        "average_price": [o.average_price if o.filled else None for o in orders],
        "fee": [o.fee for o in orders],
        "reason": [o.reason for o in orders],
        "parent_id": [o.parent_id for o in orders],
        "tag": [r.tag for r in requests],
        "created_at": [o.created_at for o in orders],
        "updated_at": [o.updated_at for o in orders],
    }
    # Floats with None as NaN, and times: converted here, before the frame exists (the same
    # values as converting its columns afterwards, without a column assignment each).
    for column in ("amount", "cost", "limit_price", "stop_price", "average_price"):
        columns[column] = np.array(columns[column], dtype=np.float64)  # type: ignore[assignment]
    for column in ("created_at", "updated_at"):
        stamps = np.array(columns[column], dtype=np.int64)
        columns[column] = pd.to_datetime(stamps, unit="ns", utc=True)  # type: ignore[assignment]
    return pd.DataFrame(columns, columns=_ORDER_COLUMNS)


_ORDER_COLUMNS = [
    "client_id", "symbol", "side", "type", "amount", "cost", "limit_price", "stop_price",
    "time_in_force", "reduce_only", "status", "filled", "average_price", "fee", "reason",
    "parent_id", "tag", "created_at", "updated_at",
]  # fmt: skip


def _fills_frame(record: RunRecord) -> pd.DataFrame:
    import pandas as pd  # noqa: PLC0415

    fills = record.fills
    flagged = record.ambiguous_orders
    values = _VALUES
    columns: dict[str, list[Any]] = {
        "time": [f.timestamp for f in fills],
        "client_id": [f.client_id for f in fills],
        "symbol": [f.symbol for f in fills],
        "side": [values.get(f.side) or str(f.side) for f in fills],
        "price": [f.price for f in fills],
        "amount": [f.amount for f in fills],
        "fee": [f.fee for f in fills],
        "fee_currency": [f.fee_currency for f in fills],
        "is_maker": [f.is_maker for f in fills],
        "ambiguous": [f.ambiguous or f.client_id in flagged for f in fills],
    }
    frame = _frame(columns, len(fills))
    frame["time"] = pd.to_datetime(frame["time"].astype("int64"), unit="ns", utc=True)
    return frame


def _positions_frame(record: RunRecord) -> pd.DataFrame:
    import pandas as pd  # noqa: PLC0415

    rows = []
    for symbol, series in record.history.items():
        position = record.portfolio.position(symbol)
        last = float(series.close[-1])
        rows.append(
            {
                "symbol": symbol,
                "amount": position.amount,
                "entry_price": position.entry_price,
                "last_price": last,
                "unrealized_pnl": position.unrealized_pnl(last),
                "realized_pnl": position.realized_pnl,
            }
        )
    return pd.DataFrame(rows).set_index("symbol")


def _risk_frame(record: RunRecord) -> pd.DataFrame:
    import pandas as pd  # noqa: PLC0415

    columns = ["time", "client_id", "symbol", "policy", "action", "reason"]
    rows = [
        {
            "time": e.time,
            "client_id": e.client_id,
            "symbol": e.symbol,
            "policy": e.policy,
            "action": str(e.action),
            "reason": e.reason,
        }
        for e in record.risk_events
    ]
    frame = pd.DataFrame(rows, columns=columns)
    frame["time"] = pd.to_datetime(frame["time"].astype("int64"), unit="ns", utc=True)
    return frame


def _benchmark(record: RunRecord, equity: pd.Series) -> pd.Series | None:
    """The first tradable symbol's closes on the equity's index: the buy-and-hold benchmark.

    `compute_stats` rescales a benchmark to its first value (`quantkit.metrics.benchmark.
    buy_and_hold`), so the closes themselves give the same rows as a curve that starts at the
    starting equity; with one symbol they are passed without a copy (a bar-long curve fewer at
    the statistics' memory peak).
    """
    import pandas as pd  # noqa: PLC0415

    if equity.empty:
        return None
    series = next(iter(record.history.values()))
    if np.array_equal(series.close_time, record.times):  # one symbol: its bars are the timeline
        closes = pd.Series(series.close, index=equity.index, copy=False)
    else:
        closes = pd.Series(series.close, index=_time(series.close_time)).reindex(
            equity.index, method="ffill"
        )
        closes = closes.bfill()
    if closes.isna().any() or not closes.iloc[0] > 0:
        return None
    return closes


def build_result(record: RunRecord) -> Result:
    """Turn a run's raw record into a `Result`.

    Args:
        record: What the engine collected.

    Returns:
        The result.
    """
    import pandas as pd  # noqa: PLC0415

    index = _time(record.times)
    index.name = "time"
    equity_values, exposed = record.equity_and_exposure()
    exposure = float(exposed.mean()) if len(exposed) else 0.0
    del exposed  # a bool a bar: gone before the tables and statistics
    equity = pd.Series(equity_values, index=index, name="equity", copy=False)  # ours: no copy
    closed = TradeColumns()  # each trade's row, taken as it closes: no object per trade
    portfolio = record.portfolio
    fills = value_fills(record.fills, portfolio) if contract_symbols(portfolio) else record.fills
    _, still_open = round_trips(
        fills, record.ambiguous_orders, portfolio.dust_below, on_close=closed.add
    )
    trades = restore_prices(closed.frame(trade_funding(closed.spans(), portfolio)), portfolio)
    opened = TradeColumns.of(still_open)
    open_trades = opened.frame(trade_funding(opened.spans(), portfolio))
    open_trades = restore_prices(open_trades, portfolio)
    del closed, still_open, opened
    timeframe = next(iter(record.history.values())).timeframe
    flagged = record.ambiguous_orders  # as the fills table's "ambiguous" column counts them
    ambiguous_fills = sum(1 for f in record.fills if f.ambiguous or f.client_id in flagged)
    stats = compute_stats(
        equity,
        trades,
        benchmark=_benchmark(record, equity),
        periods_per_year=periods_per_year(timeframe),
        exposure=exposure,
        fees=record.portfolio.fees_paid,
        ambiguous_fills=ambiguous_fills,
        ambiguous_trades=int(trades["ambiguous"].sum()),
    )
    if contract_symbols(portfolio):  # traded notional in the account currency
        stats["Turnover (ann.)"] = turnover(equity, notional_trades(trades, portfolio))
    stats = add_perpetual_stats(stats, record.portfolio)
    return Result(
        strategy=record.strategy,
        symbols=tuple(record.history),
        timeframe=format_timeframe(timeframe),
        equity=equity,
        drawdown=drawdown(equity),
        trades=trades,
        open_trades=open_trades,
        positions=_positions_frame(record),
        stats=stats,
        _record=record,
    )
