"""The order journal: an append-only, hash-chained record of every order intent and outcome.

Each line of the file is one JSON record::

    {"seq": 1, "time": ns, "kind": "intent", "data": {...}, "prev": "<hex>", "hash": "<hex>"}

``prev`` is the SHA-256 of the previous line's bytes (without its newline), or `GENESIS` for
the first line; ``hash`` is the SHA-256 of the canonical JSON of the record without ``hash``.
Editing, removing or reordering a record breaks the chain. A small sidecar ``<path>.head``,
replaced atomically after every append, holds the last seq and hash, so losing whole records
at the end is detected too. `Journal.append` writes, flushes and ``fsync``s the line before it
returns: an order is sent only after its intent record returned, so the intent is on disk
before the order leaves ("written before sent").

Crash consistency: the line is made durable before the head names it, and the head is replaced
atomically (temporary file, ``fsync``, ``os.replace``, ``fsync`` of the directory). So a crash
(``kill -9``, power loss) between any two of these steps leaves a journal that opens: at worst
an unfinished last line (cut off on opening; its append never returned) and a head that trails
the records (brought up to date on opening). The head exists from the moment the journal is
created, so a missing head, a head ahead of the records or one that names another hash is loss
or tampering, never a crash, and is refused.

One writer: a `Journal` holds an exclusive OS lock on ``<path>.lock`` for its lifetime; a second
writer, in this process or another, is refused at once with the holder's pid, host and start
time. The OS drops the lock when the holder dies, so a restart after ``kill -9`` is not blocked.
`Journal.verify` and `replay` take no lock and read consistently while a writer appends.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import fields
from enum import Enum
from pathlib import Path
from typing import Any

from quantkit._locks import FileLock
from quantkit.brokers._journal_format import GENESIS, JournalReport, Record
from quantkit.brokers._journal_format import canonical as _canonical
from quantkit.brokers._journal_format import iter_records as _iter_records
from quantkit.brokers._journal_format import scan as _scan
from quantkit.brokers._journal_format import sha as _sha
from quantkit.brokers.journal_replay import JournalState, OrderState, replay, request_from_json
from quantkit.domain.client_ids import client_order_id, run_prefix
from quantkit.domain.fill import Fill
from quantkit.domain.order import OrderRequest
from quantkit.errors import ConfigError, StoreError

__all__ = [
    "GENESIS",
    "Journal",
    "JournalReport",
    "JournalState",
    "OrderState",
    "Record",
    "client_order_id",
    "replay",
    "request_from_json",
    "run_prefix",
]

_KIND = re.compile(r"[a-z][a-z_]{0,31}")
_SECRET_WORDS = ("secret", "apikey", "password", "passphrase", "token", "privatekey")


def _check_data(value: Any, where: str) -> None:
    """Refuse secret-looking keys, non-string keys and non-finite floats, at any depth."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ConfigError(f"journal data: key {key!r} at {where} is not a string")
            flat = key.lower().replace("_", "").replace("-", "")
            if any(word in flat for word in _SECRET_WORDS):
                raise ConfigError(
                    f"journal data: refusing key {key!r} at {where}: secrets are never journaled"
                )
            _check_data(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_data(item, f"{where}[{index}]")
    elif isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"journal data: {where} is {value!r}; NaN and inf are not allowed")


def _fsync_dir(directory: Path) -> None:
    if os.name == "posix":
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _writer_lock(path: Path) -> FileLock:
    """Take the journal's exclusive writer lock, or say who holds it."""
    lock = FileLock(Path(f"{path}.lock"))
    try:
        taken = lock.acquire()
    except OSError as exc:
        raise StoreError(f"journal {path}: cannot create its lock file: {exc}") from exc
    if not taken:
        raise StoreError(
            f"journal {path}: another writer holds it ({lock.holder()}); a journal has one "
            "writer at a time (verify and replay can still read it)"
        )
    return lock


_REQUEST_FIELDS = tuple(f.name for f in fields(OrderRequest) if f.init)
"""The fields an intent records (looked up once: the intent is on the bar-to-order path)."""


