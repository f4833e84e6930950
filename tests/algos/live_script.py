"""The child-process script of the live parent-order tests: a `LiveEngine` on the local exchange.

Each test supplies its strategy's source; the venue, broker and engine around it are the same.
"""

from __future__ import annotations

import textwrap
import time
from datetime import UTC, datetime

from quantkit.testing import LocalExchange

_HEAD = """\
import sys
from quantkit import Strategy
from quantkit.brokers.live import LiveBroker
from quantkit.brokers.live_reconcile import LiveSafety
from quantkit.data.fetch import RetryPolicy
from quantkit.data.live import LiveBarStream
from quantkit.engine.live import LiveEngine
from quantkit.exchanges import CcxtExchange
from quantkit.secrets import Credentials
from quantkit.testing import LOCAL_CCXT_OPTIONS

url, journal, max_bars = sys.argv[1], sys.argv[2], int(sys.argv[3])
"""

_ENGINE = """
venue = CcxtExchange(
    "binance",
    credentials=Credentials(exchange="binance", api_key={key!r}, secret={secret!r}),
    api_url=url,
    options=LOCAL_CCXT_OPTIONS,
    rate_limit=False,
)
retry = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, jitter=0.0)
engine = LiveEngine(
    stream=LiveBarStream(venue, ["BTC/USDT"], "1m", websocket=False, poll_interval=0.02),
    strategy={strategy}(),
    broker=LiveBroker(
        venue, journal=journal, run_id={run_id!r}, confirm_live=True, retry=retry,
        poll_interval=0.02, safety=LiveSafety(unknown_deadline=0.5),
    ),
    warmup={warmup},
    run_id={run_id!r},
    max_bars=max_bars,
    handle_signals=False,{extra}
)
print(engine.run(), flush=True)
"""


def live_child_script(
    strategy_source: str,
    strategy: str,
    *,
    run_id: str,
    key: str,
    secret: str,
    warmup: int,
    keep_orders: bool = False,
) -> str:
    """The script: imports, the strategy's source, then the venue, broker and engine.

    Args:
        strategy_source: The strategy class (and any module constants it uses), as source.
        strategy: The class's name.
        run_id: The run id of the broker and the engine.
        key: The local exchange account's API key.
        secret: Its secret.
        warmup: Bars of warm-up.
        keep_orders: Leave working orders on the venue at shutdown (``cancel_on_shutdown=False``).

    Returns:
        The script's text, run with ``URL JOURNAL MAX_BARS`` as arguments.
    """
    extra = "\n    cancel_on_shutdown=False," if keep_orders else ""
    engine = _ENGINE.format(
        key=key, secret=secret, strategy=strategy, run_id=run_id, warmup=warmup, extra=extra
    )
    return _HEAD + "\n" + textwrap.dedent(strategy_source).strip("\n") + "\n" + engine


def live_exchange(key: str, secret: str, warmup: int, seed: str) -> LocalExchange:
    """A live local exchange whose clock stands ``warmup`` bars after its first minute.

    Args:
        key: The account's API key (100,000 USDT).
        secret: Its secret.
        warmup: Bars already closed when it starts.
        seed: Seed of its price path.

    Returns:
        The exchange, to be used as a context manager.
    """
    start = (int(time.time()) // 60 - warmup) * 60
    return LocalExchange(
        live=True,
        warmup=warmup,
        start=datetime.fromtimestamp(start, UTC),
        end=datetime.fromtimestamp(start + 500 * 60, UTC),
        accounts={key: (secret, {"USDT": 100_000})},
        seed=seed,
    )
