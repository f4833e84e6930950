"""Live against backtest: replay a run's tape through the backtest and compare order by order.

`divergence_report` rebuilds the bars a paper or live run recorded on its `EventTape`, runs a
fresh instance of the same strategy over exactly those bars with the backtest engine, and
lines the two runs' orders up by their sequence number within the run (the number in the
client order id). Each pair is put in one category, the first that applies of::

    missed            the backtest sent the order, the live run did not
    extra             the live run sent an order the backtest did not
    different_signal  same sequence number, different symbol or side
    status            one mode rejected/canceled/left the order unfilled, the other traded it
    partial           the filled amounts differ: a partial fill in one mode only, or a different
                      size (beyond ``price_tolerance_bps``; orders sized by cost compare the
                      notional, which a price gap does not change)
    slippage          average fill prices differ by more than ``price_tolerance_bps``
    fee               the fee per unit of notional differs
    latency           the first fills are further apart than ``latency_tolerance_s``
    match             none of the above

pandas is imported inside the functions, so importing this module stays light.
"""

from __future__ import annotations

import html
import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from quantkit.analysis.divergence_orders import (
    OrderView,
    backtest_orders,
    live_orders,
    order_sequence,
)
from quantkit.errors import ConfigError, DataError

if TYPE_CHECKING:
    import pandas as pd

    from quantkit.brokers.backtest import BacktestBroker
    from quantkit.engine.result import Result
    from quantkit.risk.policy import RiskPolicy
    from quantkit.strategy.base import Strategy

__all__ = ["CATEGORIES", "ORDER_COLUMNS", "DivergenceReport", "divergence_report", "order_sequence"]

CATEGORIES = (
    "missed",
    "extra",
    "different_signal",
    "status",
    "partial",
    "slippage",
    "fee",
    "latency",
    "match",
)
"""The categories of an order, in the order they are tried."""

ORDER_COLUMNS = (
    "seq", "leg", "symbol", "side", "live_client_id", "backtest_client_id", "live_status",
    "backtest_status", "live_ordered", "backtest_ordered", "live_amount", "backtest_amount",
    "live_price", "backtest_price", "slippage_bps", "latency_s", "live_fee", "backtest_fee",
    "fee_diff", "partial", "category", "reason",
)  # fmt: skip

_NAN = math.nan
_NS_PER_S = 1e9
_FEE_RATE_TOLERANCE = 1e-9  # fees per unit of notional closer than this are the same rate
_AMOUNT_TOLERANCE = 1e-9  # relative
_NOT_TRADED = frozenset({"rejected", "canceled", "expired"})


# -- comparing one order ---------------------------------------------------------------------


def _slippage_bps(live: OrderView, backtest: OrderView) -> float:
    """Live average price against the backtest's, in bps; positive = worse for the trader."""
    live_price, backtest_price = live.price, backtest.price
    if math.isnan(live_price) or math.isnan(backtest_price):
        return _NAN
    sign = 1.0 if live.side == "buy" else -1.0
    return sign * (live_price - backtest_price) / backtest_price * 1e4 + 0.0  # no -0.0


def _fee_rates_differ(live: OrderView, backtest: OrderView) -> bool:
    live_notional, backtest_notional = _notional(live), _notional(backtest)
    if live_notional > 0 and backtest_notional > 0:
        rate_gap = live.fee / live_notional - backtest.fee / backtest_notional
        return abs(rate_gap) > _FEE_RATE_TOLERANCE
    return abs(live.fee - backtest.fee) > 1e-12


def _notional(view: OrderView) -> float:
    return sum(a * p for a, p, _ in view.fills)


def _sizes_differ(live: OrderView, backtest: OrderView, tolerance: float) -> bool:
    """Whether one mode filled in part only, or the two filled different sizes.

    Orders sized by cost (quote currency) compare their notional, amounts otherwise.
    """
    if live.partial != backtest.partial:
        return True
    if live.filled <= 0 or backtest.filled <= 0:
        return False
    by_cost = not math.isnan(backtest.cost)
    mine, theirs = (
        (_notional(live), _notional(backtest)) if by_cost else (live.filled, backtest.filled)
    )
    return abs(mine - theirs) > (tolerance + _AMOUNT_TOLERANCE) * max(mine, theirs)


