"""The command line's exit status when a live run left orders on the venue (issue 11 item 4)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from quantkit.cli import OrdersLeftError, _run_built
from quantkit.engine.live import LiveSummary


def summary(left: tuple[str, ...]) -> LiveSummary:
    return LiveSummary(
        run_id="r",
        stop_reason="signal SIGTERM",
        bars=3,
        orders=2,
        fills=1,
        rejected=0,
        canceled=0,
        open_orders=len(left),
        cash=100.0,
        equity=100.0,
        left_on_venue=left,
    )


def built(result: LiveSummary) -> SimpleNamespace:
    """What `build_run` returns, reduced to what `_run_built` reads."""
    output = SimpleNamespace(report=None)
    return SimpleNamespace(
        engine=SimpleNamespace(run=lambda: result), config=SimpleNamespace(output=output)
    )


def test_orders_left_on_the_venue_give_exit_status_3_and_are_named(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(OrdersLeftError) as raised:
        _run_built(built(summary(("qk1-000007", "qk1-000009"))), None)
    assert raised.value.exit_code == 3
    assert "qk1-000007, qk1-000009" in raised.value.message
    assert "ORDERS LEFT ON THE VENUE: qk1-000007, qk1-000009" in capsys.readouterr().out


def test_a_clean_stop_exits_normally(capsys: pytest.CaptureFixture[str]) -> None:
    _run_built(built(summary(())), None)
    assert "LEFT" not in capsys.readouterr().out
