"""The peers' trade-equality checker catches every kind of mismatch (no peer library needed)."""

from __future__ import annotations

import math

import pytest
from benchmarks.peers.check import PeerMismatchError, RunSummary, Tolerance, check_same_trades

QUANTKIT = [RunSummary(trades=188, final_equity=68_247.482216), RunSummary(0, 100_000.0)]
TIGHT = Tolerance(equity_rel=1e-6)


def test_the_same_trades_pass() -> None:
    # 68,247.482216 x 1e-6 = 0.068: a 0.05 gap is inside, and an exact copy passes too
    check_same_trades("w / peer", QUANTKIT, list(QUANTKIT), TIGHT)
    check_same_trades("w / peer", QUANTKIT, [RunSummary(188, 68_247.532216), QUANTKIT[1]], TIGHT)


def test_one_trade_more_fails_naming_the_run() -> None:
    peer = [QUANTKIT[0], RunSummary(1, 100_000.0)]
    with pytest.raises(
        PeerMismatchError, match=r"w / peer, run 1: 1 closed trades, quantkit has 0"
    ):
        check_same_trades("w / peer", QUANTKIT, peer, TIGHT)


def test_equity_past_the_tolerance_fails() -> None:
    # 0.08 / 68,247.48 = 1.17e-6 > 1e-6
    peer = [RunSummary(188, 68_247.562216), QUANTKIT[1]]
    message = r"run 0: final equity 68247\.6, .*relative 1\.17e-06"
    with pytest.raises(PeerMismatchError, match=message):
        check_same_trades("w / peer", QUANTKIT, peer, TIGHT)


def test_a_looser_stated_tolerance_accepts_the_same_gap() -> None:
    peer = [RunSummary(188, 68_247.562216), QUANTKIT[1]]
    check_same_trades("w / peer", QUANTKIT, peer, Tolerance(2e-6, why="whole units"))


@pytest.mark.parametrize("equity", [math.nan, math.inf])
def test_equity_that_is_not_a_number_fails(equity: float) -> None:
    peer = [RunSummary(188, equity), QUANTKIT[1]]
    with pytest.raises(PeerMismatchError, match="final equity is"):
        check_same_trades("w / peer", QUANTKIT, peer, TIGHT)


def test_a_missing_combination_fails() -> None:
    with pytest.raises(PeerMismatchError, match="1 runs, quantkit has 2"):
        check_same_trades("sweep / peer", QUANTKIT, QUANTKIT[:1], TIGHT)


def test_a_mismatch_is_an_assertion_error() -> None:
    assert issubclass(PeerMismatchError, AssertionError)


def test_the_absolute_floor_accepts_noise_around_a_ruined_account() -> None:
    # fees ate the equity to 4e-13; a peer's -1.5e-11 is float noise on 100,000 of bookkeeping
    ruined = [RunSummary(19_597, 3.9566e-13)]
    floor = Tolerance(1e-9, equity_abs=1e-4)
    check_same_trades("w / peer", ruined, [RunSummary(19_597, -1.5e-11)], floor)
    with pytest.raises(PeerMismatchError, match=r"gap 1\.00e-03"):
        check_same_trades("w / peer", ruined, [RunSummary(19_597, 1e-3)], floor)
    with pytest.raises(PeerMismatchError, match="relative"):  # no floor: relative only
        check_same_trades("w / peer", ruined, [RunSummary(19_597, -1.5e-11)], TIGHT)