def _with_reason(status: str, reason: str) -> str:
    return f"{status} ({reason})" if reason else status


def _categorise(
    live: OrderView,
    backtest: OrderView,
    slippage: float,
    latency: float,
    tolerances: tuple[float, float],
) -> tuple[str, str]:
    """The category of a pair with the same sequence number, and why."""
    price_tolerance, latency_tolerance = tolerances
    if (live.symbol, live.side) != (backtest.symbol, backtest.side):
        return "different_signal", (
            f"live {live.side} {live.symbol}, backtest {backtest.side} {backtest.symbol}"
        )
    if live.status != backtest.status and not (live.filled > 0 and backtest.filled > 0):
        return "status", (
            f"live {_with_reason(live.status, live.reason)}, "
            f"backtest {_with_reason(backtest.status, backtest.reason)}"
        )
    if _sizes_differ(live, backtest, price_tolerance * 1e-4):
        return "partial", (
            f"live filled {live.filled:.10g} of {live.ordered:.10g}, "
            f"backtest {backtest.filled:.10g} of {backtest.ordered:.10g}"
        )
    if abs(slippage) > price_tolerance:
        return "slippage", (
            f"live price {live.price:.10g} vs backtest {backtest.price:.10g} ({slippage:+.2f} bps)"
        )
    if _fee_rates_differ(live, backtest):
        return "fee", f"live fee {live.fee:.10g} vs backtest {backtest.fee:.10g}"
    if abs(latency) > latency_tolerance:
        return "latency", f"live filled {latency:+.3f} s from the backtest"
    return "match", "same order, price, amount and fees"


def _row(
    key: tuple[int, str],
    live: OrderView | None,
    backtest: OrderView | None,
    tolerances: tuple[float, float],
) -> dict[str, Any]:
    either = live if live is not None else backtest
    if either is None:  # every key comes from one of the two modes
        raise AssertionError(f"order {key} is in neither mode")
    row: dict[str, Any] = {"seq": key[0], "leg": key[1], "symbol": either.symbol}
    row["side"] = either.side
    for mode, view in (("live", live), ("backtest", backtest)):
        row[f"{mode}_client_id"] = view.client_id if view else ""
        row[f"{mode}_status"] = view.status if view else ""
        row[f"{mode}_ordered"] = view.ordered if view else _NAN
        row[f"{mode}_amount"] = view.filled if view else _NAN
        row[f"{mode}_price"] = view.price if view else _NAN
        row[f"{mode}_fee"] = view.fee if view else _NAN
    row["partial"] = bool(live and live.partial)
    slippage = latency = _NAN
    if live is None:
        category, reason = "missed", "the backtest sent this order; the live run did not"
    elif backtest is None:
        category, reason = "extra", "the live run sent this order; the backtest did not"
    else:
        same = (live.symbol, live.side) == (backtest.symbol, backtest.side)
        if same:
            slippage = _slippage_bps(live, backtest)
            if live.first_fill is not None and backtest.first_fill is not None:
                latency = (live.first_fill - backtest.first_fill) / _NS_PER_S
        category, reason = _categorise(live, backtest, slippage, latency, tolerances)
    row["slippage_bps"] = slippage
    row["latency_s"] = latency
    row["fee_diff"] = row["live_fee"] - row["backtest_fee"]
    row["category"] = category
    row["reason"] = reason
    return row


# -- the report --------------------------------------------------------------------------------


def _pnl(views: list[OrderView], last_close: dict[str, float]) -> float:
    """Cash flows of the orders' fills (fees included) plus the net amount at the last close."""
    total = 0.0
    held: dict[str, float] = {}
    for view in views:
        sign = 1.0 if view.side == "buy" else -1.0
        for amount, price, fee in view.fills:
            total -= sign * amount * price + fee
            held[view.symbol] = held.get(view.symbol, 0.0) + sign * amount
    return total + sum(amount * last_close[symbol] for symbol, amount in held.items())


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else _NAN


