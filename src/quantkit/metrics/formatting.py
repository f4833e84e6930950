"""One way to write a number: the text table (`format_stats`), the report's tables, the notes.

The rule, by what a value is:

- a percentage (its label ends in ``[%]``): two decimals, thousands separators: ``-48.92``;
- any other float of magnitude 100 or more (money, equity, prices): two decimals, thousands
  separators: ``51,084.77``;
- any other float (ratios, small amounts and prices): four significant digits: ``2.909``,
  ``0.5``, ``0.001235``;
- NaN and missing values (None, NaT) as ``-``; infinities as ``inf`` / ``-inf``;
- integers with thousands separators (``17,520``); booleans as ``True`` / ``False``;
- times to the minute in UTC (``2024-01-02 03:04``), durations to the second
  (``1 days 01:43:37``); anything else as ``str()`` gives it.

pandas is imported inside the function, so importing this module stays cheap.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["MISSING", "format_value"]

MISSING = "-"
"""How a NaN or missing value is written."""


def _format_float(number: float, label: str) -> str:
    if math.isnan(number):
        return MISSING
    if math.isinf(number):
        return "inf" if number > 0 else "-inf"
    if label.endswith("[%]") or abs(number) >= 100:
        return f"{number:,.2f}"
    return f"{number:.4g}"


def format_value(value: object, label: str = "") -> str:
    """Return a statistic or table cell as display text (not HTML-escaped).

    Args:
        value: A number, time, duration or anything with a ``str``.
        label: The row or column label; one ending in ``[%]`` marks a percentage.

    Returns:
        The text, by the rule of the module docstring.

    Examples:
        >>> format_value(-48.915227, "Total return [%]"), format_value(51084.7729)
        ('-48.92', '51,084.77')
        >>> format_value(32 / 11), format_value(float("nan")), format_value(17520)
        ('2.909', '-', '17,520')
    """
    import pandas as pd  # noqa: PLC0415  (lazy: `import quantkit` must not load pandas)

    if value is None or value is pd.NaT:
        return MISSING
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        return _format_float(float(value), label)
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, pd.Timedelta):
        return str(value.round("s"))
    return str(value)
