"""The fast path and the engine agree on margin runs: where the engine liquidates, the fast path
refuses the run instead of reporting equity below zero."""

from __future__ import annotations

import pytest

from quantkit.errors import ConfigError
from quantkit.vector.run import FastSettings, run_signals
from tests.vector.test_parity import Scripted, bars, both, engine_run

FLAT = [(100.0, 101.0, 99.0, 100.0)] * 3


def test_a_short_that_survives_the_spike_runs_both_ways() -> None:
    # a short of about all equity (10,000) from bar 3's open at 100: cash about 20,000, so
    # equity(p) = 20,000 - 100 p is zero near p = 200; a high of 150 leaves it alive
    series = bars([*FLAT, (100.0, 101.0, 99.0, 100.0), (100.0, 150.0, 99.0, 140.0)])
    options = {"allow_short": True, "leverage": 2.0}
    result, fast = both(series, Scripted(short_entries=(2,), size=1.0), **options)
    assert result.liquidations.empty
    assert fast.equity.iloc[-1] == pytest.approx(result.equity.iloc[-1])
    assert fast.equity.iloc[-1] > 0


def test_where_the_engine_liquidates_the_fast_path_refuses() -> None:
    # the same short, and a spike to 250 (above the zero-equity price near 200)
    series = bars([*FLAT, (100.0, 101.0, 99.0, 100.0), (100.0, 250.0, 99.0, 240.0)])
    settings = FastSettings(cash=10_000.0, allow_short=True, leverage=2.0)
    result = engine_run(series, Scripted(short_entries=(2,), size=1.0), settings)
    assert len(result.liquidations) == 1
    assert (result.equity >= 0).all() and result.equity.iloc[-1] == 0.0
    with pytest.raises(ConfigError, match=r"would reach zero inside bar 4.*run this on the Engine"):
        run_signals(Scripted(short_entries=(2,), size=1.0), series, settings=settings)
