"""Configuration documents: YAML 1.2 scalars, duplicate keys, encodings, each error placed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from quantkit._documents import load_document
from quantkit.config import SampleData, load_config
from quantkit.errors import ConfigError


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    target = tmp_path / name
    if isinstance(content, bytes):
        target.write_bytes(content)
    else:
        target.write_text(content, encoding="utf-8")
    return target


def test_scalars_follow_yaml_1_2(tmp_path: Path) -> None:
    text = (
        "a: true\nb: yes\nc: off\nd: 0x1F\ne: 0o17\nf: 1:30\ng: -3\nh: 0\ni: .5\nj: 1e3\n"
        "k: null\nl: ~\nm: '010'\nn: 2024-01-01\no: 2024-01-01 10:30:00\np: NO\n"
    )
    data = load_document(write(tmp_path, "s.yaml", text))
    assert data == {
        "a": True,
        "b": "yes",
        "c": "off",
        "d": 31,
        "e": 15,
        "f": "1:30",  # YAML 1.1 would give 90 (sexagesimal)
        "g": -3,
        "h": 0,
        "i": 0.5,
        "j": 1000.0,
        "k": None,
        "l": None,
        "m": "010",
        "n": "2024-01-01",
        "o": "2024-01-01 10:30:00",
        "p": "NO",  # the Norway problem: YAML 1.1 would give False
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("strategy:\n  params:\n    fast: 010\n", r"s\.yaml: line 3: fast: 010 has a leading zero"),
        ("a: [1, 2]\nb:\n  - 007\n", r"s\.yaml: line 3: 007 has a leading zero"),
        ("a: -012\n", r"line 1: a: -012 has a leading zero; write 12"),
    ],
)
def test_leading_zero_numbers_are_refused_not_read_as_octal(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_document(write(tmp_path, "s.yaml", text))


def test_duplicate_keys_name_the_key_and_lines(tmp_path: Path) -> None:
    text = "strategy:\n  name: sma_cross\n  params: {fast: 5}\n  name: other\n"
    with pytest.raises(ConfigError, match=r"line 4: key 'name' appears twice .*lines 2 and 4"):
        load_document(write(tmp_path, "d.yaml", text))
    json_text = '{"a": 1,\n "b": {"c": 1,\n  "c": 2}}'
    with pytest.raises(ConfigError, match=r"d\.json: line 3: key 'c' appears twice"):
        load_document(write(tmp_path, "d.json", json_text))


def test_merge_keys_may_override_what_they_merge(tmp_path: Path) -> None:
    text = "base: &b {p: 1, q: 2}\nderived:\n  <<: *b\n  q: 3\n"
    assert load_document(write(tmp_path, "m.yaml", text))["derived"] == {"p": 1, "q": 3}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"strategy:\n  name: caf\xe9\n", r"line 2: not UTF-8 text \(byte 0xe9\)"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", r"binary file"),
    ],
)
def test_non_utf8_and_binary_files_get_a_clear_error(
    tmp_path: Path, content: bytes, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, "c.yaml", content), environ={})


def test_a_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", "\ufeffstrategy: {name: sma_cross}\n".encode())
    assert load_config(path, environ={}).strategy.name == "sma_cross"


def test_unquoted_dates_are_accepted_as_dates(tmp_path: Path) -> None:
    text = (
        "strategy: {name: sma_cross}\n"
        "data: {type: sample, symbols: [BTC/USDT], start: 2024-01-02, end: 2024-01-05 12:00:00}\n"
    )
    config = load_config(write(tmp_path, "c.yaml", text), environ={})
    assert isinstance(config.data, SampleData)
    assert (config.data.start, config.data.end) == ("2024-01-02", "2024-01-05 12:00:00")


def test_python_dates_are_accepted_too() -> None:
    import datetime as dt

    data: dict[str, Any] = {"type": "sample", "start": dt.date(2024, 1, 2)}
    data["end"] = dt.datetime(2024, 1, 5, 12, tzinfo=dt.UTC)
    sample = SampleData.model_validate(data)
    assert (sample.start, sample.end) == ("2024-01-02", "2024-01-05T12:00:00+00:00")


def test_a_yaml_syntax_error_is_one_line_with_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", "strategy:\n  name: sma_cross\n  params: {fast: 5\n")
    with pytest.raises(ConfigError) as caught:
        load_document(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: not valid YAML: line 4, column 1: expected ',' or '}}'")
    assert message.endswith("(while parsing a flow mapping)")