def _summary(
    rows: list[dict[str, Any]],
    pairs: list[tuple[OrderView, OrderView]],
    last_close: dict[str, float],
) -> dict[str, float | int]:
    summary: dict[str, float | int] = {"orders": len(rows)}
    for category in CATEGORIES:
        summary[category] = sum(1 for row in rows if row["category"] == category)
    slippage = [abs(r["slippage_bps"]) for r in rows if not math.isnan(r["slippage_bps"])]
    latency = [r["latency_s"] for r in rows if not math.isnan(r["latency_s"])]
    summary["mean_abs_slippage_bps"] = _mean(slippage)
    summary["max_abs_slippage_bps"] = max(slippage) if slippage else _NAN
    summary["mean_latency_s"] = _mean(latency)
    summary["total_fee_diff"] = sum(live.fee - backtest.fee for live, backtest in pairs)
    live_pnl = _pnl([live for live, _ in pairs], last_close)
    summary["pnl_diff"] = live_pnl - _pnl([backtest for _, backtest in pairs], last_close)
    return summary


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return str(value).replace("|", "\\|")


_SHOWN = (
    "seq", "leg", "symbol", "side", "category", "live_status", "backtest_status", "live_amount",
    "backtest_amount", "live_price", "backtest_price", "slippage_bps", "latency_s", "fee_diff",
    "reason",
)  # fmt: skip


@dataclass(frozen=True, eq=False)
class DivergenceReport:
    """How a live run's orders differ from the backtest of the same strategy on the same bars.

    Attributes:
        orders: One row per order sequence number (and bracket leg), with the columns of
            ``ORDER_COLUMNS``: ``live_amount``/``backtest_amount`` are filled amounts,
            ``live_ordered``/``backtest_ordered`` the ordered ones, prices are average fill
            prices, ``slippage_bps`` is positive when the live price was worse for the trader,
            ``latency_s`` is live first fill time minus backtest first fill time, fees are in
            the quote currency and ``fee_diff`` is live minus backtest.
        summary: Counts per category and ``orders`` in all; ``mean_abs_slippage_bps``,
            ``max_abs_slippage_bps``, ``mean_latency_s`` (NaN without values);
            ``total_fee_diff`` and ``pnl_diff`` (live minus backtest, over the orders both
            modes sent with the same symbol and side, positions marked at the last close).
        backtest: The backtest's full `Result`.
    """

    orders: pd.DataFrame
    summary: dict[str, float | int]
    backtest: Result

    @property
    def diverged(self) -> pd.DataFrame:
        """The orders whose category is not ``"match"``."""
        return self.orders[self.orders["category"] != "match"]

    def to_markdown(self) -> str:
        """The summary and the order table as Markdown.

        Returns:
            The text.
        """
        lines = ["| measure | value |", "| --- | --- |"]
        lines += [f"| {name} | {_cell(value)} |" for name, value in self.summary.items()]
        lines += ["", "| " + " | ".join(_SHOWN) + " |", "|" + " --- |" * len(_SHOWN)]
        for row in self.orders[list(_SHOWN)].itertuples(index=False):
            lines.append("| " + " | ".join(_cell(value) for value in row) + " |")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_markdown()

    def _repr_html_(self) -> str:
        summary = "".join(
            f"<tr><th style='text-align:left'>{html.escape(name)}</th>"
            f"<td style='text-align:right'>{html.escape(_cell(value))}</td></tr>"
            for name, value in self.summary.items()
        )
        table = self.orders[list(_SHOWN)].to_html(
            index=False, na_rep="", float_format=lambda value: f"{value:.6g}"
        )
        return f"<div><table>{summary}</table>{table}</div>"


def _check_arguments(price_tolerance_bps: float, latency_tolerance_s: float | None) -> None:
    for name, value in (
        ("price_tolerance_bps", price_tolerance_bps),
        ("latency_tolerance_s", latency_tolerance_s),
    ):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            raise ConfigError(f"divergence_report: {name} must be a number >= 0, got {value!r}")
        if math.isinf(value):
            raise ConfigError(f"divergence_report: {name} must be finite, got {value!r}")


