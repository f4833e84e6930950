"""Search spaces: which values each strategy parameter may take during an optimisation."""

from __future__ import annotations

import difflib
import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from quantkit.errors import ConfigError, ParameterError
from quantkit.strategy.base import Strategy

__all__ = [
    "Choice",
    "Dimension",
    "FloatRange",
    "IntRange",
    "check_combinations",
    "grid_points",
    "normalize_space",
    "random_points",
]

Params = dict[str, Any]


@dataclass(frozen=True)
class IntRange:
    """Integers from ``low`` to ``high`` inclusive, ``step`` apart.

    Args:
        low: Smallest value.
        high: Largest value (included when ``high - low`` is a multiple of ``step``).
        step: Distance between values, >= 1.

    Raises:
        ConfigError: If the bounds are not integers, ``high < low`` or ``step < 1``.

    Examples:
        >>> IntRange(5, 20, step=5).values()
        (5, 10, 15, 20)
    """

    low: int
    high: int
    step: int = 1

    def __post_init__(self) -> None:
        for name in ("low", "high", "step"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"IntRange: {name} must be an integer, got {value!r}")
        if self.high < self.low:
            raise ConfigError(f"IntRange: high ({self.high}) is below low ({self.low})")
        if self.step < 1:
            raise ConfigError(f"IntRange: step must be >= 1, got {self.step}")

    def values(self) -> tuple[int, ...]:
        """Return every value of the range.

        Returns:
            The values, ascending.
        """
        return tuple(range(self.low, self.high + 1, self.step))


@dataclass(frozen=True)
class FloatRange:
    """Real numbers between ``low`` and ``high``, sampled uniformly (or log-uniformly).

    A grid cannot enumerate it: give a grid a list of floats instead.

    Args:
        low: Lower bound.
        high: Upper bound.
        log: Sample ``log(value)`` uniformly (both bounds must then be > 0).

    Raises:
        ConfigError: If a bound is not finite, ``high < low``, or ``log`` with a bound <= 0.

    Examples:
        >>> FloatRange(0.1, 1.0).high
        1.0
    """

    low: float
    high: float
    log: bool = False

    def __post_init__(self) -> None:
        for name in ("low", "high"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"FloatRange: {name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ConfigError(f"FloatRange: {name} must be finite, got {value!r}")
        if self.high < self.low:
            raise ConfigError(f"FloatRange: high ({self.high}) is below low ({self.low})")
        if self.log and self.low <= 0:
            raise ConfigError(f"FloatRange: log=True needs low > 0, got {self.low}")


@dataclass(frozen=True)
class Choice:
    """One of a fixed set of values (a plain list, tuple or range in a space means this).

    Args:
        values: The candidate values, in order; at least one, no repeats.

    Raises:
        ConfigError: If ``values`` is empty or repeats a value.

    Examples:
        >>> Choice([0.5, 1.0]).values
        (0.5, 1.0)
    """

    values: tuple[Any, ...]

    def __init__(self, values: Iterable[Any]) -> None:
        items = tuple(values)
        if not items:
            raise ConfigError("Choice: needs at least one value")
        if len({repr(v) for v in items}) != len(items):
            raise ConfigError(f"Choice: values repeat: {list(items)}")
        object.__setattr__(self, "values", items)


Dimension = IntRange | FloatRange | Choice
"""What one parameter of a search space may be."""


def normalize_space(
    strategy_class: type[Strategy], space: Mapping[str, Any]
) -> dict[str, Dimension]:
    """Check a search space against a strategy's parameters and turn every entry into a Dimension.

    Args:
        strategy_class: The `Strategy` subclass being optimised.
        space: Parameter name -> `IntRange`, `FloatRange`, `Choice`, or a sequence of values.

    Returns:
        The space with every entry a `Dimension`, in the order given.

    Raises:
        ConfigError: If ``strategy_class`` is not a Strategy subclass, the space is empty, a
            name is not a parameter of the strategy (close matches are suggested) or an entry
            is empty or of an unknown kind.
    """
    if not isinstance(strategy_class, type) or not issubclass(strategy_class, Strategy):
        raise ConfigError(
            f"optimize: strategy_class must be a Strategy subclass, got {strategy_class!r}"
        )
    if not isinstance(space, Mapping) or not space:
        raise ConfigError(
            f"optimize: the search space is empty; give {strategy_class.__name__} parameters "
            f"to vary, e.g. {{'{_first(strategy_class)}': [5, 10, 20]}}"
        )
    known = strategy_class.parameter_names()
    out: dict[str, Dimension] = {}
    for name, entry in space.items():
        if name not in known:
            close = difflib.get_close_matches(str(name), known, n=3)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise ConfigError(
                f"optimize: {strategy_class.__name__} has no parameter {name!r}{hint} "
                f"(its parameters: {', '.join(known) or 'none'})"
            )
        out[name] = _dimension(name, entry)
    return out


def _first(strategy_class: type[Strategy]) -> str:
    names = strategy_class.parameter_names()
    return names[0] if names else "param"


def _dimension(name: str, entry: Any) -> Dimension:
    if isinstance(entry, (IntRange, FloatRange, Choice)):
        return entry
    if isinstance(entry, (str, bytes)) or not isinstance(entry, (Sequence, range, np.ndarray)):
        raise ConfigError(
            f"optimize: space[{name!r}] must be a list of values, IntRange, FloatRange or "
            f"Choice, got {entry!r}"
        )
    values = [v.item() if isinstance(v, np.generic) else v for v in entry]
    if not values:
        raise ConfigError(f"optimize: space[{name!r}] has no values")
    return Choice(values)


def grid_points(space: Mapping[str, Dimension]) -> list[Params]:
    """Return every combination of a space, the last parameter varying fastest.

    Args:
        space: A normalised space (see `normalize_space`).

    Returns:
        One parameter dict per combination.

    Raises:
        ConfigError: If a dimension is a `FloatRange` (a grid cannot enumerate it).
    """
    axes: list[tuple[Any, ...]] = []
    for name, dim in space.items():
        if isinstance(dim, FloatRange):
            raise ConfigError(
                f"optimize: a grid cannot enumerate FloatRange for {name!r}; give a list of "
                "values, or use method='random' or 'optuna'"
            )
        axes.append(dim.values if isinstance(dim, Choice) else dim.values())
    names = list(space)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*axes)]


