"""Pure performance metrics: equity curves, returns and trades in, numbers out.

The statistics table is built from them. No I/O and no plotting: the engine and the reports
(`quantkit.analysis`) both build on this layer.
"""

from __future__ import annotations

from quantkit.metrics.stats import compute_stats as compute_stats
from quantkit.metrics.stats import drawdown as drawdown
from quantkit.metrics.stats import format_stats as format_stats
from quantkit.metrics.stats import periods_per_year as periods_per_year

__all__ = ["compute_stats", "drawdown", "format_stats", "periods_per_year"]
