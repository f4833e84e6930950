"""The local USD-M venue's account endpoints, the fields ccxt ``binanceusdm`` parses.

* ``GET /fapi/v2/balance`` and ``/fapi/v3/balance``: the USDT balance (wallet, cross wallet,
  available);
* ``GET /fapi/v2/account`` and ``/fapi/v3/account`` (ccxt's ``fetch_balance``): totals, the
  USDT asset (``availableBalance``, ``initialMargin``, ``marginBalance``) and the positions;
* ``GET /fapi/v2/positionRisk`` and ``/fapi/v3/positionRisk`` (ccxt's ``fetch_positions``):
  amount, entry, mark, unrealised P&L, liquidation price (`liquidation_price`), leverage and
  margin type (v2), isolated margin and wallet, notional, initial and maintenance margin (v3).
  v2 lists every symbol; v3 only those with a position or open orders, as Binance does;
* ``GET /fapi/v1/income`` (ccxt's ``fetch_funding_history`` and ledger): ``REALIZED_PNL``,
  ``COMMISSION``, ``FUNDING_FEE`` and ``INSURANCE_CLEAR`` entries, filtered by ``symbol``,
  ``incomeType``, ``startTime``/``endTime``; the oldest ``limit`` (100, at most 1000) of the
  window, the last 7 days when no window is given.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiohttp import web

from quantkit.testing.binance_api import BinanceApiError, int_param, json_list
from quantkit.testing.futures.accounts import max_notional
from quantkit.testing.futures.endpoints import SignedEndpoints
from quantkit.testing.futures.ledger import FuturesAccount
from quantkit.testing.futures.liquidation import liquidation_price, maintenance_margin
from quantkit.testing.futures.positions import FuturesPosition
from quantkit.testing.futures.wire import income_json, text

__all__ = ["FuturesAccountApi"]

_ZERO = Decimal(0)
_WEEK_MS = 7 * 86_400_000
_INCOME_TYPES = ("REALIZED_PNL", "COMMISSION", "FUNDING_FEE", "INSURANCE_CLEAR", "TRANSFER")


def _r(value: Decimal) -> str:
    return text(value.quantize(Decimal("0.00000001")))


class FuturesAccountApi(SignedEndpoints):
    """The account, balance, position and income endpoints over `FuturesAccounts`.

    Args:
        venue: The accounts.
        signed: Wraps an endpoint ``(request, api_key, params)`` with the signature checks
            (``FuturesSignedApi.signed`` of the server).
        now_ms: The server's clock.
    """

    def routes(self) -> list[web.RouteDef]:
        """Return the aiohttp routes.

        Returns:
            Balance, account and positionRisk (v2 and v3), and income.
        """
        return [
            web.get("/fapi/v2/balance", self.signed(self._balance)),
            web.get("/fapi/v3/balance", self.signed(self._balance)),
            web.get("/fapi/v2/account", self.signed(self._account_v2)),
            web.get("/fapi/v3/account", self.signed(self._account_v3)),
            web.get("/fapi/v2/positionRisk", self.signed(self._position_risk_v2)),
            web.get("/fapi/v3/positionRisk", self.signed(self._position_risk_v3)),
            web.get("/fapi/v1/income", self.signed(self._income)),
        ]

    # ---------------------------------------------------------------------- figures

    def liquidation(self, account: FuturesAccount, position: FuturesPosition) -> Decimal:
        """The venue's liquidation price of a position (Binance's formula)."""
        table = self.venue.contracts[position.symbol].brackets
        if position.isolated:
            return liquidation_price(
                position.amount, position.entry, position.isolated_wallet, table
            )
        others = [p for p in account.cross_positions() if p.symbol != position.symbol]
        marks = self.venue.marks
        other_mm = sum(
            (
                maintenance_margin(
                    p.amount, marks[p.symbol], self.venue.contracts[p.symbol].brackets
                )
                for p in others
            ),
            _ZERO,
        )
        other_up = sum((p.unrealized(marks[p.symbol]) for p in others), _ZERO)
        return liquidation_price(
            position.amount, position.entry, account.cross_wallet, table,
            other_maintenance=other_mm, other_unrealized=other_up,
        )  # fmt: skip

    def _position_row(self, account: FuturesAccount, position: FuturesPosition) -> dict[str, Any]:
        mark = self.venue.marks[position.symbol]
        contract = self.venue.contracts[position.symbol]
        unrealized = position.unrealized(mark)
        notional = position.amount * mark
        order_margin = sum(
            (
                account.order_margin(o, self.venue.lasts[o.symbol])
                for o in account.open_orders(position.symbol)
            ),
            _ZERO,
        )
        position_margin = abs(notional) / position.leverage
        liquidation = self.liquidation(account, position)
        cap = max_notional(contract, position.leverage)
        return {
            "symbol": position.symbol,
            "positionSide": "BOTH",
            "positionAmt": text(position.amount),
            "entryPrice": text(position.entry),
            "breakEvenPrice": text(position.entry),
            "markPrice": _r(mark),
            "unRealizedProfit": _r(unrealized),
            "liquidationPrice": _r(liquidation) if liquidation else "0",
            "leverage": str(position.leverage),
            "maxNotionalValue": text(cap) if cap is not None else "9223372036854775807",
            "marginType": "isolated" if position.isolated else "cross",
            "isolatedMargin": _r(position.isolated_wallet + unrealized)
            if position.isolated
            else "0",
            "isolatedWallet": _r(position.isolated_wallet),
            "isAutoAddMargin": "false",
            "notional": _r(notional),
            "marginAsset": "USDT",
            "initialMargin": _r(position_margin + order_margin),
            "maintMargin": _r(maintenance_margin(position.amount, mark, contract.brackets)),
            "positionInitialMargin": _r(position_margin),
            "openOrderInitialMargin": _r(order_margin),
            "adl": 0,
            "bidNotional": "0",
            "askNotional": "0",
            "updateTime": position.update_time,
        }

    def _totals(self, account: FuturesAccount) -> dict[str, str]:
        venue = self.venue
        marks, lasts = venue.marks, venue.lasts
        unrealized = account.unrealized(marks)
        cross_unrealized = account.unrealized(marks, cross_only=True)
        position_margin = account.position_margin(marks, cross_only=False)
        order_margin = account.open_order_margin(lasts)
        available = account.available(marks, lasts)
        return {
            "walletBalance": _r(account.wallet),
            "unrealizedProfit": _r(unrealized),
            "marginBalance": _r(account.wallet + unrealized),
            "maintMargin": _r(account.maintenance(marks, venue.contracts, cross_only=False)),
            "initialMargin": _r(position_margin + order_margin),
            "positionInitialMargin": _r(position_margin),
            "openOrderInitialMargin": _r(order_margin),
            "crossWalletBalance": _r(account.cross_wallet),
            "crossUnPnl": _r(cross_unrealized),
            "availableBalance": _r(available),
            "maxWithdrawAmount": _r(max(_ZERO, min(available, account.cross_wallet))),
        }

    # ---------------------------------------------------------------------- endpoints

    async def _balance(
        self, request: web.Request, api_key: str, params: dict[str, str]
    ) -> web.Response:
        with self.venue.lock:
            totals = self._totals(self.venue.account(api_key))
        row = {
            "accountAlias": "local",
            "asset": "USDT",
            "balance": totals["walletBalance"],
            "crossWalletBalance": totals["crossWalletBalance"],
            "crossUnPnl": totals["crossUnPnl"],
            "availableBalance": totals["availableBalance"],
            "maxWithdrawAmount": totals["maxWithdrawAmount"],
            "marginAvailable": True,
            "updateTime": self.now_ms(),
        }
        return web.json_response([row])

    def _account(self, api_key: str, *, v3: bool) -> dict[str, Any]:
        with self.venue.lock:
            account = self.venue.account(api_key)
            totals = self._totals(account)
            rows = [
                self._position_row(account, account.position(symbol))
                for symbol in self.venue.contracts
            ]
        if v3:
            rows = [r for r in rows if r["positionAmt"] != "0"]
        now = self.now_ms()
        asset = {"asset": "USDT", **totals, "marginAvailable": True, "updateTime": now}
        answer: dict[str, Any] = {
            f"total{k[0].upper()}{k[1:]}": v
            for k, v in totals.items()
            if k not in ("availableBalance", "maxWithdrawAmount", "unrealizedProfit")
        }
        answer |= {
            "totalUnrealizedProfit": totals["unrealizedProfit"],
            "availableBalance": totals["availableBalance"],
            "maxWithdrawAmount": totals["maxWithdrawAmount"],
            "assets": [asset],
            "positions": rows,
        }
        if not v3:
            answer |= {"feeTier": 0, "canTrade": True, "canDeposit": True, "canWithdraw": True,
                       "updateTime": 0, "multiAssetsMargin": False, "tradeGroupId": -1}  # fmt: skip
        return answer

    async def _account_v2(
        self, request: web.Request, api_key: str, params: dict[str, str]
    ) -> web.Response:
        return web.json_response(self._account(api_key, v3=False))

    async def _account_v3(
        self, request: web.Request, api_key: str, params: dict[str, str]
    ) -> web.Response:
        return web.json_response(self._account(api_key, v3=True))

    def _risk_rows(self, api_key: str, params: dict[str, str]) -> list[dict[str, Any]]:
        symbol = params.get("symbol")
        if symbol:
            self.venue.contract(symbol)
        with self.venue.lock:
            account = self.venue.account(api_key)
            return [
                self._position_row(account, account.position(s))
                for s in self.venue.contracts
                if not symbol or s == symbol
            ]

    async def _position_risk_v2(
        self, request: web.Request, api_key: str, params: dict[str, str]
    ) -> web.Response:
        return web.json_response(self._risk_rows(api_key, params))

    async def _position_risk_v3(
        self, request: web.Request, api_key: str, params: dict[str, str]
    ) -> web.Response:
        with self.venue.lock:
            busy = {o.symbol for o in self.venue.account(api_key).open_orders()}
        rows = [
            {
                k: v
                for k, v in r.items()
                if k not in ("leverage", "maxNotionalValue", "marginType", "isAutoAddMargin")
            }
            for r in self._risk_rows(api_key, params)
            if r["positionAmt"] != "0" or r["symbol"] in busy
        ]
        return web.json_response(rows)

    async def _income(
        self, request: web.Request, api_key: str, params: dict[str, str]
    ) -> web.Response:
        kind, symbol = params.get("incomeType"), params.get("symbol")
        if kind and kind not in _INCOME_TYPES:
            raise BinanceApiError(-1130, "Data sent for parameter 'incomeType' is not valid.")
        start, end = int_param(params, "startTime"), int_param(params, "endTime")
        limit = int_param(params, "limit") or 100
        if not 1 <= limit <= 1000:
            raise BinanceApiError(-1130, "Data sent for parameter 'limit' is not valid.")
        if start is None and end is None:
            start = self.now_ms() - _WEEK_MS
        rows = [
            income_json(e)
            for e in self.venue.income(api_key)
            if (not kind or e.type == kind)
            and (not symbol or e.symbol == symbol)
            and (start is None or e.time >= start)
            and (end is None or e.time <= end)
        ]
        return json_list(request, rows[:limit])
