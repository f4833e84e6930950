"""Contract markets in the compiled kernel: prices as one contract's notional, and back.

The kernel trades one base unit of a linear contract. A contract market is the same trade in
the coordinate ``y`` = one contract's notional in the settle currency:

- linear, ``CS`` base units a contract: ``y = CS * price``; nothing else changes;
- inverse (COIN-M), ``CS`` quote units a contract: ``y = CS / price``. A long in prices is a
  short in ``y`` (its P&L ``n * CS * (1/entry - 1/exit)`` is ``n * (y_entry - y_exit)``), the
  bar's high is ``CS / low``, and the funding a long pays, ``n * y_mark * rate``, is what a
  ``y``-short pays at ``-rate``. Margin, fees, brackets (in the coin), sizing by cash and the
  liquidation price (the inverse formula is the linear one in ``y``) then follow unchanged.

The kernel's fills come back in prices and sides; its trade table stays in ``y`` (P&L, fees
and notional are right there) and `trades_frame_in_prices` turns the table's prices and
directions back. Percent-distance rules (stops, take-profits, trailing stops, limit and stop
entries, slippage) are not symmetric under ``1 / price``: on an inverse market they are
refused (`check_inverse`), so every figure equals the event backtest's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from quantkit.domain.perpetual import PerpetualSpec
from quantkit.errors import ConfigError

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

    from quantkit.vector.signals import Signals

    FloatArray = npt.NDArray[np.float64]
    Columns = tuple[FloatArray, FloatArray, FloatArray, FloatArray]

__all__ = ["check_inverse", "contract_columns", "fills_in_prices", "trades_frame_in_prices"]


def contract_columns(columns: Columns, spec: PerpetualSpec) -> Columns:
    """Open, high, low and close as one contract's notional (unchanged for size-1 linear).

    Args:
        columns: Open, high, low and close prices.
        spec: The perpetual's spec.

    Returns:
        The four columns in ``y`` (an inverse market's high is ``CS / low``).
    """
    size = spec.contract_size
    o, h, lo, c = columns
    if spec.inverse:
        return (
            np.divide(size, o),
            np.divide(size, lo),
            np.divide(size, h),
            np.divide(size, c),
        )
    if size == 1.0:
        return columns
    return (o * size, h * size, lo * size, c * size)


def check_inverse(signals: Signals, slippage: float, symbol: str) -> None:
    """Refuse what the kernel cannot give an inverse market with the event backtest's figures.

    Args:
        signals: The run's signals.
        slippage: The slippage fraction.
        symbol: The market's symbol, for the message.

    Raises:
        ConfigError: For stops, take-profits, trailing stops, limit or stop entries, or
            slippage on an inverse market.
    """
    used = [
        name
        for name, value in (
            ("sl_pct", signals.sl_pct),
            ("tp_pct", signals.tp_pct),
            ("trail_pct", signals.trail_pct),
        )
        if value is not None
    ]
    if signals.entry_type != "market":
        used.append(f"entry_type={signals.entry_type!r}")
    if slippage:
        used.append("slippage_bps")
    if used:
        raise ConfigError(
            f"fast path: {symbol} is an inverse perpetual; the kernel trades it with market "
            f"entries and signal exits only, without {', '.join(used)} (run it with the "
            "Engine and BacktestBroker for those)"
        )


def fills_in_prices(fills: FloatArray, spec: PerpetualSpec) -> None:
    """Turn the kernel's fill table (in ``y``) back into prices and sides, in place.

    Args:
        fills: The kernel's fills (``side`` in column 1, ``price`` in column 2).
        spec: The perpetual's spec.
    """
    if spec.inverse:
        fills[:, 1] = -fills[:, 1]
        fills[:, 2] = spec.contract_size / fills[:, 2]
    elif spec.contract_size != 1.0:
        fills[:, 2] /= spec.contract_size


def trades_frame_in_prices(frame: pd.DataFrame, spec: PerpetualSpec) -> pd.DataFrame:
    """Turn a trades frame built from the kernel's table (in ``y``) into prices, in place.

    Args:
        frame: `FastResult.trades` before the change (``pnl`` and ``return_pct`` are right).
        spec: The perpetual's spec.

    Returns:
        The frame, with entry and exit prices (an inverse market's the harmonic means) and
        an inverse market's directions as traded.
    """
    size = spec.contract_size
    for column in ("entry_price", "exit_price"):
        values = frame[column].to_numpy(dtype=np.float64)
        frame[column] = size / values if spec.inverse else values / size
    if spec.inverse:
        frame["direction"] = np.where(frame["direction"] == "long", "short", "long")
    return frame
