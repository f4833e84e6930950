"""The chaos run's live trader, forked from a preloaded fork server so a restart costs no imports.

Each child is a real process (``multiprocessing``'s ``forkserver`` context: a clean server
process that imported quantkit and ccxt once forks every child), killed with SIGKILL like any
other. It reports ``READY`` (warmed up), ``BAR n`` per bar and ``SUMMARY cash position`` at the
end over a pipe, and writes its log to a file.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest

KEY, SECRET = "chaos-key", "chaos-secret"
WARMUP = 20
LINE_TIMEOUT_S = 60.0
_PRELOAD = [
    "quantkit",
    "quantkit.brokers.live",
    "quantkit.data.live",
    "quantkit.engine.live",
    "quantkit.exchanges",
    "ccxt.async_support",
    "tests.chaos.chaos_child",
]


def _context() -> Any:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    return context


def with_brackets(strategy: Any, step: int, price: float, resting: list[Any]) -> None:
    """The bracket variant's bar: a bracketed resting buy just below the close (it fills in
    parts as the price walks), its cancel, and a market buy or a sell of the whole position."""
    if step in (1, 2) and not resting:
        strategy.buy(amount=0.01, limit=round(price * 0.999, 2), sl_pct=0.05, tp_pct=0.05)
    elif step == 3 and resting:
        strategy.cancel(resting[0])
    elif step == 0:  # the sell cancels the lists first (the broker parks it)
        if strategy.position().amount >= 0.002:
            strategy.sell(amount=strategy.position().amount)
        else:
            strategy.buy(amount=0.01, sl_pct=0.05, tp_pct=0.05)


def run_child(
    url: str, journal: str, max_bars: int, out: Connection, log: str, brackets: bool = False
) -> None:
    """The child's main: trade until ``max_bars`` bars or until killed.

    With ``brackets`` every buy carries a 5 % stop-loss and take-profit (a venue OCO list per
    part), the resting buy sits at the close (so it fills in parts as the price walks) and is
    not amended, and the run leaves its lists on the venue when it ends (the parent checks
    them).
    """
    descriptor = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(descriptor, 2)
    from quantkit import Strategy
    from quantkit.brokers.live import LiveBroker
    from quantkit.brokers.live_reconcile import LiveSafety
    from quantkit.data.fetch import RetryPolicy
    from quantkit.data.live import LiveBarStream
    from quantkit.engine.live import LiveEngine
    from quantkit.exchanges import CcxtExchange
    from quantkit.secrets import Credentials
    from quantkit.testing import LOCAL_CCXT_OPTIONS

    class Cycle(Strategy):
        """Market buys and sells, a resting limit it amends (cancelReplace) and cancels."""

        persistent = ("bars",)

        def on_start(self) -> None:
            self.bars = 0
            out.send("READY")  # warmed up: the parent may publish

        def on_bar(self, bar: Any) -> None:
            self.bars += 1
            price = bar.price
            resting = [
                o
                for o in self.open_orders()
                if o.request.limit_price and o.request.tag not in ("take_profit", "stop_loss")
            ]
            step = self.bars % 4
            if brackets:
                with_brackets(self, step, price, resting)
            elif step == 1 and not resting:
                self.buy(amount=0.01, limit=round(price * 0.9, 2))
            elif step == 2 and resting:
                self.amend(resting[0], price=round(price * 0.8, 2))
            elif step == 3 and resting:
                self.cancel(resting[0])
            elif step == 0 and not self.open_orders():
                if self.position().amount >= 0.002:
                    self.sell(amount=self.position().amount)
                else:
                    self.buy(amount=0.01)
            out.send(f"BAR {self.bars}")

    venue = CcxtExchange(
        "binance",
        credentials=Credentials(exchange="binance", api_key=KEY, secret=SECRET),
        api_url=url,
        options=LOCAL_CCXT_OPTIONS,
        rate_limit=False,
        timeout=0.75,
    )
    retry = RetryPolicy(max_attempts=6, base_delay=0.02, max_delay=0.2, jitter=0.0)
    engine = LiveEngine(
        stream=LiveBarStream(venue, ["BTC/USDT"], "1m", websocket=False, poll_interval=0.05),
        strategy=Cycle(),
        broker=LiveBroker(
            venue,
            journal=journal,
            run_id="chaos",
            confirm_live=True,
            retry=retry,
            poll_interval=0.1,
            # past the chaos faults' latest -1007 execution (3 s), far below the 60 s default
            safety=LiveSafety(unknown_deadline=4.0, shutdown_deadline=10.0),
        ),
        warmup=WARMUP,
        run_id="chaos",
        max_bars=max_bars,
        handle_signals=False,
        cancel_on_shutdown=not brackets,
    )
    summary = engine.run()
    out.send(f"SUMMARY {summary.cash!r} {summary.positions.get('BTC/USDT', 0.0)!r}")


class ForkedChild:
    """One forked live run, read message by message with a deadline.

    Args:
        url: The local exchange's URL.
        journal: The journal's path.
        max_bars: Bars after which the run ends by itself.
        log: File the child's log (stderr) is appended to.
        brackets: Whether the child's buys carry brackets (see `run_child`).
    """

    def __init__(
        self, url: str, journal: Path, max_bars: int, log: Path, *, brackets: bool = False
    ) -> None:
        context = _context()
        self.log = log
        self._lines, sender = context.Pipe(duplex=False)
        self.process = context.Process(
            target=run_child,
            args=(url, str(journal), max_bars, sender, str(log), brackets),
            daemon=True,
        )
        self.process.start()
        sender.close()  # the child holds the only writer: its death ends the pipe

    def next_line(self) -> str | None:
        """The next message, or ``None`` once the child is gone."""
        if not self._lines.poll(LINE_TIMEOUT_S):
            pytest.fail(f"the child said nothing for {LINE_TIMEOUT_S:g}s; {self.tail()}")
        try:
            line: str = self._lines.recv()
        except EOFError:
            return None
        return line

    def until(self, prefix: str) -> str | None:
        """Read up to the next message starting with ``prefix``; ``None`` if the child ended."""
        while (line := self.next_line()) is not None:
            if line.startswith(prefix):
                return line
        return None

    def kill(self) -> bool:
        """SIGKILL the child; return whether it was still running (else it had crashed)."""
        alive = self.process.is_alive()
        if alive and self.process.pid is not None:
            os.kill(self.process.pid, signal.SIGKILL)
        return alive and self.finish() == -signal.SIGKILL

    def finish(self, timeout: float = 60.0) -> int | None:
        """Wait for the child to end; return its exit code (``-9`` when killed)."""
        self.process.join(timeout)
        self._lines.close()
        code = self.process.exitcode
        self.process.close()
        return code

    def tail(self) -> str:
        """The end of the child's log, for failure messages."""
        return "log tail: " + self.log.read_text(errors="replace")[-3000:]
