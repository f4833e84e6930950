"""Per-venue figures of a multi-venue run, beside the total (pandas at the edge)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from quantkit.domain.venue_symbol import split_venue

if TYPE_CHECKING:
    import pandas as pd

    from quantkit.brokers.venues import Venues
    from quantkit.engine.result import Result

__all__ = ["venue_summary"]


def venue_summary(venues: Venues, result: Result) -> pd.DataFrame:
    """One row per venue and a ``"total"`` row of final figures.

    Positions are valued at each symbol's last close of the run (its own venue's bars). The
    total's cash, positions and equity are the run's account; each venue's come from its own
    account, so the rows adding up to the total is a check, not a construction.

    Args:
        venues: The run's `Venues` broker.
        result: The run's result.

    Returns:
        Columns ``cash``, ``positions``, ``equity``, ``fees``, ``fills``, ``trades``, indexed by
        venue (then ``"total"``).

    Examples:
        >>> from quantkit import BacktestBroker, Engine, SmaCross, Venues, sample_feed
        >>> feed = sample_feed(["BTC/USDT"]).load()["BTC/USDT"]
        >>> from quantkit import SeriesFeed
        >>> import dataclasses
        >>> both = SeriesFeed([dataclasses.replace(feed, symbol=f"{v}:BTC/USDT") for v in "ab"])
        >>> venues = Venues({"a": BacktestBroker(), "b": BacktestBroker()})
        >>> result = Engine(feed=both, strategy=SmaCross(), broker=venues).run()
        >>> table = venue_summary(venues, result)
        >>> list(table.index)
        ['a', 'b', 'total']
    """
    import pandas as pd  # noqa: PLC0415

    history = venues._history
    last = {symbol: float(series.close[-1]) for symbol, series in history.items()}
    fill_venues = result.fills["symbol"].map(lambda s: split_venue(s)[0])
    trade_venues = result.trades["symbol"].map(lambda s: split_venue(s)[0])
    rows: dict[str, dict[str, float]] = {}
    for name, broker in venues.brokers.items():
        account = broker.portfolio
        value = sum(
            position.amount * last[symbol]
            for symbol, position in account.positions.items()
            if position.amount
        )
        cash = account.balance
        rows[name] = {
            "cash": cash,
            "positions": value,
            "equity": cash + value,
            "fees": account.fees_paid,
            "fills": float((fill_venues == name).sum()),
            "trades": float((trade_venues == name).sum()),
        }
    total = venues.portfolio
    value = sum(p.amount * last[s] for s, p in total.positions.items() if p.amount)
    rows["total"] = {
        "cash": total.balance,
        "positions": value,
        "equity": total.balance + value,
        "fees": total.fees_paid,
        "fills": float(len(result.fills)),
        "trades": float(len(result.trades)),
    }
    frame = pd.DataFrame.from_dict(rows, orient="index")
    return frame.astype({"fills": "int64", "trades": "int64"})
