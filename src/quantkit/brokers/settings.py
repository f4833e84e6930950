"""The settings of a simulated account: one value for the backtest and paper brokers.

`SimSettings` gathers what `BacktestBroker` and `PaperBroker` share (cash, currency, markets,
fees and the asset that pays them, slippage, participation, intra-bar assumption, shorting,
leverage), so a run's builder makes it once and both brokers take it. The brokers still accept
each setting as a keyword (``BacktestBroker(cash=5_000)``); keywords override the fields of a
given settings value.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

from quantkit.errors import ConfigError

if TYPE_CHECKING:
    from quantkit.domain.bars import BarSeries
    from quantkit.domain.funding import FundingRates
    from quantkit.domain.market import Market
    from quantkit.domain.perpetual import MarginMode, PositionMode
    from quantkit.sim.fees import FeeAsset, FeeModel
    from quantkit.sim.rules import IntrabarAssumption
    from quantkit.sim.slippage import SlippageModel

__all__ = ["SimOptions", "SimSettings"]


@dataclass(frozen=True, slots=True)
class SimSettings:
    """A simulated account and the rules its orders fill by.

    Attributes:
        cash: Starting cash in ``currency``.
        currency: Account currency; every market must be quoted in it.
        markets: Market descriptions by symbol. Symbols of the data without one get
            ``Market.from_symbol(symbol)`` (no precision limits, 0.1 % maker and taker fees).
        fees: Fee model (default: each market's rates).
        fees_charged_in: Which asset pays the fees: ``"quote"`` (every fee in the quote
            currency) or ``"received"`` (a buy's fee in the base asset it receives, as Binance
            spot and `quantkit.testing.LocalExchange`); ``None`` (default) keeps the fee
            model's own choice (``"quote"`` unless it says otherwise). A spot account only.
        slippage: Slippage model (default: none).
        participation: Largest fraction of a bar's volume one symbol's fills may take.
        intrabar: Assumption for outcomes that depend on the order of prices inside a bar.
        allow_short: Whether positions may go short.
        leverage: Largest gross exposure as a multiple of equity; for perpetual markets,
            the leverage of every symbol not in ``leverages``.
        margin_mode: Perpetuals: ``"cross"`` (default) or ``"isolated"`` margin.
        position_mode: Perpetuals: ``"one-way"`` (hedge mode is not supported yet).
        leverages: Perpetuals: leverage by symbol (at most the first bracket's maximum).
        marks: Perpetuals: mark price bars by symbol, one for each bar of the run (symbols
            without one are marked at the trade price).
        funding: Perpetuals: funding rates by symbol (`FundingRates.history` or
            `FundingRates.constant`); a symbol without any pays no funding.

    Examples:
        >>> from quantkit.brokers.backtest import BacktestBroker
        >>> settings = SimSettings(cash=5_000, allow_short=True)
        >>> broker = BacktestBroker(settings, leverage=2.0)
        >>> broker.settings.cash, broker.settings.allow_short, broker.settings.leverage
        (5000, True, 2.0)
    """

    cash: float = 100_000.0
    currency: str = "USDT"
    markets: Mapping[str, Market] | None = None
    fees: FeeModel | None = None
    slippage: SlippageModel | None = None
    participation: float | None = None
    intrabar: IntrabarAssumption = "adverse"
    allow_short: bool = False
    leverage: float = 1.0
    fees_charged_in: FeeAsset | None = None
    margin_mode: MarginMode = "cross"
    position_mode: PositionMode = "one-way"
    leverages: Mapping[str, float] | None = None
    marks: Mapping[str, BarSeries] | None = None
    funding: Mapping[str, FundingRates] | None = None

    def fee_model(self) -> FeeModel | None:
        """The fee model with `fees_charged_in` applied (``None``: the simulator's default).

        Returns:
            ``fees`` (or ``MarketFees()`` when only the fee asset is set), charging in the
            asset `fees_charged_in` names.

        Raises:
            ConfigError: If ``fees_charged_in`` is unknown, or differs from the choice of a
                custom fee model that is neither `FlatFees` nor `MarketFees`.

        Examples:
            >>> SimSettings(fees_charged_in="received").fee_model()
            MarketFees(charged_in='received')
        """
        from quantkit.sim.fees import FlatFees, MarketFees, check_fee_asset  # noqa: PLC0415

        wanted, fees = self.fees_charged_in, self.fees
        if wanted is None:
            return fees
        check_fee_asset("SimSettings.fees", wanted, 0.0)
        if fees is None or isinstance(fees, MarketFees):
            return MarketFees(charged_in=wanted)
        if isinstance(fees, FlatFees):
            return dataclasses.replace(fees, charged_in=wanted)
        if fees.charged_in != wanted:
            raise ConfigError(
                f"SimSettings: fees_charged_in={wanted!r} cannot change the custom fee model "
                f"{type(fees).__name__} (it charges in {fees.charged_in!r}); set its "
                "charged_in attribute instead"
            )
        return fees

    def with_options(self, options: SimOptions) -> SimSettings:
        """These settings with some fields replaced.

        Args:
            options: Field values by name.

        Returns:
            New settings (this value is unchanged).
        """
        return dataclasses.replace(self, **options) if options else self


class SimOptions(TypedDict, total=False):
    """`SimSettings` fields given as keywords to a broker's constructor."""

    cash: float
    currency: str
    markets: Mapping[str, Market] | None
    fees: FeeModel | None
    slippage: SlippageModel | None
    participation: float | None
    intrabar: IntrabarAssumption
    allow_short: bool
    leverage: float
    fees_charged_in: FeeAsset | None
    margin_mode: MarginMode
    position_mode: PositionMode
    leverages: Mapping[str, float] | None
    marks: Mapping[str, BarSeries] | None
    funding: Mapping[str, FundingRates] | None
