"""Analysis of run results: the statistics table (metrics), later plots and reports."""

from __future__ import annotations

from quantkit.analysis.stats import compute_stats as compute_stats
from quantkit.analysis.stats import drawdown as drawdown
from quantkit.analysis.stats import format_stats as format_stats
from quantkit.analysis.stats import periods_per_year as periods_per_year

__all__ = ["compute_stats", "drawdown", "format_stats", "periods_per_year"]
