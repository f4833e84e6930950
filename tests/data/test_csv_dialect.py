"""CSV files as spreadsheets write them: separators, decimal commas, BOMs, trailing separators,
day-first dates. Each is read as meant, or refused with the real problem named."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from quantkit.data import CsvFeed
from quantkit.data._csv_dialect import CsvDialect, sniff_csv
from quantkit.errors import DataError

HEADER = ["time", "open", "high", "low", "close", "volume"]
ROWS = [
    ["2024-01-01T00:00:00Z", "100.5", "101.25", "99.75", "100.125", "3.5"],
    ["2024-01-01T01:00:00Z", "100.125", "102.5", "100", "101.75", "4.25"],
    ["2024-01-01T02:00:00Z", "101.75", "103", "101.5", "102", "1"],
]
CLOSES = [100.125, 101.75, 102.0]
VOLUMES = [3.5, 4.25, 1.0]
HOUR_NS = 3_600 * 10**9
FIRST_NS = 1_704_067_200 * 10**9  # 2024-01-01T00:00:00Z


def write(path: Path, text: str, *, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def table(sep: str = ",", decimal: str = ".", trailing: str = "", header_trailing: str = "") -> str:
    lines = [sep.join(HEADER) + header_trailing]
    for row in ROWS:
        cells = [row[0], *(cell.replace(".", decimal) for cell in row[1:])]
        lines.append(sep.join(cells) + trailing)
    return "\n".join(lines) + "\n"


def check(series_path: Path) -> None:
    series = CsvFeed(series_path, symbol="BTC/USDT").load()["BTC/USDT"]
    assert series.close.tolist() == CLOSES
    assert series.volume.tolist() == VOLUMES
    assert series.open_time.tolist() == [FIRST_NS, FIRST_NS + HOUR_NS, FIRST_NS + 2 * HOUR_NS]


@pytest.mark.parametrize(
    ("text", "dialect"),
    [
        (table(), CsvDialect(",", ".")),
        (table(sep=";"), CsvDialect(";", ".")),
        (table(sep=";", decimal=","), CsvDialect(";", ",")),
        (table(sep="\t", decimal=","), CsvDialect("\t", ",")),
        (table(sep="|"), CsvDialect("|", ".")),
        (table(trailing=","), CsvDialect(",", ".")),
        (table(trailing=",", header_trailing=","), CsvDialect(",", ".")),
        (table(sep=";", decimal=",", trailing=";"), CsvDialect(";", ",")),
        ("\ufeff" + table(sep=";", decimal=","), CsvDialect(";", ",")),
    ],
    ids=[
        "comma",
        "semicolon",
        "semicolon-decimal-comma",
        "tab-decimal-comma",
        "pipe",
        "trailing-commas",
        "trailing-commas-header-too",
        "semicolon-trailing",
        "bom",
    ],
)
def test_dialects_are_detected_and_read_as_meant(
    tmp_path: Path, text: str, dialect: CsvDialect
) -> None:
    path = write(tmp_path / "BTCUSDT.csv", text)
    assert sniff_csv(path) == dialect
    check(path)


def test_thousands_points_with_decimal_commas_are_read(tmp_path: Path) -> None:
    text = (
        "time;open;high;low;close;volume\n"
        "2024-01-01T00:00:00Z;1.234,5;1.240;1.230,25;1.235;10\n"
        "2024-01-01T01:00:00Z;1.235;1.241,5;1.231;12.345.678,5;2,5\n"
    )
    path = write(tmp_path / "x.csv", text)
    assert sniff_csv(path) == CsvDialect(";", ",", ".")
    with pytest.raises(DataError, match="high"):  # 12 million closes above the high: refused
        CsvFeed(path, symbol="X").load()
    fixed = write(tmp_path / "y.csv", text.replace("12.345.678,5", "1.236"))
    series = CsvFeed(fixed, symbol="X").load()["X"]
    assert series.open.tolist() == [1234.5, 1235.0]
    assert series.high.tolist() == [1240.0, 1241.5]
    assert series.low.tolist() == [1230.25, 1231.0]
    assert series.volume.tolist() == [10.0, 2.5]


def test_a_compressed_semicolon_file_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT.csv.gz"
    path.write_bytes(gzip.compress(table(sep=";", decimal=",").encode()))
    assert sniff_csv(path) == CsvDialect(";", ",")
    check(path)


@pytest.mark.parametrize(
    ("text", "encoding", "message"),
    [
        (
            table(decimal=","),
            "utf-8",
            r"x\.csv: line 2 has 11 fields but the header has 6; the numbers look like they use "
            r"decimal commas",
        ),
        (
            table(sep=";", decimal=",").replace("102;1\n", "102.5;1\n"),
            "utf-8",
            r"numbers mix decimal commas \('100,5'\) and decimal points \('102\.5'\)",
        ),
        (
            table(sep=";").replace("time", "tíme"),
            "latin-1",
            r"x\.csv: line 1: not UTF-8 text \(byte 0xed\)",
        ),
    ],
    ids=["decimal-comma-with-comma-separator", "mixed-decimal-marks", "latin-1"],
)
def test_unreadable_dialects_are_refused_naming_the_problem(
    tmp_path: Path, text: str, encoding: str, message: str
) -> None:
    path = write(tmp_path / "x.csv", text, encoding=encoding)
    with pytest.raises(DataError, match=message):
        CsvFeed(path).load()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"PAR1\x00\x01\x02\x00", r"x\.csv: this is a binary file \(a Parquet file: read it"),
        (b"PK\x03\x04\x14\x00\x06\x00", r"binary file \(a zip archive or an Excel workbook"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", r"binary file \(it holds NUL bytes\), not CSV text"),
    ],
    ids=["parquet", "xlsx", "other"],
)
def test_a_binary_file_is_refused_saying_what_it_looks_like(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        CsvFeed(path).load()


def daily(times: list[str]) -> str:
    lines = [",".join(HEADER)]
    lines += [f"{time},1,2,0.5,1.5,10" for time in times]
    return "\n".join(lines) + "\n"


def test_day_first_dates_are_read_day_first_when_only_that_is_valid(tmp_path: Path) -> None:
    times = [f"{day:02d}/01/2024" for day in range(10, 16)]  # 13/01/2024 cannot be month-first
    series = CsvFeed(write(tmp_path / "x.csv", daily(times)), symbol="X").load()["X"]
    expected = np.datetime64("2024-01-10", "ns").astype(np.int64) + np.arange(6) * 86_400 * 10**9
    assert series.open_time.tolist() == expected.tolist()


def test_month_first_dates_are_read_month_first_when_only_that_is_valid(tmp_path: Path) -> None:
    times = [f"01/{day:02d}/2024" for day in range(10, 16)]  # 01/13/2024 cannot be day-first
    series = CsvFeed(write(tmp_path / "x.csv", daily(times)), symbol="X").load()["X"]
    assert series.open_time[0] == np.datetime64("2024-01-10", "ns").astype(np.int64)
    assert series.timeframe == 86_400 * 10**9


def test_ambiguous_day_month_dates_are_refused_not_guessed(tmp_path: Path) -> None:
    # 01/02 .. 01/06: 1-5 February day-first, or 2-6 January month-first; both increase.
    times = [f"0{day}/02/2024" for day in range(1, 6)]
    with pytest.raises(DataError, match=r"x\.csv: dates such as '01/02/2024' read as valid"):
        CsvFeed(write(tmp_path / "x.csv", daily(times)), symbol="X").load()


def test_only_one_day_month_order_keeps_times_increasing(tmp_path: Path) -> None:
    # Day-first: 11, 12 January, 1 February (increasing); month-first: 1 November, 1 December,
    # 2 January (not increasing): only the day-first reading can be bars.
    times = ["11/01/2024", "12/01/2024", "01/02/2024"]
    series = CsvFeed(write(tmp_path / "x.csv", daily(times)), symbol="X", timeframe="1d")
    loaded = series.load()["X"]
    assert loaded.open_time.tolist() == [
        np.datetime64(day, "ns").astype(np.int64).item()
        for day in ("2024-01-11", "2024-01-12", "2024-02-01")
    ]