def _jsonable(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


class Journal:
    """An append-only, hash-chained JSON Lines journal of one run (or account).

    Opening verifies the file. An unfinished last line (a crash mid-write; that append never
    returned, so its order was never sent) is cut off and reported in `report`. Tampering and
    truncation raise `StoreError` naming the file and line. One writer per file: the journal
    holds an exclusive OS lock on ``<path>.lock`` until `close` (or the process's death).

    Args:
        path: The journal file; created if missing.
        run_id: The run's identifier, used to derive client order ids.

    Raises:
        StoreError: If the journal was modified, reordered or truncated, or another writer
            holds it (the message names its pid, host and start time).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp, Journal(f"{tmp}/j.jsonl", run_id="r") as j:
        ...     j.append("state", {"equity": 0.1 + 0.2}).seq
        1
    """

    def __init__(self, path: str | os.PathLike[str], *, run_id: str) -> None:
        self.path = Path(path)
        self.run_id = run_id
        self.fsync_ns = 0
        """Time spent waiting for the disk to confirm the journal's lines and its head sidecar
        (the fsync calls), in ns (cumulative)."""
        self._lock = _writer_lock(self.path)
        try:
            self._open()
        except BaseException:
            self._lock.release()
            raise

    def _open(self) -> None:
        """Verify the file, cut a torn tail, make sure the head exists; open for appending."""
        created = not self.path.exists()
        self.report, good, self._prev = _scan(self.path)
        if self.report.truncated:
            raise StoreError(
                f"journal {self.path}: line {self.report.records + 1}: truncated, the head "
                f"sidecar records {self.report.head_seq} records but the file holds "
                f"{self.report.records}"
            )
        self._file = self.path.open("ab")
        if created:
            self._boundary("create")
            _fsync_dir(self.path.parent)
        if self.report.torn_tail:
            self._boundary("cut torn tail")
            self._file.truncate(good)
            self._sync()
        self._count = self.report.records
        self._last = self.report.last
        self._head_behind = (self.report.head_seq or 0) < self._count
        if self.report.head_seq is None:  # new (or written by an older quantkit): head it now
            last = self.report.last
            seq, digest = (0, GENESIS) if last is None else (last.seq, last.hash)
            self._write_head(seq, digest)
            self._head_behind = False

    def _boundary(self, step: str) -> None:
        """Called before each step that changes the files; tests die here to prove recovery."""

    def _sync(self) -> None:
        self._boundary("flush")
        self._file.flush()
        self._boundary("fsync")
        start = time.perf_counter_ns()
        os.fsync(self._file.fileno())
        self.fsync_ns += time.perf_counter_ns() - start

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Bring the head sidecar up to date, close the file and release the lock (idempotent)."""
        try:
            if not self._file.closed:
                self.sync_head()
            self._file.close()
        finally:
            self._lock.release()

    def __repr__(self) -> str:
        return f"Journal(path={str(self.path)!r}, records={self._count})"

    def __len__(self) -> int:
        return self._count

    @property
    def last(self) -> Record | None:
        """The last record, or ``None`` if the journal is empty."""
        return self._last

    @staticmethod
    def verify(path: str | os.PathLike[str]) -> JournalReport:
        """Check a journal's chain and its head sidecar without changing anything.

        Args:
            path: The journal file.

        Returns:
            The report; ``report.ok`` is False for a torn tail or a truncation.

        Raises:
            StoreError: If a record was modified, removed or reordered.
        """
        return _scan(Path(path))[0]

    def append(self, kind: str, data: Mapping[str, Any], *, sync_head: bool = True) -> Record:
        """Write one record; return only once it is flushed and fsynced to disk.

        Args:
            kind: Record kind, lower-case letters and underscores.
            data: JSON payload; floats round-trip exactly.
            sync_head: Also replace the head sidecar now (two more fsyncs). With ``False`` the
                head is brought up to date by the next append, by `sync_head` or by `close`;
                a crash in between leaves the head one record behind, which opening accepts.
                The head never trails by more than one record: an append after an unsynced
                one syncs the head whatever it is asked.

        Returns:
            The record written.

        Raises:
            ConfigError: If the kind is invalid, the data holds a secret-looking key,
                NaN/inf or a value JSON cannot represent.
        """
        if not isinstance(kind, str) or not _KIND.fullmatch(kind):
            raise ConfigError(f"journal: invalid record kind {kind!r}")
        _check_data(data, "data")
        try:  # the record holds what a reader gets back: JSON's types (lists, not tuples)
            copied = json.loads(_canonical(data))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"journal: data cannot be written as JSON: {exc}") from exc
        return self._write(kind, copied, sync_head)

    def _write(self, kind: str, data: dict[str, Any], sync_head: bool) -> Record:
        """Append a record whose kind and keys quantkit built (checked by `append` otherwise)."""
        body: dict[str, Any] = {
            "seq": self._count + 1,
            "time": time.time_ns(),
            "kind": kind,
            "data": data,
            "prev": self._prev,
        }
        try:
            unsigned = _canonical(body)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"journal: data cannot be written as JSON: {exc}") from exc
        digest = _sha(unsigned)
        # The canonical form with "hash" added: keys are sorted, so it goes right before
        # "kind", whose last occurrence is the top-level key (prev, seq, time follow it).
        head, _, tail = unsigned.rpartition(b',"kind":')
        line = b'%s,"hash":"%s","kind":%s' % (head, digest.encode(), tail)
        record = Record(body["seq"], body["time"], kind, data, self._prev, digest)
        try:
            self._boundary("write")
            self._file.write(line + b"\n")
            self._sync()
        except OSError as exc:  # the line may be half written: no further appends
            with contextlib.suppress(OSError):  # closing flushes, which may fail the same way
                self._file.close()
            self._lock.release()
            raise StoreError(f"journal {self.path}: append failed, reopen it: {exc}") from exc
        self._count, self._last, self._prev = record.seq, record, _sha(line)
        lagging = self._head_behind  # the head may trail the file by one record, never more
        self._head_behind = True
        if sync_head or lagging:
            self.sync_head()
        return record

    def sync_head(self) -> None:
        """Bring the head sidecar up to the last record (no-op when it already is)."""
        if self._head_behind and self._last is not None:
            self._write_head(self._last.seq, self._last.hash)
            self._head_behind = False

    def _write_head(self, seq: int, digest: str) -> None:
        """Replace the head sidecar atomically; a leftover temporary file is overwritten."""
        head = Path(f"{self.path}.head")
        temp = head.with_name(head.name + ".tmp")
        self._boundary("head write")
        with temp.open("wb") as f:
            f.write(_canonical({"seq": seq, "hash": digest}))
            f.flush()
            self._boundary("head fsync")
            start = time.perf_counter_ns()
            os.fsync(f.fileno())
            self.fsync_ns += time.perf_counter_ns() - start
        self._boundary("head replace")
        os.replace(temp, head)
        self._boundary("head dir fsync")
        start = time.perf_counter_ns()
        _fsync_dir(self.path.parent)
        self.fsync_ns += time.perf_counter_ns() - start

    def records(self) -> Iterator[Record]:
        """Iterate over the records on disk, re-verifying the chain as it goes."""
        return _iter_records(self.path)

    def intent(
        self, request: OrderRequest, client_id: str | None = None, *, sync_head: bool = True
    ) -> Record:
        """Journal an order intent; call it, and let it return, BEFORE sending the order.

        Args:
            request: The order request.
            client_id: The client order id; by default derived with `client_order_id` from
                the run id and the seq this record gets.
            sync_head: See `append`; the live broker passes ``False`` so that the one fsync
                of the intent line is all that stands between a bar and its order.

        Returns:
            The record; ``record.data["client_id"]`` is the id to send.
        """
        cid = client_id or client_order_id(self.run_id, self._count + 1)
        fields_ = {name: _jsonable(getattr(request, name)) for name in _REQUEST_FIELDS}
        return self._write("intent", {"client_id": cid, "request": fields_}, sync_head)

    def ack(self, client_id: str, exchange_id: str) -> Record:
        """Journal that the venue accepted the order under ``exchange_id``."""
        return self._write("ack", {"client_id": client_id, "exchange_id": exchange_id}, True)

    def reject(self, client_id: str, reason: str) -> Record:
        """Journal that the venue or the account refused the order."""
        return self._write("reject", {"client_id": client_id, "reason": reason}, True)

    def cancel(self, client_id: str) -> Record:
        """Journal that the order was canceled (a confirmed cancel, terminal)."""
        return self._write("cancel", {"client_id": client_id}, True)

    def fill(self, fill: Fill, trade_id: str = "") -> Record:
        """Journal one execution.

        Args:
            fill: The execution.
            trade_id: The venue's trade id, so a restart does not book the trade twice.

        Returns:
            The record.
        """
        data = {f.name: _jsonable(getattr(fill, f.name)) for f in fields(fill)}
        if trade_id:
            data["trade_id"] = trade_id
        return self._write("fill", data, True)

    def state(self, data: Mapping[str, Any]) -> Record:
        """Journal the run's resumable state (last bars seen, strategy's persistent values).

        Args:
            data: JSON-able values; the latest ``"state"`` record wins on replay.

        Returns:
            The record.
        """
        return self.append("state", data)
