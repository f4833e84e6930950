"""The journal's file format: records, the head sidecar, and reading and verifying a journal.

See `quantkit.brokers.journal` for the format and its guarantees. Nothing here writes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quantkit.errors import StoreError

__all__ = ["GENESIS", "JournalReport", "Record", "canonical", "iter_records", "scan", "sha"]

GENESIS = "0" * 64
"""The ``prev`` value of the first record."""

_KEYS = frozenset({"seq", "time", "kind", "data", "prev", "hash"})


def canonical(value: Any) -> bytes:
    """The canonical JSON of a value: sorted keys, no spaces, UTF-8, NaN refused."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def sha(data: bytes) -> str:
    """The SHA-256 of ``data`` in hex."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class Record:
    """One journal record.

    Attributes:
        seq: Sequence number, 1 for the first record (equal to its line number).
        time: Write time, ns since the epoch.
        kind: Record kind (``"intent"``, ``"ack"``, ``"fill"``, ...).
        data: The payload (JSON values only).
        prev: SHA-256 of the previous line's bytes, or `GENESIS`.
        hash: SHA-256 of the canonical JSON of this record without ``hash``.
    """

    seq: int
    time: int
    kind: str
    data: dict[str, Any]
    prev: str
    hash: str


@dataclass(frozen=True, slots=True)
class JournalReport:
    """What `Journal.verify` found in a journal whose chain is intact.

    Attributes:
        path: The journal file.
        records: Number of complete, verified records.
        last: The last verified record, or ``None`` for an empty journal.
        torn_tail: Bytes of an unfinished last line (a crash mid-write), 0 if none.
        truncated: Whether the file holds fewer records than its ``.head`` sidecar recorded.
        head_seq: The seq in the sidecar, or ``None`` if there is no sidecar.
    """

    path: Path
    records: int
    last: Record | None
    torn_tail: int
    truncated: bool
    head_seq: int | None

    @property
    def ok(self) -> bool:
        """Whether the journal is complete: no torn tail and no truncation."""
        return not self.torn_tail and not self.truncated


def _parse_line(path: Path, lineno: int, line: bytes, prev: str) -> Record:
    def fail(problem: str) -> StoreError:
        return StoreError(f"journal {path}: line {lineno}: {problem}")

    try:
        obj = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise fail(f"not valid JSON ({exc})") from exc
    if not isinstance(obj, dict) or set(obj) != _KEYS:
        raise fail(f"a record needs exactly the keys {sorted(_KEYS)}")
    digest = obj.pop("hash")
    if sha(canonical(obj)) != digest:
        raise fail("hash mismatch: the record was modified")
    if obj["seq"] != lineno:
        raise fail(f"seq is {obj['seq']!r}, expected {lineno}: a record was removed or reordered")
    if obj["prev"] != prev:
        raise fail("prev does not match the previous line: a record was removed or reordered")
    return Record(obj["seq"], obj["time"], obj["kind"], obj["data"], obj["prev"], digest)


def _read_head(path: Path) -> tuple[int, str] | None:
    head = Path(f"{path}.head")
    try:
        obj = json.loads(head.read_bytes())
        return int(obj["seq"]), str(obj["hash"])
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"journal {path}: unreadable head sidecar {head}: {exc}") from exc


def scan(path: Path) -> tuple[JournalReport, int, str]:
    """Verify ``path``; return the report, the length of its whole lines, the next ``prev``.

    The head is read before the records: a writer replaces the head only after the line it
    names is on disk, so a reader racing a writer never sees a head ahead of the records.
    """
    head = _read_head(path)
    raw = path.read_bytes() if path.exists() else b""
    lines = raw.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline
    prev, last, records = GENESIS, None, {}
    for lineno, line in enumerate(lines, start=1):
        last = _parse_line(path, lineno, line, prev)
        records[lineno] = last.hash
        prev = sha(line)
    count = len(lines)
    truncated = head is not None and head[0] > count
    if head is not None and not truncated and records.get(head[0], GENESIS) != head[1]:
        raise StoreError(f"journal {path}: line {head[0]}: hash differs from the head sidecar")
    if head is None and count > 1:
        raise StoreError(
            f"journal {path}: the head sidecar {path}.head is missing (it exists from the "
            "journal's creation on, so it was deleted); truncation is undetectable"
        )
    report = JournalReport(
        path, count, last, len(tail), truncated, None if head is None else head[0]
    )
    return report, len(raw) - len(tail), prev


def iter_records(path: Path) -> Iterator[Record]:
    """Yield the complete records of ``path``, checking the chain; a torn tail is skipped."""
    with path.open("rb") as f:
        prev = GENESIS
        for lineno, line in enumerate(f, start=1):
            if not line.endswith(b"\n"):
                return
            yield _parse_line(path, lineno, line[:-1], prev)
            prev = sha(line[:-1])
