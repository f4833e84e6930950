"""A series' manifest: which file holds each partition, swapped atomically to commit a change.

``manifest.json`` in the series' directory maps each partition's name (``2024-01.parquet``) to
the file that holds it now. A write never changes a file that a manifest names: it writes new
files under fresh names (``2024-01.<12 hex digits>.parquet``), then commits them all at once by
replacing the manifest (`os.replace`). So a write spanning several partitions is all or
nothing, and a reader that read the manifest once sees one consistent version of the series
for as long as its files exist. Files no manifest names any more are removed by
`collect_garbage` when no reader holds the series (see `quantkit.data.store._locking`).

A directory without a manifest (a store written by an older quantkit) is read by listing
partition files named exactly ``2024-01.parquet``; the first write adopts them into a manifest.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
from pathlib import Path

from quantkit.data.store import _arrow
from quantkit.errors import StoreError

__all__ = ["MANIFEST", "collect_garbage", "new_file_name", "read_manifest", "write_manifest"]

MANIFEST = "manifest.json"

_VERSIONED = re.compile(r"^\d{4}(-\d{2}){0,2}\.[0-9a-f]{12}\.parquet$")
_LEGACY = re.compile(r"^\d{4}(-\d{2}){0,2}\.parquet$")


def new_file_name(partition_name: str) -> str:
    """A fresh file name for a new version of a partition.

    Args:
        partition_name: E.g. ``2024-01.parquet``.

    Returns:
        E.g. ``2024-01.3f2a9c1b0d7e.parquet``.
    """
    stem = partition_name.removesuffix(".parquet")
    return f"{stem}.{secrets.token_hex(6)}.parquet"


def read_manifest(directory: Path) -> dict[str, str] | None:
    """The partitions a series' manifest names, or ``None`` if it has none.

    Args:
        directory: The series' directory.

    Returns:
        Partition name to file name.

    Raises:
        StoreError: If the manifest cannot be read or is not one this store wrote.
    """
    path = directory / MANIFEST
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc}") from exc
    try:
        obj = json.loads(raw)
        files = obj["partitions"]
        if not isinstance(files, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and "/" not in v and v != MANIFEST
            for k, v in files.items()
        ):
            raise TypeError("partitions must map names to file names")
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"{path}: not a manifest of this store ({exc})") from exc
    return dict(files)


def write_manifest(directory: Path, files: dict[str, str]) -> None:
    """Commit a new version of the series: replace its manifest atomically.

    Args:
        directory: The series' directory.
        files: Partition name to file name; every file must already be on disk.

    Raises:
        StoreError: If the manifest cannot be written (then the old one stands).
    """
    body = json.dumps({"format": 1, "partitions": dict(sorted(files.items()))}, indent=1)
    _arrow.atomic_write(directory / MANIFEST, lambda target: _write_text(target, body))


def collect_garbage(directory: Path, files: dict[str, str]) -> list[str]:
    """Remove the partition files and temporary files of a series that ``files`` does not name.

    Call it only while holding the series' writer lock and, exclusively, its reader lock.
    Only names this store makes are considered; anything else in the directory is left alone.

    Args:
        directory: The series' directory.
        files: The committed manifest's partition name to file name.

    Returns:
        The names removed (failures are left for the next write: the data is committed).
    """
    wanted = set(files.values())
    removed = []
    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir(directory):
            ours = _VERSIONED.match(name) or _LEGACY.match(name)
            if (ours and name not in wanted) or name.startswith(_arrow.TEMP_PREFIX):
                with contextlib.suppress(OSError):  # the next write tries again
                    os.unlink(directory / name)
                    removed.append(name)
    if not files:
        with contextlib.suppress(OSError):
            os.unlink(directory / MANIFEST)
    return removed


def _write_text(target: Path, body: str) -> None:
    target.write_text(body, encoding="utf-8")
