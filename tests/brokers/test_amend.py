"""Amending orders: the live broker against the local exchange (real ccxt), paper, the default."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio
import pytest
from anyio.abc import TaskGroup

from quantkit.brokers.backtest import BacktestBroker
from quantkit.brokers.base import Broker
from quantkit.brokers.journal import replay
from quantkit.brokers.live import LiveBroker
from quantkit.brokers.paper import PaperBroker
from quantkit.domain.order import Order, OrderRequest, OrderStatus, OrderType, Side
from quantkit.domain.venue import VenueOrder
from quantkit.errors import ExchangeError, OrderError
from quantkit.exchanges import CcxtExchange
from quantkit.secrets import Credentials
from quantkit.testing import LOCAL_CCXT_OPTIONS, LocalExchange
from tests.brokers.test_live_broker import (
    KEY,
    SECRET,
    _Clock,
    broker_for,
    local_exchange,
    started,
    venue_for,
)
from tests.builders import make_series

SYM = "BTC/USDT"
REPLACE = "/api/v3/order/cancelReplace"


@pytest.fixture
async def local() -> AsyncIterator[LocalExchange]:
    async with local_exchange() as exchange:
        yield exchange


async def until(broker: LiveBroker, done: Callable[[], bool]) -> None:
    with anyio.fail_after(60):
        while not done():
            await broker.events_ready()


def price_of(local: LocalExchange) -> float:
    return float(local.accounts.price("BTCUSDT"))


async def resting_buy(broker: LiveBroker, local: LocalExchange, cid: str) -> Order:
    """A limit buy 10 % below the market, placed and acknowledged."""
    price = broker.market(SYM).round_price(price_of(local) * 0.9)
    request = OrderRequest(SYM, Side.BUY, OrderType.LIMIT, amount=0.01, limit_price=price)
    order = broker.submit(request, cid, price)
    await until(broker, lambda: order.status is not OrderStatus.NEW)
    assert order.status is OrderStatus.OPEN
    return order


async def with_resting_buy(
    venue: CcxtExchange, path: Path, tasks: TaskGroup, local: LocalExchange
) -> tuple[LiveBroker, Order]:
    """A started broker journaling to ``path`` and its resting buy ``qk-test-000001``."""
    broker = await started(broker_for(venue, path), tasks, local)
    return broker, await resting_buy(broker, local, "qk-test-000001")


def amended(order: Order, price: float, amount: float) -> OrderRequest:
    return OrderRequest(
        SYM, order.side, OrderType.LIMIT, amount=amount, limit_price=price, tag=order.request.tag
    )


class NoEditVenue(CcxtExchange):
    """The real adapter, as for a venue whose ccxt class has no editOrder."""

    async def edit_order(
        self,
        client_id: str,
        symbol: str,
        request: OrderRequest,
        *,
        new_client_id: str,
        exchange_id: str = "",
    ) -> VenueOrder:
        raise ExchangeError("no editOrder", exchange=self.id, reason="not_supported")


@pytest.mark.anyio
async def test_live_amend_uses_cancel_replace_and_account_and_journal_agree(
    local: LocalExchange, tmp_path: Path
) -> None:
    path = tmp_path / "j.jsonl"
    async with venue_for(local) as venue, anyio.create_task_group() as tasks:
        broker, order = await with_resting_buy(venue, path, tasks, local)
        price = broker.market(SYM).round_price(price_of(local) * 0.8)
        new = broker.amend(order, amended(order, price, 0.02), "qk-test-000002", price)
        assert new is not order and new.status is OrderStatus.NEW and new.amount == 0.02
        await until(broker, lambda: new.status is not OrderStatus.NEW and not order.is_active)
        assert new.status is OrderStatus.OPEN
        assert order.status is OrderStatus.CANCELED and order.reason == "replaced by qk-test-000002"
        assert [o.client_id for o in broker.open_orders()] == ["qk-test-000002"]
        await broker.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    assert len(local.requests(REPLACE)) == 1
    assert not [r for r in local.requests("/api/v3/order") if r.method == "DELETE"]
    on_venue = {o.client_id: o for o in local.accounts.orders(KEY)}
    assert on_venue["qk-test-000001"].status == "CANCELED"
    replacement = on_venue["qk-test-000002"]
    assert (replacement.status, float(replacement.qty)) == ("NEW", 0.02)
    assert float(replacement.price) == pytest.approx(price)
    free, locked = local.accounts.balances(KEY)["USDT"]
    assert float(locked) == pytest.approx(0.02 * price)
    assert broker.portfolio.balance == pytest.approx(float(free + locked))
    state = replay(path)
    assert state.orders["qk-test-000001"].status is OrderStatus.CANCELED
    assert state.orders["qk-test-000002"].status is OrderStatus.OPEN
    assert state.orders["qk-test-000002"].exchange_id == str(replacement.order_id)
    kinds = [r.kind for r in broker.journal.records()]
    assert kinds.index("amend") < kinds.index("intent", kinds.index("amend"))

    # a restart adopts the replacement and leaves the replaced order closed
    async with venue_for(local) as venue, anyio.create_task_group() as tasks:
        again = await started(broker_for(venue, path), tasks, local)
        assert [o.client_id for o in again.open_orders()] == ["qk-test-000002"]
        await again.ashutdown(cancel_open=True)
        tasks.cancel_scope.cancel()
    assert {o.status for o in local.accounts.orders(KEY)} == {"CANCELED"}


@pytest.mark.anyio
async def test_live_amend_without_edit_cancels_then_places_the_rest(
    local: LocalExchange, tmp_path: Path
) -> None:
    venue = NoEditVenue(
        "binance",
        credentials=Credentials(exchange="binance", api_key=KEY, secret=SECRET),
        api_url=local.url,
        options=LOCAL_CCXT_OPTIONS,
        rate_limit=False,
    )
    async with venue, anyio.create_task_group() as tasks:
        broker, order = await with_resting_buy(venue, tmp_path / "j.jsonl", tasks, local)
        price = broker.market(SYM).round_price(price_of(local) * 0.85)
        new = broker.amend(order, amended(order, price, 0.03), "qk-test-000002", price)
        await until(broker, lambda: new.status is not OrderStatus.NEW and not order.is_active)
        assert new.status is OrderStatus.OPEN and order.reason == "replaced by qk-test-000002"
        await broker.ashutdown(cancel_open=True)
        tasks.cancel_scope.cancel()
    assert not local.requests(REPLACE)
    methods = [r.method for r in local.requests("/api/v3/order") if r.method != "GET"]
    assert methods == ["POST", "DELETE", "POST", "DELETE"]
    on_venue = {o.client_id: o for o in local.accounts.orders(KEY)}
    assert float(on_venue["qk-test-000002"].qty) == 0.03


@pytest.mark.anyio
async def test_live_amend_whose_answer_was_lost_is_found_by_client_id(
    local: LocalExchange, tmp_path: Path
) -> None:
    async with venue_for(local) as venue, anyio.create_task_group() as tasks:
        broker, order = await with_resting_buy(venue, tmp_path / "j.jsonl", tasks, local)
        local.faults.accept_then_fail(REPLACE, status=503)
        price = broker.market(SYM).round_price(price_of(local) * 0.8)
        new = broker.amend(order, amended(order, price, 0.01), "qk-test-000002", price)
        await until(broker, lambda: new.status is not OrderStatus.NEW and not order.is_active)
        assert new.status is OrderStatus.OPEN and order.status is OrderStatus.CANCELED
        await broker.ashutdown(cancel_open=True)
        tasks.cancel_scope.cancel()
    assert len(local.requests(REPLACE)) == 1  # found by client id, not sent again


@pytest.mark.anyio
async def test_live_amend_refusals_leave_the_order_alone(
    local: LocalExchange, tmp_path: Path
) -> None:
    async with venue_for(local) as venue, anyio.create_task_group() as tasks:
        broker, order = await with_resting_buy(venue, tmp_path / "j.jsonl", tasks, local)
        price = order.request.limit_price or 0.0
        tiny = broker.amend(order, amended(order, price, 1e-9), "qk-test-000002", price)
        assert tiny.status is OrderStatus.REJECTED and "minimum" in tiny.reason
        with pytest.raises(OrderError, match="only the price and amount"):
            broker.amend(order, OrderRequest(SYM, Side.SELL, amount=1.0), "qk-x", price)
        # canceled on the venue behind the broker's back: the venue refuses the edit
        (venue_order,) = local.accounts.orders(KEY)
        local.accounts.cancel(KEY, venue_order, now=0)
        late = broker.amend(order, amended(order, price, 0.02), "qk-test-000003", price)
        await until(broker, lambda: late.status is not OrderStatus.NEW and not order.is_active)
        assert late.status is OrderStatus.REJECTED and "refused by the venue" in late.reason
        assert order.status is OrderStatus.CANCELED
        ended = broker.amend(order, amended(order, price, 0.02), "qk-test-000004", price)
        assert ended.status is OrderStatus.REJECTED and "the order is canceled" in ended.reason
        await broker.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    state = replay(tmp_path / "j.jsonl")
    assert state.orders["qk-test-000003"].status is OrderStatus.REJECTED


@pytest.mark.anyio
async def test_live_amend_retries_transient_failures_and_gives_up_on_silence(
    local: LocalExchange, tmp_path: Path
) -> None:
    async with venue_for(local) as venue, anyio.create_task_group() as tasks:
        broker, order = await with_resting_buy(venue, tmp_path / "j.jsonl", tasks, local)
        price = order.request.limit_price or 0.0
        local.faults.rate_limit(REPLACE, times=1, retry_after=0.01)
        new = broker.amend(order, amended(order, price, 0.02), "qk-test-000002", price)
        await until(broker, lambda: new.status is not OrderStatus.NEW and not order.is_active)
        assert new.status is OrderStatus.OPEN
        local.faults.fail(REPLACE, status=500, times=100)  # outcome unknown, and nothing to find
        lost = broker.amend(new, amended(new, price, 0.03), "qk-test-000003", price)
        await until(broker, lambda: lost.status is not OrderStatus.NEW)
        assert lost.status is OrderStatus.REJECTED and lost.reason.startswith("never placed")
        assert new.status is OrderStatus.OPEN  # still the working order
        await broker.ashutdown(cancel_open=True)
        tasks.cancel_scope.cancel()
    assert len(local.requests(REPLACE)) == 2 + 1  # a 500 is not retried: it may have acted


@pytest.mark.anyio
async def test_a_second_amend_of_an_order_already_replaced_is_refused(
    local: LocalExchange, tmp_path: Path
) -> None:
    async with venue_for(local) as venue, anyio.create_task_group() as tasks:
        broker, order = await with_resting_buy(venue, tmp_path / "j.jsonl", tasks, local)
        price = order.request.limit_price or 0.0
        first = broker.amend(order, amended(order, price, 0.02), "qk-test-000002", price)
        second = broker.amend(order, amended(order, price, 0.03), "qk-test-000003", price)
        await until(broker, lambda: second.status is not OrderStatus.NEW)
        assert first.status is OrderStatus.OPEN
        assert second.status is OrderStatus.REJECTED and "the order is canceled" in second.reason
        await broker.ashutdown(cancel_open=True)
        tasks.cancel_scope.cancel()


# -- paper latency and the Broker default -------------------------------------------------------


def _prepared(broker: Broker) -> Broker:
    rows = [(100.0, 101.0, 99.0, 100.0, 1e6)] * 3
    broker.prepare({SYM: make_series(rows)}, _Clock())
    return broker


def test_paper_amends_an_order_still_in_flight() -> None:
    broker = PaperBroker(latency=7200.0)  # two hourly bars on the way
    _prepared(broker)
    request = OrderRequest(SYM, Side.BUY, OrderType.LIMIT, amount=1.0, limit_price=90.0)
    order = broker.submit(request, "qk-1", 100.0)
    new = broker.amend(
        order, OrderRequest(SYM, Side.BUY, OrderType.LIMIT, 2.0, limit_price=95.0), "qk-2", 100.0
    )
    assert new is order and order.amount == 2.0 and broker.events[-1] is order
    market = OrderRequest(SYM, Side.BUY, amount=1.0)
    flying = broker.submit(market, "qk-3", 100.0)
    refused = broker.amend(flying, OrderRequest(SYM, Side.BUY, amount=2.0), "qk-4", 100.0)
    assert refused.status is OrderStatus.REJECTED and "only limit and stop" in refused.reason


class ReplacingBroker(BacktestBroker):
    """A broker that keeps the Broker default: cancel, then submit the rest."""

    def amend(self, order: Order, request: OrderRequest, client_id: str, price: float) -> Order:
        return Broker.amend(self, order, request, client_id, price)


def test_the_default_amend_cancels_and_submits_the_rest() -> None:
    broker = _prepared(ReplacingBroker())
    request = OrderRequest(SYM, Side.BUY, OrderType.LIMIT, amount=1.0, limit_price=90.0)
    order = broker.submit(request, "qk-1", 100.0)
    order.filled = 0.25  # (as if a quarter had filled)
    new = broker.amend(
        order, OrderRequest(SYM, Side.BUY, OrderType.LIMIT, 2.0, limit_price=95.0), "qk-2", 100.0
    )
    assert new is not order and new.client_id == "qk-2" and new.amount == 1.75
    assert order.status is OrderStatus.CANCELED and new.status is OrderStatus.OPEN
    refused = broker.amend(
        order, OrderRequest(SYM, Side.BUY, OrderType.LIMIT, 2.0, limit_price=95.0), "qk-3", 100.0
    )
    assert refused.status is OrderStatus.REJECTED and broker.events[-1] is refused
