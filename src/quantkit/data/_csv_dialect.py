"""How a CSV file is written: separator, decimal mark, trailing separators, encoding.

Spreadsheets in much of Europe export ``time;open;...`` with decimal commas (``42,5``); other
tools end every line with a separator or start the file with a byte order mark. `sniff_csv`
reads the head of the file and says which of these it uses, so the feed reads the numbers
the file means, or it refuses with the real problem (never "no timestamps" for a semicolon
file, never a shifted column from trailing commas).

Rules, in order:

* the text must be UTF-8 (a BOM is allowed and dropped);
* the separator is whichever of ``,`` ``;`` tab ``|`` the header line holds most of;
* with a separator other than ``,``, numbers written ``12,5`` mean a decimal comma, and then
  ``1.234,5`` or ``1.234`` groups thousands with points; a file that mixes ``12,5`` and
  ``12.5`` is refused;
* with ``,`` as the separator, data lines holding more fields than the header (beyond one
  trailing separator) are refused: decimal commas cannot be told from separators there;
* data lines that all end with the separator have a trailing separator (ignored).
"""

from __future__ import annotations

import bz2
import csv
import gzip
import itertools
import lzma
import os
import re
import zipfile
from dataclasses import dataclass
from typing import IO

from quantkit.errors import DataError

__all__ = ["CsvDialect", "sniff_csv"]

_CANDIDATES = (",", ";", "\t", "|")
_SAMPLE_BYTES = 64 * 1024
_SAMPLE_LINES = 200
_COMMA_NUMBER = re.compile(r"^\s*[-+]?\d+,\d+\s*$")
_GROUPED = re.compile(r"^\s*[-+]?\d{1,3}(?:\.\d{3})+(?:,\d+)?\s*$")  # 1.234,5 / 12.345.678
_DOT_NUMBER = re.compile(r"^\s*[-+]?\d+\.\d+(?:[eE][-+]?\d+)?\s*$")


@dataclass(frozen=True, slots=True)
class CsvDialect:
    """What `sniff_csv` found.

    Attributes:
        delimiter: The field separator.
        decimal: The decimal mark of numbers.
        thousands: The thousands separator (``"."`` in ``1.234,5``), if any.
    """

    delimiter: str = ","
    decimal: str = "."
    thousands: str | None = None

    def describe(self) -> str:
        """E.g. ``"';' separated, decimal ','"`` (for messages)."""
        shown = "tab" if self.delimiter == "\t" else repr(self.delimiter)
        return f"{shown} separated, decimal {self.decimal!r}"


def _open(path: str) -> IO[bytes]:
    lower = path.lower()
    if lower.endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if lower.endswith(".bz2"):
        return bz2.open(path, "rb")
    if lower.endswith(".xz"):
        return lzma.open(path, "rb")
    if lower.endswith(".zip"):
        archive = zipfile.ZipFile(path)
        names = archive.namelist()
        if len(names) != 1:
            raise DataError(
                f"a zip file must hold one CSV file, it holds {len(names)}", source=path
            )
        return archive.open(names[0])
    return open(path, "rb")


def _head(path: str) -> str:
    """The first lines of the file as text (complete lines only)."""
    try:
        with _open(path) as handle:
            raw = handle.read(_SAMPLE_BYTES)
            more = bool(handle.read(1))
    except FileNotFoundError as exc:
        raise DataError("file not found", source=path) from exc
    except (OSError, EOFError, zipfile.BadZipFile, lzma.LZMAError) as exc:
        raise DataError(f"cannot read CSV file: {exc}", source=path) from exc
    if more and b"\n" in raw:
        raw = raw[: raw.rindex(b"\n")]
    if b"\x00" in raw:
        raise DataError(f"this is a binary file{_binary_kind(raw)}, not CSV text", source=path)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(
            f"line {line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as "
            "UTF-8 (Excel: 'CSV UTF-8')",
            source=path,
        ) from None


def _binary_kind(raw: bytes) -> str:
    if raw.startswith(b"PAR1"):
        return " (a Parquet file: read it with ParquetFeed, or type: parquet)"
    if raw.startswith(b"PK\x03\x04"):
        return " (a zip archive or an Excel workbook: save the sheet as CSV)"
    return " (it holds NUL bytes)"


def _split(line: str, delimiter: str) -> list[str]:
    return next(csv.reader([line], delimiter=delimiter), [])


def _marks(rows: list[list[str]], delimiter: str, path: str) -> tuple[str, str | None]:
    """The decimal mark and thousands separator of the numbers in ``rows``."""
    if delimiter == ",":
        return ".", None
    cells = [cell for row in rows for cell in row[1:]]  # the first column is the time
    comma = next((cell for cell in cells if _COMMA_NUMBER.match(cell)), None)
    grouped = [cell for cell in cells if _GROUPED.match(cell)]
    if comma is None and not any("," in cell for cell in grouped):
        return ".", None
    example = comma or grouped[0]
    dot = next((c for c in cells if _DOT_NUMBER.match(c) and not _GROUPED.match(c)), None)
    if dot is not None:
        raise DataError(
            f"numbers mix decimal commas ({example.strip()!r}) and decimal points "
            f"({dot.strip()!r}); write them one way",
            source=path,
        )
    return ",", ("." if grouped else None)


def _check_field_counts(
    header: list[str], lines: list[str], rows: list[list[str]], path: str
) -> None:
    """Refuse data lines with more fields than the header (beyond one trailing separator)."""
    width = len(header)
    for number, (line, row) in enumerate(zip(lines, rows, strict=True), start=2):
        extra = len(row) - width
        trailing = extra == 1 and row[-1].strip() == ""
        if extra > 0 and not trailing:
            hint = ""
            if any(_COMMA_NUMBER.match(f"{a},{b}") for a, b in itertools.pairwise(row)):
                hint = (
                    "; the numbers look like they use decimal commas, which a comma-separated "
                    "file cannot hold: export with ';' as the separator, or with decimal points"
                )
            raise DataError(
                f"line {number} has {len(row)} fields but the header has {width}{hint}: "
                f"{line.strip()[:80]!r}",
                source=path,
            )


def sniff_csv(path: str | os.PathLike[str]) -> CsvDialect:
    """Find the separator and decimal mark of a CSV file from its first lines.

    Args:
        path: The file (``.gz``, ``.bz2``, ``.xz``, ``.zip`` are decompressed).

    Returns:
        The dialect to read it with.

    Raises:
        DataError: If the file is not UTF-8 text, mixes decimal marks, or has data lines with
            more fields than its header; the message names the file and line.
    """
    where = os.fspath(path)
    lines = [line for line in _head(where).splitlines() if line.strip()][:_SAMPLE_LINES]
    if not lines:
        return CsvDialect()
    counts = {candidate: lines[0].count(candidate) for candidate in _CANDIDATES}
    delimiter = max(_CANDIDATES, key=lambda candidate: counts[candidate])
    if counts[delimiter] == 0:
        delimiter = ","
    header = _split(lines[0], delimiter)
    rows = [_split(line, delimiter) for line in lines[1:]]
    _check_field_counts(header, lines[1:], rows, where)
    return CsvDialect(delimiter, *_marks(rows, delimiter, where))
