"""Risk: every order intent passes through a RiskPolicy before it reaches a broker."""

from quantkit.risk.limits import MaxPositionSize as MaxPositionSize
from quantkit.risk.policy import Decision as Decision
from quantkit.risk.policy import RiskAction as RiskAction
from quantkit.risk.policy import RiskChain as RiskChain
from quantkit.risk.policy import RiskContext as RiskContext
from quantkit.risk.policy import RiskPolicy as RiskPolicy

__all__ = ["Decision", "MaxPositionSize", "RiskAction", "RiskChain", "RiskContext", "RiskPolicy"]
