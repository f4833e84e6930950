"""Derivatives market data through ccxt: funding-rate history and mark/index price candles.

`CcxtDerivativesData` adds to the session what the data manager downloads for perpetuals
(`quantkit.data.perp_download`): ``fetch_funding_rates`` (ccxt's ``fetch_funding_rate_history``)
and ``fetch_price_ohlcv`` (ccxt's ``fetch_ohlcv`` with ``params={"price": "mark"}`` or
``"index"``, the call behind ``fetch_mark_ohlcv``/``fetch_index_ohlcv``). Answers are checked
and converted at this edge; a venue without the feature (ccxt's ``has``) is refused with
``reason="not_supported"``, which is how the downloads know to fall back to last prices.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from quantkit.data.funding import FundingRow
from quantkit.data.source import OhlcvRow
from quantkit.errors import DataError
from quantkit.exchanges.parse import parse_ohlcv
from quantkit.exchanges.session import CcxtSession

__all__ = ["DEFAULT_FUNDING_LIMIT", "CcxtDerivativesData", "parse_funding_rates"]

DEFAULT_FUNDING_LIMIT = 1000
"""Funding rates per request (Binance USD-M's maximum)."""

_PRICE_FEATURES = {"mark": "fetchMarkOHLCV", "index": "fetchIndexOHLCV"}


def _float(value: object, what: str, source: str, row: int) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise DataError(f"{what} {value!r} is not a number", source=source, row=row)
    try:
        number = float(value)
    except ValueError:
        raise DataError(f"{what} {value!r} is not a number", source=source, row=row) from None
    if not math.isfinite(number):
        raise DataError(f"{what} {value!r} is not finite", source=source, row=row)
    return number


def parse_funding_rates(rows: object, *, exchange: str, symbol: str) -> list[FundingRow]:
    """Check and convert ccxt's ``fetch_funding_rate_history`` answer.

    Args:
        rows: ccxt's funding-rate history structures (``timestamp``, ``fundingRate``, and
            ``info`` with the venue's ``markPrice`` where it sends one).
        exchange: The venue's id, for messages.
        symbol: The market's symbol, for messages.

    Returns:
        ``(time_ms, rate, mark_price or None)`` per rate, in the venue's order.

    Raises:
        DataError: If the answer is not a list of such structures.

    Examples:
        >>> parse_funding_rates([{"timestamp": 0, "fundingRate": 0.0001,
        ...                       "info": {"markPrice": "42000.5"}}], exchange="x", symbol="y")
        [(0, 0.0001, 42000.5)]
    """
    source = f"{exchange} {symbol} funding rates"
    if not isinstance(rows, list):
        kind = type(rows).__name__
        raise DataError(f"expected a list of funding rates, got {kind}", source=source)
    parsed: list[FundingRow] = []
    for position, row in enumerate(rows):
        if not isinstance(row, dict):
            raise DataError(f"funding rate {row!r} is not a structure", source=source, row=position)
        stamp = _float(row.get("timestamp"), "timestamp", source, position)
        rate = _float(row.get("fundingRate"), "funding rate", source, position)
        info = row.get("info")
        mark_text = info.get("markPrice") if isinstance(info, dict) else None
        mark = None if mark_text in (None, "") else _float(mark_text, "mark", source, position)
        parsed.append((int(stamp), rate, mark if mark else None))
    return parsed


class CcxtDerivativesData(CcxtSession):
    """Funding rates and mark/index candles of a ccxt venue (mixed into `CcxtExchange`)."""

    @property
    def funding_limit(self) -> int:
        """Funding rates asked per request."""
        return DEFAULT_FUNDING_LIMIT

    def offers_price(self, price: Literal["last", "mark", "index"]) -> bool:
        """Whether the venue serves candles of this price (ccxt's ``has``).

        Args:
            price: ``"last"``, ``"mark"`` or ``"index"``.

        Returns:
            ``True`` if it does.
        """
        return price == "last" or bool(self._has.get(_PRICE_FEATURES.get(price, "")))

    async def fetch_funding_rates(self, symbol: str, since_ms: int, limit: int) -> list[FundingRow]:
        """Funding rates of ``symbol`` at or after ``since_ms``, oldest first, at most ``limit``.

        Args:
            symbol: Unified symbol, e.g. ``"BTC/USDT:USDT"``.
            since_ms: Earliest funding time wanted (ms since the epoch, UTC).
            limit: Most rates wanted.

        Returns:
            ``(time_ms, rate, mark_price or None)`` tuples.

        Raises:
            ExchangeError: If the venue has no funding history (``"not_supported"``), does not
                list the symbol, or refused.
            TransientError: If the venue could not answer now.
            DataError: If the answer is malformed.
        """
        client = await self._ready()
        self._require(client, symbol, "fetchFundingRateHistory")
        with self._errors(client):
            rows = await client.fetch_funding_rate_history(symbol, since_ms, limit)
        return parse_funding_rates(rows, exchange=self._id, symbol=symbol)

    async def fetch_price_ohlcv(
        self,
        symbol: str,
        timeframe: str,
        since_ms: int,
        limit: int,
        price: Literal["last", "mark", "index"],
    ) -> list[OhlcvRow]:
        """Candles of the last, mark or index price opening at or after ``since_ms``.

        Args:
            symbol: Unified symbol.
            timeframe: One of `timeframes`.
            since_ms: Earliest open time wanted.
            limit: Most candles wanted.
            price: Which price.

        Returns:
            The candles (mark and index candles usually carry no volume: 0).

        Raises:
            ExchangeError: If the venue lacks candles of that price (``"not_supported"``),
                the timeframe or symbol is unknown, or the venue refused.
            TransientError: If the venue could not answer now.
            DataError: If the answer is malformed.
        """
        self._check_timeframe(timeframe)
        client = await self._ready()
        feature = _PRICE_FEATURES.get(price, "fetchOHLCV")
        self._require(client, symbol, feature)
        params: dict[str, Any] = {} if price == "last" else {"price": price}
        with self._errors(client):
            rows = await client.fetch_ohlcv(symbol, timeframe, since_ms, limit, params)
        return parse_ohlcv(rows, exchange=self._id, symbol=f"{symbol} {price}")
