"""CcxtPerpetualExchange: a USD-M perpetuals venue (ccxt ``binanceusdm``) for the live broker.

It is `CcxtExchange` plus what trading perpetuals needs from the account:

* `markets` carry a `PerpetualSpec` for each swap market (margin brackets from ccxt's
  ``fetch_leverage_tiers``);
* `set_leverage` (refused above the first bracket's maximum before anything is sent),
  `set_margin_mode` (isolated or cross; "no need to change" is success) and `check_one_way`
  (an account in hedge mode is refused: quantkit trades one-way positions only);
* `positions` (``fetch_positions``: Binance's ``positionRisk``), `funding_payments`
  (``fetch_funding_history``: ``income`` of type ``FUNDING_FEE``) and `wallet_balance`;
* the user-data stream's account changes as they happen: `watch_balance_changes` (funding and
  other wallet changes, ccxt.pro ``watch_balance``) and `watch_order_fills` (fills of any
  order, the venue's liquidations included, ccxt.pro ``watch_orders``).

Orders, client order ids, reduce-only exits and the never-twice rule on unknown outcomes are
`CcxtTrading`'s, the same as for spot.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from quantkit.domain.market import Market
from quantkit.domain.perpetual import MarginMode, check_margin_mode
from quantkit.domain.venue import VenueOrder, VenueTrade
from quantkit.domain.venue_positions import VenueBalanceChange, VenueFunding, VenuePosition
from quantkit.errors import ConfigError, DataError, ExchangeError
from quantkit.exchanges.ccxt_exchange import CcxtExchange
from quantkit.exchanges.orders import parse_order
from quantkit.exchanges.parse import parse_market
from quantkit.exchanges.perp_markets import parse_perpetual_market
from quantkit.exchanges.perp_parse import parse_funding_history, parse_positions, parse_wallet
from quantkit.exchanges.perp_stream import parse_balance_changes, parse_order_fills

__all__ = ["CcxtPerpetualExchange"]


class CcxtPerpetualExchange(CcxtExchange):
    """A perpetual futures venue through ccxt (Binance USD-M: ``"binanceusdm"``).

    Takes the arguments of `CcxtExchange`. ccxt's USD-M error table is always used (ccxt
    picks it by host name, so a local test exchange would otherwise get the generic one).

    Examples:
        >>> from quantkit.exchanges.perpetuals import CcxtPerpetualExchange
        >>> CcxtPerpetualExchange("binanceusdm").id
        'binanceusdm'
    """

    _perp_markets: dict[str, Market] | None = None

    async def _ready(self) -> Any:
        client = await super()._ready()
        linear = getattr(client, "exceptions", {}).get("linear")
        exact = linear.get("exact") if isinstance(linear, dict) else None
        if isinstance(exact, dict) and not getattr(client, "_quantkit_linear", False):
            client.exceptions["exact"] = {**client.exceptions["exact"], **exact}
            client._quantkit_linear = True
        return client

    async def markets(self) -> dict[str, Market]:
        """The venue's markets; swap markets with their `PerpetualSpec` (margin brackets).

        Returns:
            Markets by symbol. Malformed ones are left out with a warning.

        Raises:
            TransientError: If the venue could not be reached.
            ExchangeError: If the venue refused.
        """
        client = await self._ready()
        swaps = [s for s, raw in client.markets.items() if raw.get("swap")]
        tiers: dict[str, Any] = {}
        if swaps:
            tiers = await self._call(client, client.fetch_leverage_tiers, swaps)
        parsed: dict[str, Market] = {}
        for symbol, raw in client.markets.items():
            try:
                if raw.get("swap"):
                    parsed[symbol] = parse_perpetual_market(
                        raw,
                        tiers.get(symbol),
                        precision_mode=client.precisionMode,
                        exchange=self._id,
                    )
                else:
                    parsed[symbol] = parse_market(
                        raw, precision_mode=client.precisionMode, exchange=self._id
                    )
            except DataError as exc:
                warnings.warn(f"skipping a malformed market: {exc}", stacklevel=2)
        self._perp_markets = parsed
        return parsed

    async def _spec_market(self, symbol: str) -> Market:
        markets = self._perp_markets if self._perp_markets is not None else await self.markets()
        market = markets.get(symbol)
        if market is None or market.perpetual is None:
            raise ConfigError(f"{self._id}: {symbol!r} is not a perpetual market of the venue")
        return market

    async def set_leverage(self, symbol: str, leverage: float) -> float:
        """Set the leverage of ``symbol`` on the venue.

        Args:
            symbol: A perpetual's unified symbol.
            leverage: A whole number from 1 to the first margin bracket's maximum.

        Returns:
            The leverage the venue confirmed.

        Raises:
            ConfigError: If ``symbol`` is not a perpetual, or the leverage is not a whole
                number in range (checked before anything is sent).
            ExchangeError: If the venue refused it (e.g. a position too large for it).
            TransientError: If the venue could not answer.
        """
        market = await self._spec_market(symbol)
        top = market.perpetual.max_leverage if market.perpetual else 1.0
        valid = not isinstance(leverage, bool) and isinstance(leverage, int | float)
        if not (valid and math.isfinite(leverage) and leverage == int(leverage)):
            raise ConfigError(f"leverage of {symbol} must be a whole number, got {leverage!r}")
        if not 1 <= leverage <= top:
            raise ConfigError(
                f"leverage of {symbol} must be from 1 to {top:g} (its first margin bracket's "
                f"maximum on {self._id}), got {leverage!r}"
            )
        client = await self._ready()
        action = f"leverage of {symbol}"
        raw = await self._call(client, client.set_leverage, int(leverage), symbol, action=action)
        answer = raw.get("leverage") if isinstance(raw, dict) else None
        return float(answer) if isinstance(answer, int | float | str) else float(leverage)

    async def set_margin_mode(self, symbol: str, mode: str) -> MarginMode:
        """Make ``symbol``'s margin ``"isolated"`` or ``"cross"`` (no-op if it already is).

        Args:
            symbol: A perpetual's unified symbol.
            mode: ``"isolated"`` or ``"cross"``.

        Returns:
            The mode.

        Raises:
            ConfigError: If the mode is unknown or ``symbol`` is not a perpetual.
            ExchangeError: If the venue refused (a position or open orders in the symbol).
            TransientError: If the venue could not answer.
        """
        checked = check_margin_mode(mode, f"margin mode of {symbol}")
        await self._spec_market(symbol)
        client = await self._ready()
        try:
            await self._call(
                client, client.set_margin_mode, checked, symbol, action=f"margin of {symbol}"
            )
        except ExchangeError as exc:
            if type(exc.__cause__).__name__ != "MarginModeAlreadySet":
                raise
        return checked

    async def check_one_way(self) -> None:
        """Refuse an account in hedge (dual-side) position mode.

        Raises:
            ConfigError: If the account holds hedge-mode positions (quantkit trades one-way
                positions only; switch the account to one-way mode first).
            ExchangeError: If the venue refused the request.
            TransientError: If the venue could not answer.
        """
        client = await self._ready()
        self._offers(client, "fetchPositionMode")
        raw = await self._call(client, client.fetch_position_mode)
        hedged = raw.get("hedged") if isinstance(raw, dict) else None
        if not isinstance(hedged, bool):
            raise DataError(f"position mode {raw!r:.80} has no 'hedged' flag", source=self._id)
        if hedged:
            raise ConfigError(
                f"the {self._id} account is in hedge mode (dual-side positions); quantkit "
                "trades one-way positions only: switch the account to one-way mode"
            )

    async def positions(self, symbols: list[str] | None = None) -> dict[str, VenuePosition]:
        """The account's perpetual positions (Binance: ``positionRisk``).

        Args:
            symbols: Only these; ``None`` for all.

        Returns:
            Positions by symbol; flat symbols may be left out.

        Raises:
            ExchangeError: If the venue refused.
            TransientError: If the venue could not answer.
            DataError: If the answer is malformed.
        """
        client = await self._ready()
        self._offers(client, "fetchPositions")
        raw = await self._call(client, client.fetch_positions, symbols)
        return parse_positions(raw, exchange=self._id)

    async def funding_payments(
        self, symbol: str, since_ms: int | None = None
    ) -> list[VenueFunding]:
        """Funding paid or received in ``symbol`` at or after ``since_ms``, oldest first.

        Args:
            symbol: A perpetual's unified symbol.
            since_ms: Earliest time wanted; ``None`` for the venue's default window.

        Returns:
            The payments (amount > 0 received, < 0 paid).

        Raises:
            ExchangeError: If the venue refused.
            TransientError: If the venue could not answer.
            DataError: If the answer is malformed.
        """
        client = await self._ready()
        self._require(client, symbol, "fetchFundingHistory")
        raw = await self._call(client, client.fetch_funding_history, symbol, since_ms)
        return parse_funding_history(raw, exchange=self._id)

    async def fetch_order_by_id(self, exchange_id: str, symbol: str) -> VenueOrder | None:
        """Look an order up by the venue's id (orders the venue placed itself, liquidations).

        Args:
            exchange_id: The venue's order id.
            symbol: Its unified symbol.

        Returns:
            The order with the client id the venue gave it, or ``None`` if unknown.

        Raises:
            ExchangeError: If the venue refused.
            TransientError: If the venue could not answer.
            DataError: If the answer is malformed.
        """
        client = await self._ready()
        self._require(client, symbol, "fetchOrder")
        try:
            raw = await self._call(client, client.fetch_order, exchange_id, symbol)
        except ExchangeError as exc:
            if exc.reason == "order_not_found":
                return None
            raise
        found = raw.get("clientOrderId") if isinstance(raw, dict) else None
        return parse_order(raw, exchange=self._id, client_id=str(found or ""))

    async def insurance_clearances(
        self, symbol: str, since_ms: int | None = None
    ) -> list[VenueFunding]:
        """What liquidations in ``symbol`` cleared from the wallet (``INSURANCE_CLEAR``).

        Binance books the liquidation clearance fee (taken from what the margin held at the
        liquidation price, isolated or cross) and a cross deficit it makes good with an
        ``income`` entry of this type.

        Args:
            symbol: A perpetual's unified symbol.
            since_ms: Earliest time wanted; ``None`` for the venue's default window.

        Returns:
            The entries, oldest first (amount > 0 credited, < 0 debited).

        Raises:
            ExchangeError: If the venue refused.
            TransientError: If the venue could not answer.
            DataError: If the answer is malformed.
        """
        client = await self._ready()
        self._require(client, symbol, "fetchFundingHistory")
        params = {"incomeType": "INSURANCE_CLEAR"}
        raw = await self._call(client, client.fetch_funding_history, symbol, since_ms, None, params)
        return parse_funding_history(raw, exchange=self._id)

    async def wallet_balance(self, asset: str) -> float:
        """The futures wallet balance of the margin ``asset`` (no unrealised P&L).

        Args:
            asset: The margin asset, e.g. ``"USDT"``.

        Returns:
            The balance.

        Raises:
            ExchangeError: If the venue refused.
            TransientError: If the venue could not answer.
            DataError: If the answer is malformed.
        """
        client = await self._ready()
        raw = await self._call(client, client.fetch_balance)
        return parse_wallet(raw, asset, exchange=self._id)

    def _watchable(self, feature: str) -> None:
        if not self._has.get(feature):
            raise ExchangeError(
                f"the venue offers no websocket for this ({feature}); poll instead",
                exchange=self._id,
                reason="not_supported",
            )

    async def watch_balance_changes(self) -> list[VenueBalanceChange]:
        """Wait for the next wallet change the venue pushes (funding, insurance clearance, ...).

        The first call subscribes to the user-data stream (a listen key, then the socket).
        Each call returns what the next ``ACCOUNT_UPDATE`` changed other than a trade; an
        update that arrives while no call waits is not returned (ccxt keeps only the latest
        balance): the income history (`funding_payments`) is the complete record.

        Returns:
            The changes of one update (often none: a trade's update).

        Raises:
            ExchangeError: If the venue has no balance websocket (``reason``
                ``"not_supported"``, before any request) or refused the subscription.
            TransientError: If the connection failed or was closed: call again to reconnect.
            DataError: If the event is malformed.
        """
        self._watchable("watchBalance")
        client = await self._ready()
        with self._errors(client):
            raw = await client.watch_balance()

        def symbol_of(market_id: str) -> str:
            return str(client.safe_symbol(market_id, None, None, "swap"))

        return parse_balance_changes(raw, exchange=self._id, symbol_of=symbol_of)

    async def watch_order_fills(self) -> list[tuple[VenueOrder, VenueTrade]]:
        """Wait for the next fills of the account's orders, the venue's own included.

        ccxt keeps every order's latest update until read, so orders updated between calls
        are returned by the next; an order filled twice meanwhile shows its latest fill only
        (`my_trades` has every trade).

        Returns:
            Orders whose latest update was a fill, each with that fill, oldest first.

        Raises:
            ExchangeError: If the venue has no order websocket (``reason`` ``"not_supported"``,
                before any request) or refused the subscription.
            TransientError: If the connection failed or was closed: call again to reconnect.
            DataError: If an order is malformed.
        """
        self._watchable("watchOrders")
        client = await self._ready()
        with self._errors(client):
            raw = await client.watch_orders()
        return parse_order_fills(raw, exchange=self._id)
