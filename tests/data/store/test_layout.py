"""Directory names and partition files of the store's layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantkit.data.store.layout import (
    SeriesKey,
    decode_name,
    encode_name,
    list_partitions,
    overlapping,
    partition_unit,
)
from quantkit.errors import ConfigError

from .bars import HOUR, MINUTE, NS


@pytest.mark.parametrize(
    ("name", "directory"),
    [
        ("BTC/USDT", "BTC_USDT"),
        ("BTC/USDT:USDT", "BTC_USDT+USDT"),
        ("ETH_BTC", "ETH~5FBTC"),
        ("A+B", "A~2BB"),
        ("a~b", "a~7Eb"),
        (".hidden", "~2Ehidden"),
        ("..", "~2E."),
        ("x.y-z", "x.y-z"),
        ("BTC-240329-60000-C", "BTC-240329-60000-C"),
        ("é/€", "~C3~A9_~E2~82~AC"),
        ("a b\\c", "a~20b~5Cc"),
        ("binance", "binance"),
    ],
)
def test_names_map_to_safe_directories_and_back(name: str, directory: str) -> None:
    assert encode_name(name) == directory
    assert decode_name(directory) == name


@given(st.text(min_size=1, max_size=30))
def test_encoding_is_reversible_and_safe(name: str) -> None:
    directory = encode_name(name)
    assert decode_name(directory) == name
    assert set(directory) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_+~"
    )
    assert not directory.startswith(".")


@pytest.mark.parametrize("junk", ["", "~", "~4", "~zz", "~FF", "A~2FB", "~41", "BTC/USDT"])
def test_names_the_store_did_not_make_do_not_decode(junk: str) -> None:
    assert decode_name(junk) is None


@pytest.mark.parametrize("bad", ["", None, 3])
def test_empty_or_non_string_names_are_refused(bad: object) -> None:
    with pytest.raises(ConfigError, match="non-empty strings"):
        encode_name(bad)  # type: ignore[arg-type]


def test_partition_period_depends_on_timeframe() -> None:
    assert partition_unit(NS) == "D"
    assert partition_unit(30 * NS) == "D"
    assert partition_unit(MINUTE) == "M"
    assert partition_unit(15 * MINUTE) == "M"
    assert partition_unit(HOUR) == "Y"
    assert partition_unit(24 * HOUR) == "Y"


def test_series_key_normalises_the_timeframe(tmp_path: Path) -> None:
    key = SeriesKey.make("binance", "BTC/USDT", "60m")
    assert key.timeframe == "1h"
    assert key.timeframe_ns == HOUR
    assert key.unit == "Y"
    assert key.directory(tmp_path) == tmp_path / "binance" / "BTC_USDT" / "1h"
    assert key.describe() == "binance BTC/USDT 1h"
    assert SeriesKey.make("binance", "BTC/USDT", HOUR) == key


def test_series_key_refuses_bad_parts() -> None:
    with pytest.raises(ConfigError, match="non-empty"):
        SeriesKey.make("", "BTC/USDT", "1h")
    with pytest.raises(ConfigError, match="not understood"):
        SeriesKey.make("binance", "BTC/USDT", "1M")
    with pytest.raises(ConfigError, match="whole-second"):
        SeriesKey.make("binance", "BTC/USDT", 1500)


def test_partition_bounds_cover_the_calendar_period(tmp_path: Path) -> None:
    key = SeriesKey.make("x", "A/B", "1m")
    part = key.partition_for(tmp_path, np.datetime64("2024-02", "M"))
    assert part.name == "2024-02.parquet"
    assert part.start == np.datetime64("2024-02-01", "ns").astype(np.int64)
    assert part.end == np.datetime64("2024-03-01", "ns").astype(np.int64)
    daily = SeriesKey.make("x", "A/B", "1s").partition_for(tmp_path, np.datetime64("2024-02-29"))
    assert daily.name == "2024-02-29.parquet"
    assert daily.end - daily.start == 86_400 * NS
    yearly = SeriesKey.make("x", "A/B", "1d").partition_for(tmp_path, np.datetime64("2024", "Y"))
    assert yearly.name == "2024.parquet"


def test_only_partition_files_are_listed_in_time_order(tmp_path: Path) -> None:
    key = SeriesKey.make("x", "A/B", "1m")
    assert list_partitions(key, tmp_path) == []
    directory = key.directory(tmp_path)
    directory.mkdir(parents=True)
    names = [
        "2024-03.parquet",
        "2023-12.parquet",
        ".tmp-abc-2024-04.parquet",
        "2024-05.parquet.tmp",
        "2024.parquet",
        "2024-01-01.parquet",
        "notes.txt",
        "known_gaps.json",
    ]
    for name in names:
        (directory / name).write_bytes(b"")
    assert [p.name for p in list_partitions(key, tmp_path)] == [
        "2023-12.parquet",
        "2024-03.parquet",
    ]


def test_overlapping_prunes_partitions_by_period(tmp_path: Path) -> None:
    key = SeriesKey.make("x", "A/B", "1m")
    parts = [key.partition_for(tmp_path, np.datetime64(m, "M")) for m in ("2024-01", "2024-02")]
    feb = parts[1].start
    assert overlapping(parts, (None, None)) == parts
    assert overlapping(parts, (feb, None)) == parts[1:]
    assert overlapping(parts, (None, feb)) == parts[:1]
    assert overlapping(parts, (feb - 1, feb + 1)) == parts
