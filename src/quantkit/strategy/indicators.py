"""Indicators: computed once over history, read bar by bar, never ahead of the current bar."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from quantkit.errors import ConfigError, LookAheadError, UsageError
from quantkit.strategy.series import Cursor, SeriesView

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["Indicator", "compute_indicator"]

_CHECK_MIN_BARS = 8


class Indicator(SeriesView):
    """The values of an indicator, readable up to the current bar like a `SeriesView`.

    Attributes:
        name: Display name.
        func: The function that computes it over whole arrays.
        inputs: The series it is computed from.
        params: Keyword arguments passed to ``func``.
        lookback: Bars of history one new value needs (``None``: all of it).
        output: Which element of a tuple-returning function this is.
    """

    __slots__ = ("func", "inputs", "lookback", "output", "params")

    def __init__(
        self,
        name: str,
        array: npt.NDArray[np.float64],
        cursor: Cursor,
        *,
        func: Callable[..., Any],
        inputs: Sequence[SeriesView],
        params: dict[str, Any],
        lookback: int | None,
        output: int | None,
    ) -> None:
        super().__init__(name, array, cursor)
        self.func = func
        self.inputs = tuple(inputs)
        self.params = params
        self.lookback = lookback
        self.output = output

    def update(self) -> None:
        """Extend the values to match the inputs after new bars were appended (live feeds).

        Only the last ``lookback + 1`` bars are recomputed when the lookback is known, so a
        live engine never recomputes the whole history for a new bar.
        """
        total = len(self.inputs[0]._array)
        have = len(self._array)
        if total <= have:
            return
        new = total - have
        start = 0 if self.lookback is None else max(total - new - self.lookback, 0)
        arrays = [view._array[start:] for view in self.inputs]
        result = _outputs(self.func(*arrays, **self.params), total - start, self.name)
        values = result[self.output or 0]
        self._append(values[-new:])


def _outputs(result: Any, length: int, name: str) -> list[npt.NDArray[np.float64]]:
    items = list(result) if isinstance(result, tuple | list) else [result]
    arrays: list[npt.NDArray[np.float64]] = []
    for item in items:
        raw = item.to_numpy() if hasattr(item, "to_numpy") else item
        try:
            array = np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            kind = type(raw).__name__
            raise UsageError(
                f"indicator {name!r} returned {kind} values that are not numbers ({exc}); an "
                "indicator function must return numbers: an array of floats, one per bar (or "
                "a tuple of such arrays)"
            ) from exc
        if array.shape != (length,):
            raise ConfigError(
                f"indicator {name!r} returned shape {array.shape}; it must return one value per "
                f"bar ({length},) or a tuple of such arrays"
            )
        arrays.append(np.ascontiguousarray(array))
    return arrays


def _is_trusted(func: Callable[..., Any]) -> bool:
    """TA-Lib's own functions are causal by construction; everything else is checked."""
    module = str(getattr(func, "__module__", ""))
    return module.split(".", maxsplit=1)[0] == "talib"


def _talib_lookback(func: Callable[..., Any], params: dict[str, Any]) -> int | None:
    import talib.abstract  # noqa: PLC0415 - lazy: only for TA-Lib indicators

    try:
        abstract = talib.abstract.Function(func.__name__)  # type: ignore[attr-defined]
        abstract.set_parameters(**params)
        flags = abstract.info.get("function_flags") or []
        lookback = int(abstract.lookback)
    except Exception:  # unknown to the abstract API: recompute in full
        return None
    if any("unstable" in str(flag).lower() for flag in flags):
        return None  # seeded recursions: a window gives other values than full history
    return lookback


def _window_is_exact(
    func: Callable[..., Any],
    arrays: list[npt.NDArray[np.float64]],
    params: dict[str, Any],
    full: list[npt.NDArray[np.float64]],
    lookback: int,
    name: str,
) -> bool:
    """Whether the last ``lookback + 1`` bars reproduce the full-history value exactly.

    Functions built on exponential averages (MACD, for one) are not flagged unstable by TA-Lib
    yet depend on their seed; this check catches them, and they are then recomputed in full.
    """
    size = lookback + 1
    if len(arrays[0]) <= size:
        return True
    tail = _outputs(func(*(a[-size:] for a in arrays), **params), size, name)
    return all(
        bool(np.isclose(t[-1], f[-1], rtol=1e-12, atol=0.0, equal_nan=True))
        for t, f in zip(tail, full, strict=True)
    )


