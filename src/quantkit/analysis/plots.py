"""Plotly figures of a Result."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quantkit.engine.result import Result

__all__ = ["result_figure"]


def result_figure(result: Result) -> Any:
    """Price of the first symbol with buys and sells marked, equity, and drawdown.

    Args:
        result: A finished run.

    Returns:
        A ``plotly.graph_objects.Figure`` with three stacked panels.
    """
    import plotly.graph_objects as go  # noqa: PLC0415 - plotly loads only when plotting
    from plotly.subplots import make_subplots  # noqa: PLC0415

    symbol = result.symbols[0]
    series = result._record.history[symbol]
    import pandas as pd  # noqa: PLC0415

    times = pd.to_datetime(series.close_time, utc=True)
    figure = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        row_heights=[0.5, 0.3, 0.2],
        vertical_spacing=0.03,
        subplot_titles=(f"{symbol} close", "Equity", "Drawdown"),
    )
    figure.add_trace(go.Scattergl(x=times, y=series.close, name=symbol, mode="lines"), 1, 1)
    fills = result.fills[result.fills["symbol"] == symbol]
    for side, colour, marker in (
        ("buy", "#2ca02c", "triangle-up"),
        ("sell", "#d62728", "triangle-down"),
    ):
        chosen = fills[fills["side"] == side]
        figure.add_trace(
            go.Scattergl(
                x=chosen["time"],
                y=chosen["price"],
                name=side,
                mode="markers",
                marker={"color": colour, "symbol": marker, "size": 9},
            ),
            1,
            1,
        )
    figure.add_trace(go.Scattergl(x=result.equity.index, y=result.equity, name="equity"), 2, 1)
    figure.add_trace(
        go.Scattergl(
            x=result.drawdown.index, y=100 * result.drawdown, name="drawdown %", fill="tozeroy"
        ),
        3,
        1,
    )
    figure.update_layout(height=800, title=result.strategy, hovermode="x unified")
    return figure
