"""Changing a perpetual's leverage on the venue during a live run, journaled.

`PerpetualLiveBroker.aset_leverage` comes here. The change is checked first with the
simulator's own rule (`quantkit.domain.leverage_change.leverage_refusal`: ``-2027``,
``-4161``, ``-2028``), so what the venue would refuse is refused before anything is sent, with
the same `ExchangeError` (``reason="leverage_refused"``) as in a backtest. Otherwise:

1. the intent is journaled (record ``leverage``: symbol, leverage, previous leverage) before
   the request leaves;
2. the request is sent, retried on transient failures (setting a leverage is idempotent);
3. the venue's answer is applied to the portfolio (an isolated position keeps its isolated
   wallet); a refusal is journaled (``leverage_rejected``) and raised.

On a restart, the leverage a symbol is set to is the last journaled ``leverage`` record not
followed by a refusal, not the constructor's, so a run that changed it does not undo the
change (nor fight the venue over an open isolated position). A change whose answer never
came is set again then (idempotent).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from quantkit.brokers._journal_format import iter_records
from quantkit.brokers.perpetual_setup import check_leverage
from quantkit.domain.leverage_change import apply_leverage, leverage_refusal
from quantkit.errors import ConfigError, ExchangeError

if TYPE_CHECKING:
    from quantkit.brokers.live_perpetual import PerpetualLiveBroker

__all__ = ["change_leverage", "journaled_leverages"]

_log = structlog.get_logger("quantkit.live")


def journaled_leverages(path: Path) -> dict[str, float]:
    """The leverage each symbol was last changed to in a journal (refused changes skipped).

    Args:
        path: The journal file (absent: none).

    Returns:
        Symbol to leverage.
    """
    if not path.exists():
        return {}
    found: dict[str, float] = {}
    previous: dict[str, float] = {}
    for record in iter_records(path):
        if record.kind == "leverage":
            symbol = str(record.data["symbol"])
            previous[symbol] = float(record.data["previous"])
            found[symbol] = float(record.data["leverage"])
        elif record.kind == "leverage_rejected":
            symbol = str(record.data["symbol"])
            if symbol in previous:
                found[symbol] = previous[symbol]
    return found


async def change_leverage(
    broker: PerpetualLiveBroker,
    symbol: str,
    leverage: float,
    retrying: Callable[[Callable[[], Awaitable[float]]], Awaitable[float]],
) -> float:
    """Check, journal, send and apply a leverage change (see the module docstring).

    Args:
        broker: The started live broker.
        symbol: One of its perpetual symbols.
        leverage: A whole number from 1 to the first bracket's maximum.
        retrying: The broker's retry of idempotent account settings.

    Returns:
        The leverage the venue confirmed.

    Raises:
        ConfigError: If the symbol is not traded or the leverage is not a whole number in
            range.
        ExchangeError: If the position's margin cannot carry it (before sending,
            ``reason="leverage_refused"``), or the venue refused it.
        TransientError: If the venue kept failing (the change is set again on restart).
    """
    futures = broker.futures
    spec = futures.specs.get(symbol)
    if spec is None:
        raise ConfigError(f"aset_leverage: {symbol!r} is not a perpetual this broker trades")
    value = check_leverage(symbol, spec, leverage)
    if value != int(value):
        raise ConfigError(f"leverage of {symbol} must be a whole number, got {leverage!r}")
    refusal = leverage_refusal(futures, symbol, value)
    if refusal:
        raise ExchangeError(f"aset_leverage: {refusal}", reason="leverage_refused")
    previous = futures.leverage[symbol]
    record = {"symbol": symbol, "leverage": value, "previous": previous}
    broker.journal.append("leverage", record)
    venue = broker.perp_venue
    try:
        confirmed = await retrying(lambda: venue.set_leverage(symbol, value))
    except ExchangeError as exc:
        broker.journal.append("leverage_rejected", {"symbol": symbol, "reason": str(exc)})
        raise
    apply_leverage(futures, symbol, confirmed)
    _log.info("leverage_changed", symbol=symbol, leverage=confirmed, previous=previous)
    return confirmed
