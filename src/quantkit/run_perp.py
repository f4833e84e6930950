"""Building the perpetual parts of a configured run (`quantkit.config_perp.PerpetualConfig`).

`simulated_perpetuals` turns the ``perpetual`` section into the `SimSettings` fields of the
backtest and paper brokers: a `Market` with its `PerpetualSpec` per perpetual symbol, margin
mode, leverages, mark bars (from the store, or none: the trade bars) and funding rates (from
the store, a constant, or none). `live_perpetuals` builds the `CcxtPerpetualExchange` and the
`PerpetualLiveBroker` of a live run. `quantkit.run_builder` calls them; nothing else looks at
the mode.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quantkit.config import ExchangeData, LiveMode, RunConfig, StoreData
from quantkit.config_perp import ConstantFunding, PerpetualConfig, StoredFunding
from quantkit.errors import ConfigError, DataError

if TYPE_CHECKING:
    from quantkit.brokers.live_perpetual import PerpetualLiveBroker
    from quantkit.domain.bars import BarSeries
    from quantkit.domain.funding import FundingRates
    from quantkit.domain.market import Market
    from quantkit.exchanges.perpetuals import CcxtPerpetualExchange
    from quantkit.secrets import Credentials

__all__ = ["live_perpetuals", "perpetual_symbols", "simulated_perpetuals"]

_HOUR_NS = 3_600_000_000_000
LINEAR_ONLY: dict[str, Any] = {"fetchMarkets": {"types": ["linear"]}}
"""ccxt ``binanceusdm`` options: load the linear markets only (the ones traded live)."""


def perpetual_symbols(config: RunConfig) -> list[str]:
    """The run's perpetual symbols (the section's, else every symbol of the data)."""
    perpetual = _section(config)
    if perpetual.symbols:
        return list(perpetual.symbols)
    symbols = getattr(config.data, "symbols", None) or [getattr(config.data, "symbol", None)]
    return [str(s) for s in symbols if s]  # (the configuration check made sure there are some)


def _section(config: RunConfig) -> PerpetualConfig:
    if config.perpetual is None:
        raise ConfigError("perpetual: the run trades spot")  # pragma: no cover - callers check
    return config.perpetual


def simulated_perpetuals(config: RunConfig) -> dict[str, Any]:
    """The `SimSettings` fields of the ``perpetual`` section (backtest and paper).

    Args:
        config: A run with a ``perpetual`` section.

    Returns:
        ``markets``, ``margin_mode``, ``leverages``, ``marks`` and ``funding``.

    Raises:
        DataError: If stored marks or funding are asked for and the store has none.
    """
    from quantkit.domain.market import Market  # noqa: PLC0415

    perpetual = _section(config)
    symbols = perpetual_symbols(config)
    spec = perpetual.spec()
    markets: dict[str, Market] = {s: Market.from_symbol(s, perpetual=spec) for s in symbols}
    return {
        "markets": markets,
        "margin_mode": perpetual.margin_mode,
        "leverages": {s: perpetual.leverage_of(s) for s in symbols},
        "marks": _marks(config, symbols),
        "funding": _funding(config, symbols),
    }


def _marks(config: RunConfig, symbols: list[str]) -> dict[str, BarSeries] | None:
    marks = _section(config).marks
    data = config.data
    if marks is None or marks.source == "last" or not isinstance(data, StoreData):
        return None  # the trade bars stand in for the marks (the documented fallback)
    from quantkit.data.perp_download import read_price_bars  # noqa: PLC0415
    from quantkit.data.store import ParquetStore  # noqa: PLC0415

    store = ParquetStore(data.root)
    try:
        return {
            s: read_price_bars(store, data.exchange, s, data.timeframe, data.start, data.end)
            for s in symbols
        }
    except DataError as exc:
        raise DataError(f"perpetual.marks: {exc.problem}", source=exc.source) from None


def _funding(config: RunConfig, symbols: list[str]) -> dict[str, FundingRates] | None:
    from quantkit.domain.funding import FundingRates  # noqa: PLC0415

    funding = _section(config).funding
    if isinstance(funding, ConstantFunding):
        interval = int(funding.interval_hours * _HOUR_NS)
        return {s: FundingRates.constant(funding.rate, interval) for s in symbols}
    data = config.data
    if not isinstance(funding, StoredFunding) or not isinstance(data, StoreData):
        return None  # no funding: stated in the result
    from quantkit.data.store import FundingStore  # noqa: PLC0415

    store = FundingStore(data.root)
    rates = {}
    for symbol in symbols:
        series = store.read(data.exchange, symbol, data.start, data.end)
        if not len(series.time):
            raise DataError(
                f"perpetual.funding: no funding rates stored for {symbol} in the run's window; "
                f"download them with: quantkit download {data.exchange} {symbol} --funding",
                source=str(data.root),
            )
        rates[symbol] = series.rates()
    return rates


def live_perpetuals(
    config: RunConfig, credentials: Credentials | None
) -> tuple[CcxtPerpetualExchange, PerpetualLiveBroker]:
    """The venue and the broker of a live run on perpetuals (``binanceusdm``).

    Args:
        config: A live run with a ``perpetual`` section and exchange data.
        credentials: The account's keys.

    Returns:
        The venue (it also serves the bars) and the broker.
    """
    from quantkit.brokers.live_perpetual import PerpetualLiveBroker  # noqa: PLC0415
    from quantkit.exchanges.perpetuals import CcxtPerpetualExchange  # noqa: PLC0415

    data, mode, perpetual = config.data, config.broker, _section(config)
    if not isinstance(data, ExchangeData) or not isinstance(mode, LiveMode):
        raise ConfigError("perpetual: a live run needs exchange data")  # pragma: no cover
    venue = CcxtPerpetualExchange(
        data.exchange,
        credentials=credentials,
        sandbox=data.sandbox,
        api_url=data.api_url,
        options=LINEAR_ONLY,
    )
    broker = PerpetualLiveBroker(
        venue,
        leverage={s: perpetual.leverage_of(s) for s in perpetual_symbols(config)},
        margin_mode=perpetual.margin_mode,
        journal=mode.journal,
        run_id=mode.run_id,
        confirm_live=mode.confirm,
        currency=mode.currency,
    )
    return venue, broker
