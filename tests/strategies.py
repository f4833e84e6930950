"""Hypothesis strategies shared by the property tests (bars, order requests)."""

from __future__ import annotations

from hypothesis import strategies as st

from quantkit.domain.order import OrderRequest, OrderType, Side, TimeInForce

Row = tuple[float, float, float, float, float]

prices = st.floats(min_value=50.0, max_value=150.0, allow_nan=False, allow_infinity=False)
extents = st.floats(min_value=0.0, max_value=10.0, allow_nan=False, allow_infinity=False)


@st.composite
def bar_rows(draw: st.DrawFn, min_size: int = 2, max_size: int = 30) -> list[Row]:
    """Consistent OHLCV rows: high >= max(open, close), low <= min(open, close), all > 0."""
    size = draw(st.integers(min_size, max_size))
    rows: list[Row] = []
    for _ in range(size):
        o, c = draw(prices), draw(prices)
        h = max(o, c) + draw(extents)
        low = min(o, c) - draw(extents)
        v = draw(st.floats(min_value=0.0, max_value=50.0, allow_nan=False))
        rows.append((o, h, low, c, v))
    return rows


@st.composite
def order_requests(draw: st.DrawFn, symbol: str = "BTC/USDT") -> OrderRequest:
    """Random valid requests of every type, sized to sometimes exceed the account."""
    kind = draw(st.sampled_from(list(OrderType)))
    side = draw(st.sampled_from(list(Side)))
    limit = draw(prices) if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None
    stop = draw(prices) if kind in (OrderType.STOP, OrderType.STOP_LIMIT) else None
    use_cost = kind is OrderType.MARKET and draw(st.booleans())
    amount = None if use_cost else draw(st.floats(min_value=0.01, max_value=20.0))
    cost = draw(st.floats(min_value=10.0, max_value=3000.0)) if use_cost else None
    tif = draw(st.sampled_from(list(TimeInForce))) if kind is not OrderType.STOP else None
    bracket = draw(st.booleans()) and kind is not OrderType.STOP_LIMIT
    return OrderRequest(
        symbol,
        side,
        kind,
        amount=amount,
        cost=cost,
        limit_price=limit,
        stop_price=stop,
        time_in_force=tif or TimeInForce.GTC,
        reduce_only=draw(st.booleans()) if not bracket else False,
        stop_loss_pct=draw(st.floats(0.01, 0.3)) if bracket else None,
        take_profit_pct=draw(st.floats(0.01, 0.3)) if bracket else None,
    )
