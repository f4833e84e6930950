"""The run context of a perpetual account: the account marked at each bar's mark.

A perpetual's unrealised P&L, margin and liquidation price follow its mark, not its trade
price, and a contract market's position is worth ``amount * FuturesPortfolio.value(symbol,
mark)`` (``CS * mark`` linear, ``-CS / mark`` inverse, up to a constant the cash holds), not
``amount * price``. `PerpetualRunContext` gives the strategy and the risk policies that view:
``portfolio`` marks every open position at its symbol's mark close of the current bar and
``equity()`` adds ``amount * value(mark)``; a symbol without a mark series falls back to its
trade close. The engine picks this class once per run when the broker keeps a
`FuturesPortfolio`, so the spot path keeps `RunContext`'s own code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from quantkit.domain.futures_portfolio import FuturesPortfolio
from quantkit.domain.portfolio import Portfolio
from quantkit.engine.context import RunContext
from quantkit.strategy.series import native_view

if TYPE_CHECKING:
    import numpy.typing as npt

    from quantkit.domain.bars import BarSeries

    FloatArray = npt.NDArray[np.float64]

__all__ = ["PerpetualRunContext"]


class PerpetualRunContext(RunContext):
    """`RunContext` for an account of perpetuals: positions at the mark, in contract value.

    `bind_marks` must be called once the broker has prepared the run (its marks aligned);
    before that the context values positions as `RunContext` does.
    """

    _mark_at: dict[str, Sequence[float]]
    _worth_at: dict[str, Sequence[float]]
    _arrays: dict[str, tuple[FloatArray, FloatArray]]

    def bind_marks(self, history: Mapping[str, BarSeries]) -> None:
        """Read each symbol's mark closes (else trade closes) and their contract values.

        Args:
            history: The run's tradable bars, by symbol (the marks are aligned to them).
        """
        portfolio = self.broker.portfolio
        marks = portfolio.mark_close if isinstance(portfolio, FuturesPortfolio) else {}
        self._arrays = {}
        for symbol, series in history.items():
            mark = np.ascontiguousarray(marks.get(symbol, series.close), dtype=np.float64)
            worth = mark
            if isinstance(portfolio, FuturesPortfolio):
                worth = np.ascontiguousarray(portfolio.values(symbol, mark), dtype=np.float64)
            self._arrays[symbol] = (mark, worth)
        self._views()

    def _views(self) -> None:
        """Readers of the arrays, giving Python floats by index."""
        arrays = self._arrays
        self._mark_at = {symbol: native_view(mark) for symbol, (mark, _) in arrays.items()}
        self._worth_at = {symbol: native_view(worth) for symbol, (_, worth) in arrays.items()}

    def __getstate__(self) -> dict[str, object]:
        state = super().__getstate__()
        state.pop("_mark_at", None)  # memoryviews cannot be pickled or copied; rebuilt on load
        state.pop("_worth_at", None)
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        super().__setstate__(state)
        if "_arrays" in state:
            self._views()

    @property
    def portfolio(self) -> Portfolio:
        """The broker's account with positions marked at the current bar's marks."""
        portfolio = self.broker.portfolio
        mark_at: dict[str, Sequence[float]] | None = self.__dict__.get("_mark_at")
        if mark_at is None:
            return RunContext.portfolio.fget(self)  # type: ignore[attr-defined, no-any-return]
        datas = self.datas
        for symbol, position in portfolio.positions.items():
            if position.amount:
                data = datas.get(symbol)
                marks = mark_at.get(symbol)
                if data is not None and marks is not None and data.cursor.i >= 0:
                    portfolio.last_price[symbol] = marks[data.cursor.i]
        return portfolio

    def equity(self) -> float:
        """Cash plus ``amount * value(mark)`` of every position, without re-marking."""
        worth_at: dict[str, Sequence[float]] | None = self.__dict__.get("_worth_at")
        if worth_at is None:
            return RunContext.equity(self)
        portfolio = self.broker.portfolio
        value = portfolio.cash.get(portfolio.currency, 0.0)
        datas = self.datas
        for symbol, position in portfolio.positions.items():
            amount = position.amount
            if amount:
                data = datas.get(symbol)
                worth = worth_at.get(symbol)
                if data is not None and worth is not None and data.cursor.i >= 0:
                    value += amount * worth[data.cursor.i]
                else:
                    price = portfolio.last_price.get(symbol, position.entry_price)
                    value += amount * _value(portfolio, symbol, price)
        return value

    def equity_prices(self, symbol: str) -> Sequence[float]:
        """Per bar of ``symbol``, what one unit of its position adds to `equity`.

        The contract value at the mark close (the risk gate's band is in these figures).

        Args:
            symbol: A tradable symbol.

        Returns:
            One float per bar.
        """
        worth_at: dict[str, Sequence[float]] | None = self.__dict__.get("_worth_at")
        if worth_at is None or symbol not in worth_at:
            return RunContext.equity_prices(self, symbol)
        return worth_at[symbol]

    def mark_to_last_bars(self) -> None:
        """Mark every open position at its symbol's latest bar (the run's final state)."""
        self.portfolio  # noqa: B018 - the property marks the positions


def _value(portfolio: Portfolio, symbol: str, price: float) -> float:
    """``price`` as what one unit adds to equity: a contract's value in a futures account."""
    return portfolio.value(symbol, price) if isinstance(portfolio, FuturesPortfolio) else price
