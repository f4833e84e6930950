"""``python -m quantkit.testing.exchange_server``: a local exchange in the foreground.

It serves Binance spot's public REST API on 127.0.0.1 with synthetic data (see `LocalExchange`)
and prints its URL, for trying quantkit's downloads or ccxt by hand::

    $ python -m quantkit.testing.exchange_server --port 8765
    http://127.0.0.1:8765

`LocalExchange` itself lives in `quantkit.testing.local_exchange`; it is re-exported here and
from `quantkit.testing`. (Keeping it out of this module lets ``python -m`` run this module
without the package having imported it first.)
"""

from __future__ import annotations

import argparse
import contextlib
import threading
from collections.abc import Sequence

from quantkit.testing.local_exchange import LOCAL_CCXT_OPTIONS, LocalExchange

__all__ = ["LOCAL_CCXT_OPTIONS", "LocalExchange", "main"]


def main(argv: Sequence[str] | None = None, *, stop: threading.Event | None = None) -> int:
    """Run a local exchange in the foreground until interrupted (Ctrl-C); print its URL.

    Args:
        argv: Command-line arguments (``sys.argv[1:]`` when ``None``).
        stop: Stop when this event is set instead of waiting for Ctrl-C (for embedding).

    Returns:
        The exit status, 0.
    """
    parser = argparse.ArgumentParser(
        prog="python -m quantkit.testing.exchange_server",
        description="Serve Binance spot's public REST API on 127.0.0.1 with synthetic data.",
    )
    parser.add_argument("--port", type=int, default=0, help="port to bind (default: any free)")
    parser.add_argument("--seed", default="quantkit", help="key of the synthetic data")
    parser.add_argument("--start", default="2024-01-01", help="first candle (UTC)")
    parser.add_argument("--end", default="2024-01-15", help="end of the data (UTC, exclusive)")
    parser.add_argument("--timeframe", default="1m", help="timeframe of the data")
    args = parser.parse_args(argv)
    exchange = LocalExchange(
        seed=args.seed, start=args.start, end=args.end, timeframe=args.timeframe, port=args.port
    )
    with exchange, contextlib.suppress(KeyboardInterrupt):
        print(exchange.url, flush=True)  # noqa: T201 - the entry point's whole output
        (stop or threading.Event()).wait()
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through a subprocess in the tests
    raise SystemExit(main())
