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
from tests.sigint import INHERITED, preexec


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


# ------------------------------------------------------------------ quantkit exchange


def test_exchange_announces_its_url_live_state_and_account_keys_only(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import threading

    from quantkit.cli import cli

    stop = threading.Event()
    stop.set()  # serve, announce, and stop at once
    args = ["exchange", "--port", "0", "--live", "--warmup", "5", "--every", "0"]
    args += ["--end", "2024-01-01 01:00", "--account", "alice:topsecret", "--account", "bob:x:y"]
    cli.main(args=args, obj={"stop": stop}, standalone_mode=False, prog_name="quantkit")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("http://127.0.0.1:")
    assert lines[1:] == [
        "live: 5 of 60 candles published, none more until published",
        "account: alice",
        "account: bob",
    ]
    assert "topsecret" not in "".join(lines)


def test_exchange_refuses_bad_accounts_balances_and_warmup(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(capsys, "exchange", "--account", "no-secret")
    assert code == 1 and "KEY:SECRET" in err
    code, _, err = run(capsys, "exchange", "--account", "k:s", "--balance", "USDT")
    assert code == 1 and "ASSET=AMOUNT" in err
    code, _, err = run(capsys, "exchange", "--account", "k:s", "--balance", "USDT=-1")
    assert code == 1 and "'USDT=-1'" in err
    code, _, err = run(capsys, "exchange", "--live", "--warmup", "0", "--end", "2024-01-02")
    assert code == 1 and "warmup" in err


@pytest.mark.parametrize("inherited", INHERITED)
def test_exchange_runs_live_until_interrupted(inherited: str) -> None:
    import json
    import signal
    import urllib.request

    import aiohttp
    import anyio

    async def next_closed_bar(port: int) -> int:
        url = f"ws://127.0.0.1:{port}/ws/btcusdt@kline_1m"
        async with aiohttp.ClientSession() as session, session.ws_connect(url) as socket:
            with anyio.fail_after(60):  # bounds a hang only
                while not (event := json.loads(await socket.receive_str()))["k"]["x"]:
                    pass
        return int(event["k"]["t"])

    command = [sys.executable, "-m", "quantkit.cli", "exchange", "--port", "0", "--live"]
    command += ["--warmup", "3", "--every", "0.5", "--end", "2024-01-01 03:00"]  # 90 s to exhaust
    command += ["--account", "key:secret", "--balance", "USDT=500", "--balance", "BTC=1"]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=preexec(inherited),  # noqa: PLW1509 - sets one signal disposition, no locks
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert process.stdout.readline().startswith("live: 3 of 180 candles published")
        assert process.stdout.readline().strip() == "account: key"
        port = int(url.rsplit(":", 1)[1])
        closed = anyio.run(next_closed_bar, port)  # the timer publishes on its own
        assert closed >= 1704067200000 + 3 * 60_000
        query = "/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=1000"
        with urllib.request.urlopen(url + query, timeout=60) as answer:
            rows = json.loads(answer.read())
        assert 5 <= len(rows) < 180 and rows[-1][5] == "0"  # published bars, then the forming one
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


STRATEGY_FILE = '''
from quantkit.strategy.base import Strategy


class BuyOnce(Strategy):
    """Buys 0.01 on the first bar after warm-up."""

    def on_bar(self, data: object) -> None:
        if self.position().is_flat and not self.open_orders():
            self.buy(amount=0.01)
'''

CONSOLE_SCRIPT = "import sys\nfrom quantkit.cli import main\nsys.exit(main())\n"


def test_module_class_strategies_are_found_in_the_current_directory(tmp_path: Path) -> None:
    # The runner lives in another folder, as the installed `quantkit` script does: unlike
    # `python -m`, running a script puts only the script's own folder on sys.path.
    scripts, work = tmp_path / "bin", tmp_path / "work"
    scripts.mkdir()
    work.mkdir()
    (scripts / "quantkit_cli.py").write_text(CONSOLE_SCRIPT)
    (work / "my_strategies.py").write_text(STRATEGY_FILE)
    done = subprocess.run(
        [
            sys.executable,
            str(scripts / "quantkit_cli.py"),
            "backtest",
            "-s",
            "my_strategies:BuyOnce",
        ],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Result: BuyOnce() on BTC/USDT (1h, ")
    missing = subprocess.run(
        [sys.executable, str(scripts / "quantkit_cli.py"), "backtest", "-s", "nowhere:BuyOnce"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: cannot import strategy 'nowhere:BuyOnce'")


@pytest.mark.parametrize(
    ("content", "environ", "expected"),
    [
        (
            b"strategy:\n  name: sma_cross\n  params: {fast: 010}\n",
            {},
            "line 3: fast: 010 has a leading zero; write 10 for the number",
        ),
        (b"strategy: {name: caf\xe9}\n", {}, "line 1: not UTF-8 text (byte 0xe9)"),
        (
            b"strategy: {name: sma_cross}\n",
            {"QUANTKIT_BROKER__CASH": "-5"},
            "environment QUANTKIT_BROKER__CASH (broker.backtest.cash): Input should be greater",
        ),
        (
            b"strategy: {name: sma_cross}\n",
            {"QUANTKIT_BROKER__CAHS": "5"},
            "environment QUANTKIT_BROKER__CAHS: unknown field of broker 'cahs'; did you mean "
            "'cash'?",
        ),
        (
            b"strategy: {name: sma_cross}\nrisk: {type: sane_order}\n",
            {},
            "risk: Value error, must be a list of policies",
        ),
    ],
    ids=["leading-zero", "latin-1", "env-value", "env-field", "risk-not-a-list"],
)
def test_run_config_errors_are_one_line_naming_file_line_or_variable(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    content: bytes,
    environ: dict[str, str],
    expected: str,
) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "run.yaml"
    path.write_bytes(content)
    code, out, err = run(capsys, "run", str(path))
    assert code == 1 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1
    assert expected in err


def test_backtest_reads_a_semicolon_decimal_comma_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        f"2024-01-{1 + hour // 24:02d}T{hour % 24:02d}:00:00Z;{100 + hour % 7},5;"
        f"{101 + hour % 7},25;{99 + hour % 7},75;{100 + hour % 7},5;1,5"
        for hour in range(60)
    ]
    path = tmp_path / "BTCUSDT.csv"
    header = "time;open;high;low;close;volume"
    path.write_text("\ufeff" + "\n".join([header, *rows]) + "\n", encoding="utf-8")
    code, out, err = run(
        capsys,
        "backtest",
        "--data",
        str(path),
        "-p",
        "fast=2",
        "-p",
        "slow=5",
        "--symbol",
        "BTC/USDT",
    )
    assert code == 0, err
    assert out.startswith(
        "Result: SmaCross(fast=2, slow=5, fraction=1.0) on BTC/USDT (1h, 60 bars)"
    )


def test_a_strategy_file_with_a_syntax_error_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "broken_strategy.py").write_text("class Broken(\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    code, _, err = run(capsys, "backtest", "-s", "broken_strategy:Broken")
    assert code == 1 and err.count("\n") == 1
    assert err.startswith("error: cannot import strategy 'broken_strategy:Broken': '(' was never")
    assert "broken_strategy.py, line 1" in err


def test_exchange_serves_usdm_futures(capsys: pytest.CaptureFixture[str]) -> None:
    import threading

    from quantkit.cli import cli

    stop = threading.Event()
    stop.set()
    args = ["exchange", "--futures", "--port", "0", "--end", "2024-01-02", "--account", "k:s3"]
    cli.main(args=args, obj={"stop": stop}, standalone_mode=False, prog_name="quantkit")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("http://127.0.0.1:")
    assert lines[1:] == ["USD-M perpetuals: BTC/USDT:USDT, ETH/USDT:USDT", "account: k"]
    code, _, err = run(capsys, "exchange", "--futures", "--live")
    assert code == 1 and "--live is not offered with --futures" in err


def test_download_mark_candles_and_funding_of_a_perpetual(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from quantkit.data import FundingStore, read_price_bars
    from quantkit.testing import LocalFuturesExchange

    store = str(tmp_path / "store")
    with LocalFuturesExchange(start="2024-01-01", end="2024-01-03", timeframe="1h") as local:
        common = ("--since", "2024-01-01", "--until", "2024-01-03", "--store", store)
        common += ("--api-url", local.url, "--no-progress")
        code, out, err = run(capsys, "download", "binanceusdm", "BTC/USDT:USDT", *common,
                             "--price", "mark")  # fmt: skip
        assert code == 0, err
        assert "binanceusdm BTC/USDT:USDT#mark 1h: 48 bars added" in out
        code, out, err = run(capsys, "download", "binanceusdm", "BTC/USDT:USDT", *common,
                             "--funding")  # fmt: skip
        assert code == 0, err
        assert "binanceusdm BTC/USDT:USDT funding: 6 rates added" in out
        marks = local.candles("BTC/USDT:USDT", "1h", "mark")["close"].tolist()
        rates = local.funding_rates("BTC/USDT:USDT")["rate"].tolist()
    bars = read_price_bars(ParquetStore(store), "binanceusdm", "BTC/USDT:USDT", "1h")
    assert bars.close.tolist() == marks
    assert FundingStore(store).read("binanceusdm", "BTC/USDT:USDT").rate.tolist() == rates
