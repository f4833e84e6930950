"""Look-ahead audit: rerun a strategy on truncated history and compare what it decided."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from quantkit.brokers.backtest import BacktestBroker
from quantkit.brokers.base import Broker
from quantkit.data.feed import DataFeed
from quantkit.data.series_feed import SeriesFeed
from quantkit.domain.bars import BarSeries
from quantkit.engine.engine import Engine
from quantkit.engine.record import RunRecord
from quantkit.errors import ConfigError, LookAheadError
from quantkit.risk.policy import RiskPolicy
from quantkit.strategy.base import Strategy

__all__ = ["LookAheadFinding", "LookAheadReport", "audit_lookahead"]

_Decision = tuple[int, str, str, str, float | None, float | None, float | None, float | None]


@dataclass(frozen=True, slots=True)
class LookAheadFinding:
    """One sign of look-ahead.

    Attributes:
        kind: ``"order"`` (a decision changed), ``"indicator"`` (a value changed) or
            ``"error"`` (the strategy raised `LookAheadError`).
        cutoff: Close time of the last bar kept in the truncated run, ns (-1 for errors).
        time: When the changed decision or value was made, ns (-1 if not known).
        detail: What differed.
    """

    kind: str
    cutoff: int
    time: int
    detail: str


@dataclass(frozen=True, slots=True)
class LookAheadReport:
    """The outcome of `audit_lookahead`.

    Attributes:
        strategy: The audited strategy.
        cutoffs: Close times at which history was cut, ns.
        decisions: Number of order decisions compared.
        findings: Everything that changed when later data was removed.
    """

    strategy: str
    cutoffs: tuple[int, ...]
    decisions: int
    findings: tuple[LookAheadFinding, ...]

    @property
    def ok(self) -> bool:
        """Whether no look-ahead was found."""
        return not self.findings

    def __str__(self) -> str:
        head = (
            f"look-ahead audit of {self.strategy}: {len(self.cutoffs)} cutoffs, "
            f"{self.decisions} decisions compared: "
        )
        if self.ok:
            return head + "no look-ahead found"
        lines = [head + f"{len(self.findings)} finding(s)"]
        lines += [f"  - [{f.kind}] {f.detail}" for f in self.findings[:20]]
        return "\n".join(lines)


def _decisions(record: RunRecord, loop_orders: int) -> list[_Decision]:
    out: list[_Decision] = []
    for order in list(record.orders.values()):
        if order.parent_id:
            continue  # bracket exits are the broker's, not the strategy's decisions
        number = int(order.client_id.rsplit("-", 1)[-1])
        if number > loop_orders:
            continue  # placed in on_stop, which a truncated run calls earlier
        r = order.request
        out.append(
            (order.created_at, r.symbol, str(r.side), str(r.type), r.amount, r.cost,
             r.limit_price, r.stop_price)
        )  # fmt: skip
    return out


def _same(a: _Decision, b: _Decision) -> bool:
    if a[:4] != b[:4]:
        return False
    for x, y in zip(a[4:], b[4:], strict=True):
        if (x is None) != (y is None):
            return False
        if x is not None and y is not None and not np.isclose(x, y, rtol=1e-9, atol=0.0):
            return False
    return True


def _run(
    factory: Callable[[], Strategy],
    history: dict[str, BarSeries],
    broker: Callable[[], Broker],
    risk: Callable[[], RiskPolicy | None],
) -> tuple[RunRecord, int]:
    engine = Engine(feed=SeriesFeed(history), strategy=factory(), broker=broker(), risk=risk())
    record = engine.run_record()
    return record, record.orders_before_stop


def _cut_times(history: dict[str, BarSeries], cutoffs: int | Sequence[int]) -> list[int]:
    primary = next(iter(history.values()))
    length = len(primary)
    if isinstance(cutoffs, int):
        if cutoffs < 1:
            raise ConfigError(f"audit_lookahead: cutoffs must be >= 1, got {cutoffs}")
        marks = np.linspace(0.2, 0.9, cutoffs) if cutoffs > 1 else np.array([0.5])
        positions = sorted({max(1, min(length - 1, int(m * length))) for m in marks})
    else:
        positions = sorted(set(cutoffs))
        if any(p < 1 or p >= length for p in positions):
            raise ConfigError(f"audit_lookahead: bar cutoffs must be in [1, {length - 1}]")
    return [int(primary.close_time[p - 1]) for p in positions]


def audit_lookahead(
    strategy: Callable[[], Strategy],
    feed: DataFeed,
    *,
    cutoffs: int | Sequence[int] = 5,
    broker: Callable[[], Broker] | None = None,
    risk: Callable[[], RiskPolicy | None] | None = None,
) -> LookAheadReport:
    """Check a strategy for look-ahead bias.

    The strategy runs once on the full history and once per cutoff on the history up to that
    cutoff. Any order decision made at or before the cutoff, or any indicator value up to it,
    that differs between the two runs used data from after the cutoff.

    Args:
        strategy: A zero-argument callable returning a fresh strategy, e.g. a strategy class or
            ``lambda: SmaCross(fast=5, slow=20)``.
        feed: The data to audit on.
        cutoffs: How many evenly spaced cutoffs (between 20 % and 90 % of the primary
            symbol's bars), or explicit bar counts of the primary symbol to keep.
        broker: Zero-argument callable returning a fresh broker (default: ``BacktestBroker()``).
        risk: Zero-argument callable returning a fresh risk policy, or ``None``.

    Returns:
        The report; ``report.ok`` is True when nothing changed.

    Raises:
        ConfigError: If the cutoffs are invalid.

    Examples:
        >>> from quantkit import SmaCross, sample_feed
        >>> audit_lookahead(SmaCross, sample_feed(), cutoffs=2).ok
        True
    """
    history = dict(feed.load())
    make_broker = broker or BacktestBroker
    make_risk = risk or (lambda: None)
    times = _cut_times(history, cutoffs)
    findings: list[LookAheadFinding] = []
    name = _strategy_name(strategy)
    try:
        full, full_loop = _run(strategy, history, make_broker, make_risk)
    except LookAheadError as exc:
        return LookAheadReport(
            name, tuple(times), 0, (LookAheadFinding("error", -1, -1, str(exc)),)
        )
    name = full.strategy
    reference = _decisions(full, full_loop)
    compared = 0
    for cut in times:
        part_history = {
            s: series.head(int(np.searchsorted(series.close_time, cut, side="right")))
            for s, series in history.items()
        }
        part_history = {s: series for s, series in part_history.items() if len(series)}
        try:
            part, part_loop = _run(strategy, part_history, make_broker, make_risk)
        except LookAheadError as exc:
            findings.append(LookAheadFinding("error", cut, -1, str(exc)))
            continue
        expected = [d for d in reference if d[0] <= cut]
        got = _decisions(part, part_loop)
        compared += len(expected)
        findings.extend(_compare_decisions(expected, got, cut))
        findings.extend(_compare_indicators(full, part, cut))
    return LookAheadReport(name, tuple(times), compared, tuple(findings))


def _strategy_name(factory: Callable[[], Strategy]) -> str:
    if isinstance(factory, type):
        return factory.__name__
    return getattr(factory, "__qualname__", type(factory).__name__)


def _compare_decisions(
    expected: list[_Decision], got: list[_Decision], cut: int
) -> list[LookAheadFinding]:
    for k, (a, b) in enumerate(zip(expected, got, strict=False)):
        if not _same(a, b):
            return [
                LookAheadFinding(
                    "order", cut, a[0], f"decision {k} differs: full data {a}, truncated {b}"
                )
            ]
    if len(expected) != len(got):
        longer = expected if len(expected) > len(got) else got
        extra = longer[min(len(expected), len(got))]
        which = "full data" if longer is expected else "truncated data"
        return [
            LookAheadFinding(
                "order",
                cut,
                extra[0],
                f"{len(expected)} decisions with full data, {len(got)} truncated; "
                f"first unmatched ({which}): {extra}",
            )
        ]
    return []


def _compare_indicators(full: RunRecord, part: RunRecord, cut: int) -> list[LookAheadFinding]:
    findings: list[LookAheadFinding] = []
    for (symbol, a), (_, b) in zip(full.indicators, part.indicators, strict=False):
        whole, truncated = a.values, b.values  # each run ended on its last bar
        length = len(truncated)
        same = np.isclose(whole[:length], truncated, rtol=1e-9, atol=1e-12, equal_nan=True)
        if not same.all():
            bar = int(np.argmin(same))
            time = int(part.history[symbol].close_time[bar])
            findings.append(
                LookAheadFinding(
                    "indicator",
                    cut,
                    time,
                    f"indicator {a.name!r} of {symbol} at bar {bar} is "
                    f"{whole[bar]!r} with full data but {truncated[bar]!r} truncated",
                )
            )
    return findings
