"""What each parent order asks for: frozen, validated specifications (no state)."""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass, replace
from typing import Any

from quantkit.errors import OrderError

__all__ = [
    "IcebergSpec",
    "ParentSpec",
    "ParticipationSpec",
    "TwapSpec",
    "spec_from_json",
    "spec_to_json",
    "with_seed",
]


def _positive(owner: str, name: str, value: float | None, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise OrderError(f"{owner}: {name} must be a finite number > 0, got {value!r}")


def _fraction(owner: str, name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise OrderError(f"{owner}: {name} must be a number in [0, 1), got {value!r}")


@dataclass(frozen=True, slots=True)
class TwapSpec:
    """A TWAP: the amount spread over ``horizon`` in ``slices`` equal (or jittered) slices.

    Attributes:
        horizon: Length of the schedule, ns; slice ``k`` is due at
            ``start + k * horizon / slices`` (plus its time jitter).
        slices: Number of slices, >= 1.
        limit_offset: ``None`` for market children; else limit children priced this fraction
            better than the latest close (below it for buys, above for sells; negative to
            cross the spread).
        limit: The price beyond which a due slice is skipped (above it for buys, below for
            sells); its amount rolls into the next slice. Also caps limit children's price.
        time_jitter: Each slice's time moves later by up to this fraction of the interval,
            in [0, 1).
        size_jitter: Each slice's weight is ``1 +- size_jitter``, in [0, 1).
        seed: Seed of the jitter draws (the same seed, the same schedule).
    """

    horizon: int
    slices: int
    limit_offset: float | None = None
    limit: float | None = None
    time_jitter: float = 0.0
    size_jitter: float = 0.0
    seed: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.horizon, bool) or not isinstance(self.horizon, int) or self.horizon <= 0:
            raise OrderError(f"twap: horizon must be a positive duration, got {self.horizon!r}")
        if isinstance(self.slices, bool) or not isinstance(self.slices, int) or self.slices < 1:
            raise OrderError(f"twap: slices must be an int >= 1, got {self.slices!r}")
        if self.limit_offset is not None and (
            isinstance(self.limit_offset, bool)
            or not isinstance(self.limit_offset, int | float)
            or not -1 < self.limit_offset < 1
        ):
            raise OrderError(f"twap: limit_offset must be in (-1, 1), got {self.limit_offset!r}")
        _positive("twap", "limit", self.limit, optional=True)
        _fraction("twap", "time_jitter", self.time_jitter)
        _fraction("twap", "size_jitter", self.size_jitter)

    @property
    def kind(self) -> str:
        """``"twap"``."""
        return "twap"

    @property
    def randomised(self) -> bool:
        """Whether any draw is made."""
        return self.time_jitter > 0 or self.size_jitter > 0


@dataclass(frozen=True, slots=True)
class IcebergSpec:
    """An iceberg: limit children of ``display`` size, the next placed when one fills.

    Attributes:
        display: The visible amount of each slice (the last one is the rest).
        limit: Limit price of every slice.
        display_jitter: Each slice's size is ``display * (1 +- display_jitter)``, in [0, 1).
        seed: Seed of the jitter draws.
    """

    display: float
    limit: float
    display_jitter: float = 0.0
    seed: int | None = None

    def __post_init__(self) -> None:
        _positive("iceberg", "display", self.display)
        _positive("iceberg", "limit", self.limit)
        _fraction("iceberg", "display_jitter", self.display_jitter)

    @property
    def kind(self) -> str:
        """``"iceberg"``."""
        return "iceberg"

    @property
    def randomised(self) -> bool:
        """Whether any draw is made."""
        return self.display_jitter > 0


@dataclass(frozen=True, slots=True)
class ParticipationSpec:
    """A participation (POV) order: a fraction of each bar's traded volume, capped.

    Attributes:
        rate: Target fraction of each bar's volume, in (0, 1].
        max_slice: Largest child amount, if any.
        limit: The price beyond which a bar is skipped (above it for buys, below for sells).
        horizon: If set, the parent ends this long after its start (ns), filled or not.
    """

    rate: float
    max_slice: float | None = None
    limit: float | None = None
    horizon: int | None = None

    def __post_init__(self) -> None:
        _positive("participate", "rate", self.rate)
        if self.rate > 1:
            raise OrderError(f"participate: rate must be in (0, 1], got {self.rate!r}")
        _positive("participate", "max_slice", self.max_slice, optional=True)
        _positive("participate", "limit", self.limit, optional=True)
        if self.horizon is not None and (
            isinstance(self.horizon, bool) or not isinstance(self.horizon, int) or self.horizon <= 0
        ):
            raise OrderError(
                f"participate: horizon must be a positive duration, got {self.horizon!r}"
            )

    @property
    def kind(self) -> str:
        """``"participation"``."""
        return "participation"

    @property
    def randomised(self) -> bool:
        """Never: participation makes no draws."""
        return False


ParentSpec = TwapSpec | IcebergSpec | ParticipationSpec
"""Any parent order's specification."""

_KINDS: dict[str, type[TwapSpec] | type[IcebergSpec] | type[ParticipationSpec]] = {
    "twap": TwapSpec,
    "iceberg": IcebergSpec,
    "participation": ParticipationSpec,
}


def with_seed(spec: ParentSpec) -> ParentSpec:
    """``spec`` with a seed drawn now if it makes draws and has none (kept for a restart)."""
    if not spec.randomised or isinstance(spec, ParticipationSpec) or spec.seed is not None:
        return spec
    return replace(spec, seed=random.SystemRandom().randrange(2**31))


def spec_to_json(spec: ParentSpec) -> dict[str, Any]:
    """The spec as JSON values, with its kind."""
    return {"kind": spec.kind, **asdict(spec)}


def spec_from_json(data: dict[str, Any]) -> ParentSpec:
    """Rebuild a spec `spec_to_json` made.

    Raises:
        OrderError: If the kind is unknown or a value is invalid.
    """
    values = dict(data)
    kind = _KINDS.get(str(values.pop("kind", "")))
    if kind is None:
        raise OrderError(f"parent order: unknown kind {data.get('kind')!r}")
    return kind(**values)
