"""Slice schedules: pure functions of a spec, its start and a slice number (no state).

Every draw is made from its own generator seeded with ``(seed, slice)``, so the schedule of a
parent order is the same in a restarted process, and slice ``k`` never depends on what
happened to earlier slices.
"""

from __future__ import annotations

import random

from quantkit.algos.specs import IcebergSpec, TwapSpec

__all__ = ["display_size", "twap_schedule"]


def _draw(seed: int | None, k: int, salt: str) -> float:
    """A uniform number in [0, 1) for slice ``k`` (0.5 without a seed: no jitter is asked)."""
    if seed is None:
        return 0.5
    return random.Random(f"{seed}/{salt}/{k}").random()


def twap_schedule(start: int, spec: TwapSpec) -> tuple[list[int], list[float]]:
    """When each TWAP slice is due and the fraction of the total due by then.

    Slice ``k`` is due at ``start + k * interval + u_k * time_jitter * interval`` with
    ``interval = horizon // slices`` and ``u_k`` in [0, 1), so it stays inside its own interval
    and the times never decrease. Its weight is ``1 + size_jitter * (2 * v_k - 1)``; the
    cumulative fractions end at exactly 1.0.

    Args:
        start: The parent's start, ns.
        spec: The TWAP.

    Returns:
        ``(times, cumulative)``: due times (ns) and the fraction of the total due by each.

    Example:
        >>> twap_schedule(0, TwapSpec(horizon=400, slices=4))
        ([0, 100, 200, 300], [0.25, 0.5, 0.75, 1.0])
    """
    interval = spec.horizon // spec.slices
    times: list[int] = []
    weights: list[float] = []
    for k in range(spec.slices):
        jitter = _draw(spec.seed, k, "time") * spec.time_jitter if spec.time_jitter else 0.0
        times.append(start + k * interval + int(jitter * interval))
        size = _draw(spec.seed, k, "size") if spec.size_jitter else 0.5
        weights.append(1.0 + spec.size_jitter * (2.0 * size - 1.0))
    total = sum(weights)
    cumulative: list[float] = []
    running = 0.0
    for weight in weights:
        running += weight
        cumulative.append(running / total)
    cumulative[-1] = 1.0
    return times, cumulative


def display_size(spec: IcebergSpec, k: int) -> float:
    """The display size of iceberg slice ``k``: ``display * (1 + jitter * (2 * u_k - 1))``.

    Example:
        >>> display_size(IcebergSpec(display=2.0, limit=100.0), 3)
        2.0
    """
    if not spec.display_jitter:
        return spec.display
    u = _draw(spec.seed, k, "display")
    return spec.display * (1.0 + spec.display_jitter * (2.0 * u - 1.0))
