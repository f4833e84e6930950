"""The engine: runs a strategy through risk and a broker, and returns a Result."""

from quantkit.engine.engine import Engine as Engine
from quantkit.engine.result import Result as Result

__all__ = ["Engine", "Result"]
