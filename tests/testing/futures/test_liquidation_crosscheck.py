"""quantkit's simulated liquidation checked against the venue model's, in every bracket.

The same position (size, side, leverage, margin mode) is opened at 40,000 on quantkit's
`PerpetualExchange` and on the local venue's independent `FuturesAccounts`, then both follow
the same mark path: quantkit reads it as mark bars, the venue as mark moves (open, the
adverse extreme, close). Both must liquidate at the same bar and leave the same wallet: the
position closed at its liquidation price with the clearance fee taken from the margin left
there, never more (so a high bracket, whose maintenance rate passes the 1.25 % fee, keeps the
difference, and a low one loses its whole margin). A leverage change drawn between the open
and the path must be accepted or refused alike by `leverage_refusal` and the venue's
``POST /fapi/v1/leverage`` rules, and leave the same liquidation behind.
"""

from __future__ import annotations

import math
from decimal import Decimal

from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from quantkit.brokers.perpetual_setup import futures_account
from quantkit.brokers.settings import SimSettings
from quantkit.domain.futures_portfolio import FuturesPortfolio
from quantkit.domain.leverage_change import apply_leverage, leverage_refusal
from quantkit.domain.market import Market
from quantkit.domain.order import OrderRequest, OrderType, Side
from quantkit.domain.perpetual import PerpetualSpec, brackets_with_cum
from quantkit.sim.perpetual import PerpetualExchange
from quantkit.testing.futures.accounts import FuturesAccounts
from quantkit.testing.futures.accounts import OrderRequest as VenueOrder
from quantkit.testing.futures.brackets import DEFAULT_BRACKETS
from quantkit.testing.futures.contracts import ContractRules
from quantkit.testing.futures.orders import VenueRejectionError

BTC, SYM = "BTCUSDT", "BTC/USDT:USDT"
ENTRY = 40_000.0
T0, HOUR = 1_700_000_000_000_000_000, 3_600_000_000_000
ROWS = [
    (float(b.floor), float(b.cap or math.inf), float(b.max_leverage), float(b.mmr))
    for b in DEFAULT_BRACKETS.brackets
]
SPEC = PerpetualSpec("USDT", brackets=brackets_with_cum(ROWS))
PERP = Market(SYM, "BTC", "USDT", maker_fee=0.0, taker_fee=0.0, perpetual=SPEC)
Bar = tuple[float, float, float, float]


def simulated(
    size: float, leverage: int, mode: str, wallet: float, path: list[Bar], change: int = 0
) -> tuple:
    """quantkit's simulator: the leverage change's fate, the liquidation bar, the wallet."""
    cash = wallet
    config = SimSettings(cash=cash, markets={SYM: PERP}, leverage=leverage, margin_mode=mode)  # type: ignore[arg-type]
    account = futures_account(config, cash)
    assert isinstance(account, FuturesPortfolio)
    ex = PerpetualExchange({SYM: PERP}, account)
    side = Side.BUY if size > 0 else Side.SELL
    ex.submit(OrderRequest(SYM, side, OrderType.MARKET, amount=abs(size)), T0, ENTRY)
    ex.process_bar(SYM, T0, ENTRY, ENTRY, ENTRY, ENTRY, 1e12)
    assert account.position(SYM).amount == size
    accepted = None
    if change:
        accepted = not leverage_refusal(account, SYM, float(change))
        if accepted:
            apply_leverage(account, SYM, float(change))
    for k, mark in enumerate(path, start=1):
        ex.set_mark(SYM, *mark)
        ex.process_bar(SYM, T0 + k * HOUR, *mark, 1e12)
        if ex.liquidations:
            return accepted, k, account.wallet_balance()
    return accepted, None, account.wallet_balance()


def on_the_venue(
    size: float, leverage: int, mode: str, wallet: float, path: list[Bar], change: int = 0
) -> tuple:
    """The venue model: the same, with the mark moved to each bar's open, adverse end, close."""
    rules = ContractRules(BTC, max_qty=Decimal(100_000), market_max_qty=Decimal(100_000))
    venue = FuturesAccounts([rules], {"k": ("s", Decimal(repr(wallet)))}, {BTC: ENTRY})
    account = venue.account("k")
    account.maker = account.taker = Decimal(0)
    venue.set_leverage("k", BTC, leverage, now=1)
    if mode == "isolated":
        venue.set_margin_type("k", BTC, "ISOLATED", now=1)
    side = "BUY" if size > 0 else "SELL"
    venue.place("k", VenueOrder(BTC, side, "MARKET", Decimal(repr(abs(size)))), now=2)
    assert account.position(BTC).amount == Decimal(repr(size))
    accepted = None
    if change:
        try:
            venue.set_leverage("k", BTC, change, now=2)
            accepted = True
        except VenueRejectionError:
            accepted = False
    for k, (open_, high, low, close) in enumerate(path, start=1):
        for mark in (open_, low if size > 0 else high, close):
            venue.move(BTC, mark=Decimal(repr(mark)), now=2 + k)
        if not account.position(BTC).amount:
            return accepted, k, float(account.wallet)
    return accepted, None, float(account.wallet)


