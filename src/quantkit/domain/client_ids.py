"""Client order ids: the one place that makes and parses them.

Every order quantkit sends carries a client order id ``"<prefix>-<seq>"``: the run's prefix, a
dash, and the order's number in the run with at least six digits (``"qk3e0c56f2a1-000007"``).
The live venue deduplicates on it and the journal keys every record by it, so it must be the
same wherever it is made: the engine, the simulator and the brokers call the functions here and
otherwise only carry the strings.

Live runs derive the prefix from the run id (`run_prefix`), so a restarted run continues the
numbering and never reuses an id; backtests use a fixed prefix (``"qk"``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from quantkit.errors import ConfigError

__all__ = [
    "DEFAULT_PREFIX",
    "client_id_format",
    "client_order_id",
    "format_client_id",
    "is_run_order",
    "order_number",
    "run_prefix",
]

DEFAULT_PREFIX = "qk"
"""The prefix of client order ids in backtests and simulations."""

_MAX_SEQ = 10**20


def run_prefix(run_id: str) -> str:
    """The client-order-id prefix of run ``run_id``: ``"qk"`` + 10 hex digits of its SHA-256.

    Args:
        run_id: The run (or account) identifier.

    Returns:
        The prefix, e.g. ``"qk3e0c56f2a1"``.

    Example:
        >>> len(run_prefix("run-1")), run_prefix("run-1").startswith("qk")
        (12, True)
    """
    return f"qk{hashlib.sha256(run_id.encode()).hexdigest()[:10]}"


def format_client_id(prefix: str, seq: int) -> str:
    """The client order id of the ``seq``-th order under ``prefix``.

    Args:
        prefix: The run's prefix (`run_prefix`, or `DEFAULT_PREFIX`).
        seq: The order's number in the run.

    Returns:
        ``"<prefix>-<seq>"`` with ``seq`` zero-padded to six digits.

    Example:
        >>> format_client_id("qk", 7)
        'qk-000007'
    """
    return f"{prefix}-{str(seq).zfill(6)}"


def client_id_format(prefix: str) -> Callable[[int], str]:
    """`format_client_id` with ``prefix`` bound, as one C-level call per id (for hot loops).

    Args:
        prefix: The run's prefix.

    Returns:
        A function of ``seq`` giving ``format_client_id(prefix, seq)``.

    Example:
        >>> client_id_format("qk")(7)
        'qk-000007'
    """
    escaped = prefix.replace("{", "{{").replace("}", "}}")
    return f"{escaped}-{{:06d}}".format


def client_order_id(run_id: str, seq: int) -> str:
    """Derive the client order id of the ``seq``-th order of run ``run_id``.

    The id is `run_prefix` + ``"-"`` + seq with at least six digits: at most 33 characters
    from ``[a-z0-9-]``, accepted by Binance's ``[.A-Z:/a-z0-9_-]{1,36}``. A restarted run
    continues the sequence, so it never reuses an id.

    Args:
        run_id: The run (or account) identifier.
        seq: The order's sequence number in the run, 0 <= seq < 10**20.

    Returns:
        The client order id.

    Raises:
        ConfigError: If ``seq`` is out of range.

    Example:
        >>> client_order_id("run-1", 7) == client_order_id("run-1", 7)
        True
        >>> client_order_id("run-1", 7).endswith("-000007")
        True
    """
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < _MAX_SEQ:
        raise ConfigError(f"client_order_id: seq must be an int in [0, 10**20), got {seq!r}")
    return format_client_id(run_prefix(run_id), seq)


def order_number(client_id: str) -> int:
    """The sequence number at the end of a client order id, 0 if it has none.

    Args:
        client_id: A client order id.

    Returns:
        The number after the last dash, or 0 when that part is not a number.

    Example:
        >>> order_number("qk3e0c56f2a1-000007"), order_number("manual")
        (7, 0)
    """
    tail = client_id.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def is_run_order(client_id: str, prefix: str) -> bool:
    """Whether ``client_id`` was made under ``prefix`` (an order of that run).

    Args:
        client_id: A client order id as the venue reports it.
        prefix: The run's prefix.

    Returns:
        True for ``"<prefix>-<digits>"``.

    Example:
        >>> is_run_order("qk-000007", "qk"), is_run_order("web_123", "qk")
        (True, False)
    """
    head, dash, tail = client_id.rpartition("-")
    return bool(dash) and head == prefix and tail.isdigit()
