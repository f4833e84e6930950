"""The simulated exchange for perpetual swaps: mark prices, funding and liquidation.

`PerpetualExchange` is the `SimulatedExchange` (same matching, fees and slippage on the trade
price) with three additions for the symbols whose market carries a `PerpetualSpec`:

- **Mark price.** The broker gives each bar's mark (open, high, low, close) with `set_mark`
  before the bar; without one the trade bar is used (the documented fallback). Unrealised P&L,
  margin figures, liquidation and the equity curve use the mark; fills use the trade price.
- **Funding.** Before a bar is matched, every funding timestamp in ``(previous bar's open,
  this bar's open]`` is paid on the position held then (the position after the previous bar:
  one opened at the open of the bar at the timestamp pays nothing for it), valued at this
  bar's mark open: ``amount * CS * mark * rate`` (inverse: ``amount * CS / mark * rate`` in
  the coin), longs pay a positive rate. It moves cash (and an
  isolated position's margin) and is recorded in `FuturesPortfolio.funding`.
- **Liquidation.** After the bar's fills, a position whose liquidation price (the venue's
  formula, `FuturesPortfolio.liquidation_price`) lies inside the mark's range on the adverse
  side is closed at the liquidation price, with the liquidation fee capped at the margin left
  (`perp_math.liquidation_clearance`, Binance's liquidation protocol; see "The liquidation
  rule and its source" in docs/perpetuals.md), so an isolated position never loses more than
  its isolated margin. Cross margin closes every
  perpetual position (the others at their marks); a loss beyond zero after a gap is absorbed
  as the venue's insurance fund does. Each event is kept in `liquidations`; trading goes on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from quantkit.domain.fill import Fill
from quantkit.domain.funding import FundingPayment, FundingRates
from quantkit.domain.futures_portfolio import FuturesPortfolio
from quantkit.domain.market import Market
from quantkit.domain.order import Order, OrderRequest, OrderStatus, OrderType, Side
from quantkit.domain.perp_math import funding_payment, liquidation_clearance
from quantkit.sim.book import Book
from quantkit.sim.exchange import SimulatedExchange
from quantkit.sim.liquidation import LIQUIDATION_TAG
from quantkit.sim.rules import FillRules

__all__ = ["PerpetualExchange", "PerpetualLiquidation"]

_Mark = tuple[float, float, float, float]
_NEVER = 2**63 - 1


@dataclass(frozen=True, slots=True)
class PerpetualLiquidation:
    """One forced close of perpetual positions.

    Attributes:
        time: Open time of the bar whose mark crossed the liquidation price, ns.
        symbol: The symbol whose mark crossed it.
        price: Its liquidation price (where its position was closed).
        margin_mode: ``"isolated"`` (only that position closed) or ``"cross"`` (all).
        fee: Liquidation fees charged, settle currency.
        deficit: Loss beyond zero absorbed by the venue (cross margin, after a gap).
        client_ids: Client ids of the liquidation orders.
    """

    time: int
    symbol: str
    price: float
    margin_mode: str
    fee: float
    deficit: float
    client_ids: tuple[str, ...]

    @property
    def reason(self) -> str:
        """One line for the liquidation orders' ``reason``."""
        return (
            f"liquidated: the {self.symbol} mark reached its liquidation price "
            f"{self.price:.8g} ({self.margin_mode} margin)"
        )


