"""quantkit: a Python strategy SDK for crypto markets.

Subclass `Strategy`, feed it bars from a `DataFeed`, pass its orders through a
`RiskPolicy` to a `Broker`, and let the `Engine` run it. The same
strategy runs in backtest, paper and live trading.

Examples:
    >>> import quantkit as qk
    >>> result = qk.Engine(feed=qk.sample_feed(), strategy=qk.SmaCross()).run()
    >>> result.stats["Bars"]
    17520
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from quantkit._lazy import attach as _attach
from quantkit.algos.parent import ParentOrder as ParentOrder
from quantkit.algos.parent import ParentStatus as ParentStatus
from quantkit.brokers.backtest import BacktestBroker as BacktestBroker
from quantkit.brokers.base import Broker as Broker
from quantkit.brokers.paper import PaperBroker as PaperBroker
from quantkit.brokers.router import RoutedOrder as RoutedOrder
from quantkit.brokers.router import Router as Router
from quantkit.brokers.router import VenueHealth as VenueHealth
from quantkit.brokers.settings import SimSettings as SimSettings
from quantkit.brokers.venues import Venues as Venues
from quantkit.data.csv_feed import CsvFeed as CsvFeed
from quantkit.data.feed import DataFeed as DataFeed
from quantkit.data.frame_feed import DataFrameFeed as DataFrameFeed
from quantkit.data.parquet_feed import ParquetFeed as ParquetFeed
from quantkit.data.samples import load_sample as load_sample
from quantkit.data.samples import sample_feed as sample_feed
from quantkit.data.series_feed import SeriesFeed as SeriesFeed
from quantkit.data.validation import validate_bars as validate_bars
from quantkit.domain.bars import Bar as Bar
from quantkit.domain.bars import BarSeries as BarSeries
from quantkit.domain.contract_position import ContractPosition as ContractPosition
from quantkit.domain.fill import Fill as Fill
from quantkit.domain.funding import FundingRates as FundingRates
from quantkit.domain.futures_portfolio import FuturesPortfolio as FuturesPortfolio
from quantkit.domain.market import Market as Market
from quantkit.domain.order import Order as Order
from quantkit.domain.order import OrderRequest as OrderRequest
from quantkit.domain.order import OrderStatus as OrderStatus
from quantkit.domain.order import OrderType as OrderType
from quantkit.domain.order import Side as Side
from quantkit.domain.order import TimeInForce as TimeInForce
from quantkit.domain.perpetual import MarginBracket as MarginBracket
from quantkit.domain.perpetual import PerpetualSpec as PerpetualSpec
from quantkit.domain.portfolio import MarginConfig as MarginConfig
from quantkit.domain.portfolio import Portfolio as Portfolio
from quantkit.domain.position import Position as Position
from quantkit.domain.routing import RouteDecision as RouteDecision
from quantkit.domain.routing import RouteLeg as RouteLeg
from quantkit.domain.routing import VenueQuote as VenueQuote
from quantkit.domain.routing import route as route
from quantkit.domain.timeframe import parse_timeframe as parse_timeframe
from quantkit.domain.venue_symbol import qualify as qualify
from quantkit.domain.venue_symbol import resolve_symbol as resolve_symbol
from quantkit.domain.venue_symbol import split_venue as split_venue
from quantkit.engine.engine import Engine as Engine
from quantkit.engine.result import Result as Result
from quantkit.engine.venue_table import venue_summary as venue_summary
from quantkit.errors import ConfigError as ConfigError
from quantkit.errors import DataError as DataError
from quantkit.errors import ExchangeError as ExchangeError
from quantkit.errors import InvalidTransitionError as InvalidTransitionError
from quantkit.errors import LookAheadError as LookAheadError
from quantkit.errors import OrderError as OrderError
from quantkit.errors import ParameterError as ParameterError
from quantkit.errors import QuantkitError as QuantkitError
from quantkit.errors import RateLimitedError as RateLimitedError
from quantkit.errors import ReconciliationError as ReconciliationError
from quantkit.errors import RegistryError as RegistryError
from quantkit.errors import RequestTimeoutError as RequestTimeoutError
from quantkit.errors import StoreError as StoreError
from quantkit.errors import StrategyError as StrategyError
from quantkit.errors import TransientError as TransientError
from quantkit.errors import UnknownSymbolError as UnknownSymbolError
from quantkit.errors import UsageError as UsageError
from quantkit.errors import VenueBusyError as VenueBusyError
from quantkit.errors import VenueUnavailableError as VenueUnavailableError
from quantkit.risk.limits import MaxPositionSize as MaxPositionSize
from quantkit.risk.policy import Decision as Decision
from quantkit.risk.policy import RiskAction as RiskAction
from quantkit.risk.policy import RiskChain as RiskChain
from quantkit.risk.policy import RiskPolicy as RiskPolicy
from quantkit.sim.fees import FeeModel as FeeModel
from quantkit.sim.fees import FlatFees as FlatFees
from quantkit.sim.fees import MarketFees as MarketFees
from quantkit.sim.rules import FillRules as FillRules
from quantkit.sim.slippage import FixedBps as FixedBps
from quantkit.sim.slippage import NoSlippage as NoSlippage
from quantkit.sim.slippage import SlippageModel as SlippageModel
from quantkit.sim.slippage import VolumeImpact as VolumeImpact
from quantkit.strategy.base import Strategy as Strategy
from quantkit.strategy.data import SymbolData as SymbolData
from quantkit.strategy.indicators import Indicator as Indicator
from quantkit.strategy.library.sma_cross import SmaCross as SmaCross
from quantkit.strategy.library.sma_cross import crossover_signal as crossover_signal
from quantkit.strategy.registry import available_strategies as available_strategies
from quantkit.strategy.registry import get_strategy as get_strategy
from quantkit.strategy.registry import register_strategy as register_strategy
from quantkit.strategy.series import SeriesView as SeriesView

__version__ = "0.1.0"


if _TYPE_CHECKING:
    from quantkit.analysis.divergence import DivergenceReport as DivergenceReport
    from quantkit.analysis.divergence import divergence_report as divergence_report
    from quantkit.analysis.montecarlo import MonteCarloReport as MonteCarloReport
    from quantkit.analysis.montecarlo import monte_carlo as monte_carlo
    from quantkit.brokers.breaker import CircuitBreaker as CircuitBreaker
    from quantkit.brokers.live import LiveBroker as LiveBroker
    from quantkit.brokers.live_perpetual import PerpetualLiveBroker as PerpetualLiveBroker
    from quantkit.brokers.live_reconcile import AccountDivergence as AccountDivergence
    from quantkit.brokers.live_reconcile import LiveSafety as LiveSafety
    from quantkit.config import RunConfig as RunConfig
    from quantkit.config import load_config as load_config
    from quantkit.data.downloader import DownloadReport as DownloadReport
    from quantkit.data.downloader import download as download
    from quantkit.data.fetch import RetryPolicy as RetryPolicy
    from quantkit.data.fetch import afetch_ohlcv_range as afetch_ohlcv_range
    from quantkit.data.fetch import fetch_ohlcv_range as fetch_ohlcv_range
    from quantkit.data.funding import FundingSeries as FundingSeries
    from quantkit.data.fusion import FusedFeed as FusedFeed
    from quantkit.data.fusion import FusionRules as FusionRules
    from quantkit.data.gaps import apply_gap_policy as apply_gap_policy
    from quantkit.data.live import LiveBarStream as LiveBarStream
    from quantkit.data.live import StreamStatus as StreamStatus
    from quantkit.data.multi import MultiTimeframeFeed as MultiTimeframeFeed
    from quantkit.data.panel import bar_panel as bar_panel
    from quantkit.data.perp_download import download_funding as download_funding
    from quantkit.data.perp_download import download_prices as download_prices
    from quantkit.data.perp_download import read_price_bars as read_price_bars
    from quantkit.data.quality import QualityReport as QualityReport
    from quantkit.data.quality import SymbolQuality as SymbolQuality
    from quantkit.data.quality import quality_report as quality_report
    from quantkit.data.replay import ReplayStream as ReplayStream
    from quantkit.data.resample import ResampledFeed as ResampledFeed
    from quantkit.data.resample import resample_bars as resample_bars
    from quantkit.data.store import FundingStore as FundingStore
    from quantkit.data.store import ParquetStore as ParquetStore
    from quantkit.data.store import StoreFeed as StoreFeed
    from quantkit.data.store import StoreSnapshot as StoreSnapshot
    from quantkit.data.store import TimeRange as TimeRange
    from quantkit.data.trades import afetch_trades_range as afetch_trades_range
    from quantkit.data.trades import fetch_trades_range as fetch_trades_range
    from quantkit.data.trades import trades_to_bars as trades_to_bars
    from quantkit.engine.audit import LookAheadReport as LookAheadReport
    from quantkit.engine.audit import audit_lookahead as audit_lookahead
    from quantkit.engine.live import LiveEngine as LiveEngine
    from quantkit.engine.live import LiveSummary as LiveSummary
    from quantkit.engine.tape import EventTape as EventTape
    from quantkit.engine.tape import read_tape as read_tape
    from quantkit.exchanges.ccxt_exchange import CcxtExchange as CcxtExchange
    from quantkit.exchanges.perpetuals import CcxtPerpetualExchange as CcxtPerpetualExchange
    from quantkit.log import configure_logging as configure_logging
    from quantkit.metrics.benchmark import buy_and_hold as buy_and_hold
    from quantkit.metrics.stats import compute_stats as compute_stats
    from quantkit.metrics.stats import drawdown as drawdown
    from quantkit.metrics.stats import metrics_table as metrics_table
    from quantkit.metrics.stats import periods_per_year as periods_per_year
    from quantkit.optimize.datasets import to_dataset as to_dataset
    from quantkit.optimize.overfitting import deflated_sharpe_ratio as deflated_sharpe_ratio
    from quantkit.optimize.overfitting import (
        probability_of_backtest_overfitting as probability_of_backtest_overfitting,
    )
    from quantkit.optimize.report import OptimizationResult as OptimizationResult
    from quantkit.optimize.space import Choice as Choice
    from quantkit.optimize.space import FloatRange as FloatRange
    from quantkit.optimize.space import IntRange as IntRange
    from quantkit.optimize.walkforward import WalkForwardResult as WalkForwardResult
    from quantkit.optimize.walkforward import walk_forward as walk_forward
    from quantkit.risk.breakers import ConsecutiveLosses as ConsecutiveLosses
    from quantkit.risk.breakers import DailyLossLimit as DailyLossLimit
    from quantkit.risk.breakers import MaxDrawdownBreaker as MaxDrawdownBreaker
    from quantkit.risk.config import build_risk as build_risk
    from quantkit.risk.config import load_risk as load_risk
    from quantkit.risk.exposure import MaxConcentration as MaxConcentration
    from quantkit.risk.exposure import MaxGrossExposure as MaxGrossExposure
    from quantkit.risk.exposure import MaxLeverage as MaxLeverage
    from quantkit.risk.exposure import MaxNetExposure as MaxNetExposure
    from quantkit.risk.kelly import KellySizer as KellySizer
    from quantkit.risk.order_limits import MaxOrderNotional as MaxOrderNotional
    from quantkit.risk.order_limits import MaxSlippage as MaxSlippage
    from quantkit.risk.order_limits import OrderRateLimit as OrderRateLimit
    from quantkit.risk.perp_limits import MaxMarginUsage as MaxMarginUsage
    from quantkit.risk.perp_limits import MinLiquidationDistance as MinLiquidationDistance
    from quantkit.risk.sizing import FixedAmount as FixedAmount
    from quantkit.risk.sizing import FixedFraction as FixedFraction
    from quantkit.risk.sizing import FixedNotional as FixedNotional
    from quantkit.risk.sizing import VolatilityTarget as VolatilityTarget
    from quantkit.risk.validation import PriceBand as PriceBand
    from quantkit.risk.validation import ReduceOnlyCheck as ReduceOnlyCheck
    from quantkit.risk.validation import SaneOrder as SaneOrder
    from quantkit.risk.validation import StaleSignal as StaleSignal
    from quantkit.risk.var import RollingVaR as RollingVaR
    from quantkit.risk.var import VaRResult as VaRResult
    from quantkit.risk.var_policy import VaRLimit as VaRLimit
    from quantkit.run_builder import build_run as build_run
    from quantkit.secrets import Credentials as Credentials
    from quantkit.secrets import load_credentials as load_credentials
    from quantkit.vector.run import FastResult as FastResult
    from quantkit.vector.run import FastSettings as FastSettings
    from quantkit.vector.run import run_signals as run_signals
    from quantkit.vector.signals import SignalData as SignalData
    from quantkit.vector.signals import Signals as Signals
    from quantkit.vector.strategy import SignalStrategy as SignalStrategy
    from quantkit.vector.strategy import SmaCrossSignals as SmaCrossSignals
    from quantkit.vector.sweep_run import sweep as sweep

# Names served on first use, so that `import quantkit` stays light: the data manager, the
# venue adapter, the audit and the statistics load their modules only when asked for.
_LAZY: dict[str, str] = {
    "AccountDivergence": "quantkit.brokers.live_reconcile",
    "CcxtExchange": "quantkit.exchanges.ccxt_exchange",
    "CcxtPerpetualExchange": "quantkit.exchanges.perpetuals",
    "Choice": "quantkit.optimize.space",
    "CircuitBreaker": "quantkit.brokers.breaker",
    "ConsecutiveLosses": "quantkit.risk.breakers",
    "Credentials": "quantkit.secrets",
    "DailyLossLimit": "quantkit.risk.breakers",
    "DivergenceReport": "quantkit.analysis.divergence",
    "DownloadReport": "quantkit.data.downloader",
    "EventTape": "quantkit.engine.tape",
    "FastResult": "quantkit.vector.run",
    "FastSettings": "quantkit.vector.run",
    "FixedAmount": "quantkit.risk.sizing",
    "FixedFraction": "quantkit.risk.sizing",
    "FixedNotional": "quantkit.risk.sizing",
    "FloatRange": "quantkit.optimize.space",
    "FundingSeries": "quantkit.data.funding",
    "FundingStore": "quantkit.data.store",
    "FusedFeed": "quantkit.data.fusion",
    "FusionRules": "quantkit.data.fusion",
    "IntRange": "quantkit.optimize.space",
    "KellySizer": "quantkit.risk.kelly",
    "LiveBarStream": "quantkit.data.live",
    "LiveBroker": "quantkit.brokers.live",
    "PerpetualLiveBroker": "quantkit.brokers.live_perpetual",
    "LiveSafety": "quantkit.brokers.live_reconcile",
    "LiveEngine": "quantkit.engine.live",
    "LiveSummary": "quantkit.engine.live",
    "LookAheadReport": "quantkit.engine.audit",
    "MaxConcentration": "quantkit.risk.exposure",
    "MaxDrawdownBreaker": "quantkit.risk.breakers",
    "MaxGrossExposure": "quantkit.risk.exposure",
    "MaxLeverage": "quantkit.risk.exposure",
    "MaxMarginUsage": "quantkit.risk.perp_limits",
    "MaxNetExposure": "quantkit.risk.exposure",
    "MaxOrderNotional": "quantkit.risk.order_limits",
    "MaxSlippage": "quantkit.risk.order_limits",
    "MinLiquidationDistance": "quantkit.risk.perp_limits",
    "MonteCarloReport": "quantkit.analysis.montecarlo",
    "MultiTimeframeFeed": "quantkit.data.multi",
    "OptimizationResult": "quantkit.optimize.report",
    "OrderRateLimit": "quantkit.risk.order_limits",
    "ParquetStore": "quantkit.data.store",
    "PriceBand": "quantkit.risk.validation",
    "QualityReport": "quantkit.data.quality",
    "ReduceOnlyCheck": "quantkit.risk.validation",
    "ReplayStream": "quantkit.data.replay",
    "ResampledFeed": "quantkit.data.resample",
    "RetryPolicy": "quantkit.data.fetch",
    "RollingVaR": "quantkit.risk.var",
    "RunConfig": "quantkit.config",
    "SaneOrder": "quantkit.risk.validation",
    "SignalData": "quantkit.vector.signals",
    "SignalStrategy": "quantkit.vector.strategy",
    "Signals": "quantkit.vector.signals",
    "SmaCrossSignals": "quantkit.vector.strategy",
    "StaleSignal": "quantkit.risk.validation",
    "StoreFeed": "quantkit.data.store",
    "StoreSnapshot": "quantkit.data.store",
    "StreamStatus": "quantkit.data.live",
    "SymbolQuality": "quantkit.data.quality",
    "TimeRange": "quantkit.data.store",
    "VaRLimit": "quantkit.risk.var_policy",
    "VaRResult": "quantkit.risk.var",
    "VolatilityTarget": "quantkit.risk.sizing",
    "WalkForwardResult": "quantkit.optimize.walkforward",
    "afetch_ohlcv_range": "quantkit.data.fetch",
    "afetch_trades_range": "quantkit.data.trades",
    "apply_gap_policy": "quantkit.data.gaps",
    "audit_lookahead": "quantkit.engine.audit",
    "bar_panel": "quantkit.data.panel",
    "build_risk": "quantkit.risk.config",
    "build_run": "quantkit.run_builder",
    "buy_and_hold": "quantkit.metrics.benchmark",
    "compute_stats": "quantkit.metrics.stats",
    "configure_logging": "quantkit.log",
    "deflated_sharpe_ratio": "quantkit.optimize.overfitting",
    "divergence_report": "quantkit.analysis.divergence",
    "download": "quantkit.data.downloader",
    "download_funding": "quantkit.data.perp_download",
    "download_prices": "quantkit.data.perp_download",
    "drawdown": "quantkit.metrics.stats",
    "fetch_ohlcv_range": "quantkit.data.fetch",
    "fetch_trades_range": "quantkit.data.trades",
    "load_config": "quantkit.config",
    "load_credentials": "quantkit.secrets",
    "load_risk": "quantkit.risk.config",
    "metrics_table": "quantkit.metrics.stats",
    "monte_carlo": "quantkit.analysis.montecarlo",
    "periods_per_year": "quantkit.metrics.stats",
    "probability_of_backtest_overfitting": "quantkit.optimize.overfitting",
    "quality_report": "quantkit.data.quality",
    "read_price_bars": "quantkit.data.perp_download",
    "read_tape": "quantkit.engine.tape",
    "resample_bars": "quantkit.data.resample",
    "run_signals": "quantkit.vector.run",
    "sweep": "quantkit.vector.sweep_run",
    "to_dataset": "quantkit.optimize.datasets",
    "trades_to_bars": "quantkit.data.trades",
    "walk_forward": "quantkit.optimize.walkforward",
}


__getattr__, __dir__ = _attach(__name__, _LAZY, globals())


__all__ = [
    "AccountDivergence",
    "BacktestBroker",
    "Bar",
    "BarSeries",
    "Broker",
    "CcxtExchange",
    "CcxtPerpetualExchange",
    "Choice",
    "CircuitBreaker",
    "ConfigError",
    "ConsecutiveLosses",
    "ContractPosition",
    "Credentials",
    "CsvFeed",
    "DailyLossLimit",
    "DataError",
    "DataFeed",
    "DataFrameFeed",
    "Decision",
    "DivergenceReport",
    "DownloadReport",
    "Engine",
    "EventTape",
    "ExchangeError",
    "FastResult",
    "FastSettings",
    "FeeModel",
    "Fill",
    "FillRules",
    "FixedAmount",
    "FixedBps",
    "FixedFraction",
    "FixedNotional",
    "FlatFees",
    "FloatRange",
    "FundingRates",
    "FundingSeries",
    "FundingStore",
    "FusedFeed",
    "FusionRules",
    "FuturesPortfolio",
    "Indicator",
    "IntRange",
    "InvalidTransitionError",
    "KellySizer",
    "LiveBarStream",
    "LiveBroker",
    "LiveEngine",
    "LiveSafety",
    "LiveSummary",
    "LookAheadError",
    "LookAheadReport",
    "MarginBracket",
    "MarginConfig",
    "Market",
    "MarketFees",
    "MaxConcentration",
    "MaxDrawdownBreaker",
    "MaxGrossExposure",
    "MaxLeverage",
    "MaxMarginUsage",
    "MaxNetExposure",
    "MaxOrderNotional",
    "MaxPositionSize",
    "MaxSlippage",
    "MinLiquidationDistance",
    "MonteCarloReport",
    "MultiTimeframeFeed",
    "NoSlippage",
    "OptimizationResult",
    "Order",
    "OrderError",
    "OrderRateLimit",
    "OrderRequest",
    "OrderStatus",
    "OrderType",
    "PaperBroker",
    "ParameterError",
    "ParentOrder",
    "ParentStatus",
    "ParquetFeed",
    "ParquetStore",
    "PerpetualLiveBroker",
    "PerpetualSpec",
    "Portfolio",
    "Position",
    "PriceBand",
    "QualityReport",
    "QuantkitError",
    "RateLimitedError",
    "ReconciliationError",
    "ReduceOnlyCheck",
    "RegistryError",
    "ReplayStream",
    "RequestTimeoutError",
    "ResampledFeed",
    "Result",
    "RetryPolicy",
    "RiskAction",
    "RiskChain",
    "RiskPolicy",
    "RollingVaR",
    "RouteDecision",
    "RouteLeg",
    "RoutedOrder",
    "Router",
    "RunConfig",
    "SaneOrder",
    "SeriesFeed",
    "SeriesView",
    "Side",
    "SignalData",
    "SignalStrategy",
    "Signals",
    "SimSettings",
    "SlippageModel",
    "SmaCross",
    "SmaCrossSignals",
    "StaleSignal",
    "StoreError",
    "StoreFeed",
    "StoreSnapshot",
    "Strategy",
    "StrategyError",
    "StreamStatus",
    "SymbolData",
    "SymbolQuality",
    "TimeInForce",
    "TimeRange",
    "TransientError",
    "UnknownSymbolError",
    "UsageError",
    "VaRLimit",
    "VaRResult",
    "VenueBusyError",
    "VenueHealth",
    "VenueQuote",
    "VenueUnavailableError",
    "Venues",
    "VolatilityTarget",
    "VolumeImpact",
    "WalkForwardResult",
    "afetch_ohlcv_range",
    "afetch_trades_range",
    "apply_gap_policy",
    "audit_lookahead",
    "available_strategies",
    "bar_panel",
    "build_risk",
    "build_run",
    "buy_and_hold",
    "compute_stats",
    "configure_logging",
    "crossover_signal",
    "deflated_sharpe_ratio",
    "divergence_report",
    "download",
    "download_funding",
    "download_prices",
    "drawdown",
    "fetch_ohlcv_range",
    "fetch_trades_range",
    "get_strategy",
    "load_config",
    "load_credentials",
    "load_risk",
    "load_sample",
    "metrics_table",
    "monte_carlo",
    "parse_timeframe",
    "periods_per_year",
    "probability_of_backtest_overfitting",
    "qualify",
    "quality_report",
    "read_price_bars",
    "read_tape",
    "register_strategy",
    "resample_bars",
    "resolve_symbol",
    "route",
    "run_signals",
    "sample_feed",
    "split_venue",
    "sweep",
    "to_dataset",
    "trades_to_bars",
    "validate_bars",
    "venue_summary",
    "walk_forward",
]
