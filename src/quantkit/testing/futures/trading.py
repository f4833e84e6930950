"""FuturesTrading: the private side of `LocalFuturesExchange`, wired to its markets and data.

It builds the venue's `FuturesAccounts` from the exchange's perpetuals (filters and bracket
tables taken over as `ContractRules`, first prices from the last candle and mark closes) and
accounts (each account's USDT balance is its futures wallet), and serves over the exchange's
signature check:

* `FuturesPrivateApi`: leverage, margin type, position mode, orders, open orders, user trades;
* `FuturesAlgoApi`: conditional (stop and take-profit) orders;
* `FuturesAccountApi`: balance, account, positionRisk, income;
* `FuturesUserStream`: listen keys and the user-data websocket.

Prices move when a test says so (`move`) or through the exchange's own candles (`replay`,
which also settles funding at each funding timestamp with the exchange's published rate).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal

import numpy as np
from aiohttp import web

from quantkit.data._timestamps import TimeLike, parse_instant
from quantkit.errors import ConfigError
from quantkit.testing.futures.account_api import FuturesAccountApi
from quantkit.testing.futures.accounts import FuturesAccounts
from quantkit.testing.futures.algo_api import FuturesAlgoApi
from quantkit.testing.futures.brackets import BracketTable
from quantkit.testing.futures.contracts import ContractRules
from quantkit.testing.futures.endpoints import Signer
from quantkit.testing.futures.markets import FuturesMarket
from quantkit.testing.futures.private_api import FuturesPrivateApi
from quantkit.testing.futures.user_stream import FuturesUserStream
from quantkit.testing.futures.venue import FuturesVenue

__all__ = ["FuturesTrading", "contract_rules"]


def _dec(value: float) -> Decimal:
    return Decimal(repr(value))


def contract_rules(market: FuturesMarket) -> ContractRules:
    """The venue's own copy of a market's trading rules.

    Args:
        market: A perpetual of the exchange.

    Returns:
        Its filters and brackets as `ContractRules`.
    """
    rows = [(str(b.floor), str(b.maint_margin_ratio), b.initial_leverage) for b in market.brackets]
    return ContractRules(
        market.venue_id,
        tick_size=_dec(market.tick_size),
        step_size=_dec(market.step_size),
        min_qty=_dec(market.min_qty),
        max_qty=_dec(market.max_qty),
        market_max_qty=_dec(market.market_max_qty),
        min_notional=_dec(market.min_notional),
        brackets=BracketTable.from_rows(rows),
        funding_interval_ms=market.funding_interval_ms,
        liquidation_fee=market.liquidation_fee,
    )


class FuturesTrading:
    """Accounts, trading endpoints and user-data stream of a local futures exchange.

    Args:
        venue: The exchange's perpetuals and data.
        accounts: API key to ``(secret, balances)``; the USDT balance is the wallet.
        signed: The exchange's signature check (``FuturesSignedApi.signed``).
        now_ms: The exchange's server clock.
    """

    def __init__(
        self,
        venue: FuturesVenue,
        accounts: Mapping[str, tuple[str, Mapping[str, Decimal]]],
        signed: Signer,
        now_ms: Callable[[], int],
    ) -> None:
        self.venue = venue
        self.now_ms = now_ms
        markets = venue.markets
        prices = {
            m.venue_id: _dec(float(venue.candles(m, venue.timeframe).close[-1])) for m in markets
        }
        self.accounts = FuturesAccounts(
            [contract_rules(m) for m in markets],
            {
                key: (secret, funds.get("USDT", Decimal(0)))
                for key, (secret, funds) in accounts.items()
            },
            prices,
        )
        """The accounts, positions, orders and prices."""
        for market in markets:
            mark = _dec(float(venue.candles(market, venue.timeframe, "mark").close[-1]))
            self.accounts.move(market.venue_id, mark=mark, now=now_ms())
        self.private_api = FuturesPrivateApi(self.accounts, signed, now_ms)
        self.algo_api = FuturesAlgoApi(self.accounts, signed, now_ms)
        self.account_api = FuturesAccountApi(self.accounts, signed, now_ms)
        self.user_stream = FuturesUserStream(self.accounts, now_ms)

    def routes(self) -> list[web.RouteDef]:
        """Return the private routes.

        Returns:
            The trading, account and user-data routes.
        """
        apis = (self.private_api, self.algo_api, self.account_api, self.user_stream)
        return [route for api in apis for route in api.routes()]

    async def aclose(self) -> None:
        """Close the user-data sockets (the server calls this when it stops)."""
        await self.user_stream.aclose()

    def _id(self, symbol: str) -> str:
        return self.venue.market(symbol).venue_id

    def move(
        self,
        symbol: str,
        *,
        last: float | str | Decimal | None = None,
        mark: float | str | Decimal | None = None,
    ) -> None:
        """Move a market's last and/or mark price now (see `FuturesAccounts.move`).

        Args:
            symbol: Unified symbol or venue id.
            last: The new last price (fills limits, triggers stops).
            mark: The new mark price (P&L, margin, liquidation, mark stops).

        Raises:
            ConfigError: For an unknown market or a price not above 0.
        """
        self.accounts.move(self._id(symbol), last=last, mark=mark, now=self.now_ms())

    def settle_funding(
        self, symbol: str, rate: float | str | Decimal, *, at: int | None = None
    ) -> None:
        """Settle one funding timestamp now at the current mark.

        Args:
            symbol: Unified symbol or venue id.
            rate: The funding rate (positive: longs pay).
            at: The funding timestamp (ms); the server's time when ``None``.
        """
        when = self.now_ms() if at is None else at
        self.accounts.settle_funding(self._id(symbol), rate, now=when)

    def replay(self, symbol: str, start: TimeLike, end: TimeLike) -> int:
        """Walk the prices through the exchange's candles in ``[start, end)``.

        Each candle moves the last and the mark together through open, then low and high (low
        first in a rising candle, high first in a falling one), then close; before a candle
        that opens at a funding timestamp, funding is settled at the mark's open with the
        exchange's published rate.

        Args:
            symbol: Unified symbol or venue id.
            start: First candle (UTC when naive).
            end: End (exclusive).

        Returns:
            How many candles were walked.

        Raises:
            ConfigError: For an unknown market or bad times.
        """
        market = self.venue.market(symbol)
        low_ms = parse_instant(start, name="start") // 1_000_000
        high_ms = parse_instant(end, name="end") // 1_000_000
        if high_ms <= low_ms:
            raise ConfigError(f"replay needs start < end, got {start} and {end}")
        last = self.venue.candles(market, self.venue.timeframe)
        mark = self.venue.candles(market, self.venue.timeframe, "mark")
        funding = self.venue.funding(market)
        rates = dict(zip(funding.time.tolist(), funding.rate.tolist(), strict=True))
        rows = np.flatnonzero((last.time >= low_ms) & (last.time < high_ms))
        for row in rows.tolist():
            opened = int(last.time[row])
            if opened in rates:
                self.accounts.move(market.venue_id, mark=_dec(float(mark.open[row])), now=opened)
                self.accounts.settle_funding(market.venue_id, _dec(rates[opened]), now=opened)
            rising = last.close[row] >= last.open[row]
            order = ("open", "low", "high", "close") if rising else ("open", "high", "low", "close")
            for step, column in enumerate(order):
                self.accounts.move(
                    market.venue_id,
                    last=_dec(float(getattr(last, column)[row])),
                    mark=_dec(float(getattr(mark, column)[row])),
                    now=opened + step,
                )
        return len(rows)
