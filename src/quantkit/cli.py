"""The ``quantkit`` command line: thin commands that build arguments and call the library.

Exit codes: 0 success, 1 a quantkit error (one line on stderr; ``--debug`` shows the traceback),
2 a usage error (click's own).
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from quantkit.errors import ConfigError, QuantkitError

if TYPE_CHECKING:
    from decimal import Decimal

    from quantkit.data.perp_download import PriceKind

__all__ = ["main"]

F = TypeVar("F", bound=Callable[..., Any])

_STORE_ENV = "QUANTKIT_STORE"
_DEFAULT_STORE = "quantkit-data"


def _store_option(function: F) -> F:
    return click.option(
        "--store",
        "store_path",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help=f"Store folder (default: ${_STORE_ENV} or ./{_DEFAULT_STORE}).",
    )(function)


def _open_store(path: Path | None) -> Any:
    from quantkit.data.store import ParquetStore  # noqa: PLC0415 - pyarrow loads on use

    root = path or Path(os.environ.get(_STORE_ENV, _DEFAULT_STORE))
    return ParquetStore(root)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    default=None,
    help="Lowest level logged on stderr, for quantkit and libraries alike (default INFO).",
)
@click.option("--log-json", is_flag=True, help="Log as JSON lines (default on a non-terminal).")
@click.version_option(package_name="quantkit")
@click.pass_context
def cli(ctx: click.Context, debug: bool, log_level: str | None, log_json: bool) -> None:
    """Quantkit: backtest, paper and live runs, market data, and a local exchange."""
    ctx.ensure_object(dict)["debug"] = debug
    if log_level is not None or log_json:
        from quantkit.log import configure_logging  # noqa: PLC0415

        configure_logging(json=True if log_json else None, level=log_level or "info")


@cli.command()
@click.argument("exchange")
@click.argument("symbol")
@click.option("--timeframe", "-t", default="1h", show_default=True, help="Bar length, e.g. 1m.")
@click.option("--since", required=True, help="First bar's open time (UTC), e.g. 2024-01-01.")
@click.option("--until", default=None, help="End, exclusive (default: the last closed bar).")
@_store_option
@click.option("--api-url", default=None, help="Send requests to this server (e.g. a local one).")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a tty).")
@click.option(
    "--price",
    type=click.Choice(["last", "mark", "index"]),
    default="last",
    show_default=True,
    help="Candles of the trade price, or a perpetual's mark or index price.",
)
@click.option("--funding", is_flag=True, help="Download a perpetual's funding rates instead.")
def download(
    exchange: str,
    symbol: str,
    timeframe: str,
    since: str,
    until: str | None,
    store_path: Path | None,
    api_url: str | None,
    progress: bool | None,
    price: str,
    funding: bool,
) -> None:
    """Download EXCHANGE SYMBOL candles into the store; only what is missing is fetched.

    With --price mark or index, a perpetual's mark or index candles (stored as SYMBOL#mark);
    with --funding, its funding-rate history.
    """
    from quantkit.data.perp_download import download_prices  # noqa: PLC0415
    from quantkit.exchanges import CcxtExchange  # noqa: PLC0415 - ccxt loads on use
    from quantkit.run_builder import SPOT_ONLY_OPTIONS  # noqa: PLC0415

    store = _open_store(store_path)
    spot = price == "last" and not funding  # a derivatives class keeps its own market types
    options = SPOT_ONLY_OPTIONS if api_url and spot else None
    source = CcxtExchange(exchange, api_url=api_url, options=options)
    if funding:
        _download_funding(source, store.root, symbol, since, until)
        return
    kind = cast("PriceKind", price)  # click.Choice checked it
    report = download_prices(
        source, store, symbol, timeframe, since, until, price=kind, progress=progress
    )
    click.echo(
        f"{report.exchange} {report.symbol} {report.timeframe}: {report.added} bars added "
        f"({report.rows} received in {report.requests} requests) into {store.root}"
    )
    for hole in report.still_missing:
        click.echo(f"  still missing: {hole.start} .. {hole.end}")


def _download_funding(source: Any, root: Path, symbol: str, since: str, until: str | None) -> None:
    from quantkit.data.perp_download import download_funding  # noqa: PLC0415
    from quantkit.data.store import FundingStore  # noqa: PLC0415

    report = download_funding(source, FundingStore(root), symbol, since, until)
    click.echo(
        f"{report.exchange} {report.symbol} funding: {report.added} rates added "
        f"({report.rows} received in {report.requests} requests) into {root}"
    )
    for hole in report.still_missing:
        click.echo(f"  still missing: {hole.start} .. {hole.end}")


@cli.command()
@click.argument("exchange", required=False)
@click.argument("symbol", required=False)
@click.argument("timeframe", required=False)
@_store_option
def data(
    exchange: str | None, symbol: str | None, timeframe: str | None, store_path: Path | None
) -> None:
    """Show what the store holds; with EXCHANGE SYMBOL TIMEFRAME, its coverage and gaps."""
    store = _open_store(store_path)
    if exchange is None or symbol is None or timeframe is None:
        if any(value is not None for value in (exchange, symbol, timeframe)):
            raise click.UsageError("give EXCHANGE SYMBOL TIMEFRAME together, or none of them")
        entries = store.entries()
        if entries.empty:
            click.echo(f"the store at {store.root} is empty")
            return
        click.echo(entries.to_string(index=False))
        return
    ranges = store.coverage(exchange, symbol, timeframe)
    if not ranges:
        click.echo(f"{exchange} {symbol} {timeframe}: nothing stored")
        return
    click.echo(f"{exchange} {symbol} {timeframe}: {len(ranges)} covered range(s)")
    for covered in ranges:
        click.echo(f"  covered: {covered.start} .. {covered.end}")
    for before, after in itertools.pairwise(ranges):
        click.echo(f"  gap:     {before.end} .. {after.start}")


@cli.command("exchange")
@click.option("--port", type=int, default=8765, show_default=True, help="Port; 0: any free one.")
@click.option("--live/--no-live", default=False, show_default=True, help="Reveal bars over time.")
@click.option("--warmup", type=int, default=100, show_default=True, help="Live: bars at start.")
@click.option(
    "--every",
    type=float,
    default=1.0,
    show_default=True,
    help="Live: seconds between published bars (0: never automatically).",
)
@click.option("--account", "accounts", multiple=True, metavar="KEY:SECRET", help="An account.")
@click.option(
    "--balance",
    "balances",
    multiple=True,
    metavar="ASSET=AMOUNT",
    help="Balance of every account (repeatable; default USDT=10000).",
)
@click.option("--timeframe", "-t", default="1m", show_default=True, help="Bar length of the data.")
@click.option(
    "--start",
    default=None,
    help="First bar (UTC). Default: 2024-01-01; live without --end: WARMUP bars before now, so "
    "the bars are current.",
)
@click.option("--end", default=None, help="End, exclusive (UTC). Default: START + 14 days.")
@click.option("--seed", default="quantkit", show_default=True, help="Key of the synthetic data.")
@click.option(
    "--futures/--spot",
    default=False,
    show_default=True,
    help="Serve Binance USD-M perpetuals (/fapi) instead of spot (/api); not with --live.",
)
@click.pass_context
def exchange(
    ctx: click.Context,
    port: int,
    live: bool,
    warmup: int,
    every: float,
    accounts: tuple[str, ...],
    balances: tuple[str, ...],
    timeframe: str,
    start: str | None,
    end: str | None,
    seed: str,
    futures: bool,
) -> None:
    """Run a local Binance-spot-compatible exchange on 127.0.0.1 until Ctrl-C.

    With --futures it serves Binance USD-M perpetuals instead (market data, funding rates,
    leverage brackets). It prints its URL and each account's API key (never the secret).
    """
    import pandas as pd  # noqa: PLC0415

    from quantkit.domain.timeframe import parse_timeframe  # noqa: PLC0415
    from quantkit.testing.exchange_server import (  # noqa: PLC0415 - aiohttp loads on use
        LocalExchange,
        parse_accounts,
        serve,
    )

    parsed = parse_accounts(accounts, balances)
    if start is None:
        step = pd.Timedelta(parse_timeframe(timeframe), unit="ns")
        now = pd.Timestamp.now(tz="UTC").floor(step)
        start = str(now - warmup * step) if live and end is None else "2024-01-01"
    if end is None:
        end = str(pd.Timestamp(start) + pd.Timedelta(days=14))
    if futures:
        _serve_futures(ctx, live, timeframe, start, end, seed, port, parsed)
        return
    local = LocalExchange(
        timeframe=timeframe,
        start=start,
        end=end,
        seed=seed,
        port=port,
        accounts=parsed,
        live=live,
        warmup=warmup,
        publish_every=every if live else 0.0,
    )
    serve(local, echo=click.echo, keys=list(parsed), stop=ctx.obj.get("stop"))


def _serve_futures(
    ctx: click.Context,
    live: bool,
    timeframe: str,
    start: str,
    end: str,
    seed: str,
    port: int,
    accounts: dict[str, tuple[str, dict[str, Decimal]]],
) -> None:
    """``quantkit exchange --futures``: a local USD-M futures exchange until Ctrl-C."""
    from quantkit.testing.exchange_server import serve  # noqa: PLC0415 - aiohttp loads on use
    from quantkit.testing.futures import LocalFuturesExchange  # noqa: PLC0415

    if live:
        raise ConfigError("--live is not offered with --futures: its data is served all at once")
    local = LocalFuturesExchange(
        timeframe=timeframe, start=start, end=end, seed=seed, port=port, accounts=accounts
    )
    serve(local, echo=click.echo, keys=list(accounts), stop=ctx.obj.get("stop"))


def _import_from_cwd() -> None:
    """Let ``module:Class`` strategy names find ``module.py`` in the current directory.

    ``python -m`` puts the current directory first on ``sys.path``; the ``quantkit`` console
    script does not, so a strategy file next to the user would not be found without this.
    """
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)


class OrdersLeftError(click.ClickException):
    """A live run ended with orders it could not cancel still on the venue (exit status 3)."""

    exit_code = 3


def _run_built(run: Any, report: Path | None) -> None:
    """Run a built configuration and print what it gives back."""
    from quantkit.engine.engine import Engine  # noqa: PLC0415

    result = run.engine.run()
    click.echo(str(result))
    left = getattr(result, "left_on_venue", ())
    if left:
        raise OrdersLeftError(
            f"{len(left)} order(s) left working on the venue: {', '.join(left)}; cancel them "
            "there or restart the run"
        )
    target = report if report is not None else run.config.output.report
    if isinstance(run.engine, Engine) and target is not None:
        click.echo(f"report written to {result.report(target)}")


@cli.command("run")
@click.argument("config_path", metavar="CONFIG", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), help="HTML report.")
def run_command(config_path: Path, report: Path | None) -> None:
    """Run the backtest, paper or live run that the YAML/JSON file CONFIG describes.

    Environment variables QUANTKIT_<SECTION>__<FIELD> override the file's fields, e.g.
    QUANTKIT_STRATEGY__PARAMS__FAST=12.
    """
    from quantkit.config import load_config  # noqa: PLC0415
    from quantkit.run_builder import build_run  # noqa: PLC0415

    _import_from_cwd()
    _run_built(build_run(load_config(config_path)), report)


def _parse_params(pairs: tuple[str, ...]) -> dict[str, Any]:
    import json  # noqa: PLC0415

    params: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"expected NAME=VALUE, got {pair!r}", param_hint="--param")
        try:
            params[name] = json.loads(raw)
        except ValueError:
            params[name] = raw
    return params


@cli.command()
@click.option(
    "--strategy",
    "-s",
    "strategy",
    default="sma_cross",
    show_default=True,
    help="Registered name or module:Class.",
)
@click.option(
    "--param",
    "-p",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="A strategy parameter (repeatable).",
)
@click.option(
    "--data",
    "data_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="CSV or Parquet bars (default: the bundled sample).",
)
@click.option("--symbol", default=None, help="Symbol of --data, or the sample symbol.")
@click.option("--timeframe", "-t", default=None, help="Bar length of --data (default: inferred).")
@click.option("--cash", type=float, default=10_000.0, show_default=True, help="Starting cash.")
@click.option("--fee", type=float, default=None, help="Taker and maker fee rate, e.g. 0.001.")
@click.option("--slippage-bps", type=float, default=0.0, show_default=True, help="Slippage.")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), help="HTML report.")
def backtest(
    strategy: str,
    params: tuple[str, ...],
    data_path: Path | None,
    symbol: str | None,
    timeframe: str | None,
    cash: float,
    fee: float | None,
    slippage_bps: float,
    report: Path | None,
) -> None:
    """Backtest a strategy on a CSV/Parquet file or the sample data; print its statistics."""
    from quantkit.config import parse_config  # noqa: PLC0415
    from quantkit.run_builder import build_run  # noqa: PLC0415

    data: dict[str, Any] = {"type": "sample", "symbols": [symbol or "BTC/USDT"]}
    if data_path is not None:
        kind = "parquet" if data_path.suffix.lower() in (".parquet", ".pq") else "csv"
        data = {"type": kind, "path": str(data_path), "symbol": symbol, "timeframe": timeframe}
    config = {
        "strategy": {"name": strategy, "params": _parse_params(params)},
        "data": data,
        "broker": {"mode": "backtest", "cash": cash},
        "costs": {"taker_fee": fee, "slippage_bps": slippage_bps},
    }
    _import_from_cwd()
    _run_built(build_run(parse_config(config, source="backtest options")), report)


@cli.command()
def schema() -> None:
    """Print the JSON Schema of run configurations (for editors that validate YAML)."""
    import json  # noqa: PLC0415

    from quantkit.config import config_schema  # noqa: PLC0415

    click.echo(json.dumps(config_schema(), indent=2))


@cli.command()
def strategies() -> None:
    """List the strategies a configuration can name, plugins included."""
    from quantkit.strategy.registry import available_strategies, get_strategy  # noqa: PLC0415

    for name in available_strategies():
        cls = get_strategy(name)
        summary = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        params = ", ".join(cls.parameter_names())
        click.echo(f"{name:<20} {summary}  [{params}]")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit code.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        cli.main(args=args, prog_name="quantkit", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 1
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except QuantkitError as exc:
        if debug:
            raise
        click.echo(f"error: {exc}", err=True)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover - the console script calls main()
    sys.exit(main())
