"""A self-contained HTML report of a Result."""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from quantkit.engine.result import Result

__all__ = ["write_report"]

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}}
td,th{{padding:2px 10px;border-bottom:1px solid #ddd;text-align:right}}</style></head>
<body><h1>{title}</h1>
<h2>Statistics</h2>{stats}
<h2>Charts</h2>{figure}
<h2>Trades</h2>{trades}
</body></html>
"""


def write_report(result: Result, path: Path) -> Path:
    """Write ``result`` as one HTML file with plotly.js embedded (no network needed).

    Args:
        result: A finished run.
        path: Destination file; parent folders are created.

    Returns:
        The path written.
    """
    figure = result.plot()
    body = figure.to_html(full_html=False, include_plotlyjs=True)
    stats = result.stats.to_frame("value").to_html(escape=True)
    trades = result.trades.to_html(index=False, escape=True, max_rows=500)
    page = _PAGE.format(
        title=html.escape(f"{result.strategy} on {', '.join(result.symbols)}"),
        stats=stats,
        figure=body,
        trades=trades,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
