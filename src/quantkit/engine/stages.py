"""Run a live run's closing stages so that no failure among them hides the run's own error."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import structlog

__all__ = ["Stage", "run_stages"]

Stage = tuple[str, Callable[[], Awaitable[object]]]
"""A stage: its name for messages, and the coroutine function that runs it."""

_log = structlog.get_logger("quantkit.live")


async def run_stages(stages: Sequence[Stage], failure: BaseException | None) -> None:
    """Run every stage in turn, even after one failed.

    When the run is already failing (``failure``, the strategy's error for example), a stage's
    error never replaces it: the stage's error is logged and added to ``failure`` as a note.
    Otherwise the first stage error is raised once every stage ran, with the later ones as
    notes.

    Args:
        stages: The stages, in order.
        failure: The error the run is ending with, if any.

    Raises:
        Exception: The first stage's error, when the run was not already failing.
    """
    primary = failure if isinstance(failure, Exception) else None
    first: Exception | None = None
    for name, stage in stages:
        try:
            await stage()
        except Exception as exc:
            if primary is None and first is None:
                first = exc
                continue
            _log.error("shutdown_stage_failed", stage=name, error=f"{type(exc).__name__}: {exc}")
            (primary or first or exc).add_note(
                f"while shutting down, {name} also failed: {type(exc).__name__}: {exc}"
            )
    if first is not None:
        raise first
