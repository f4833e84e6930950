"""The look-ahead audit finds leaks and clears honest strategies."""

from __future__ import annotations

import numpy as np
import pytest

from quantkit import SeriesFeed, SmaCross, Strategy, SymbolData, audit_lookahead
from quantkit.errors import ConfigError
from tests.builders import make_series


def walk(n: int = 300, seed: int = 5) -> SeriesFeed:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    rows = [(c, c * 1.01, c * 0.99, c, 10.0) for c in close]
    return SeriesFeed(make_series(rows))


class PeeksAtTheNextClose(Strategy):
    """Deliberately leaking: reads the raw arrays behind the view, one bar ahead."""

    def on_bar(self, bar: SymbolData) -> None:
        future = bar._series.close
        i = bar.index
        if i + 1 < len(future) and future[i + 1] > bar.close[-1] and self.position().is_flat:
            self.buy(amount=1.0)
        elif i + 1 < len(future) and future[i + 1] < bar.close[-1] and not self.position().is_flat:
            self.close()


class CentredAverage(Strategy):
    """Deliberately leaking indicator: a centred moving average uses later bars."""

    def on_start(self) -> None:
        def centred(close: np.ndarray) -> np.ndarray:
            out = np.convolve(close, np.ones(5) / 5, mode="same")
            return out

        self.mid = self.I(centred, self.data.close)

    def on_bar(self, bar: SymbolData) -> None:
        if bar.close[-1] < self.mid[-1] and self.position().is_flat:
            self.buy(amount=1.0)


def test_shipped_strategy_passes() -> None:
    report = audit_lookahead(lambda: SmaCross(fast=5, slow=20), walk(), cutoffs=4)
    assert report.ok, str(report)
    assert report.decisions > 20 and len(report.cutoffs) == 4
    assert "no look-ahead found" in str(report)


def test_a_strategy_reading_ahead_is_caught() -> None:
    report = audit_lookahead(PeeksAtTheNextClose, walk(), cutoffs=3)
    assert not report.ok
    assert report.findings[0].kind == "order"
    assert "decision" in report.findings[0].detail
    assert "finding" in str(report)


def test_a_leaking_indicator_is_caught() -> None:
    report = audit_lookahead(CentredAverage, walk(), cutoffs=3)
    assert not report.ok
    (finding,) = report.findings
    assert finding.kind == "error" and "looks ahead" in finding.detail


def test_explicit_cutoffs_and_bad_cutoffs() -> None:
    report = audit_lookahead(lambda: SmaCross(fast=5, slow=20), walk(), cutoffs=[100, 200])
    assert report.ok and len(report.cutoffs) == 2
    with pytest.raises(ConfigError):
        audit_lookahead(SmaCross, walk(), cutoffs=0)
    with pytest.raises(ConfigError):
        audit_lookahead(SmaCross, walk(), cutoffs=[0])
