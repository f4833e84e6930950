"""Risk: every order intent passes through a RiskPolicy before it reaches a broker.

Sizers, limits, breakers and VaR are served on first use, so that importing quantkit stays
light.
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from quantkit._lazy import attach as _attach
from quantkit.risk.limits import MaxPositionSize as MaxPositionSize
from quantkit.risk.policy import Decision as Decision
from quantkit.risk.policy import RiskAction as RiskAction
from quantkit.risk.policy import RiskChain as RiskChain
from quantkit.risk.policy import RiskContext as RiskContext
from quantkit.risk.policy import RiskPolicy as RiskPolicy

if _TYPE_CHECKING:
    from quantkit.risk.breakers import ConsecutiveLosses as ConsecutiveLosses
    from quantkit.risk.breakers import DailyLossLimit as DailyLossLimit
    from quantkit.risk.breakers import MaxDrawdownBreaker as MaxDrawdownBreaker
    from quantkit.risk.config import build_risk as build_risk
    from quantkit.risk.config import load_risk as load_risk
    from quantkit.risk.config import register_policy as register_policy
    from quantkit.risk.exposure import MaxConcentration as MaxConcentration
    from quantkit.risk.exposure import MaxGrossExposure as MaxGrossExposure
    from quantkit.risk.exposure import MaxLeverage as MaxLeverage
    from quantkit.risk.exposure import MaxNetExposure as MaxNetExposure
    from quantkit.risk.kelly import KellyEstimate as KellyEstimate
    from quantkit.risk.kelly import KellySizer as KellySizer
    from quantkit.risk.order_limits import MaxOrderNotional as MaxOrderNotional
    from quantkit.risk.order_limits import MaxSlippage as MaxSlippage
    from quantkit.risk.order_limits import OrderRateLimit as OrderRateLimit
    from quantkit.risk.perp_limits import MaxMarginUsage as MaxMarginUsage
    from quantkit.risk.perp_limits import MinLiquidationDistance as MinLiquidationDistance
    from quantkit.risk.quiet import QuietBand as QuietBand
    from quantkit.risk.reset import Breaker as Breaker
    from quantkit.risk.reset import ResetRule as ResetRule
    from quantkit.risk.sizing import FixedAmount as FixedAmount
    from quantkit.risk.sizing import FixedFraction as FixedFraction
    from quantkit.risk.sizing import FixedNotional as FixedNotional
    from quantkit.risk.sizing import Size as Size
    from quantkit.risk.sizing import Sizer as Sizer
    from quantkit.risk.sizing import VolatilityTarget as VolatilityTarget
    from quantkit.risk.validation import PriceBand as PriceBand
    from quantkit.risk.validation import ReduceOnlyCheck as ReduceOnlyCheck
    from quantkit.risk.validation import SaneOrder as SaneOrder
    from quantkit.risk.validation import StaleSignal as StaleSignal
    from quantkit.risk.var import RollingVaR as RollingVaR
    from quantkit.risk.var import VaRResult as VaRResult
    from quantkit.risk.var_policy import VaRLimit as VaRLimit

_LAZY: dict[str, str] = {
    "Breaker": "quantkit.risk.reset",
    "ConsecutiveLosses": "quantkit.risk.breakers",
    "DailyLossLimit": "quantkit.risk.breakers",
    "FixedAmount": "quantkit.risk.sizing",
    "FixedFraction": "quantkit.risk.sizing",
    "FixedNotional": "quantkit.risk.sizing",
    "KellyEstimate": "quantkit.risk.kelly",
    "KellySizer": "quantkit.risk.kelly",
    "MaxConcentration": "quantkit.risk.exposure",
    "MaxDrawdownBreaker": "quantkit.risk.breakers",
    "MaxGrossExposure": "quantkit.risk.exposure",
    "MaxLeverage": "quantkit.risk.exposure",
    "MaxMarginUsage": "quantkit.risk.perp_limits",
    "MaxNetExposure": "quantkit.risk.exposure",
    "MaxOrderNotional": "quantkit.risk.order_limits",
    "MaxSlippage": "quantkit.risk.order_limits",
    "MinLiquidationDistance": "quantkit.risk.perp_limits",
    "OrderRateLimit": "quantkit.risk.order_limits",
    "PriceBand": "quantkit.risk.validation",
    "QuietBand": "quantkit.risk.quiet",
    "ReduceOnlyCheck": "quantkit.risk.validation",
    "ResetRule": "quantkit.risk.reset",
    "RollingVaR": "quantkit.risk.var",
    "SaneOrder": "quantkit.risk.validation",
    "Size": "quantkit.risk.sizing",
    "Sizer": "quantkit.risk.sizing",
    "StaleSignal": "quantkit.risk.validation",
    "VaRLimit": "quantkit.risk.var_policy",
    "VaRResult": "quantkit.risk.var",
    "VolatilityTarget": "quantkit.risk.sizing",
    "build_risk": "quantkit.risk.config",
    "load_risk": "quantkit.risk.config",
    "register_policy": "quantkit.risk.config",
}

__getattr__, __dir__ = _attach(__name__, _LAZY, globals())

__all__ = [
    "Breaker",
    "ConsecutiveLosses",
    "DailyLossLimit",
    "Decision",
    "FixedAmount",
    "FixedFraction",
    "FixedNotional",
    "KellyEstimate",
    "KellySizer",
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
    "OrderRateLimit",
    "PriceBand",
    "QuietBand",
    "ReduceOnlyCheck",
    "ResetRule",
    "RiskAction",
    "RiskChain",
    "RiskContext",
    "RiskPolicy",
    "RollingVaR",
    "SaneOrder",
    "Size",
    "Sizer",
    "StaleSignal",
    "VaRLimit",
    "VaRResult",
    "VolatilityTarget",
    "build_risk",
    "load_risk",
    "register_policy",
]
