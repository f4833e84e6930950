"""The command line: download from a local exchange into a store, then inspect the store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from quantkit.cli import main
from quantkit.data.store import ParquetStore
from quantkit.testing import LocalExchange


@pytest.fixture(scope="module")
def exchange():  # type: ignore[no-untyped-def]
    with LocalExchange(start="2024-01-01", end="2024-01-04", timeframe="1m") as local:
        yield local


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_download_then_resume_then_show(
    exchange: LocalExchange, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "store")
    args = ("download", "binance", "BTC/USDT", "-t", "1h", "--since", "2024-01-01")
    args += ("--until", "2024-01-03", "--store", store, "--api-url", exchange.url, "--no-progress")
    code, out, err = run(capsys, *args)
    assert code == 0, err
    assert "binance BTC/USDT 1h: 48 bars added" in out
    held = ParquetStore(store).read("binance", "BTC/USDT", "1h")
    expected = exchange.candles("BTC/USDT", "1h")
    expected = expected[(expected.index >= "2024-01-01") & (expected.index < "2024-01-03")]
    pd.testing.assert_frame_equal(held, expected, check_freq=False, check_names=False)
    before = len(exchange.requests("/api/v3/klines"))
    code, out, _ = run(capsys, *args)
    assert code == 0 and ": 0 bars added" in out
    assert len(exchange.requests("/api/v3/klines")) == before  # nothing was missing
    code, out, _ = run(capsys, "data", "--store", store)
    assert code == 0 and "BTC/USDT" in out and "48" in out
    code, out, _ = run(capsys, "data", "binance", "BTC/USDT", "1h", "--store", store)
    assert code == 0 and "1 covered range(s)" in out and "gap" not in out


def test_errors_are_one_line_and_exit_codes_are_stable(
    exchange: LocalExchange, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "s")
    common = ("--since", "2024-01-01", "--store", store, "--api-url", exchange.url)
    code, _, err = run(capsys, "download", "binance", "BTC/USDC", *common, "--no-progress")
    assert code == 1
    assert err.startswith("error: ") and err.count("\n") == 1 and "BTC/USDT" in err
    code, _, err = run(capsys, "download", "nosuchexchange", "BTC/USDT", *common)
    assert code == 1 and "no exchange" in err
    code, _, err = run(capsys, "download", "binance")
    assert code == 2 and "Missing argument" in err
    code, _, err = run(capsys, "data", "binance", "--store", store)
    assert code == 2 and "together" in err
    code, out, _ = run(capsys, "data", "--store", store)
    assert code == 0 and "empty" in out
    code, out, _ = run(capsys, "data", "binance", "BTC/USDT", "1h", "--store", store)
    assert code == 0 and "nothing stored" in out
    with pytest.raises(Exception, match="unknown symbol"):
        main(["--debug", "download", "binance", "BTC/USDC", *common, "--no-progress"])


def test_gaps_are_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    index = pd.date_range("2024-01-01", periods=6, freq="1h", tz="UTC").delete([2, 3])
    frame = pd.DataFrame(
        {"open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1.0}, index=index
    )
    ParquetStore(tmp_path).write("x", "A/B", "1h", frame)
    code, out, _ = run(capsys, "data", "x", "A/B", "1h", "--store", str(tmp_path))
    assert code == 0 and "2 covered range(s)" in out and out.count("gap:") == 1


def test_console_script_help_runs() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "quantkit.cli", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0
    assert "download" in completed.stdout and "data" in completed.stdout
