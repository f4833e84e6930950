"""A futures account: the `Portfolio` with perpetual margin, leverage and funding.

Bookkeeping stays the `Portfolio`'s (a fill moves ``amount * price`` of cash, so that
``cash + sum(amount * mark)`` is the equity, the rule every result is built on). A perpetual
whose contract is not one base unit of a linear contract (a contract size other than 1, or an
inverse, coin-margined contract) keeps the same rule in the coordinate
``v(price) = perp_math.contract_value(price, CS, inverse)`` (``CS * price``, or ``-CS / price``):
a fill of ``amount`` contracts moves ``amount * v(price)`` of cash, its position is a
`ContractPosition`, and the account's currency is the settle currency (the coin for inverse).
The venue's figures follow from it:

- wallet balance = cash + sum over perpetual positions of ``amount * v(entry_price)`` (what
  was deposited, plus realised P&L, minus fees and funding, minus what spot holdings cost);
- unrealised P&L = ``amount * (v(mark) - v(entry_price))``; equity = wallet + unrealised P&L
  (+ spot holdings at their prices) = ``cash + sum(amount * v(mark))``;
- isolated margin of a position = its notional at entry (``perp_math.notional_value``) over
  the leverage, plus the funding booked to it since it opened (scaled down when the position
  is reduced).

Order admission by available margin replaces the `Portfolio`'s gross-exposure rule for
perpetual fills; spot markets traded in the same account stay cash-only (no shorting, a buy
needs available margin).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from quantkit.domain.contract_position import ContractPosition
from quantkit.domain.fill import Fill
from quantkit.domain.funding import FundingPayment
from quantkit.domain.market import Market
from quantkit.domain.order import Side
from quantkit.domain.perp_math import contract_value
from quantkit.domain.perpetual import MarginMode, PerpetualSpec
from quantkit.domain.portfolio import Portfolio
from quantkit.domain.position import Position

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["FuturesPortfolio"]

_TOL = 1e-9


@dataclass(slots=True)
class FuturesPortfolio(Portfolio):
    """A `Portfolio` trading perpetuals (and spot) under one margin mode.

    Cash, margin, P&L, fees and funding are in the account currency, the settle currency of
    its perpetuals (a coin-margined account is in the coin).

    Attributes:
        specs: Perpetual spec by symbol (symbols not here are spot).
        leverage: Leverage by perpetual symbol.
        margin_mode: ``"cross"`` or ``"isolated"``.
        isolated_extra: Per symbol, funding booked to the isolated margin since it opened.
        funding: Every funding payment, in time order.
        mark_close: Per symbol, the mark close of each bar of the run (for the equity curve;
            symbols without a mark series are valued at the trade close).
        funding_sources: Per perpetual symbol, where its funding rates came from.
        liquidations: How many forced liquidations the account suffered.
    """

    specs: dict[str, PerpetualSpec] = field(default_factory=dict)
    leverage: dict[str, float] = field(default_factory=dict)
    margin_mode: MarginMode = "cross"
    isolated_extra: dict[str, float] = field(default_factory=dict)
    funding: list[FundingPayment] = field(default_factory=list)
    mark_close: dict[str, npt.NDArray[np.float64]] = field(default_factory=dict)
    funding_sources: dict[str, str] = field(default_factory=dict)
    liquidations: int = 0

    # -- contracts -----------------------------------------------------------------------------

    def contract_spec(self, symbol: str) -> PerpetualSpec | None:
        """The spec of ``symbol`` when its contract is not one base unit of a linear one."""
        spec = self.specs.get(symbol)
        if spec is None or (not spec.inverse and spec.contract_size == 1.0):
            return None
        return spec

    def position(self, symbol: str) -> Position:
        """Return the position of ``symbol`` (a `ContractPosition` for contract markets).

        Args:
            symbol: Market symbol.

        Returns:
            The live position object.
        """
        pos = self.positions.get(symbol)
        if pos is None:
            spec = self.contract_spec(symbol)
            if spec is None:
                return Portfolio.position(self, symbol)
            pos = self.positions[symbol] = ContractPosition(
                symbol,
                dust_below=self.dust_below.get(symbol, 0.0),
                contract_size=spec.contract_size,
                inverse=spec.inverse,
            )
        return pos

    def value(self, symbol: str, price: float) -> float:
        """What one contract (or base unit) of ``symbol`` is worth at ``price``, for the cash rule.

        Args:
            symbol: A symbol of the account.
            price: A price.

        Returns:
            ``perp_math.contract_value`` for a contract market, else ``price``.
        """
        spec = self.contract_spec(symbol)
        return price if spec is None else contract_value(price, spec.contract_size, spec.inverse)

    def values(self, symbol: str, prices: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """`value` of an array of prices (the same array for a plain market).

        Args:
            symbol: A symbol of the account.
            prices: Prices.

        Returns:
            The values.
        """
        spec = self.contract_spec(symbol)
        if spec is None:
            return prices
        if spec.inverse:
            return -spec.contract_size / prices
        return spec.contract_size * prices

    def apply_fill(self, fill: Fill) -> float:
        """Book a fill; a contract market's moves ``amount * value(price)`` of cash.

        Args:
            fill: The execution to book (a contract market's fee in the account currency).

        Returns:
            The P&L the fill realised, before fees.
        """
        if self.contract_spec(fill.symbol) is None:
            return Portfolio.apply_fill(self, fill)
        signed = fill.amount if fill.side is Side.BUY else -fill.amount
        currency = self.currency
        value = self.value(fill.symbol, fill.price)
        self.cash[currency] = self.cash.get(currency, 0.0) - signed * value - fill.fee
        self.fees_paid += fill.fee
        self.last_price.setdefault(fill.symbol, fill.price)
        return self.position(fill.symbol).apply(signed, fill.price)

    def equity(self) -> float:
        """Cash plus every position at its latest mark, in the account currency."""
        value = self.balance
        for symbol, pos in self.positions.items():
            if pos.amount:
                value += pos.amount * self.value(
                    symbol, self.last_price.get(symbol, pos.entry_price)
                )
        return value

    # -- the venue's figures -------------------------------------------------------------------

    def _mark(self, symbol: str, entry: float) -> float:
        return self.last_price.get(symbol, entry)

    @property
    def funding_paid(self) -> float:
        """Net funding paid over the run (negative: received), settle currency."""
        return math.fsum(p.amount for p in self.funding)

    def wallet_balance(self) -> float:
        """Cash plus what the open perpetual positions cost: the venue's wallet balance."""
        value = self.balance
        for symbol, pos in self.positions.items():
            if pos.amount and symbol in self.specs:
                value += pos.amount * self.value(symbol, pos.entry_price)
        return value

    def unrealized(self, symbol: str) -> float:
        """Unrealised P&L of a perpetual position at the latest mark."""
        pos = self.position(symbol)
        return pos.unrealized_pnl(self._mark(symbol, pos.entry_price))

    def initial_margin(self, symbol: str) -> float:
        """Initial margin of a position at the latest mark: its notional over the leverage."""
        pos = self.position(symbol)
        notional = self.specs[symbol].notional(pos.amount, self._mark(symbol, pos.entry_price))
        return notional / self.leverage[symbol]

    def maintenance(self, symbol: str) -> float:
        """Maintenance margin of a position at the latest mark (its bracket's rate and cum)."""
        pos = self.position(symbol)
        if not pos.amount:
            return 0.0
        return self.specs[symbol].maintenance(pos.amount, self._mark(symbol, pos.entry_price))

    def isolated_wallet(self, symbol: str) -> float:
        """The isolated wallet balance of a position: its margin at entry plus its funding."""
        pos = self.position(symbol)
        if not pos.amount:
            return 0.0
        margin = self.specs[symbol].notional(pos.amount, pos.entry_price) / self.leverage[symbol]
        return margin + self.isolated_extra.get(symbol, 0.0)

    def _open_perps(self) -> list[str]:
        return [s for s, p in self.positions.items() if p.amount and s in self.specs]

    def available_margin(self) -> float:
        """Margin free for new positions.

        Cross: wallet + unrealised P&L - initial margin of every position. Isolated: wallet -
        every position's isolated wallet (unrealised P&L stays with its position).

        Returns:
            The available margin, settle currency.
        """
        perps = self._open_perps()
        if self.margin_mode == "isolated":
            return self.wallet_balance() - sum(self.isolated_wallet(s) for s in perps)
        used = sum(self.initial_margin(s) - self.unrealized(s) for s in perps)
        return self.wallet_balance() - used

    def margin_ratio(self) -> float:
        """Maintenance margin over margin balance: the venue liquidates at 1.

        Returns:
            The account's ratio (cross) or the worst position's (isolated); 0 when no
            perpetual position is open.
        """
        perps = self._open_perps()
        if not perps:
            return 0.0
        if self.margin_mode == "isolated":
            ratios = []
            for s in perps:
                balance = self.isolated_wallet(s) + self.unrealized(s)
                ratios.append(self.maintenance(s) / balance if balance > 0 else math.inf)
            return max(ratios)
        balance = self.wallet_balance() + sum(self.unrealized(s) for s in perps)
        maintenance = sum(self.maintenance(s) for s in perps)
        return maintenance / balance if balance > 0 else math.inf

    def liquidation_price(self, symbol: str) -> float:
        """The venue's liquidation price of ``symbol``'s position (``nan`` when flat).

        Args:
            symbol: A perpetual symbol.

        Returns:
            Isolated: from the position's isolated wallet. Cross: from the wallet balance with
            every other position's maintenance margin and unrealised P&L at its latest mark.
        """
        pos = self.position(symbol)
        spec = self.specs[symbol]
        if self.margin_mode == "isolated":
            return spec.liquidation_price(self.isolated_wallet(symbol), pos.amount, pos.entry_price)
        others = [s for s in self._open_perps() if s != symbol]
        return spec.liquidation_price(
            self.wallet_balance(),
            pos.amount,
            pos.entry_price,
            other_maintenance=sum(self.maintenance(s) for s in others),
            other_upnl=sum(self.unrealized(s) for s in others),
        )

    def margin_balance(self) -> float:
        """Wallet balance plus the unrealised P&L of every perpetual position."""
        return self.wallet_balance() + sum(self.unrealized(s) for s in self._open_perps())

    def used_margin(self) -> float:
        """Initial margin of every open perpetual position at the latest marks."""
        return sum(self.initial_margin(s) for s in self._open_perps())

    def projected_liquidation_price(self, symbol: str, signed_amount: float, price: float) -> float:
        """The liquidation price ``symbol`` would have after a fill (fees left out).

        Args:
            symbol: A perpetual symbol.
            signed_amount: The fill's amount, > 0 to buy.
            price: Its price.

        Returns:
            The price, as `liquidation_price` would give it after the fill (``nan`` if the
            fill leaves the position flat).
        """
        pos = self.position(symbol)
        old = pos.amount
        new = old + signed_amount
        if abs(new) <= _TOL * max(1.0, abs(old)):
            return math.nan
        after = copy.copy(pos)  # the position's own rule (entry average, P&L in contracts)
        realized = after.apply(signed_amount, price)
        entry = after.entry_price
        spec = self.specs[symbol]
        if self.margin_mode == "isolated":
            kept = old != 0.0 and (new > 0) == (old > 0)  # funding booked stays, scaled down
            extra = self.isolated_extra.get(symbol, 0.0) * min(1.0, abs(new / old)) if kept else 0.0
            wallet = spec.notional(new, entry) / self.leverage[symbol] + extra
            return spec.liquidation_price(wallet, new, entry)
        others = [s for s in self._open_perps() if s != symbol]
        return spec.liquidation_price(
            self.wallet_balance() + realized,
            new,
            entry,
            other_maintenance=sum(self.maintenance(s) for s in others),
            other_upnl=sum(self.unrealized(s) for s in others),
        )

    def settle_isolated(self, symbol: str, before: float, realized: float = 0.0) -> None:
        """Settle an isolated position's margin after its amount changed from ``before``.

        A reduction settles its realised P&L through the position's isolated margin, then
        releases the margin in proportion to what was closed, so an isolated position never
        loses more than the margin it was given:
        ``extra' = (extra + realized) * |after| / |before|``. A close or a flip starts afresh.

        Args:
            symbol: The perpetual symbol.
            before: Its amount before the change.
            realized: The P&L the change realised.
        """
        if self.margin_mode != "isolated":
            return
        extra = self.isolated_extra.get(symbol, 0.0)
        after = self.position(symbol).amount
        if after == 0.0 or (after > 0) != (before > 0):
            self.isolated_extra[symbol] = 0.0
        elif abs(after) < abs(before):
            self.isolated_extra[symbol] = (extra + realized) * abs(after) / abs(before)

    # -- admission -----------------------------------------------------------------------------

    def check_fill(self, market: Market, signed_amount: float, price: float, fee: float) -> str:
        """Return why the account cannot take a fill, or ``""`` if it can.

        Perpetuals: reducing is always allowed; opening needs the bracket of the new notional
        to allow the symbol's leverage and the opened notional over the leverage, plus the
        fee, of available margin (a flip first releases the closed position's margin and
        P&L). Spot: no shorting, a buy needs ``amount * price + fee`` of available margin.

        Args:
            market: The fill's market.
            signed_amount: Amount, positive to buy, negative to sell.
            price: Fill price.
            fee: Fee the fill would charge.

        Returns:
            A rejection reason, or an empty string.
        """
        symbol = market.symbol
        pos = self.position(symbol)
        new = pos.amount + signed_amount
        spec = self.specs.get(symbol)
        if spec is None:
            return self._check_spot(market, pos.amount, signed_amount, price, fee)
        if abs(new) <= abs(pos.amount) and (new == 0.0 or (new > 0) == (pos.amount > 0)):
            return ""  # a reduction or a close (of a short as of a long)
        leverage = self.leverage[symbol]
        notional = spec.notional(new, price)
        bracket = spec.bracket(notional)
        if leverage > bracket.max_leverage:
            return (
                f"leverage {leverage:g}x is above the {bracket.max_leverage:g}x that a "
                f"{symbol} position of notional {notional:.8g} allows"
            )
        have = self.available_margin()
        flipped = pos.amount != 0.0 and (new > 0) != (pos.amount > 0)
        opened = abs(new) if flipped else abs(signed_amount)
        if flipped:
            have += spec.notional(pos.amount, price) / leverage + pos.unrealized_pnl(price)
        need = spec.notional(opened, price) / leverage + fee
        if need > have * (1 + _TOL) + _TOL:
            return (
                f"insufficient margin: {symbol} needs {need:.8g} {self.currency} (initial "
                f"margin at {leverage:g}x plus fee), available {have:.8g}"
            )
        return ""

    def _check_spot(
        self, market: Market, held: float, signed_amount: float, price: float, fee: float
    ) -> str:
        if held + signed_amount < -_TOL * max(1.0, abs(held)):
            return (
                f"insufficient {market.base}: selling {abs(signed_amount):g} but holding "
                f"{max(held, 0.0):g} (a futures account holds spot without shorting)"
            )
        if signed_amount <= 0:
            return ""
        need = signed_amount * price + fee
        have = self.available_margin()
        if need > have * (1 + _TOL) + _TOL:
            return f"insufficient {market.quote}: needs {need:.8g}, available {have:.8g}"
        return ""
