"""The tear sheet: one self-contained HTML file of a Result.

The page embeds plotly.js once, in its head, and holds no reference to the network (no CDN, no
web fonts), so it opens offline and can be mailed as a single file. Its sections: the title and
a description of the run, the statistics table, the main figure (`quantkit.analysis.plots`),
the monthly returns heatmap, the returns distribution, the rolling Sharpe ratio
(`quantkit.analysis.report_charts`) and the trades table (sortable: click a column header).
Every piece of user text (the strategy's repr, symbols) is HTML-escaped.
"""

from __future__ import annotations

import html
import math
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from quantkit.analysis.report_charts import (
    distribution_returns,
    monthly_returns,
    monthly_returns_figure,
    returns_histogram_figure,
    rolling_sharpe,
    rolling_sharpe_figure,
    rolling_window,
)
from quantkit.domain.timeframe import parse_timeframe
from quantkit.errors import ConfigError
from quantkit.metrics.formatting import format_value
from quantkit.metrics.stats import periods_per_year

if TYPE_CHECKING:
    import pandas as pd

    from quantkit.engine.result import Result

__all__ = ["MAX_TRADE_ROWS", "render_report", "stats_table", "write_report"]

MAX_TRADE_ROWS = 2000
"""Trades listed in the report's table; a note says when there are more."""

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
margin:0 auto;max-width:1400px;padding:1em 2em;color:#222}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.6em}
.description{color:#555;margin-top:0}nav a{margin-right:1em}
table{border-collapse:collapse;font-size:.9em}
td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
table.quantkit-trades th{cursor:pointer;background:#f6f6f6;position:sticky;top:0}
.scroll{max-height:600px;overflow:auto;border:1px solid #eee}
.note{color:#777;font-size:.85em}
.stats{display:flex;flex-wrap:wrap;gap:0 3em;align-items:flex-start}
"""

# Sorts a table.sortable by the clicked column, using each cell's data-sort value.
_SORT_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, column) {
    th.addEventListener("click", function () {
      var body = table.tBodies[0], rows = Array.from(body.rows);
      var ascending = th.dataset.order !== "asc";
      table.querySelectorAll("th").forEach(function (h) { delete h.dataset.order; });
      th.dataset.order = ascending ? "asc" : "desc";
      rows.sort(function (a, b) {
        var x = a.cells[column].dataset.sort, y = b.cells[column].dataset.sort;
        var p = parseFloat(x), q = parseFloat(y);
        var order = (isNaN(p) || isNaN(q)) ? x.localeCompare(y) : p - q;
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""

_TRADE_COLUMNS = (
    ("symbol", "Symbol"),
    ("direction", "Direction"),
    ("entry_time", "Entry time"),
    ("exit_time", "Exit time"),
    ("duration", "Duration"),
    ("size", "Size"),
    ("entry_price", "Entry price"),
    ("exit_price", "Exit price"),
    ("pnl", "PnL"),
    ("return_pct", "Return [%]"),
    ("fees", "Fees"),
)


def _sort_key(value: object) -> str:
    """A cell's data-sort value: a number where there is one, else the display text."""
    import pandas as pd  # noqa: PLC0415

    if isinstance(value, pd.Timestamp):
        return str(value.value)
    if isinstance(value, pd.Timedelta):
        return str(value.value)
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        return repr(float(value)) if not math.isnan(float(value)) else "-inf"
    return format_value(value)


def stats_table(stats: pd.Series) -> str:
    """Return the statistics table as an HTML ``<table class="quantkit-stats">``.

    Args:
        stats: The statistics Series of a Result (label -> value).

    Returns:
        The table's HTML, every label and value escaped.
    """
    rows = "".join(
        f"<tr><th>{html.escape(str(label))}</th>"
        f"<td>{html.escape(format_value(value, str(label)))}</td></tr>"
        for label, value in stats.items()
    )
    return f'<table class="quantkit-stats"><tbody>{rows}</tbody></table>'


def _stats_columns(stats: pd.Series, columns: int = 2) -> str:
    """The statistics as ``columns`` tables side by side (the page is wide, the table long)."""
    per = -(-len(stats) // columns) if len(stats) else 1
    tables = "".join(stats_table(stats.iloc[i : i + per]) for i in range(0, len(stats), per))
    return f'<div class="stats">{tables}</div>'


def _trades_table(trades: pd.DataFrame) -> str:
    if not len(trades):
        return '<p class="note">No closed trades.</p>'
    shown = trades.head(MAX_TRADE_ROWS)
    header = "".join(f"<th>{html.escape(title)}</th>" for _, title in _TRADE_COLUMNS)
    body = []
    for record in shown.to_dict("records"):
        cells = "".join(
            f'<td data-sort="{html.escape(_sort_key(record.get(column)))}">'
            f"{html.escape(format_value(record.get(column), title))}</td>"
            for column, title in _TRADE_COLUMNS
        )
        body.append(f"<tr>{cells}</tr>")
    note = ""
    if len(trades) > len(shown):
        note = (
            f'<p class="note">The first {len(shown):,} of {len(trades):,} trades; '
            "<code>result.trades</code> holds them all.</p>"
        )
    return (
        f'{note}<div class="scroll"><table class="quantkit-trades sortable"><thead><tr>{header}'
        f"</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _description(result: Result) -> str:
    equity = result.equity
    try:
        version = metadata.version("quantkit")
    except metadata.PackageNotFoundError:  # pragma: no cover - only in an uninstalled tree
        version = "unknown"
    parts = [
        f"Strategy {result.strategy} on {', '.join(result.symbols)}, {result.timeframe} bars",
    ]
    if len(equity):
        parts.append(
            f"from {format_value(equity.index[0])} to {format_value(equity.index[-1])} UTC "
            f"({len(equity):,} bars), starting equity {format_value(float(equity.iloc[0]))}"
        )
    parts.append(f"report by quantkit {version}")
    return html.escape("; ".join(parts) + ".")


def _figure_html(figure: Any) -> str:
    import plotly.io as pio  # noqa: PLC0415 - plotly loads only when reporting

    html_div: str = pio.to_html(
        figure,
        full_html=False,
        include_plotlyjs=False,
        include_mathjax=False,
        config={"displaylogo": False, "responsive": True},
    )
    return html_div


def _sections(result: Result) -> list[tuple[str, str, str]]:
    """``(id, heading, html)`` of each section after the header."""
    timeframe_ns = parse_timeframe(result.timeframe)
    returns, label = distribution_returns(result.equity, timeframe_ns)
    window = rolling_window(timeframe_ns, len(result.equity))
    sharpe = rolling_sharpe(result.equity.pct_change(), window, periods_per_year(timeframe_ns))
    return [
        ("statistics", "Statistics", _stats_columns(result.stats)),
        ("overview", "Price, equity, drawdown and exposure", _figure_html(result.plot())),
        (
            "monthly-returns",
            "Monthly returns",
            _figure_html(monthly_returns_figure(monthly_returns(result.equity))),
        ),
        (
            "returns-distribution",
            "Returns distribution",
            _figure_html(returns_histogram_figure(returns, label)),
        ),
        (
            "rolling-sharpe",
            "Rolling Sharpe ratio",
            _figure_html(rolling_sharpe_figure(sharpe, window, html.escape(result.timeframe))),
        ),
        ("trades", f"Trades ({len(result.trades):,})", _trades_table(result.trades)),
    ]


def render_report(result: Result) -> str:
    """Return the tear sheet of a run as one self-contained HTML page.

    Args:
        result: A finished run.

    Returns:
        The page: plotly.js embedded once, no network reference, user text escaped.
    """
    from plotly.offline import get_plotlyjs  # noqa: PLC0415 - plotly loads only when reporting

    title = html.escape(f"{result.strategy} on {', '.join(result.symbols)} ({result.timeframe})")
    sections = _sections(result)
    nav = "".join(f'<a href="#{key}">{html.escape(heading)}</a>' for key, heading, _ in sections)
    body = "\n".join(
        f'<section id="{key}"><h2>{html.escape(heading)}</h2>\n{content}\n</section>'
        for key, heading, content in sections
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{_STYLE}</style>\n"
        f'<script type="text/javascript">{get_plotlyjs()}</script>\n</head>\n<body>\n'
        f'<header><h1>{title}</h1><p class="description">{_description(result)}</p>'
        f"<nav>{nav}</nav></header>\n{body}\n<script>{_SORT_SCRIPT}</script>\n</body></html>\n"
    )


def write_report(result: Result, path: Path) -> Path:
    """Write the tear sheet of ``result`` (see `render_report`) to ``path``.

    Args:
        result: A finished run.
        path: Destination file; missing parent folders are created.

    Returns:
        The path written.

    Raises:
        ConfigError: If ``path`` is an existing directory or cannot be written.
    """
    if path.is_dir():
        raise ConfigError(
            f"report path {path} is a directory; give a file name such as report.html"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        page = render_report(result)
        path.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write the report to {path}: {exc}") from exc
    return path
