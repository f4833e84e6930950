"""Views of a growing history: what a strategy reads, never past the current bar."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from quantkit.errors import LookAheadError

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["Cursor", "SeriesView"]


class Cursor:
    """The index of the latest closed bar of one symbol (``-1`` before the first bar)."""

    __slots__ = ("i",)

    def __init__(self) -> None:
        self.i = -1


class SeriesView:
    """A read-only view of one column up to the current bar.

    Index it like a Python sequence that ends at the current bar: ``view[-1]`` is the current
    value, ``view[-2]`` the previous one, ``view[0]`` the first, ``len(view)`` the number of
    bars seen so far. Positions after the current bar do not exist: reading one raises
    `LookAheadError`, so a strategy cannot look ahead by mistake.

    Examples:
        >>> import numpy as np
        >>> cursor = Cursor()
        >>> close = SeriesView("close", np.array([1.0, 2.0, 3.0]), cursor)
        >>> cursor.i = 1
        >>> close[-1], len(close), close.values.tolist()
        (2.0, 2, [1.0, 2.0])
    """

    __slots__ = ("_array", "_buffer", "_cursor", "_scalars", "name")

    # No ``__getattr__`` on this class: defining one turns every attribute read of an instance
    # into the slow generic lookup, and ``view[-1]`` runs once per bar and indicator.

    def __init__(self, name: str, array: npt.NDArray[np.float64], cursor: Cursor) -> None:
        self.name = name
        self._array = array
        self._cursor = cursor
        self._scalars = _scalar_reader(self)

    def __getstate__(self) -> dict[str, Any]:
        # The scalar reader may be a memoryview, which cannot be pickled or copied; it is only a
        # cache of ``_array``, rebuilt on load.
        state: dict[str, Any] = {}
        for kind in type(self).__mro__:
            for name in getattr(kind, "__slots__", ()):
                if name not in ("_scalars", "_buffer") and name not in state:
                    try:
                        state[name] = object.__getattribute__(self, name)
                    except AttributeError:
                        continue
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)
        self._scalars = _scalar_reader(self)

    @overload
    def __getitem__(self, key: int) -> float: ...

    @overload
    def __getitem__(self, key: slice) -> npt.NDArray[np.float64]: ...

    def __getitem__(self, key: int | slice) -> float | npt.NDArray[np.float64]:
        # The per-bar read: as few operations as possible for a plain int.
        if type(key) is int:
            i = self._cursor.i
            if key < 0:
                j = i + 1 + key
                if j >= 0:
                    value: float = self._scalars[j]
                    return value
                raise IndexError(f"{self.name}[{key}]: only {i + 1} bars seen so far")
            if key <= i:
                first: float = self._scalars[key]
                return first
            raise LookAheadError(
                f"{self.name}[{key}] is after the current bar (index {i}); "
                "use negative indices: [-1] is the current bar"
            )
        return self._other_key(key)

    def _other_key(self, key: object) -> float | npt.NDArray[np.float64]:
        """A slice, or an int-like that is not an ``int`` (numpy integers)."""
        if isinstance(key, slice):
            return self.values[key]
        if not isinstance(key, bool):
            try:
                position = operator.index(key)  # type: ignore[arg-type]
            except TypeError:
                pass
            else:
                return self[position]
        raise TypeError(f"{self.name} indices must be integers or slices, not {type(key).__name__}")

    def __len__(self) -> int:
        return self._cursor.i + 1

    def __iter__(self) -> Any:
        return iter(self.values.tolist())

    @property
    def values(self) -> npt.NDArray[np.float64]:
        """A read-only numpy view of the values up to the current bar."""
        view = self._array[: self._cursor.i + 1]
        view.flags.writeable = False
        return view

    @property
    def last(self) -> float:
        """The current value (same as ``view[-1]``)."""
        return self[-1]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} bars={len(self)}>"

    def _append(self, values: npt.NDArray[np.float64]) -> None:
        """Add values at the end (live feeds); the cursor is moved by the caller.

        The values live in a buffer that doubles when full, so appending one bar at a time costs
        amortised O(1); `_array` stays a view of exactly the values so far.
        """
        have = len(self._array)
        total = have + len(values)
        try:
            buffer: npt.NDArray[np.float64] = object.__getattribute__(self, "_buffer")
        except AttributeError:
            buffer = self._array
        if total > len(buffer) or self._array.base is not buffer:
            buffer = np.empty(max(2 * total, 64), dtype=self._array.dtype)
            buffer[:have] = self._array
            self._buffer = buffer
        buffer[have:total] = values
        self._array = buffer[:total]
        self._scalars = _scalar_reader(self)


def _scalar_reader(view: SeriesView) -> Sequence[Any]:
    """Return an indexable reader of ``view``'s values as Python scalars.

    A contiguous float64 column is read through a memoryview: no copy, and each read returns a
    Python float (what ``tolist()`` would give). A list of a million floats would cost 32 MB
    per column and, being a container the garbage collector traverses, time in every full
    collection. Any other column gets a reader that converts it on its first read (a copy or
    a list then, only for columns a strategy reads by index).
    """
    array = view._array
    if array.dtype == np.float64 and array.ndim == 1 and array.flags.c_contiguous:
        return native_view(array)
    return _Deferred(view)


class _Deferred(Sequence[Any]):
    """A scalar reader that builds the real one on the first read and puts it in its place."""

    __slots__ = ("_view",)

    def __init__(self, view: SeriesView) -> None:
        self._view = view

    def _build(self) -> Sequence[Any]:
        view = self._view
        array = view._array
        reader: Sequence[Any]
        if array.dtype == np.float64 and array.ndim == 1:
            reader = native_view(array)  # copied once to contiguous memory
        else:
            reader = array.tolist()
        view._scalars = reader
        return reader

    @overload
    def __getitem__(self, index: int) -> Any: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Any]: ...

    def __getitem__(self, index: int | slice) -> Any:
        return self._build()[index]

    def __len__(self) -> int:
        return len(self._view._array)


def native_view(array: npt.NDArray[Any]) -> Sequence[Any]:
    """A memoryview of a 1-D int64 or float64 array whose items read as Python scalars.

    Arrays rebuilt by pickle (a Dask worker, a process pool) can expose their buffer with an
    explicit byte-order format (``"=q"``) that memoryviews refuse to index; those views are
    recast to the native format (no copy). A non-contiguous array is copied once.

    Args:
        array: The column.

    Returns:
        The indexable view.
    """
    contiguous = np.ascontiguousarray(array)
    view = contiguous.data
    if contiguous.dtype == np.float64:
        return view if view.format == "d" else view.cast("B").cast("d")
    return view if view.format in ("l", "q") else view.cast("B").cast("q")
