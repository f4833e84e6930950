"""The vectorised fast path: signal strategies through a compiled simulator.

`run_signals` runs one `SignalStrategy` on one symbol; `sweep` runs a grid of parameters over
many symbols. Both give the fills the event-driven engine gives for the same strategy and
settings (see ``docs/fast-path.md``). numba is imported only when a run starts.
"""

from quantkit.vector.run import FastResult as FastResult
from quantkit.vector.run import FastSettings as FastSettings
from quantkit.vector.run import run_signals as run_signals
from quantkit.vector.signals import SignalData as SignalData
from quantkit.vector.signals import Signals as Signals
from quantkit.vector.sweep_run import sweep as sweep

__all__ = ["FastResult", "FastSettings", "SignalData", "Signals", "run_signals", "sweep"]
