"""Building a run from a configuration: the one place that turns a mode into components.

`build_run` reads a validated `RunConfig` and builds the strategy, the feed or live stream, the
broker (simulated for backtests and paper, live otherwise), the risk chain and the engine.
Nothing else in quantkit branches on the mode.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from quantkit.config import (
    BacktestMode,
    CsvData,
    ExchangeData,
    LiveMode,
    PaperMode,
    ParquetData,
    RunConfig,
    SampleData,
    StoreData,
    StrategyConfig,
)
from quantkit.errors import ConfigError

if TYPE_CHECKING:
    from quantkit.brokers.base import Broker
    from quantkit.data.feed import DataFeed
    from quantkit.engine.engine import Engine
    from quantkit.engine.live import LiveEngine
    from quantkit.risk.policy import RiskChain
    from quantkit.strategy.base import Strategy

__all__ = ["SPOT_ONLY_OPTIONS", "Run", "build_run"]

SPOT_ONLY_OPTIONS: dict[str, Any] = {
    "fetchCurrencies": False,
    "fetchMargins": False,
    "fetchMarkets": {"types": ["spot"]},
}
"""ccxt ``binance`` options that keep ``load_markets`` to the spot exchange info alone (what a
local or mirror server given as ``api_url`` answers)."""


@dataclass(frozen=True, slots=True)
class Run:
    """A configured run, ready to go.

    Attributes:
        config: The configuration it was built from.
        engine: An `Engine` (backtest) or a `LiveEngine` (paper, live).
    """

    config: RunConfig
    engine: Engine | LiveEngine


def _strategy(config: StrategyConfig) -> Strategy:
    from quantkit.strategy.registry import get_strategy  # noqa: PLC0415

    return get_strategy(config.name)(**config.params)


def _feed(config: SampleData | CsvData | ParquetData | StoreData) -> DataFeed:
    if isinstance(config, SampleData):
        from quantkit.data.samples import sample_feed  # noqa: PLC0415

        return sample_feed(config.symbols, start=config.start, end=config.end)
    if isinstance(config, CsvData):
        from quantkit.data.csv_feed import CsvFeed  # noqa: PLC0415

        return CsvFeed(config.path, symbol=config.symbol, timeframe=config.timeframe)
    if isinstance(config, ParquetData):
        from quantkit.data.parquet_feed import ParquetFeed  # noqa: PLC0415

        return ParquetFeed(config.path, symbol=config.symbol, timeframe=config.timeframe)
    from quantkit.data.store import ParquetStore  # noqa: PLC0415

    store = ParquetStore(config.root)
    return store.feed(config.exchange, config.symbols, config.timeframe, config.start, config.end)


def _simulated_broker(config: RunConfig) -> Broker:
    from quantkit.brokers.backtest import BacktestBroker  # noqa: PLC0415
    from quantkit.brokers.paper import PaperBroker  # noqa: PLC0415
    from quantkit.brokers.settings import SimSettings  # noqa: PLC0415
    from quantkit.sim.fees import FeeModel, FlatFees  # noqa: PLC0415
    from quantkit.sim.slippage import FixedBps, NoSlippage  # noqa: PLC0415

    costs = config.costs
    fees: FeeModel | None = None
    if costs.taker_fee is not None or costs.maker_fee is not None or costs.per_order_fee:
        taker = costs.taker_fee if costs.taker_fee is not None else 0.001
        maker = costs.maker_fee if costs.maker_fee is not None else taker
        fees = FlatFees(maker=maker, taker=taker, per_order=costs.per_order_fee)
    slippage = FixedBps(costs.slippage_bps) if costs.slippage_bps else NoSlippage()
    mode = config.broker
    if isinstance(mode, LiveMode):
        raise ConfigError("broker: a live account is not simulated")
    perpetual: dict[str, Any] = {}
    if config.perpetual is not None:
        from quantkit.run_perp import simulated_perpetuals  # noqa: PLC0415

        perpetual = simulated_perpetuals(config)
    settings = SimSettings(
        cash=mode.cash,
        currency=mode.currency,
        fees=fees,
        slippage=slippage,
        fees_charged_in=costs.fees_charged_in,
        **perpetual,
    )
    if isinstance(mode, BacktestMode):
        margin = dataclasses.replace(settings, allow_short=mode.allow_short, leverage=mode.leverage)
        return BacktestBroker(margin)
    return PaperBroker(settings, latency=mode.latency)


def _risk(config: RunConfig) -> RiskChain | None:
    if not config.risk:
        return None
    from quantkit.risk.policy import RiskChain  # noqa: PLC0415

    return RiskChain([policy.build() for policy in config.risk])


def build_run(config: RunConfig) -> Run:
    """Build the components a configuration describes (the one place that looks at the mode).

    Args:
        config: The configuration.

    Returns:
        The run; call ``run.engine.run()``.

    Raises:
        ConfigError: If the components refuse the settings (e.g. live without ``confirm``).
        RegistryError: If the strategy is not registered.
    """
    strategy = _strategy(config.strategy)
    risk = _risk(config)
    mode = config.broker
    if isinstance(mode, BacktestMode):
        if isinstance(config.data, ExchangeData):
            raise ConfigError("data: a backtest needs stored bars, not an exchange stream")
        from quantkit.engine.engine import Engine  # noqa: PLC0415

        engine: Engine | LiveEngine = Engine(
            feed=_feed(config.data),
            strategy=strategy,
            broker=_simulated_broker(config),
            risk=risk,
            warmup=mode.warmup,
        )
        return Run(config, engine)
    return Run(config, _live_engine(config, strategy, risk))


def _live_engine(config: RunConfig, strategy: Strategy, risk: RiskChain | None) -> LiveEngine:
    from quantkit.engine.live import LiveEngine  # noqa: PLC0415
    from quantkit.engine.tape import EventTape  # noqa: PLC0415

    mode = config.broker
    if not isinstance(mode, PaperMode | LiveMode):
        raise ConfigError("broker: a backtest runs on the Engine, not live")
    data = config.data
    venue: Any = None
    stream: Any
    broker: Broker | None = None
    if isinstance(data, ExchangeData) and isinstance(mode, LiveMode) and config.perpetual:
        from quantkit.run_perp import live_perpetuals  # noqa: PLC0415

        venue, broker = live_perpetuals(config, _credentials(data, mode))
    elif isinstance(data, ExchangeData):
        venue = _venue(data, mode, linear_only=config.perpetual is not None)
    if isinstance(data, ExchangeData):
        from quantkit.data.live import LiveBarStream  # noqa: PLC0415

        stream = LiveBarStream(venue, data.symbols, data.timeframe, websocket=data.websocket)
    else:
        if isinstance(mode, LiveMode):
            raise ConfigError("data: live trading needs an exchange stream (type: exchange)")
        stream = _replay(_feed(data), mode.warmup)
    if broker is None:  # (a live run on perpetuals built its broker with its venue)
        broker = _account(config, venue)
    tape = None
    if config.output.tape is not None:
        tape = EventTape(config.output.tape, run_id=mode.run_id)
    return LiveEngine(
        stream=stream,
        strategy=strategy,
        broker=broker,
        risk=risk,
        warmup=mode.warmup,
        run_id=mode.run_id,
        max_bars=mode.max_bars,
        tape=tape,
        cancel_on_shutdown=getattr(mode, "cancel_on_shutdown", True),
        closing=() if venue is None else (venue,),
    )


def _account(config: RunConfig, venue: Any) -> Broker:
    """The broker of a paper run (simulated) or a live run on spot."""
    mode = config.broker
    if not isinstance(mode, LiveMode):
        return _simulated_broker(config)
    from quantkit.brokers.live import LiveBroker  # noqa: PLC0415

    return LiveBroker(
        venue,
        journal=mode.journal,
        run_id=mode.run_id,
        confirm_live=mode.confirm,
        currency=mode.currency,
    )


def _replay(feed: DataFeed, warmup: int) -> Any:
    """Recorded bars for a paper run; a warm-up that swallows them all is refused up front."""
    from quantkit.data.multi import is_informative  # noqa: PLC0415
    from quantkit.data.replay import ReplayStream  # noqa: PLC0415
    from quantkit.engine.preflight import check_warmup  # noqa: PLC0415

    tradable = {s: series for s, series in feed.load().items() if not is_informative(s)}
    check_warmup(tradable, warmup)
    return ReplayStream(feed)


def _credentials(data: ExchangeData, mode: PaperMode | LiveMode) -> Any:
    if not isinstance(mode, LiveMode):
        return None
    from quantkit.secrets import load_credentials  # noqa: PLC0415

    return load_credentials(
        data.exchange,
        prefix=mode.credentials_prefix,
        dotenv=mode.dotenv,
        keyring_service=mode.keyring_service,
    )


def _venue(data: ExchangeData, mode: PaperMode | LiveMode, *, linear_only: bool = False) -> Any:
    from quantkit.exchanges import CcxtExchange  # noqa: PLC0415
    from quantkit.run_perp import LINEAR_ONLY  # noqa: PLC0415

    return CcxtExchange(  # with api_url, CcxtExchange needs no test options (issue 11 item 12)
        data.exchange,
        credentials=_credentials(data, mode),
        sandbox=data.sandbox,
        api_url=data.api_url,
        options=LINEAR_ONLY if linear_only else None,  # perpetuals: the linear markets only
    )
