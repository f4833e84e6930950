"""A live session with every logger at DEBUG and rich tracebacks with locals leaks no secret.

The session runs in a child process so that everything it writes can be read: stdout, stderr
(structlog's JSON lines, every stdlib logger through the root handler, rich tracebacks with
their locals, ``traceback.TracebackException(capture_locals=True)``), a plain
``logging.FileHandler`` added by the "user" on top, the order journal and the event tape. It
provokes an authentication failure, a venue refusal, a persistent -1021, a venue outage and,
at the end, a strategy exception that escapes to rich's excepthook. Then every output is
scanned for the key and the secrets, plain and in their obvious encodings.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import textwrap
import time
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq

from quantkit.testing import LocalExchange

KEY = "leak-key-Q7f2+ab/9"
SECRET = "leak-secret-Zx81/cd+e=="
WRONG = "wrong-secret-Ma5%3Dq"

CHILD = textwrap.dedent(
    """
    import json, logging, sys, traceback
    from pathlib import Path

    import anyio
    import rich.traceback
    from rich.console import Console

    from quantkit import Strategy
    from quantkit.brokers.live import LiveBroker
    from quantkit.data.live import LiveBarStream
    from quantkit.domain.order import OrderRequest, OrderType, Side
    from quantkit.engine.live import LiveEngine
    from quantkit.engine.tape import EventTape
    from quantkit.exchanges import CcxtExchange
    from quantkit.log import configure_logging
    from quantkit.secrets import load_credentials

    URL, OUT = sys.argv[1], Path(sys.argv[2])
    console = Console(file=sys.stderr, width=200)
    rich.traceback.install(console=console, show_locals=True, width=200, extra_lines=0)
    configure_logging(level="debug", json=True)
    user_file = logging.FileHandler(OUT / "user.log")  # a handler of the user's own
    user_file.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(user_file)
    log = logging.getLogger("leak.test")
    keys = load_credentials("binance", dotenv=None)  # QUANTKIT_BINANCE_API_KEY / _SECRET
    wrong_keys = load_credentials("binance", prefix="WRONG", dotenv=None)

    def show(exc):
        console.print(rich.traceback.Traceback.from_exception(
            type(exc), exc, exc.__traceback__, show_locals=True, width=200, extra_lines=0))
        shown = traceback.TracebackException.from_exception(exc, capture_locals=True)
        print("".join(shown.format()))
        log.exception("provoked: %s", exc)

    class Trader(Strategy):
        def on_start(self):
            self.bars = 0
        def on_bar(self, bar):
            self.bars += 1
            self.buy(amount=0.01)
            if self.bars == 3:
                raise RuntimeError("strategy failed on purpose")

    async def provoke(venue):
        # the parent planned: /api/v3/account refused twice with -1021, /api/v3/openOrders 503
        too_big = OrderRequest("BTC/USDT", Side.BUY, OrderType.MARKET, 1000.0)
        for call in (venue.balances, venue.open_orders,
                     lambda: venue.create_order(too_big, "qk-too-big")):
            try:
                await call()
            except Exception as exc:
                show(exc)
        async with CcxtExchange("binance", credentials=wrong_keys, api_url=URL,
                                rate_limit=False) as wrong:
            try:
                await wrong.balances()
            except Exception as exc:
                show(exc)
        await venue.aclose()

    venue = CcxtExchange("binance", credentials=keys, api_url=URL, rate_limit=False)
    anyio.run(provoke, venue)
    engine = LiveEngine(
        stream=LiveBarStream(venue, ["BTC/USDT"], "1m", websocket=False, poll_interval=0.05),
        strategy=Trader(),
        broker=LiveBroker(venue, journal=OUT / "journal.jsonl", run_id="leak",
                          confirm_live=True, poll_interval=0.1),
        warmup=30, handle_signals=False, run_id="leak", closing=(venue,),
        tape=EventTape(OUT / "tape", run_id="leak"),
    )
    engine.run()  # raises the strategy's exception: rich's excepthook prints it with locals
    """
)

SKEW = json.dumps(
    {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}
)


def live_exchange() -> LocalExchange:
    start = (int(time.time()) // 60 - 30) * 60
    return LocalExchange(
        live=True,
        warmup=30,
        publish_every=0.3,
        accounts={KEY: (SECRET, {"USDT": 10_000})},
        start=datetime.fromtimestamp(start, UTC),
        end=datetime.fromtimestamp(start + 3000 * 60, UTC),  # more than the run needs
    )


def encodings(value: str) -> set[str]:
    raw = value.encode()
    return {
        value,
        urllib.parse.quote(value, safe=""),
        urllib.parse.quote_plus(value),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
        raw.hex(),
        raw.hex().upper(),
        repr(value)[1:-1],
        value[: len(value) // 2 + 2],  # a long-enough prefix (a truncated repr)
    }


def test_a_debug_session_with_rich_tracebacks_and_errors_shows_no_secret(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "QUANTKIT_BINANCE_API_KEY": KEY,
        "QUANTKIT_BINANCE_SECRET": SECRET,
        "WRONG_BINANCE_API_KEY": KEY,
        "WRONG_BINANCE_SECRET": WRONG,
    }
    with live_exchange() as local:
        local.faults.fail("/api/v3/account", status=400, body=SKEW, times=2)
        local.faults.fail("/api/v3/openOrders", status=503, times=1)
        done = subprocess.run(
            [sys.executable, "-c", CHILD, local.url, str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=240,
            env=env,
            check=False,
        )
    out, err = done.stdout, done.stderr
    files = {
        path.name: path.read_bytes().decode("utf-8", "replace")
        for path in tmp_path.rglob("*")
        if path.is_file()
    }
    tape = [pq.read_table(p).to_pandas().to_csv() for p in (tmp_path / "tape").rglob("*.parquet")]
    tapes = {f"tape{i}": text for i, text in enumerate(tape)}
    everything = {"stdout": out, "stderr": err, **files, **tapes}

    # The session did what it was meant to: a real run, real errors, DEBUG from every logger.
    assert done.returncode == 1
    assert "strategy failed on purpose" in err
    assert "locals" in err  # rich printed the frames' locals
    assert "authentication" in out + err
    assert "clock skew" in out + err
    assert "insufficient funds" in out + err
    assert "VenueUnavailableError" in out + err
    assert "X-MBX-APIKEY" in err  # ccxt's DEBUG request lines (their values masked)
    assert "signature=**********" in err
    assert "X-MBX-APIKEY" in files["user.log"]  # the user's own handler got the records too
    assert '"order_filled"' in err or "order_filled" in err
    assert files["journal.jsonl"].count('"client_id"') >= 3  # the run journaled its orders
    assert tape and "BTC/USDT" in "".join(tape)

    leaked = [
        (where, form)
        for secret in (KEY, SECRET, WRONG)
        for form in encodings(secret)
        for where, text in everything.items()
        if form in text
    ]
    assert leaked == []
