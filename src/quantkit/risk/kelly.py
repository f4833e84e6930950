"""Kelly sizing: the fraction of equity that maximises long-run growth, from the run's record."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from quantkit.domain.fill import Fill
from quantkit.domain.order import OrderRequest
from quantkit.domain.position import Position
from quantkit.errors import ConfigError
from quantkit.risk.policy import RiskContext
from quantkit.risk.sizing import Size, Sizer, check_fraction, check_window

__all__ = ["KellyEstimate", "KellySizer"]


@dataclass(frozen=True, slots=True)
class KellyEstimate:
    """The numbers behind a Kelly estimate.

    Attributes:
        kelly_fraction: Full Kelly fraction ``f*`` (``nan`` while warming up).
        samples: Closed trades (``source="trades"``) or returns (``"returns"``) used.
        ready: Whether there are enough samples to trust ``kelly_fraction``.
        win_rate: Share of trades with a net profit (trades only, else ``nan``).
        payoff_ratio: Average win over average absolute loss, ``b`` (trades only).
        mean: Mean per-bar return (returns only, else ``nan``).
        variance: Population variance of the per-bar returns (returns only).
    """

    kelly_fraction: float
    samples: int
    ready: bool
    win_rate: float = math.nan
    payoff_ratio: float = math.nan
    mean: float = math.nan
    variance: float = math.nan


class _Trades:
    """Closed trades' net PnL in a window, with running sums of wins and losses."""

    __slots__ = ("losses", "pnl", "sum_losses", "sum_wins", "wins")

    def __init__(self, window: int | None) -> None:
        self.pnl: deque[float] = deque(maxlen=window)
        self.wins = 0
        self.losses = 0
        self.sum_wins = 0.0
        self.sum_losses = 0.0  # of |loss|

    def _count(self, pnl: float, sign: int) -> None:
        if pnl > 0:
            self.wins += sign
            self.sum_wins += sign * pnl
        else:
            self.losses += sign
            self.sum_losses -= sign * pnl

    def add(self, pnl: float) -> None:
        pnl_window = self.pnl
        if pnl_window.maxlen is not None and len(pnl_window) == pnl_window.maxlen:
            self._count(pnl_window[0], -1)
        pnl_window.append(pnl)
        self._count(pnl, 1)

    def estimate(self, min_trades: int) -> KellyEstimate:
        n = len(self.pnl)
        if n == 0:
            return KellyEstimate(math.nan, 0, False)
        p = self.wins / n
        avg_win = self.sum_wins / self.wins if self.wins else 0.0
        avg_loss = self.sum_losses / self.losses if self.losses else 0.0
        if avg_loss > 0:
            b = avg_win / avg_loss
            f = p - (1 - p) / b if b > 0 else -math.inf
        else:
            b = math.inf if avg_win > 0 else math.nan
            f = p  # nothing was lost: bet the win rate (zero if nothing was won either)
        return KellyEstimate(f, n, n >= min_trades, win_rate=p, payoff_ratio=b)


class _Returns:
    """One symbol's last ``window`` per-bar returns in a ring."""

    __slots__ = ("close_time", "count", "prev_close", "ring")

    def __init__(self, window: int) -> None:
        self.ring: npt.NDArray[np.float64] = np.zeros(window, dtype=np.float64)
        self.count = 0
        self.close_time = -1
        self.prev_close = math.nan

    def estimate(self, window: int) -> KellyEstimate:
        n = min(self.count, window)
        if n < 2:
            return KellyEstimate(math.nan, n, False)
        values = self.ring[:n]
        mean = float(values.mean())
        var = float(values.var())
        f = mean / var if var > 0 else (math.inf if mean > 0 else 0.0)  # constant: all or none
        return KellyEstimate(f, n, n >= window, mean=mean, variance=var)


class _OpenTrade:
    """A trade in progress in one symbol: a private copy of the position, and its PnL so far."""

    __slots__ = ("pnl", "position", "tracked")

    def __init__(self, symbol: str) -> None:
        self.position = Position(symbol)
        self.pnl = 0.0
        self.tracked = True  # False for a position opened before the policy saw its fills


