"""Circuit breakers: loss limits that halt new entries, optionally flatten, resume by rule.

The halt state, ``check``, flattening and the reset rules live in `quantkit.risk.reset.Breaker`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

from quantkit.domain.fill import Fill
from quantkit.domain.order import OrderRequest
from quantkit.domain.portfolio import Portfolio
from quantkit.errors import ConfigError
from quantkit.risk.policy import RiskContext, finite_or_none
from quantkit.risk.quiet import NEVER, QuietBand, lowest_within
from quantkit.risk.reset import DAY_NS, Breaker, ResetKind, utc_day

__all__ = ["ConsecutiveLosses", "DailyLossLimit", "MaxDrawdownBreaker"]


class MaxDrawdownBreaker(Breaker):
    """Halt when equity falls more than ``max_drawdown`` below its running peak.

    Equity is ``context.equity()`` (cash plus positions at the latest closes), sampled once per
    bar after the step's fills; the peak is the highest of those samples. After a resume the
    peak restarts at the equity of the bar on which trading resumes.

    Args:
        max_drawdown: Largest allowed fall from the peak, as a fraction (``0.1`` = 10 %).
        flatten: Close every open position when tripping.
        reset: ``"manual"`` (default), ``"next_day"`` or ``"cooldown"``.
        cooldown: Bars to stay halted after a trip.

    Raises:
        ConfigError: If ``max_drawdown`` is not in (0, 1) or the breaker settings are invalid.

    Examples:
        >>> MaxDrawdownBreaker(0.1, flatten=True)
        MaxDrawdownBreaker(max_drawdown=0.1, flatten=True, reset='manual')
    """

    def __init__(
        self,
        max_drawdown: float,
        *,
        flatten: bool = False,
        reset: ResetKind | None = None,
        cooldown: int | None = None,
    ) -> None:
        _check_fraction(max_drawdown, "MaxDrawdownBreaker", "max_drawdown")
        super().__init__(flatten=flatten, reset=reset, cooldown=cooldown)
        self._max_drawdown = max_drawdown
        self._peak = math.nan
        self._plain = type(self).evaluate is MaxDrawdownBreaker.evaluate

    @property
    def max_drawdown(self) -> float:
        """Largest allowed fall from the peak, as a fraction."""
        return self._max_drawdown

    @max_drawdown.setter
    def max_drawdown(self, value: float) -> None:
        self._max_drawdown = value
        self.quiet = None  # the band was measured against the old value

    @classmethod
    def gates_its_bars(cls) -> bool:
        """Whether the class keeps this class's per-bar test, so its quiet bands are exact.

        Returns:
            False for subclasses that change ``on_bar``, ``evaluate`` or ``restart``.
        """
        return _keeps(cls, MaxDrawdownBreaker, ("on_bar", "evaluate", "restart", "_judge"))

    def _quiet_band(self) -> QuietBand | None:
        """Quiet while trading with equity from the drawdown limit up to the peak (no new peak)."""
        peak = self._peak
        if self._halted or self._resumed_by_hand or not self._plain or peak != peak:  # noqa: PLR0124
            return None
        low = lowest_within(peak, self._max_drawdown * peak) if peak > 0 else -math.inf
        return None if low != low else QuietBand(low, peak, NEVER)  # noqa: PLR0124 - nan

    def evaluate(self, context: RiskContext) -> str:
        """Update the peak; trip if equity is more than ``max_drawdown`` below it.

        Args:
            context: Account and prices now.

        Returns:
            The trip reason, or ``""``.
        """
        return self._judge(context.equity())

    def on_bar(self, context: RiskContext) -> Sequence[OrderRequest]:
        """Run the breaker (see `Breaker.on_bar`), cheaply while trading and not tripping.

        Args:
            context: Account and prices now.

        Returns:
            Flatten orders on a trip with ``flatten=True``; otherwise nothing.
        """
        if self._halted or self._resumed_by_hand or not self._plain:
            self.quiet = None
            return Breaker.on_bar(self, context)
        equity = context.equity()
        peak = self._peak
        if not equity <= peak:  # a new peak, the first mark (nan peak), or no mark (nan)
            if equity == equity:  # noqa: PLR0124 - not nan: a mark exists
                self._peak = equity
                self.quiet = None
            return ()
        if peak <= 0 or peak - equity <= self._max_drawdown * peak:
            return ()
        return self._trip(context, self._judge(equity))

    def _judge(self, equity: float) -> str:
        """Update the peak with ``equity``; the trip reason, or ``""``."""
        peak = self._peak
        if math.isnan(equity):  # no mark yet: neither a peak nor a loss
            return ""
        if not equity <= peak:  # also true while the peak is unset (nan)
            self._peak = equity
            return ""
        if peak <= 0 or peak - equity <= self._max_drawdown * peak:
            return ""
        drawdown = (peak - equity) / peak
        return (
            f"equity {equity:,.2f} is {drawdown:.2%} below its peak {peak:,.2f} "
            f"(limit {self.max_drawdown:.2%})"
        )

    def restart(self) -> None:
        """Forget the peak: it restarts at the next sampled equity."""
        self._peak = math.nan
        self.quiet = None

    def __repr__(self) -> str:
        return f"MaxDrawdownBreaker(max_drawdown={self.max_drawdown!r}, {self._settings()})"


class DailyLossLimit(Breaker):
    """Halt when the day's loss exceeds ``max_loss`` (a fraction or an amount) of the day's start.

    The loss is measured from the equity the UTC day started with.

    A bar belongs to the UTC day of its close time (``context.now``; a bar closing at
    midnight is the new day's first bar). The day's starting equity is the equity sampled at
    the close of the last bar before the day's first bar (the first bar's own equity on the
    run's first bar), so every bar's move counts in exactly one day. Equity is
    ``context.equity()`` after the step's fills, marked at the bar's close. After a
    resume within a day (``cooldown`` or `reset`) the reference restarts at the equity of the
    bar on which trading resumes.

    Args:
        max_loss: Largest allowed loss: a fraction of the day's starting equity in (0, 1)
            when ``relative``, else an amount in the account currency.
        relative: Whether ``max_loss`` is a fraction.
        flatten: Close every open position when tripping.
        reset: ``"next_day"`` (default), ``"manual"`` or ``"cooldown"``.
        cooldown: Bars to stay halted after a trip.

    Raises:
        ConfigError: If ``max_loss`` is out of range or the breaker settings are invalid.

    Examples:
        >>> DailyLossLimit(500.0, relative=False)
        DailyLossLimit(max_loss=500.0, relative=False, flatten=False, reset='next_day')
    """

    default_reset: ClassVar[ResetKind] = "next_day"

    def __init__(
        self,
        max_loss: float,
        *,
        relative: bool = True,
        flatten: bool = False,
        reset: ResetKind | None = None,
        cooldown: int | None = None,
    ) -> None:
        if not isinstance(relative, bool):
            raise ConfigError(f"DailyLossLimit: relative must be True or False, got {relative!r}")
        if relative:
            _check_fraction(max_loss, "DailyLossLimit", "max_loss")
        else:
            finite_or_none(max_loss, "DailyLossLimit", "max_loss")
        super().__init__(flatten=flatten, reset=reset, cooldown=cooldown)
        self._max_loss = max_loss
        self._relative = relative
        self._day = -1
        self._day_start = -DAY_NS  # the UTC day ``self._day`` is [start, end) in ns
        self._day_end = 0
        self._plain = type(self).evaluate is DailyLossLimit.evaluate
        self._new_day = False
        self._start = math.nan  # the day's starting equity (nan: the next sample)
        self._equity = math.nan  # equity at the latest bar (the previous one, until sampled)
        # The allowed loss while a bar has nothing to do but compare the loss with it (same
        # day, trading, this class's `evaluate`); nan sends the next bar the general way.
        self._gate = math.nan

    @property
    def max_loss(self) -> float:
        """Largest allowed loss (a fraction of the day's start when `relative`, else an amount)."""
        return self._max_loss

    @max_loss.setter
    def max_loss(self, value: float) -> None:
        self._max_loss = value
        self._gate = math.nan  # the next bar measures against the new value
        self.quiet = None

    @property
    def relative(self) -> bool:
        """Whether `max_loss` is a fraction of the day's starting equity."""
        return self._relative

    @relative.setter
    def relative(self, value: bool) -> None:
        self._relative = value
        self._gate = math.nan
        self.quiet = None

    @classmethod
    def gates_its_bars(cls) -> bool:
        """Whether the class keeps this class's per-bar test, so its quiet bands are exact.

        Returns:
            False for subclasses that change ``on_bar``, ``evaluate`` or ``restart``.
        """
        return _keeps(cls, DailyLossLimit, ("on_bar", "_on_bar", "evaluate", "restart", "_limit"))

    def _quiet_band(self) -> QuietBand | None:
        """Quiet within the day's limit until the UTC day ends, while the short way is open."""
        gate = self._gate
        if gate != gate:  # noqa: PLR0124 - nan: the next bar goes the general way
            return None
        low = lowest_within(self._start, gate)
        return None if low != low else QuietBand(low, math.inf, self._day_end)  # noqa: PLR0124

    def on_bar(self, context: RiskContext) -> Sequence[OrderRequest]:
        """Roll the day if it changed, then run the breaker (see `Breaker.on_bar`).

        Args:
            context: Account and prices now.

        Returns:
            Flatten orders on a trip with ``flatten=True``; otherwise nothing.
        """
        equity = context.equity()
        now = context.now
        # The common bar, in two comparisons: the same UTC day, and a loss (nan: no mark, or
        # no start) within the gate, which is the limit only while nothing else is to be done.
        if self._day_start <= now < self._day_end and self._start - equity <= self._gate:
            self._equity = equity
            return ()
        return self._on_bar(context, equity, now)

    def _on_bar(self, context: RiskContext, equity: float, now: int) -> Sequence[OrderRequest]:
        """`on_bar` in full: roll the day, run the breaker, then set the gate for the next bar."""
        self.quiet = None
        new_day = self._new_day = not self._day_start <= now < self._day_end
        if new_day:
            day = self._day = utc_day(now)
            self._day_start = day * DAY_NS
            self._day_end = self._day_start + DAY_NS
            self._start = self._equity  # the previous bar's equity
        self._equity = equity
        trading = not (self._halted or self._resumed_by_hand) and self._plain
        if not trading:
            orders = Breaker.on_bar(self, context)
        else:  # trading, and `evaluate` is this class's: its test inline, the reason on a trip
            orders = ()
            if equity == equity:  # noqa: PLR0124 - not nan: a mark exists
                start = self._start
                if start != start:  # noqa: PLR0124 - nan: no start yet
                    start = self._start = equity
                if not start - equity <= self._limit(start):
                    orders = self._trip(context, self.evaluate(context))
        # The next bar may take the short way if this one left nothing else to do; never the
        # bar after a day's first (``restart`` must see that the day did not just begin).
        quiet = trading and not self._halted and not new_day
        self._gate = self._limit(self._start) if quiet else math.nan
        return orders

    def _limit(self, start: float) -> float:
        """The allowed loss from ``start``, exactly as `evaluate` computes it."""
        return self._max_loss * start if self._relative else self._max_loss

    def evaluate(self, context: RiskContext) -> str:
        """Trip if the equity is more than the limit below the day's starting equity.

        Args:
            context: Account and prices now (the equity was sampled in ``on_bar``).

        Returns:
            The trip reason, or ``""``.
        """
        equity = self._equity
        if math.isnan(equity):  # no mark yet
            return ""
        if math.isnan(self._start):
            self._start = equity
        start = self._start
        loss = start - equity
        limit = self._limit(start)
        if loss <= limit:
            return ""
        share = f" ({loss / start:.2%})" if start > 0 else ""
        allowed = f"{self.max_loss:.2%} of it" if self.relative else f"{limit:,.2f}"
        return (
            f"lost {loss:,.2f}{share} today: equity {equity:,.2f} against {start:,.2f} "
            f"at the start of the UTC day (limit {allowed})"
        )

    def restart(self) -> None:
        """Restart the reference at the next sampled equity, unless the day just began."""
        if not self._new_day:
            self._start = math.nan  # also closes the gate: nan never compares

    def __repr__(self) -> str:
        return (
            f"DailyLossLimit(max_loss={self.max_loss!r}, relative={self.relative!r}, "
            f"{self._settings()})"
        )


class ConsecutiveLosses(Breaker):
    """Halt after ``max_losses`` losing round trips in a row.

    A round trip closes when a symbol's position returns to flat or flips side. Its net PnL
    is the change of the position's realised PnL plus the fees of its fills (a flipping
    fill's fee is split by the share of it that closed). A trade with net PnL < 0 adds one
    to the streak; any other trade ends it. Fills are counted in ``on_fill``; the breaker
    trips at the next ``on_bar`` (in engines: the same step, before the strategy runs). A
    resume restarts the streak at zero.

    Args:
        max_losses: Losing trades in a row that trip the breaker (>= 1).
        flatten: Close every open position when tripping.
        reset: ``"manual"`` (default), ``"next_day"`` or ``"cooldown"``.
        cooldown: Bars to stay halted after a trip.

    Raises:
        ConfigError: If ``max_losses`` is not an integer >= 1 or the breaker settings are
            invalid.

    Examples:
        >>> ConsecutiveLosses(3, cooldown=24)
        ConsecutiveLosses(max_losses=3, flatten=False, reset='cooldown', cooldown=24)
    """

    def __init__(
        self,
        max_losses: int,
        *,
        flatten: bool = False,
        reset: ResetKind | None = None,
        cooldown: int | None = None,
    ) -> None:
        if isinstance(max_losses, bool) or not isinstance(max_losses, int) or max_losses < 1:
            raise ConfigError(
                f"ConsecutiveLosses: max_losses must be a whole number >= 1, got {max_losses!r}"
            )
        super().__init__(flatten=flatten, reset=reset, cooldown=cooldown)
        self.max_losses = max_losses
        self.streak = 0
        self.last_trade: tuple[str, float] = ("", 0.0)  # symbol and net PnL, latest closed
        self._portfolio: Portfolio | None = None
        self._realized: dict[str, float] = {}  # realised PnL seen so far, by symbol
        self._open: dict[str, float] = {}  # net PnL of the open trade so far, by symbol

    def on_fill(self, fill: Fill, context: RiskContext) -> None:
        """Book the fill into its symbol's open trade; count the trade if it closed.

        Args:
            fill: The execution, already booked in ``context.portfolio``.
            context: Account and prices now.
        """
        portfolio = context.portfolio
        if portfolio is not self._portfolio:  # a new account: a new run
            self._portfolio = portfolio
            self._realized.clear()
            self._open.clear()
        symbol = fill.symbol
        position = portfolio.position(symbol)
        realized = position.realized_pnl - self._realized.get(symbol, 0.0)
        self._realized[symbol] = position.realized_pnl
        pnl = self._open.get(symbol, 0.0) + realized
        after = position.amount
        before = after - fill.signed_amount + (fill.fee if fill.fee_in_base else 0.0)
        if abs(before) <= 1e-12 * max(abs(after), fill.amount):
            before = 0.0  # rounding of the subtraction above: it was flat
        if before and (position.is_flat or (after > 0) != (before > 0)):  # flat: dust too
            closing = min(1.0, abs(before) / fill.amount)
            net = pnl - fill.fee_in_quote * closing
            self._open[symbol] = -fill.fee_in_quote * (1.0 - closing)
            self.streak = self.streak + 1 if net < 0 else 0
            self.last_trade = (symbol, net)
        else:
            self._open[symbol] = pnl - fill.fee_in_quote

    def evaluate(self, context: RiskContext) -> str:
        """Trip once the streak of losing trades reaches ``max_losses``.

        Args:
            context: Account and prices now.

        Returns:
            The trip reason, or ``""``.
        """
        if self.streak < self.max_losses:
            return ""
        symbol, net = self.last_trade
        return (
            f"{self.streak} losing trades in a row (limit {self.max_losses}); "
            f"the last lost {-net:,.2f} on {symbol}"
        )

    def restart(self) -> None:
        """Restart the streak at zero."""
        self.streak = 0

    def __repr__(self) -> str:
        return f"ConsecutiveLosses(max_losses={self.max_losses!r}, {self._settings()})"


def _keeps(kind: type[Breaker], owner: type[Breaker], hooks: tuple[str, ...]) -> bool:
    """Whether ``kind`` has ``owner``'s own version of every one of ``hooks``."""
    return all(getattr(kind, name) is getattr(owner, name) for name in hooks)


def _check_fraction(value: float, owner: str, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise ConfigError(f"{owner}: {name} must be a fraction in (0, 1), got {value!r}")
