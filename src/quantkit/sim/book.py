"""One symbol's working orders and the rules that fill them within one bar."""

from __future__ import annotations

import dataclasses
import itertools
import math

from quantkit.domain.fill import Fill, make_fill
from quantkit.domain.order import Order, OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from quantkit.domain.portfolio import Portfolio
from quantkit.domain.trailing import TrailingStop
from quantkit.sim.fees import MarketFees
from quantkit.sim.rules import FillRules
from quantkit.sim.slippage import NoSlippage
from quantkit.sim.trailing import TrailSlot, trail_child, trail_problem
from quantkit.sim.working import Working

__all__ = ["Book"]

_MAX_STEPS_PER_ORDER = 8

# Enum members as module constants: ``OrderType.MARKET`` is a slow class-attribute lookup.
_MARKET = OrderType.MARKET
_FOK = TimeInForce.FOK
_TERMINAL = frozenset(status for status in OrderStatus if status.is_terminal)
_NO_SLIPPAGE = NoSlippage
_MARKET_FEES = MarketFees


class Book:
    """Working orders of one symbol, filled against one bar at a time.

    A bar is processed in two parts: `at_open` executes everything that can execute
    at the open price (orders placed before the bar); `run_path` then moves the price
    along one assumed intrabar path and executes each order where its level is crossed.
    The exchange runs the path part on copies for both possible paths and compares them.
    """

    def __init__(self, symbol: str, portfolio: Portfolio, rules: FillRules) -> None:
        self.symbol = symbol
        self.portfolio = portfolio
        self.rules = rules
        self.working: list[Working] = []
        self.trails: dict[str, TrailSlot] = {}
        self.fills: list[Fill] = []
        self.events: list[Order | Fill] = []
        self.capacity = math.inf
        self.bar_time = 0
        self.high = 0.0
        self.low = 0.0
        self.volume = 0.0
        # A cash account with the default fills (market fees in quote, no slippage, no volume
        # cap) books a fill in a straight line (`_fill`): fixed for the run.
        self.straight = (
            rules.fees.__class__ is _MARKET_FEES
            and rules.fees.charged_in == "quote"
            and not rules.fees.per_order
            and rules.slippage.__class__ is _NO_SLIPPAGE
            and rules.participation is None
            and portfolio.__class__ is Portfolio
            and portfolio.margin.is_spot
        )

    # -- bar lifecycle -------------------------------------------------------------------------

    def begin_bar(self, open_time: int, high: float, low: float, volume: float) -> None:
        """Start a bar: reset the per-bar outputs and volume capacity."""
        self.fills = []
        self.events = []
        self.bar_time = open_time
        self.high, self.low, self.volume = high, low, volume
        share = self.rules.participation
        self.capacity = math.inf if share is None else share * volume

    def at_open(self, price: float) -> None:
        """Execute what executes at the open, then expire unfilled IOC/FOK remainders."""
        terminal = _TERMINAL
        slipped = price if self.rules.slippage.__class__ is _NO_SLIPPAGE else None
        if slipped is not None:  # clamped into the bar, as `_slipped` does
            slipped = self.low if self.low > slipped else slipped
            slipped = self.high if self.high < slipped else slipped
        for w in list(self.working):
            if w.order.status in terminal:  # not w.order.is_active
                continue
            if w.kind is _MARKET and slipped is not None:  # `_at_price`'s common case
                self._fill(w, slipped, is_maker=False)
            else:
                self._at_price(w, price)
        if not self.working:
            return
        for w in list(self.working):
            if w.fresh and w.immediate and w.order.status not in terminal:
                self._finish(w, OrderStatus.EXPIRED, "time in force: not filled at once")
            w.fresh = False

    def end_bar(self) -> None:
        """At the bar's close: move each trailing stop for the next bar, drop the flat ones."""
        position = self.portfolio.position(self.symbol)
        for entry_id, slot in list(self.trails.items()):
            child = next((w for w in self.working if w.order.client_id == slot.child_id), None)
            ended = slot.child_id and child is None and not slot.refused  # filled or canceled
            if position.is_flat or ended:
                if child is not None:
                    self._finish(child, OrderStatus.CANCELED, "position closed")
                del self.trails[entry_id]
                continue
            old = slot.stop
            high, low, market = self.high, self.low, slot.market
            slot.stop = (
                TrailingStop.start(slot.side, slot.trail_pct, high=high, low=low, market=market)
                if old is None
                else old.follow(high=high, low=low, market=market)
            )
            if child is not None and slot.stop is old:
                continue
            if child is not None:
                self._finish(child, OrderStatus.CANCELED, "trailing stop moved")
            self._place_trail(slot, abs(position.amount))

    def _place_trail(self, slot: TrailSlot, held: float) -> None:
        amount = slot.market.round_amount(min(slot.amount, held))
        child = trail_child(slot, amount, self.bar_time)
        assert slot.stop is not None
        reason = trail_problem(amount, slot.stop.level, slot.market)
        slot.refused = bool(reason)
        if reason:
            child.order.transition(OrderStatus.REJECTED, self.bar_time, reason)
        else:
            child.order.transition(OrderStatus.OPEN, self.bar_time)
            self.working.append(child)
        self.events.append(child.order)

    def has_levels_inside(self) -> bool:
        """Whether some working order has a trigger level inside the bar's range."""
        high, low = self.high, self.low
        for w in self.working:
            level = w.limit if w.limit_active else w.stop
            if level is not None and low <= level <= high:
                return True
        return False

    def run_path(self, points: tuple[float, ...]) -> None:
        """Move the price through ``points`` and execute orders where they are crossed."""
        for start, end in itertools.pairwise(points):
            self._sweep(start, end)

    # -- matching ------------------------------------------------------------------------------

    def _sweep(self, start: float, end: float) -> None:
        current = start
        for _ in range(_MAX_STEPS_PER_ORDER * (len(self.working) + 1)):
            if self.capacity <= 0:
                return
            best: Working | None = None
            best_level = 0.0
            for w in self.working:
                level = w.level_between(current, end)
                if level is not None and (
                    best is None or abs(level - current) < abs(best_level - current)
                ):
                    best, best_level = w, level
            if best is None:
                return
            current = best_level
            self._at_level(best, best_level)

    def _at_level(self, w: Working, level: float) -> None:
        """Execute ``w`` whose level the price just reached while moving."""
        if w.limit_active:
            self._fill(w, level, is_maker=True)
            return
        w.triggered = True
        if w.kind is OrderType.STOP_LIMIT:
            assert w.limit is not None
            if not w.crossed(level):
                return  # rests as a limit from here on
            price = self._slipped(w, level)
            price = min(price, w.limit) if w.sign > 0 else max(price, w.limit)
            self._fill(w, price, is_maker=False)
            return
        self._fill(w, self._slipped(w, level), is_maker=False)

    def _at_price(self, w: Working, price: float) -> None:
        """Execute ``w`` if it is crossed at a standing ``price`` (the open, or an activation)."""
        if w.kind is _MARKET:  # always crossed; the common case
            self._fill(w, self._slipped(w, price), is_maker=False)
            return
        if not w.crossed(price):
            return
        request = w.order.request
        if w.limit_active:
            if request.post_only:
                if w.fresh:
                    self._finish(w, OrderStatus.EXPIRED, "post-only order would take liquidity")
                    return
                assert w.limit is not None
                self._fill(w, w.limit, is_maker=True)
                return
            self._fill(w, price, is_maker=False)
            return
        if w.kind is OrderType.STOP_LIMIT:
            w.triggered = True
            if w.crossed(price):
                assert w.limit is not None
                slipped = self._slipped(w, price)
                slipped = min(slipped, w.limit) if w.sign > 0 else max(slipped, w.limit)
                self._fill(w, slipped, is_maker=False)
            return
        if w.kind is OrderType.STOP:
            w.triggered = True
        self._fill(w, self._slipped(w, price), is_maker=False)

    def _slipped(self, w: Working, price: float) -> float:
        slippage = self.rules.slippage
        if slippage.__class__ is _NO_SLIPPAGE:  # the default: no model to ask
            moved = price
        else:
            amount = w.order.remaining or (w.order.request.cost or 0.0) / price
            moved = price * (1.0 + w.sign * slippage.fraction(amount, self.volume))
        low, high = self.low, self.high
        moved = low if low > moved else moved  # min(max(moved, low), high), without the calls
        return high if high < moved else moved

    # -- execution -----------------------------------------------------------------------------

    def _size_by_cost(self, w: Working, price: float, is_maker: bool) -> bool:
        """Fix a cost-sized market order's amount at its first fill price; False if too small."""
        order, market, fees = w.order, w.market, self.rules.fees
        cost = order.request.cost or 0.0
        unit = price  # what one unit of the amount is worth, in the account currency
        pays_fee = w.sign > 0  # R3: a buy's budget pays for the amount and its fee
        contract = market.perpetual
        if contract is not None and (contract.inverse or contract.contract_size != 1.0):
            unit = contract.notional(1.0, price)  # one contract's notional (the coin, inverse)
            # inverse: a sell is the purchase of the coin notional (1/price rises as it
            # falls), so the sell pays for its fee, as the fast path's kernel sizes it
            pays_fee = (w.sign < 0) if contract.inverse else pays_fee
        if w.sign > 0 and fees.charged_in == "received":  # spend ``cost``; fee paid in base
            amount = market.round_amount(cost / price)
        elif pays_fee:  # spend exactly ``cost``, fee included
            rate = fees.rate(market, is_maker)
            amount = market.round_amount((cost - fees.per_order) / (unit * (1.0 + rate)))
        else:  # sell what is worth ``cost`` at this price
            amount = market.round_amount(cost / unit)
        if amount <= 0 or amount < market.min_amount:
            reason = f"cost {cost:g} buys {amount:g}, below the minimum amount"
            self._finish(w, OrderStatus.REJECTED, reason)
            return False
        order.amount = amount
        return True

    def _fill(self, w: Working, price: float, *, is_maker: bool) -> None:
        order = w.order
        if order.amount is None and not self._size_by_cost(w, price, is_maker):
            return
        left = order.amount - order.filled  # type: ignore[operator]  # sized just above
        remaining = left if left > 0.0 else 0.0  # order.remaining
        capacity = self.capacity
        amount = capacity if capacity < remaining else remaining  # min(remaining, capacity)
        if w.reduce_only:
            held = self.portfolio.position(self.symbol).amount
            if held * w.sign >= 0:
                self._finish(w, OrderStatus.CANCELED, "reduce-only: no position to reduce")
                return
            held = held if held >= 0.0 else -held  # abs(held)
            amount = held if held < amount else amount  # min(amount, abs(held))
        if amount <= 0:
            return
        if w.fresh and w.immediate and order.request.time_in_force is _FOK and amount < remaining:
            reason = f"fill-or-kill: only {amount:g} of {order.remaining:g} could fill"
            self._finish(w, OrderStatus.EXPIRED, reason)
            return
        market = w.market
        first = order.filled == 0.0
        fee, fee_asset, quote_fee, cash_fee = self._fee(w, amount, price, is_maker, first)
        reason = self.portfolio.check_fill(market, w.sign * amount, price, cash_fee)
        if reason:
            self._finish(w, OrderStatus.REJECTED if first else OrderStatus.CANCELED, reason)
            return
        bar_time = self.bar_time
        symbol = self.symbol
        request = order.request
        fill = make_fill(
            order.client_id, symbol, request.side, price, amount, fee, fee_asset, bar_time, is_maker
        )
        if self.straight:  # a quote fee on a cash account: booked from the figures
            self.portfolio.apply_quote_fill(symbol, w.sign * amount, price, fee)
        else:
            self.portfolio.apply_fill(fill)
        order.record_fill(price, amount, quote_fee, bar_time)
        self.capacity = capacity - amount
        self.fills.append(fill)
        events = self.events
        events.append(fill)
        events.append(order)
        working = self.working
        if (
            order.status in _TERMINAL
            and len(working) == 1
            and working[0] is w
            and not request.has_bracket
            and w.sibling is None
        ):  # what `_after_fill` comes to when a plain order finishes alone: retire it
            working.clear()
        else:
            self._after_fill(w, amount)

    def _fee(
        self, w: Working, amount: float, price: float, is_maker: bool, first: bool
    ) -> tuple[float, str, float, float]:
        """The fill's fee, its asset, its value in the quote and the cash it costs."""
        market = w.market
        fees = self.rules.fees
        contract = market.perpetual
        if contract is not None and (contract.inverse or contract.contract_size != 1.0):
            # a contract's fee is on its notional, in the settle currency (the coin, inverse)
            notional = contract.notional(amount, price)
            fee = fees.fee(market, notional, is_maker, first) + 0.0
            fee_asset = contract.settle
            quote_fee = cash_fee = fee
        elif fees.__class__ is _MARKET_FEES and fees.charged_in == "quote" and not fees.per_order:
            # MarketFees' own charge without its three calls (+ 0.0 as there: -0.0 becomes 0.0)
            fee = (market.maker_fee if is_maker else market.taker_fee) * (price * amount) + 0.0
            fee_asset = market.quote
            quote_fee = cash_fee = fee
        else:
            fee, fee_asset = fees.charge(market, w.sign > 0, price, amount, is_maker, first)
            quote_fee = fee if fee_asset == market.quote else fee * price
            cash_fee = fee if fee_asset == market.quote else 0.0  # a base fee costs no cash
        return fee, fee_asset, quote_fee, cash_fee

    def _after_fill(self, w: Working, amount: float) -> None:
        """Retire a finished order, attach or settle bracket exits, drop stale reduce-only."""
        order = w.order
        if order.status in _TERMINAL:  # not order.is_active
            self.working.remove(w)
        request = order.request
        if request.has_bracket:
            self._attach_exits(w, amount)
            if request.trail_pct is not None:
                self._grow_trail(w, amount)
        if w.sibling is not None:
            self._settle_sibling(w, amount)
        if self.working and self.portfolio.position(self.symbol).is_flat:
            for other in list(self.working):
                if other.reduce_only:
                    self._finish(other, OrderStatus.CANCELED, "position closed")

    def _finish(self, w: Working, status: OrderStatus, reason: str) -> None:
        w.order.transition(status, self.bar_time, reason)
        self.events.append(w.order)
        if w in self.working:
            self.working.remove(w)

    # -- brackets ------------------------------------------------------------------------------

    def _grow_trail(self, entry: Working, amount: float) -> None:
        """Open (or grow) the entry's trailing stop slot; its stop starts at this bar's close."""
        cid = entry.order.client_id
        slot = self.trails.get(cid)
        if slot is None:
            pct = entry.order.request.trail_pct
            assert pct is not None
            side = Side.SELL if entry.sign > 0 else Side.BUY
            slot = self.trails[cid] = TrailSlot(cid, side, pct, entry.market, entry.seq)
        slot.amount += amount

    def _exit_levels(self, w: Working) -> tuple[float | None, float | None]:
        request = w.order.request
        entry = w.order.average_price
        sl, tp = request.stop_loss, request.take_profit
        if request.stop_loss_pct is not None:
            sl = entry * (1.0 - w.sign * request.stop_loss_pct)
        if request.take_profit_pct is not None:
            tp = entry * (1.0 + w.sign * request.take_profit_pct)
        rnd = w.market.round_price
        return (None if sl is None else rnd(sl), None if tp is None else rnd(tp))

    def _attach_exits(self, entry: Working, amount: float) -> None:
        """Create or grow the entry's stop-loss and take-profit, live from this moment."""
        sl, tp = self._exit_levels(entry)
        if entry.children:
            for child in entry.children:
                self._resize_child(child, amount, sl if child.role == "sl" else tp)
        else:
            self._create_children(entry, amount, sl, tp)
        fill_price = self.fills[-1].price
        for child in list(entry.children):
            if child.order.is_active and child in self.working:
                self._at_price(child, fill_price)

    def _create_children(
        self, entry: Working, amount: float, sl: float | None, tp: float | None
    ) -> None:
        parent = entry.order
        side = Side.SELL if entry.sign > 0 else Side.BUY
        specs = []
        if sl is not None:
            specs.append(
                (
                    "sl",
                    OrderRequest(
                        self.symbol,
                        side,
                        OrderType.STOP,
                        amount=amount,
                        stop_price=sl,
                        reduce_only=True,
                        tag="stop_loss",
                    ),
                )
            )
        if tp is not None:
            specs.append(
                (
                    "tp",
                    OrderRequest(
                        self.symbol,
                        side,
                        OrderType.LIMIT,
                        amount=amount,
                        limit_price=tp,
                        reduce_only=True,
                        tag="take_profit",
                    ),
                )
            )
        for suffix, request in specs:
            order = Order(
                f"{parent.client_id}-{suffix}", request, self.bar_time, parent_id=parent.client_id
            )
            order.transition(OrderStatus.OPEN, self.bar_time)
            self.events.append(order)
            child = Working(order, entry.market, entry.seq)
            child.fresh = False
            child.role = suffix
            entry.children.append(child)
            self.working.append(child)
        if len(entry.children) == 2:
            entry.children[0].sibling = entry.children[1]
            entry.children[1].sibling = entry.children[0]

    def _resize_child(self, child: Working, amount: float, level: float | None) -> None:
        order = child.order
        if not order.is_active:
            return
        new_request = order.request
        if child.kind is OrderType.STOP and level is not None:
            child.stop = level
            new_request = dataclasses.replace(new_request, stop_price=level)
        elif level is not None:
            child.limit = level
            new_request = dataclasses.replace(new_request, limit_price=level)
        order.amount = (order.amount or 0.0) + amount
        order.request = dataclasses.replace(new_request, amount=order.amount)

    def _settle_sibling(self, w: Working, amount: float) -> None:
        sibling = w.sibling
        assert sibling is not None
        if not sibling.order.is_active:
            return
        if not w.order.is_active:
            self._finish(
                sibling, OrderStatus.CANCELED, f"one-cancels-other: {w.order.client_id} filled"
            )
            return
        sibling.order.amount = max((sibling.order.amount or 0.0) - amount, sibling.order.filled)
