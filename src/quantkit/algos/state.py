"""A parent order's state as JSON, for the live journal (the children are orders of their own)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quantkit.algos.parent import ParentOrder, ParentStatus
from quantkit.algos.schedule import twap_schedule
from quantkit.algos.specs import TwapSpec, spec_from_json, spec_to_json
from quantkit.domain.order import Side
from quantkit.errors import DataError, OrderError

__all__ = ["parent_from_json", "parent_to_json"]

_NUMBERS = ("amount", "arrival_price", "bar_value", "bar_volume")
_INTS = ("created_at", "ended_at", "slices_done", "skipped")


def parent_to_json(parent: ParentOrder) -> dict[str, Any]:
    """Everything a restart needs to resume ``parent`` but its children.

    Example:
        >>> from quantkit.algos.specs import TwapSpec
        >>> p = ParentOrder("qk-000001", "BTC/USDT", Side.BUY, 1.0, TwapSpec(400, 4), 0, 100.0)
        >>> parent_from_json(parent_to_json(p)).spec == p.spec
        True
    """
    data: dict[str, Any] = {"id": parent.id, "symbol": parent.symbol, "side": str(parent.side)}
    data.update({name: float(getattr(parent, name)) for name in _NUMBERS})
    data.update({name: int(getattr(parent, name)) for name in _INTS})
    data["status"] = str(parent.status)
    data["reason"] = parent.reason
    data["spec"] = spec_to_json(parent.spec)
    # For whoever reads the journal (a restart derives them again): what filled by then, what
    # is left, when a TWAP's next slice is due, and the children placed so far (a restart finds
    # them, and any child sent after this record, by their ids in the journal).
    data["filled"] = parent.filled
    data["remaining"] = parent.remaining
    data["next_slice_at"] = _next_slice_at(parent)
    data["children"] = [child.client_id for child in parent.children]
    return data


def _next_slice_at(parent: ParentOrder) -> int | None:
    if not isinstance(parent.spec, TwapSpec) or parent.status.is_terminal:
        return None
    times, _ = parent.plan or twap_schedule(parent.created_at, parent.spec)
    return times[parent.slices_done] if parent.slices_done < len(times) else None


def parent_from_json(data: Mapping[str, Any]) -> ParentOrder:
    """Rebuild the parent `parent_to_json` wrote (without its children).

    Raises:
        DataError: If the record is malformed (names the parent and the problem).
    """
    try:
        parent = ParentOrder(
            str(data["id"]),
            str(data["symbol"]),
            Side(data["side"]),
            float(data["amount"]),
            spec_from_json(dict(data["spec"])),
            int(data["created_at"]),
            float(data["arrival_price"]),
            status=ParentStatus(data["status"]),
            reason=str(data.get("reason", "")),
        )
        for name in ("ended_at", "slices_done", "skipped"):
            setattr(parent, name, int(data[name]))
        parent.bar_value = float(data["bar_value"])
        parent.bar_volume = float(data["bar_volume"])
    except (KeyError, TypeError, ValueError, OrderError) as exc:
        raise DataError(f"journaled parent order {data.get('id')!r}: malformed ({exc!r})") from exc
    return parent