def random_points(space: Mapping[str, Dimension], trials: int, seed: int | None) -> list[Params]:
    """Draw ``trials`` combinations at random; repeats are dropped (each is evaluated once).

    Args:
        space: A normalised space.
        trials: How many combinations to draw.
        seed: Seed of the random generator (the same seed gives the same combinations).

    Returns:
        The distinct combinations, in the order drawn.
    """
    rng = np.random.default_rng(seed)
    seen: set[str] = set()
    out: list[Params] = []
    for _ in range(trials):
        params = {name: _draw(dim, rng) for name, dim in space.items()}
        key = repr(sorted(params.items()))
        if key not in seen:
            seen.add(key)
            out.append(params)
    return out


def _draw(dim: Dimension, rng: np.random.Generator) -> Any:
    if isinstance(dim, IntRange):
        count = (dim.high - dim.low) // dim.step + 1
        return dim.low + dim.step * int(rng.integers(count))
    if isinstance(dim, FloatRange):
        if dim.log:
            return float(math.exp(rng.uniform(math.log(dim.low), math.log(dim.high))))
        return float(rng.uniform(dim.low, dim.high))
    return dim.values[int(rng.integers(len(dim.values)))]


def check_combinations(
    strategy_class: type[Strategy],
    points: Sequence[Params],
    constraint: Callable[[Params], bool] | None,
) -> tuple[list[Params], int]:
    """Apply the constraint, then check that the strategy accepts every remaining combination.

    Args:
        strategy_class: The strategy being optimised.
        points: Candidate combinations.
        constraint: Keeps a combination when it returns True (None keeps all).

    Returns:
        The kept combinations and how many the constraint pruned.

    Raises:
        ConfigError: If the strategy rejects a kept combination (the message names it and
            suggests a constraint), or the constraint raises.
    """
    kept: list[Params] = []
    for params in points:
        if constraint is not None:
            try:
                keep = bool(constraint(dict(params)))
            except Exception as exc:
                raise ConfigError(f"optimize: the constraint failed on {params}: {exc!r}") from exc
            if not keep:
                continue
        check_params(strategy_class, params)
        kept.append(params)
    return kept, len(points) - len(kept)


def check_params(strategy_class: type[Strategy], params: Params) -> None:
    """Build the strategy once with ``params`` to check them.

    Args:
        strategy_class: The strategy.
        params: One combination.

    Raises:
        ConfigError: If the strategy rejects them.
    """
    try:
        strategy_class(**params)
    except ParameterError as exc:
        raise ConfigError(
            f"optimize: {strategy_class.__name__} rejects the combination {params}: {exc}; "
            "narrow the space or exclude such combinations with constraint= (e.g. "
            "constraint=lambda p: p['fast'] < p['slow'])"
        ) from exc
