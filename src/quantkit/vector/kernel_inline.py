"""How the compiled kernels' helpers are compiled: inlined before typing, or shared and cached.

On a cold numba cache the fast path's first call is mostly compilation, and numba's defaults
repeat work. A ``register_jitable(inline="always")`` helper is compiled whole on its own
(typing, lowering, machine code for it and everything it calls) only to be typed again and
inlined; a helper that two cached kernels call is compiled again in each process that compiles
the second kernel. The two wrappers here avoid both:

- `inlined`: numba's untyped ``InlineInlinables`` pass copies the helper's IR into each
  compiled caller (as for ``numba.njit(inline="always")``); it is never compiled on its own.
  Every call site gets a copy: use it for phases called from one or two places.
- `shared`: a cached compiled function (``cache=True``) that compiled callers call; the
  second kernel that calls it loads it from numba's cache. One signature serves every caller
  only if they pass the same argument types (see `run._read_only`).

Called from Python, both run the plain function, as ``register_jitable`` helpers do, so
``simulate.py_func`` still runs the whole kernel uncompiled (the tests compare it with the
compiled code).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from numba.core.registry import CPUDispatcher

__all__ = ["inlined", "shared"]

F = TypeVar("F", bound=Callable[..., Any])


class _SourceInPython(CPUDispatcher):
    """A numba dispatcher whose calls from Python run the plain function."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.py_func(*args, **kwargs)


def inlined(func: F) -> F:
    """Return ``func`` as a helper that numba inlines (untyped IR) into compiled callers."""
    return cast("F", _SourceInPython(func, targetoptions={"nopython": True, "inline": "always"}))


def shared(func: F) -> F:
    """Return ``func`` as a compiled function in numba's cache, called by compiled callers."""
    # the options numba compiles ``register_jitable`` helpers with: a helper's compiled
    # versions are kept per set of options, so other options compiled each helper that this
    # function and the helpers call twice (Python calls run the source: no wrapper needed)
    options = {"nopython": True, "no_cpython_wrapper": True}
    dispatcher = _SourceInPython(func, targetoptions=options)
    dispatcher.enable_caching()
    return cast("F", dispatcher)