def _check_causal(
    func: Callable[..., Any],
    arrays: list[npt.NDArray[np.float64]],
    params: dict[str, Any],
    full: list[npt.NDArray[np.float64]],
    name: str,
) -> None:
    """Recompute on truncated history; any earlier value that changes used later data."""
    length = len(arrays[0])
    if length < _CHECK_MIN_BARS:
        return
    for cut in (length // 3, (2 * length) // 3):
        part = _outputs(func(*(a[:cut] for a in arrays), **params), cut, name)
        for index, (short, long) in enumerate(zip(part, full, strict=True)):
            same = np.isclose(short, long[:cut], rtol=1e-9, atol=1e-12, equal_nan=True)
            if not same.all():
                bar = int(np.argmin(same))
                label = name if len(full) == 1 else f"{name}[{index}]"
                raise LookAheadError(
                    f"indicator {label!r} looks ahead: its value at bar {bar} changes when the "
                    f"bars from {cut} on are removed (first checked cut: {cut} of {length} bars)"
                )


def compute_indicator(
    func: Callable[..., Any],
    inputs: Sequence[SeriesView],
    params: dict[str, Any],
    *,
    name: str | None = None,
    lookback: int | None = None,
) -> Indicator | tuple[Indicator, ...]:
    """Compute an indicator over the whole available history of its inputs.

    Args:
        func: A function of numpy arrays returning an array (or a tuple of arrays) of the same
            length, e.g. ``talib.SMA`` or ``lambda close: close / close[0]``.
        inputs: Series views (or other indicators) of one symbol, passed positionally.
        params: Keyword arguments for ``func``.
        name: Display name (default: the function's name and parameters).
        lookback: Bars one new value depends on, for incremental updates (TA-Lib functions:
            found automatically).

    Returns:
        One `Indicator`, or a tuple for functions that return several arrays.

    Raises:
        ConfigError: If the inputs are not series of one symbol or the output has the wrong shape.
        LookAheadError: If a user function's values change when later bars are removed.
    """
    if not inputs or not all(isinstance(view, SeriesView) for view in inputs):
        raise ConfigError(
            "indicator inputs must be series such as self.data.close or other indicators"
        )
    cursor = inputs[0]._cursor
    if any(view._cursor is not cursor for view in inputs):
        raise ConfigError("indicator inputs must all belong to the same symbol")
    label = name or _default_name(func, params)
    arrays = [view._array for view in inputs]
    length = len(arrays[0])
    refusals = Exception if _is_trusted(func) else (TypeError, ValueError)  # TA-Lib: bad param
    try:
        result = func(*arrays, **params)
    except refusals as exc:
        raise UsageError(
            f"indicator {label!r} refused its arguments: {type(exc).__name__}: {exc}; check the "
            f"parameters it was given ({_describe(params)}) and that its inputs are series such "
            "as self.data.close"
        ) from exc
    outputs = _outputs(result, length, label)
    if _is_trusted(func):
        if lookback is None:
            lookback = _talib_lookback(func, params)
            if lookback is not None and not _window_is_exact(
                func, arrays, params, outputs, lookback, label
            ):
                lookback = None
    else:
        _check_causal(func, arrays, params, outputs, label)
    made = tuple(
        Indicator(
            label if len(outputs) == 1 else f"{label}[{k}]",
            values,
            cursor,
            func=func,
            inputs=inputs,
            params=params,
            lookback=lookback,
            output=None if len(outputs) == 1 else k,
        )
        for k, values in enumerate(outputs)
    )
    return made[0] if len(made) == 1 else made


def _describe(params: dict[str, Any]) -> str:
    if not params:
        return "none passed by keyword"
    return ", ".join(f"{key}={value!r}" for key, value in params.items())


def _default_name(func: Callable[..., Any], params: dict[str, Any]) -> str:
    base = getattr(func, "__name__", type(func).__name__)
    if params:
        return f"{base}({', '.join(f'{k}={v}' for k, v in params.items())})"
    return str(base)
