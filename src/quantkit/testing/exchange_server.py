"""``python -m quantkit.testing.exchange_server``: a local exchange in the foreground.

It serves Binance spot's REST API and kline websockets on 127.0.0.1 with synthetic data (see
`LocalExchange`) and prints its URL, for trying quantkit's downloads, ccxt or a live loop by
hand::

    $ python -m quantkit.testing.exchange_server --port 8765 --live --every 1 --account key:secret
    http://127.0.0.1:8765
    live: 100 of 20160 candles published, one more every 1s
    account: key

``quantkit exchange`` takes the same options. `LocalExchange` itself lives in
`quantkit.testing.local_exchange`; it is re-exported here and from `quantkit.testing`.
(Keeping it out of this module lets ``python -m`` run this module without the package having
imported it first.)
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal, InvalidOperation
from types import FrameType

from quantkit.errors import ConfigError
from quantkit.testing.futures.exchange import LocalFuturesExchange
from quantkit.testing.local_exchange import LOCAL_CCXT_OPTIONS, LocalExchange

__all__ = ["LOCAL_CCXT_OPTIONS", "LocalExchange", "main", "parse_accounts", "serve"]

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

DEFAULT_BALANCES = ("USDT=10000",)
"""Balances every ``--account`` gets when no ``--balance`` is given."""


def parse_accounts(
    accounts: Sequence[str], balances: Sequence[str] = DEFAULT_BALANCES
) -> dict[str, tuple[str, dict[str, Decimal]]]:
    """Parse ``KEY:SECRET`` accounts and the ``ASSET=AMOUNT`` balances each of them gets.

    Args:
        accounts: Accounts as ``KEY:SECRET`` (the secret may itself hold colons).
        balances: Balances as ``ASSET=AMOUNT``, given to every account; `DEFAULT_BALANCES`
            (10000 USDT) when empty.

    Returns:
        API key to ``(secret, balances)``, as `LocalExchange` takes ``accounts``.

    Raises:
        ConfigError: If an account or a balance is malformed, or an amount is negative.

    Examples:
        >>> parse_accounts(["alice:s3cret"], ["USDT=500", "BTC=0.1"])
        {'alice': ('s3cret', {'USDT': Decimal('500'), 'BTC': Decimal('0.1')})}
    """
    funds: dict[str, Decimal] = {}
    for text in balances or DEFAULT_BALANCES:
        asset, sep, amount = text.partition("=")
        try:
            value = Decimal(amount.strip())
        except InvalidOperation:
            value = Decimal("NaN")
        if not sep or not asset.strip().isalnum() or not value.is_finite() or value < 0:
            raise ConfigError(f"balance {text!r} is not ASSET=AMOUNT with an amount >= 0")
        funds[asset.strip().upper()] = value
    parsed: dict[str, tuple[str, dict[str, Decimal]]] = {}
    for text in accounts:
        key, sep, secret = text.partition(":")
        if not sep or not key or not secret:
            raise ConfigError(f"account {key or text!r} is not KEY:SECRET with both parts set")
        parsed[key] = (secret, dict(funds))
    return parsed


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextlib.contextmanager
def _interrupt_on_signals(wanted: bool) -> Iterator[None]:
    """Turn SIGINT and SIGTERM into KeyboardInterrupt while serving, restoring them after.

    Installed explicitly: a process started in the background inherits SIGINT as ignored, and
    Python then installs no Ctrl-C handler of its own, so a SIGINT would otherwise do nothing.
    Only the main thread may install handlers; elsewhere (and when ``wanted`` is false) this
    does nothing.
    """
    if not wanted or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.signal(number, _interrupt) for number in _STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, signal.SIG_DFL if handler is None else handler)


def serve(
    exchange: LocalExchange | LocalFuturesExchange,
    *,
    echo: Callable[[str], None],
    keys: Sequence[str] = (),
    stop: threading.Event | None = None,
) -> None:
    """Run an exchange until interrupted (Ctrl-C, SIGTERM) or ``stop`` is set, announcing it first.

    The first line announced is the URL; then, in live mode, how much is published (for a
    futures exchange, the perpetuals it lists), and the API key of each account (never its
    secret).

    Args:
        exchange: The exchange (spot or USD-M futures), not yet started.
        echo: Where the lines go, e.g. ``print`` or ``click.echo``.
        keys: API keys of the exchange's accounts, to announce.
        stop: Stop when this event is set instead of waiting for Ctrl-C (for embedding).

    Raises:
        OSError: If the port cannot be bound.
    """
    with exchange, contextlib.suppress(KeyboardInterrupt), _interrupt_on_signals(stop is None):
        echo(exchange.url)
        if isinstance(exchange, LocalFuturesExchange):
            echo(f"USD-M perpetuals: {', '.join(m.symbol for m in exchange.markets)}")
        elif exchange.clock is not None:
            clock, every = exchange.clock, exchange.publish_every
            pace = f"one more every {every:g}s" if every else "none more until published"
            echo(f"live: {clock.published} of {clock.total} candles published, {pace}")
        for key in keys:
            echo(f"account: {key}")
        (stop or threading.Event()).wait()


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
        description="Serve Binance spot's REST API and kline websockets on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=0, help="port to bind (default: any free)")
    parser.add_argument("--seed", default="quantkit", help="key of the synthetic data")
    parser.add_argument("--start", default="2024-01-01", help="first candle (UTC)")
    parser.add_argument("--end", default="2024-01-15", help="end of the data (UTC, exclusive)")
    parser.add_argument("--timeframe", default="1m", help="timeframe of the data")
    parser.add_argument(
        "--live", action=argparse.BooleanOptionalAction, default=False, help="reveal over time"
    )
    parser.add_argument("--warmup", type=int, default=100, help="candles published at start")
    parser.add_argument(
        "--every", type=float, default=1.0, help="live: seconds between candles (0: never)"
    )
    parser.add_argument(
        "--account", action="append", default=[], metavar="KEY:SECRET", help="an account"
    )
    parser.add_argument(
        "--balance", action="append", default=[], metavar="ASSET=AMOUNT", help="its balances"
    )
    args = parser.parse_args(argv)
    try:
        accounts = parse_accounts(args.account, args.balance)
        exchange = LocalExchange(
            seed=args.seed,
            start=args.start,
            end=args.end,
            timeframe=args.timeframe,
            port=args.port,
            accounts=accounts,
            live=args.live,
            warmup=args.warmup,
            publish_every=args.every if args.live else 0.0,
        )
    except ConfigError as exc:
        parser.error(str(exc))
    echo = lambda line: print(line, flush=True)  # noqa: E731, T201 - the entry point's output
    serve(exchange, echo=echo, keys=list(accounts), stop=stop)
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through a subprocess in the tests
    raise SystemExit(main())
