"""Graceful shutdown of a live run on SIGINT / SIGTERM, in a real subprocess."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.sigint import INHERITED, preexec

SCRIPT = textwrap.dedent(
    """
    import sys
    from quantkit import Strategy
    from quantkit.brokers.paper import PaperBroker
    from quantkit.data.replay import ReplayStream
    from quantkit.engine.live import LiveEngine
    from quantkit.data.samples import sample_feed

    class RestingBid(Strategy):
        def on_bar(self, bar):
            if not self.open_orders():
                self.buy(amount=0.01, limit=bar.close[-1] * 0.5)  # far below: stays open
                print("READY", flush=True)

    engine = LiveEngine(
        stream=ReplayStream(sample_feed(), pace=0.05),
        strategy=RestingBid(),
        broker=PaperBroker(cash=10_000),
        warmup=10,
        cancel_on_shutdown=sys.argv[1] == "cancel",
    )
    summary = engine.run()
    print(summary, flush=True)
    """
)


@pytest.mark.parametrize("inherited", INHERITED)
@pytest.mark.parametrize(
    ("signum", "mode", "still_open"),
    [(signal.SIGTERM, "cancel", 0), (signal.SIGINT, "keep", 1)],
)
def test_signal_stops_the_run_gracefully(
    tmp_path: Path, signum: signal.Signals, mode: str, still_open: int, inherited: str
) -> None:
    """The engine installs its own handlers, so SIGINT works even when the child inherited it
    as ignored (a suite run in the background); READY is printed after they are in place."""
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    process = subprocess.Popen(
        [sys.executable, str(script), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=preexec(inherited),  # noqa: PLW1509 - sets one signal disposition, no locks
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # blocks until the first order is working
        assert line.strip() == "READY"
        process.send_signal(signum)
        out, err = process.communicate(timeout=60)  # bounds a hang only
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert f"stopped: signal {signum.name}" in out
    assert f"still open {still_open}" in out
    assert f"canceled {1 - still_open}" in out