class KellySizer(Sizer):
    """Put the (fractional) Kelly fraction of equity in the position.

    With ``source="trades"`` the estimate comes from the run's own closed trades (all symbols
    pooled): a trade opens when a position leaves flat and closes when it returns to flat or
    flips; its net PnL is the PnL its fills realised minus their fees, all from the fills'
    own prices. With win rate ``p`` and payoff ratio ``b = average win / average |loss|``,
    ``f* = p - (1 - p) / b``. With ``source="returns"`` it comes from the last ``window``
    per-bar close-to-close returns of the traded symbol (measured in `on_bar`):
    ``f* = mean / variance`` (the continuous-time Kelly; population variance), negated for
    short entries.

    The position is sized to ``min(fraction * f*, max_fraction) * equity`` (equity:
    ``context.portfolio.equity()``); ``f* <= 0`` rejects entries ("no edge: Kelly fraction
    -0.12"). While there are fewer than ``min_trades`` closed trades (or ``window``
    returns), entries are sized at ``fallback`` of equity if given, else rejected.
    `reset` keeps the record.

    Args:
        fraction: Share of the full Kelly fraction to use, in (0, 1] (0.5: "half Kelly").
        source: ``"trades"`` or ``"returns"``.
        min_trades: Closed trades needed before the estimate is used (``"trades"``).
        window: Last trades to use (``None``: all), or bars of returns (required for
            ``"returns"``).
        max_fraction: Cap on the position value as a fraction of equity, in (0, 10].
        fallback: Position value as a fraction of equity during the warm-up, in (0, 10].
        symbols: Symbols whose returns are measured from the first bar (``"returns"``);
            others from the first order the policy sees for them.

    Raises:
        ConfigError: If a setting is out of range.

    Examples:
        >>> KellySizer(fraction=0.5, min_trades=30).kelly_fraction
        nan
    """

    def __init__(
        self,
        *,
        fraction: float = 0.5,
        source: Literal["trades", "returns"] = "trades",
        min_trades: int = 20,
        window: int | None = None,
        max_fraction: float = 0.25,
        fallback: float | None = None,
        symbols: Sequence[str] = (),
    ) -> None:
        check_fraction(fraction, "KellySizer", "fraction", high=1.0)
        if source not in ("trades", "returns"):
            raise ConfigError(f"KellySizer: source must be 'trades' or 'returns', got {source!r}")
        check_window(min_trades, "KellySizer", "min_trades", low=1)
        if window is not None:
            check_window(window, "KellySizer")
        elif source == "returns":
            raise ConfigError("KellySizer: source='returns' needs window= (bars of returns)")
        check_fraction(max_fraction, "KellySizer", "max_fraction")
        if fallback is not None:
            check_fraction(fallback, "KellySizer", "fallback")
        self.fraction = fraction
        self.source = source
        self.min_trades = min_trades
        self.window = window
        self.max_fraction = max_fraction
        self.fallback = fallback
        self._trades = _Trades(window)
        self._open: dict[str, _OpenTrade] = {}
        self._returns: dict[str, _Returns] = {}
        if window is not None and source == "returns":
            self._returns = {s: _Returns(window) for s in symbols}

    @property
    def trades(self) -> tuple[float, ...]:
        """Net PnL of the closed trades in the window, oldest first (``source="trades"``)."""
        return tuple(self._trades.pnl)

    def stats(self, symbol: str | None = None) -> KellyEstimate:
        """The current estimate and the numbers behind it.

        Args:
            symbol: The symbol, for ``source="returns"`` (may be left out when one symbol is
                measured); ignored for trades, which are pooled.

        Returns:
            The estimate (``kelly_fraction`` is ``nan`` before there is any sample).

        Raises:
            ConfigError: If ``symbol`` is needed but not given.
        """
        if self.source == "trades":
            return self._trades.estimate(self.min_trades)
        if symbol is None:
            if len(self._returns) > 1:
                raise ConfigError(
                    f"KellySizer.stats: measuring {sorted(self._returns)}; name the symbol"
                )
            if not self._returns:
                return KellyEstimate(math.nan, 0, False)
            symbol = next(iter(self._returns))
        state = self._returns.get(symbol)
        window = self.window or 0
        return state.estimate(window) if state else KellyEstimate(math.nan, 0, False)

    @property
    def kelly_fraction(self) -> float:
        """Full Kelly fraction ``f*`` of the current estimate (see `stats`)."""
        return self.stats().kelly_fraction

    def on_fill(self, fill: Fill, context: RiskContext) -> None:
        """Follow trades through their fills; record a trade's net PnL when it closes.

        Args:
            fill: The execution (already booked in ``context.portfolio``).
            context: Account and prices now.
        """
        if self.source != "trades":
            return
        symbol = fill.symbol
        signed = fill.signed_amount
        if signed > 0 and fill.fee_in_base:  # a buy's fee in the base received (Binance spot)
            signed -= fill.fee
        trade = self._open.get(symbol)
        if trade is None:
            trade = self._open[symbol] = _OpenTrade(symbol)
            before = context.portfolio.position(symbol).amount - signed
            if abs(before) > 1e-12 * max(abs(signed), 1.0):
                trade.position.apply(before, fill.price)  # opened before we saw it: skip it
                trade.tracked = False
        fee = fill.fee_in_quote
        position = trade.position
        old = position.amount
        closing = old != 0.0 and (old > 0) != (signed > 0)
        share = min(abs(old) / abs(signed), 1.0) if closing else 0.0
        trade.pnl += position.apply(signed, fill.price) - fee * (share if closing else 1.0)
        if closing and (position.amount == 0.0 or (position.amount > 0) != (old > 0)):
            if trade.tracked:
                self._trades.add(trade.pnl)
            trade.tracked = True
            trade.pnl = -fee * (1.0 - share)  # a flip opens the next trade with the rest

    def on_bar(self, context: RiskContext) -> Sequence[OrderRequest]:
        """Measure each tracked symbol's new bar's return (``source="returns"``; O(1)).

        Args:
            context: Account and prices now.

        Returns:
            No orders.
        """
        window = self.window or 0
        for symbol, state in self._returns.items():
            bar = context.last_bar(symbol)
            if bar is None or bar.close_time == state.close_time:
                continue
            state.close_time = bar.close_time
            prev = state.prev_close
            state.prev_close = bar.close
            if not math.isnan(prev):  # there is a previous close
                state.ring[state.count % window] = bar.close / prev - 1.0
                state.count += 1
        return ()

    def on_history(self, context: RiskContext) -> None:
        """Measure a bar of the history loaded at start (``source="returns"``), all symbols.

        Args:
            context: Bars as of that step.
        """
        if self.source != "returns":
            return
        for symbol in context.symbols:
            if symbol not in self._returns:
                self._returns[symbol] = _Returns(self.window or 0)
        self.on_bar(context)

    def size(self, request: OrderRequest, context: RiskContext, price: float) -> Size | str:
        """Return the amount that brings the position to the Kelly share of equity.

        Args:
            request: The entry order.
            context: Account and prices now.
            price: The order's valuation price.

        Returns:
            The order amount, or why there is nothing to order.
        """
        symbol = request.symbol
        if self.source == "returns" and symbol not in self._returns:
            self._returns[symbol] = _Returns(self.window or 0)
        estimate = self.stats(symbol)
        if estimate.ready:
            edge = estimate.kelly_fraction * (request.side.sign if self.source == "returns" else 1)
            if not edge > 0:
                return f"no edge: Kelly fraction {edge:.4g}"
            share = min(self.fraction * edge, self.max_fraction)
            basis = f"Kelly {edge:.4g} x {self.fraction:g}, capped at {self.max_fraction:g}"
        elif self.fallback is not None:
            share = self.fallback
            basis = f"fallback {share:g} while warming up"
        else:
            need = self.min_trades if self.source == "trades" else self.window
            return f"warming up: {estimate.samples} of {need} {self.source}"
        equity = context.portfolio.equity()
        if equity <= 0:
            return f"equity is {equity:g}: nothing to size against"
        basis = f"{basis}: {share:.4g} of equity {equity:g} at {price:g}"
        return self.to_target(request, context, share * equity / price, basis)

    def __repr__(self) -> str:
        return (
            f"KellySizer(fraction={self.fraction!r}, source={self.source!r}, "
            f"min_trades={self.min_trades!r}, window={self.window!r}, "
            f"max_fraction={self.max_fraction!r}, fallback={self.fallback!r})"
        )