class PerpetualExchange(SimulatedExchange):
    """A `SimulatedExchange` that also settles funding and liquidates perpetual positions.

    Args:
        markets: The tradable markets by symbol (perpetual ones carry a spec).
        portfolio: The futures account.
        rules: Fill, fee and slippage rules.
        funding: Funding rates by perpetual symbol (a symbol without any pays none).
        id_prefix: Prefix of generated client order ids.
    """

    def __init__(
        self,
        markets: Mapping[str, Market],
        portfolio: FuturesPortfolio,
        rules: FillRules | None = None,
        *,
        funding: Mapping[str, FundingRates] | None = None,
        id_prefix: str = "qk",
    ) -> None:
        super().__init__(markets, portfolio, rules, id_prefix=id_prefix)
        self.futures = portfolio
        self.funding = dict(funding or {})
        for symbol in portfolio.specs:
            rates = self.funding.get(symbol)
            portfolio.funding_sources[symbol] = (
                rates.description if rates is not None else "none given: no funding charged"
            )
        self.liquidations: list[PerpetualLiquidation] = []
        self._pending: dict[str, _Mark] = {}
        self._mark: _Mark = (math.nan,) * 4
        self._last_open: dict[str, int] = {}
        self._before = 0.0
        self._realized = 0.0
        self._next_due: dict[str, int] = {}
        self._lp_cache: dict[str, tuple[tuple[float, float, float, float], float]] = {}

    def set_mark(self, symbol: str, open_: float, high: float, low: float, close: float) -> None:
        """Give the mark price bar of ``symbol``'s next bar (else the trade bar is used).

        Args:
            symbol: A perpetual symbol.
            open_: Mark open.
            high: Mark high.
            low: Mark low.
            close: Mark close.
        """
        self._pending[symbol] = (open_, high, low, close)

    def process_bar(
        self,
        symbol: str,
        open_time: int,
        open_: float,
        high: float,
        low: float,
        close: float,
        volume: float,
    ) -> None:
        """Pay funding due, match the bar's orders, then check liquidation on the mark.

        Args:
            symbol: The bar's symbol.
            open_time: The bar's open time, ns.
            open_: Open price.
            high: High price.
            low: Low price.
            close: Close price.
            volume: Volume.
        """
        if symbol not in self.futures.specs:
            super().process_bar(symbol, open_time, open_, high, low, close, volume)
            return
        mark = self._pending.pop(symbol, None) or (open_, high, low, close)
        self._mark = mark
        self._pay_funding(symbol, open_time, mark[0])
        pos = self.futures.position(symbol)
        if pos.amount:  # a mark that opens beyond the liquidation price liquidates first
            price = self._liquidation_price(symbol, pos.amount, pos.entry_price)
            beyond = mark[0] <= price if pos.amount > 0 else mark[0] >= price
            if beyond and 0 < price < math.inf:
                self._liquidate(symbol, price, open_time)
                pos = self.futures.position(symbol)
        self._before, self._realized = pos.amount, pos.realized_pnl
        book = self.books[symbol]
        if book.working or book.trails:
            super().process_bar(symbol, open_time, open_, high, low, close, volume)
        else:  # nothing to match (most bars of a held position): mark and margin only
            self._check_margin(symbol, open_time, open_, high, low)

    def _intrabar(self, book: Book, open_: float, high: float, low: float, close: float) -> None:
        """The base rule, without deep-copying the run-long mark and funding records."""
        futures = self.futures
        marks, funding = futures.mark_close, futures.funding
        futures.mark_close, futures.funding = {}, []
        try:
            super()._intrabar(book, open_, high, low, close)
        finally:
            futures.mark_close, futures.funding = marks, funding

    def _pay_funding(self, symbol: str, open_time: int, mark: float) -> None:
        last = self._last_open.get(symbol)
        self._last_open[symbol] = open_time
        if open_time < self._next_due.get(symbol, -1):
            return  # no funding timestamp since the previous bar (most bars)
        rates = self.funding.get(symbol)
        if rates is None:
            self._next_due[symbol] = _NEVER
            return
        self._next_due[symbol] = rates.next_after(open_time)
        futures = self.futures
        amount = futures.position(symbol).amount
        if last is None or not amount:
            return  # flat: nothing is paid for the timestamps passed
        spec = futures.specs[symbol]
        for time, rate in rates.due(last, open_time):
            paid = funding_payment(amount, mark, rate, spec.contract_size, spec.inverse)
            futures.cash[futures.currency] = futures.balance - paid
            if futures.margin_mode == "isolated":
                futures.isolated_extra[symbol] = futures.isolated_extra.get(symbol, 0.0) - paid
            futures.funding.append(
                FundingPayment(time, symbol, amount, mark, rate, paid, open_time)
            )

    def _check_margin(self, symbol: str, time: int, open_: float, high: float, low: float) -> None:
        """Value the bar's perpetual at its mark close and liquidate if the mark crossed."""
        futures = self.futures
        if symbol not in futures.specs:
            return  # spot held in a futures account is cash-only: nothing to liquidate
        _, mark_high, mark_low, mark_close = self._mark
        futures.last_price[symbol] = mark_close
        pos = futures.position(symbol)
        futures.settle_isolated(symbol, self._before, pos.realized_pnl - self._realized)
        if not pos.amount:
            return
        price = self._liquidation_price(symbol, pos.amount, pos.entry_price)
        crossed = mark_low <= price if pos.amount > 0 else mark_high >= price
        if not crossed or not 0 < price < math.inf:
            return
        self._liquidate(symbol, price, time)

    def _liquidation_price(self, symbol: str, amount: float, entry: float) -> float:
        """`FuturesPortfolio.liquidation_price`, kept while nothing it depends on changed.

        It depends on the position, the wallet (cash) and the isolated margin, and in cross
        margin on the other positions' marks: with another position open it is recomputed.
        """
        futures = self.futures
        key = (amount, entry, futures.balance, futures.isolated_extra.get(symbol, 0.0))
        cached = self._lp_cache.get(symbol)
        if cached is not None and cached[0] == key:
            return cached[1]
        price = futures.liquidation_price(symbol)
        alone = futures.margin_mode == "isolated" or len(futures._open_perps()) == 1
        if alone:
            self._lp_cache[symbol] = (key, price)
        return price

    def cached_liquidation_price(self, symbol: str) -> float | None:
        """The liquidation price computed at the latest bar, if the account has not changed.

        Args:
            symbol: A perpetual symbol with a position.

        Returns:
            The price, or ``None`` when it must be recomputed (the position, the cash or the
            isolated margin changed, or cross margin holds other positions).
        """
        cached = self._lp_cache.get(symbol)
        if cached is None:
            return None
        futures = self.futures
        pos = futures.positions.get(symbol)
        if pos is None:
            return None
        extra = futures.isolated_extra.get(symbol, 0.0)
        key = (pos.amount, pos.entry_price, futures.balance, extra)
        return cached[1] if cached[0] == key else None

    def _liquidate(self, symbol: str, price: float, time: int) -> None:
        futures = self.futures
        isolated = futures.margin_mode == "isolated"
        held = [symbol] if isolated else sorted(s for s in futures._open_perps())
        closes = {s: price if s == symbol else futures.last_price[s] for s in held}
        margin_left = (
            futures.isolated_wallet(symbol) + futures.position(symbol).unrealized_pnl(price)
            if isolated
            else futures.wallet_balance()
            + sum(futures.position(s).unrealized_pnl(closes[s]) for s in held)
        )
        fees = {
            s: futures.specs[s].liquidation_fee
            * futures.specs[s].notional(futures.position(s).amount, closes[s])
            for s in held
        }
        total = sum(fees.values())
        taken = liquidation_clearance(total, margin_left)
        scale = taken / total if total > 0 else 0.0
        for book in [self.books[s] for s in held]:
            for w in list(book.working):
                w.order.transition(OrderStatus.CANCELED, time, "canceled: position liquidated")
                self.events.append(w.order)
            book.working.clear()
        ids: list[str] = []
        events: list[Order | Fill] = []
        for s in held:
            order, fill = self._force_close(s, closes[s], fees[s] * scale, time, len(ids))
            ids.append(order.client_id)
            events.extend((order, fill))
        deficit = 0.0
        if not isolated and futures.wallet_balance() < 0:
            deficit = -futures.wallet_balance()
            futures.cash[futures.currency] = futures.balance + deficit
        event = PerpetualLiquidation(
            time, symbol, price, futures.margin_mode, total * scale, deficit, tuple(ids)
        )
        self.liquidations.append(event)
        futures.liquidations += 1
        for item in events:
            if isinstance(item, Order):
                item.reason = event.reason
                self.orders[item.client_id] = item
            else:
                self.fills.append(item)
        self.events.extend(events)

    def _force_close(
        self, symbol: str, price: float, fee: float, time: int, rank: int
    ) -> tuple[Order, Fill]:
        futures = self.futures
        amount = futures.position(symbol).amount
        side = Side.SELL if amount > 0 else Side.BUY
        client_id = f"{self.id_prefix}-liquidation-{len(self.liquidations) + 1}-{rank + 1}"
        request = OrderRequest(
            symbol,
            side,
            OrderType.MARKET,
            amount=abs(amount),
            reduce_only=True,
            tag=LIQUIDATION_TAG,
        )
        order = Order(client_id, request, time)
        order.transition(OrderStatus.OPEN, time)
        fill = Fill(client_id, symbol, side, price, abs(amount), fee, futures.currency, time)
        futures.apply_fill(fill)
        futures.isolated_extra[symbol] = 0.0
        order.record_fill(price, abs(amount), fee, time)
        return order, fill
