"""The simulated exchange shared by the backtest and paper brokers."""

from quantkit.sim.exchange import SimulatedExchange as SimulatedExchange
from quantkit.sim.fees import FeeModel as FeeModel
from quantkit.sim.fees import FlatFees as FlatFees
from quantkit.sim.fees import MarketFees as MarketFees
from quantkit.sim.rules import FillRules as FillRules
from quantkit.sim.slippage import FixedBps as FixedBps
from quantkit.sim.slippage import NoSlippage as NoSlippage
from quantkit.sim.slippage import SlippageModel as SlippageModel
from quantkit.sim.slippage import VolumeImpact as VolumeImpact

__all__ = [
    "FeeModel",
    "FillRules",
    "FixedBps",
    "FlatFees",
    "MarketFees",
    "NoSlippage",
    "SimulatedExchange",
    "SlippageModel",
    "VolumeImpact",
]