def _max_leverage(notional: float) -> int:
    return int(SPEC.bracket(notional).max_leverage)


moves = st.lists(
    st.tuples(st.floats(-0.05, 0.05), st.floats(0.0, 0.05), st.floats(0.0, 0.05), st.floats(0, 1)),
    min_size=1,
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(
    size=st.decimals(Decimal("0.1"), Decimal(3_000), places=3).map(float),
    long=st.booleans(),
    leverage_share=st.floats(0.0, 1.0),
    mode=st.sampled_from(["isolated", "cross"]),
    spare=st.floats(0.0, 1.0),
    moves=moves,
    change=st.one_of(st.just(0), st.integers(1, 125)),
)
def test_the_same_mark_path_liquidates_at_the_same_bar_with_the_same_wallet(
    size: float,
    long: bool,
    leverage_share: float,
    mode: str,
    spare: float,
    moves: list[tuple[float, float, float, float]],
    change: int,
) -> None:
    """With a leverage change (or none) after the open: accepted or refused alike, too."""
    notional = size * ENTRY
    # the venue lets a leverage reach a bracket's cap exactly, quantkit's check_fill does not
    assume(not change or all(notional != float(b.cap or 0) for b in DEFAULT_BRACKETS.brackets))
    leverage = max(1, round(_max_leverage(notional) * leverage_share))
    wallet = math.ceil(notional / leverage * (1 + spare) * 100) / 100  # up to twice the margin
    price, path = ENTRY, []
    direction = -1.0 if long else 1.0  # drift against the position, most of the time
    scale = 12.0 / leverage  # moves in units of the margin's reach: every bracket liquidates
    for drift, up, down, where in moves:
        open_ = price * (1 + scale * (direction * abs(drift) * 0.5 + drift * 0.5))
        high, low = open_ * (1 + scale * up), open_ * (1 - scale * down)
        close = low + (high - low) * where
        path.append((open_, high, low, close))
        price = close
    signed = size if long else -size
    ours = simulated(signed, leverage, mode, wallet, path, change)
    venue = on_the_venue(signed, leverage, mode, wallet, path, change)
    assert ours[:2] == venue[:2], (ours, venue)
    level = next(b.level for b in DEFAULT_BRACKETS.brackets if b.cap is None or notional < b.cap)
    event(f"liquidated: {ours[1] is not None}, level at entry: {min(level, 4)}+, {mode}")
    event(f"leverage change: {ours[0]}")
    # the venue books to 8 decimals: a few units of 1e-8 per BTC
    assert math.isclose(ours[2], venue[2], rel_tol=1e-9, abs_tol=1e-4 * max(1.0, size)), (
        ours,
        venue,
    )


def test_a_high_bracket_keeps_what_the_clearance_fee_leaves_in_both() -> None:
    # 100 BTC long at 20x isolated: 4,000,000 notional, level 4 (2.5 %, cum 16,300); by hand
    # the liquidation price is (200,000 + 16,300 - 4,000,000) / (100 x (0.025 - 1)) =
    # 38,807.179487..., the margin left there 2.5 % x 3,880,717.95 - 16,300 = 80,717.95 and
    # the fee 1.25 % x 3,880,717.95 = 48,508.97: the account keeps 32,208.97 of its 200,000
    path = [(39_000.0, 39_000.0, 38_000.0, 38_500.0)]
    lp = (200_000 + 16_300 - 4_000_000) / (100 * (0.025 - 1))
    kept = (0.025 * 100 * lp - 16_300) - 0.0125 * 100 * lp
    assert round(kept, 2) == 32_208.97
    for run in (simulated, on_the_venue):
        _, bar, wallet = run(100.0, 20, "isolated", 1_000_000.0, path)
        assert bar == 1
        assert math.isclose(wallet, 1_000_000 - 200_000 + kept, abs_tol=1e-5), (run, wallet)
