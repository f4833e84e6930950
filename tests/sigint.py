"""Start children as a shell or CI does when it runs the suite in the background.

A background job inherits SIGINT as *ignored*; Python then installs no KeyboardInterrupt handler
of its own, so a child that relies on it never stops on SIGINT. Tests that stop a child with a
signal run it both ways: `INHERITED` lists the two dispositions for ``pytest.mark.parametrize``
and `preexec` gives the ``preexec_fn`` that sets one in the child before it execs Python.
"""

from __future__ import annotations

import signal
from collections.abc import Callable

INHERITED = ("default", "ignored")
"""How the child inherits SIGINT: as the parent has it, or ignored (a background job)."""


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # survives exec, as in a background job


def preexec(inherited: str) -> Callable[[], None] | None:
    """The ``preexec_fn`` for `subprocess.Popen` that gives the child this SIGINT disposition."""
    return _ignore_sigint if inherited == "ignored" else None
