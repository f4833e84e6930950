"""The simulator's settings: fees, slippage, volume participation and intrabar assumptions."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from quantkit.errors import ConfigError
from quantkit.sim.fees import FeeModel, MarketFees
from quantkit.sim.slippage import NoSlippage, SlippageModel

__all__ = ["FillRules", "IntrabarAssumption"]

IntrabarAssumption = Literal["adverse", "favorable", "nearest"]


@dataclass(frozen=True, slots=True)
class FillRules:
    """How the simulated exchange fills orders.

    Args:
        fees: Fee model (default: each market's maker/taker rates).
        slippage: Slippage model for market and stop fills (default: none).
        participation: If set, the largest fraction of each bar's volume that this account's
            fills may take on one symbol; larger orders fill partially over several bars.
        intrabar: Which of a bar's two possible price paths (open-high-low-close or
            open-low-high-close) to assume when the outcome depends on it: ``"adverse"``
            (the default) takes the one that leaves equity lower, ``"favorable"`` the higher,
            ``"nearest"`` visits the extreme nearer the open first.

    Raises:
        ConfigError: If ``participation`` is not in (0, 1] or ``intrabar`` is unknown.
    """

    fees: FeeModel = field(default_factory=MarketFees)
    slippage: SlippageModel = field(default_factory=NoSlippage)
    participation: float | None = None
    intrabar: IntrabarAssumption = "adverse"

    def __post_init__(self) -> None:
        if self.participation is not None and (
            not math.isfinite(self.participation) or not 0 < self.participation <= 1
        ):
            raise ConfigError(f"participation must be in (0, 1], got {self.participation!r}")
        if self.intrabar not in ("adverse", "favorable", "nearest"):
            raise ConfigError(
                f"intrabar must be 'adverse', 'favorable' or 'nearest', got {self.intrabar!r}"
            )
        if not isinstance(self.fees, FeeModel):
            raise ConfigError(f"fees must be a FeeModel, got {type(self.fees).__name__}")
        if not isinstance(self.slippage, SlippageModel):
            raise ConfigError(
                f"slippage must be a SlippageModel, got {type(self.slippage).__name__}"
            )