def divergence_report(
    tape: pd.DataFrame | str | os.PathLike[str],
    strategy: Strategy,
    *,
    broker: BacktestBroker | None = None,
    risk: RiskPolicy | None = None,
    price_tolerance_bps: float = 1.0,
    latency_tolerance_s: float | None = None,
    warmup: int = 0,
) -> DivergenceReport:
    """Backtest ``strategy`` on the bars of a live run's tape and compare the orders.

    Orders are paired by their sequence number within the run (see `order_sequence`); the
    id prefixes of the two modes may differ. A live order is every client id the tape
    mentions in an intent, order or fill row; its status is the last intent/order row's, its
    filled amount, price and fees come from its fills.

    Args:
        tape: A tape's directory, or the frame `quantkit.engine.tape.read_tape` returned.
        strategy: A fresh instance of the strategy the live run used, with the same
            parameters.
        broker: The backtest's broker (default: ``BacktestBroker()``); give it the live
            account's cash and the venue's fees for a fair comparison.
        risk: The risk policy the live run used, if any.
        price_tolerance_bps: Price gaps up to this many bps are not slippage.
        latency_tolerance_s: Fill time gaps up to this are not latency (default: half a bar;
            the backtest fills at the bar's open, a live order a little after).
        warmup: The live run's warm-up bars per symbol (`LiveEngine` records them on the
            tape first): the backtest computes indicators over them without trading, as the
            live run did.

    Returns:
        The report.

    Raises:
        ConfigError: If a tolerance is negative or not a number, or the engine refuses a
            component.
        DataError: If the tape lacks columns or bars, its bars are invalid, or two orders of
            one mode share a sequence number.
        StoreError: If the tape's directory cannot be read.

    Examples:
        >>> from quantkit import SmaCross
        >>> report = divergence_report("runs/live-1/tape", SmaCross())  # doctest: +SKIP
        >>> report.summary["match"] == report.summary["orders"]  # doctest: +SKIP
        True
    """
    import pandas as pd  # noqa: PLC0415

    from quantkit.data.series_feed import SeriesFeed  # noqa: PLC0415 - keeps import light
    from quantkit.engine.engine import Engine  # noqa: PLC0415
    from quantkit.engine.tape import COLUMNS, read_tape, tape_bars  # noqa: PLC0415

    _check_arguments(price_tolerance_bps, latency_tolerance_s)
    frame = tape if isinstance(tape, pd.DataFrame) else read_tape(tape)
    missing = [name for name in COLUMNS if name not in frame.columns]
    if missing:
        raise DataError(f"not a tape: missing columns {missing}", source="event tape")
    bars = tape_bars(frame)
    engine = Engine(
        feed=SeriesFeed(bars),
        strategy=strategy,
        broker=broker,
        risk=risk,
        id_prefix="backtest",
        warmup=warmup,
    )
    result = engine.run()
    if latency_tolerance_s is None:
        latency_tolerance_s = next(iter(bars.values())).timeframe / _NS_PER_S / 2
    tolerances = (float(price_tolerance_bps), float(latency_tolerance_s))
    live, backtest = live_orders(frame), backtest_orders(result)
    rows = [
        _row(key, live.get(key), backtest.get(key), tolerances)
        for key in sorted(live.keys() | backtest.keys())
    ]
    pairs = [
        (live[key], backtest[key])
        for key in sorted(live.keys() & backtest.keys())
        if (live[key].symbol, live[key].side) == (backtest[key].symbol, backtest[key].side)
    ]
    last_close = {symbol: float(series.close[-1]) for symbol, series in bars.items()}
    return DivergenceReport(_orders_frame(rows), _summary(rows, pairs, last_close), result)


def _orders_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    import pandas as pd  # noqa: PLC0415

    frame = pd.DataFrame(rows, columns=list(ORDER_COLUMNS))
    return frame.astype({"seq": "int64", "partial": "bool"})
