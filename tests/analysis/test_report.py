"""The results pictures: the main plotly figure, the secondary charts and the HTML tear sheet."""

from __future__ import annotations

import doctest
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

import quantkit.analysis.report_charts
from quantkit import BacktestBroker, Engine, SmaCross, Strategy, SymbolData, sample_feed
from quantkit.analysis import plots, report
from quantkit.analysis.report_charts import (
    distribution_returns,
    monthly_returns,
    rolling_sharpe,
    rolling_window,
)
from quantkit.engine.result import Result
from quantkit.errors import ConfigError

HOUR_NS = 3_600 * 10**9
DAY_NS = 24 * HOUR_NS
SECTIONS = (
    "statistics",
    "overview",
    "monthly-returns",
    "returns-distribution",
    "rolling-sharpe",
    "trades",
)


def run(strategy: Strategy, symbols: str | list[str] = "BTC/USDT") -> Result:
    feed = sample_feed(symbols, end="2021-02-20")
    return Engine(feed=feed, strategy=strategy, broker=BacktestBroker(cash=10_000)).run()


@pytest.fixture(scope="module")
def result() -> Result:
    return run(SmaCross(fast=5, slow=20))


@pytest.fixture(scope="module")
def page(result: Result) -> str:
    return report.render_report(result)


class Idle(Strategy):
    """Never trades."""

    def on_bar(self, bar: SymbolData) -> None:
        pass


class Hostile(SmaCross):
    """A strategy whose repr carries markup."""

    def __repr__(self) -> str:
        return "Hostile<script>alert('x')</script>&<b>bold</b>"


# --- the main figure ------------------------------------------------------------------------


def test_figure_traces_and_fill_markers(result: Result) -> None:
    figure = result.plot()
    names = [trace.name for trace in figure.data]
    assert names == [
        "BTC/USDT close",
        "BTC/USDT buys",
        "BTC/USDT sells",
        "equity",
        "equity before fees",
        "buy and hold BTC/USDT",
        "drawdown",
        "BTC/USDT exposure",
    ]
    by_name = {trace.name: trace for trace in figure.data}
    sides = result.fills["side"].value_counts()
    assert sides["buy"] > 3 and sides["sell"] > 3
    buys, sells = by_name["BTC/USDT buys"], by_name["BTC/USDT sells"]
    assert len(buys.x) == sides["buy"] and len(sells.x) == sides["sell"]
    assert (buys.marker.symbol, sells.marker.symbol) == ("triangle-up", "triangle-down")
    bought = result.fills[result.fills["side"] == "buy"]
    np.testing.assert_allclose(buys.y, bought["price"].to_numpy())
    np.testing.assert_allclose(buys.customdata[:, 0], bought["amount"].to_numpy())
    assert (buys.customdata[:, 1] == 1).all()  # one fill per marker below the limit
    assert "amount" in buys.hovertemplate and "price" in buys.hovertemplate
    for name in ("BTC/USDT close", "equity", "drawdown", "BTC/USDT exposure"):
        assert len(by_name[name].x) == len(result.equity)


def test_figure_panels_share_the_time_axis(result: Result) -> None:
    figure = result.plot()
    axes = [trace.xaxis for trace in figure.data]
    assert sorted(set(axes)) == ["x", "x2", "x3", "x4"]
    layout = figure.layout
    assert [layout[key].matches for key in ("xaxis", "xaxis2", "xaxis3")] == ["x4"] * 3
    assert layout.hovermode == "x unified"


def test_figure_series_values(result: Result) -> None:
    by_name = {trace.name: trace for trace in result.plot().data}
    close = plots.close_series(result, "BTC/USDT")
    benchmark = by_name["buy and hold BTC/USDT"].y
    start = float(result.equity.iloc[0])
    np.testing.assert_allclose(benchmark, start * close.to_numpy() / close.iloc[0])
    np.testing.assert_allclose(by_name["drawdown"].y, 100 * result.drawdown.to_numpy())
    exposure = by_name["BTC/USDT exposure"].y
    # SmaCross is long-only and spends all its cash: exposure is 0 or close to 100 %.
    assert np.nanmin(exposure) == 0.0
    assert 95.0 < np.nanmax(exposure) <= 100.0 + 1e-9
    position = plots.position_series(result, "BTC/USDT")
    assert position.iloc[-1] == pytest.approx(result.positions.loc["BTC/USDT", "amount"])


def test_figure_with_several_symbols() -> None:
    both = run(SmaCross(fast=5, slow=20), ["BTC/USDT", "ETH/USDT"])
    figure = both.plot()
    names = [trace.name for trace in figure.data]
    assert names.count("ETH/USDT close") == 1 and names.count("BTC/USDT close") == 1
    assert {"BTC/USDT exposure", "ETH/USDT exposure"} <= set(names)
    for symbol in both.symbols:
        fills = both.fills[both.fills["symbol"] == symbol]
        markers = {t.name: len(t.x) for t in figure.data if t.name.startswith(symbol)}
        assert markers[f"{symbol} buys"] == (fills["side"] == "buy").sum()
        assert markers[f"{symbol} sells"] == (fills["side"] == "sell").sum()
    only_eth = [trace.name for trace in both.plot(symbols="ETH/USDT").data]
    assert "BTC/USDT close" not in only_eth and "ETH/USDT close" in only_eth
    assert "BTC/USDT exposure" in only_eth  # exposure always covers the whole book


def test_plot_rejects_unknown_or_no_symbols(result: Result) -> None:
    with pytest.raises(ConfigError, match=r"did you mean 'BTC/USDT'"):
        result.plot(symbols=["BTC/USD"])
    with pytest.raises(ConfigError, match="at least one symbol"):
        result.plot(symbols=[])
    with pytest.raises(ConfigError, match="no bars for 'XRP/USDT'"):
        plots.close_series(result, "XRP/USDT")


def test_idle_run_benchmarks_the_first_symbol() -> None:
    idle = run(Idle())
    by_name = {trace.name: trace for trace in idle.plot().data}
    assert len(by_name["BTC/USDT buys"].x) == 0
    assert by_name["buy and hold BTC/USDT"].y[0] == pytest.approx(10_000)
    assert not np.any(by_name["BTC/USDT exposure"].y)
    assert "No closed trades." in report._trades_table(idle.trades)


# --- the secondary charts -------------------------------------------------------------------


def test_monthly_returns_compound_to_the_total() -> None:
    times = pd.date_range("2023-11-15", "2024-02-10", freq="1D", tz="UTC")
    equity = pd.Series(np.linspace(100.0, 130.0, len(times)), index=times)
    table = monthly_returns(equity)
    assert list(table.index) == [2023, 2024]
    assert [int(c) for c in table.columns] == list(range(1, 13))
    values = table.stack().dropna().to_numpy()
    assert len(values) == 4  # Nov, Dec, Jan, Feb
    assert np.prod(1 + values) - 1 == pytest.approx(130.0 / 100.0 - 1)
    assert math.isnan(table.to_numpy()[0, 0])
    assert monthly_returns(equity.iloc[:0]).empty


def test_distribution_uses_daily_returns_for_intraday_bars(result: Result) -> None:
    daily, label = distribution_returns(result.equity, HOUR_NS)
    assert label == "daily"
    assert len(daily) == len(result.equity.resample("1D").last()) - 1
    per_bar, label = distribution_returns(result.equity, DAY_NS)
    assert label == "per-bar" and len(per_bar) == len(result.equity) - 1


def test_rolling_window_and_sharpe() -> None:
    assert rolling_window(HOUR_NS, 10_000) == 2160
    assert rolling_window(7 * DAY_NS, 1_000) == 20
    assert rolling_window(HOUR_NS, 1_000) == 500
    assert rolling_window(HOUR_NS, 3) == 2
    with pytest.raises(ConfigError, match="positive bar length"):
        rolling_window(0, 100)
    returns = pd.Series([0.01, -0.01, 0.02, 0.0, 0.0, 0.0])
    sharpe = rolling_sharpe(returns, 3, 365)
    assert sharpe.isna().tolist() == [True, True, False, False, False, True]
    expected = np.mean([0.01, -0.01, 0.02]) / np.std([0.01, -0.01, 0.02], ddof=1) * 365**0.5
    assert sharpe.iloc[2] == pytest.approx(expected)
    with pytest.raises(ConfigError, match="at least 2 bars"):
        rolling_sharpe(returns, 1, 365)
    with pytest.raises(ConfigError, match="periods_per_year"):
        rolling_sharpe(returns, 3, 0)


def test_chart_doctests() -> None:
    for module in (quantkit.analysis.report_charts, plots):
        outcome = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert outcome.attempted > 0 and outcome.failed == 0


# --- the HTML page --------------------------------------------------------------------------


class _Tags(HTMLParser):
    """Collects every start tag with its attributes, and the text of <style> elements."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


def parse(page: str) -> _Tags:
    tags = _Tags()
    tags.feed(page)
    return tags


def test_page_is_self_contained(page: str) -> None:
    tags = parse(page)
    for tag, attrs in tags.tags:
        for attribute in ("src", "href"):
            value = attrs.get(attribute) or ""
            assert not re.match(r"\s*(https?:)?//", value), f"<{tag} {attribute}={value!r}>"
        assert tag not in {"link", "iframe"}, f"<{tag}> loads another resource"
    assert all("http" not in style and "@import" not in style for style in tags.styles)
    scripts = [attrs for tag, attrs in tags.tags if tag == "script"]
    assert all("src" not in attrs for attrs in scripts)
    # plotly.js once, one script per figure (4), and the table sorter.
    assert len(scripts) == 6
    bundle = get_plotlyjs()
    assert page.count(bundle[:200]) == 1 and page.count(bundle) == 1
    # Outside the bundle (whose only URLs are unused defaults such as geo's topojson CDN),
    # the page names no URL at all.
    rest = page.replace(bundle, "")
    assert "http://" not in rest and "https://" not in rest


def test_page_sections(page: str, result: Result) -> None:
    ids = [attrs.get("id") for tag, attrs in parse(page).tags if tag == "section"]
    assert ids == list(SECTIONS)
    assert page.count('class="plotly-graph-div"') == 4
    assert page.count('class="quantkit-stats"') == 2  # the table in two columns
    assert "Total return [%]" in page and "Sharpe ratio" in page
    assert f"Trades ({len(result.trades):,})" in page
    assert page.count('<tr><td data-sort="BTC/USDT">') == len(result.trades)
    assert "17,520" not in page and f"{len(result.equity):,} bars" in page
    for name in ("Monthly returns [%]", "Distribution of daily returns", "Rolling Sharpe ratio"):
        assert name in page


def test_page_escapes_user_text() -> None:
    hostile = run(Hostile(fast=5, slow=20))
    page = report.render_report(hostile)
    assert "<script>alert" not in page and "<b>bold" not in page
    assert "Hostile&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&amp;&lt;b&gt;" in page
    assert len([tag for tag, _ in parse(page).tags if tag == "script"]) == 6
    assert "<script>" not in hostile._repr_html_()


def test_trades_table_is_capped(result: Result, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report, "MAX_TRADE_ROWS", 3)
    page = report._trades_table(result.trades)
    assert page.count('<tr><td data-sort="BTC/USDT">') == 3
    assert f"The first 3 of {len(result.trades):,} trades" in page


def test_format_value() -> None:
    assert report.format_value(None) == "-"
    assert report.format_value(float("nan")) == "-"
    assert report.format_value(pd.NaT) == "-"
    assert report.format_value(True) == "True"
    assert report.format_value(np.int64(12345)) == "12,345"
    assert report.format_value(123456.789) == "123,456.79"
    assert report.format_value(-0.58814) == "-0.5881"
    assert report.format_value(pd.Timestamp("2024-01-02 03:04:05", tz="UTC")) == "2024-01-02 03:04"
    assert report.format_value(pd.Timedelta("1 days 01:43:37.21")) == "1 days 01:43:37"
    assert report.format_value("not recovered") == "not recovered"


def test_repr_html_holds_the_stats_table(result: Result) -> None:
    markup = result._repr_html_()
    assert markup.count('<table class="quantkit-stats">') == 1
    assert "<th>Sharpe ratio</th>" in markup


def test_report_writes_the_file(result: Result, tmp_path: Path) -> None:
    path = result.report(tmp_path / "deep" / "er" / "report.html")
    assert path == tmp_path / "deep" / "er" / "report.html"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    with pytest.raises(ConfigError, match="is a directory"):
        result.report(tmp_path)
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot write the report"):
        result.report(tmp_path / "file" / "report.html")


def test_chart_edges() -> None:
    from quantkit.analysis.report_charts import returns_histogram_figure

    empty = returns_histogram_figure(pd.Series([], dtype=float), "daily")
    assert [trace.name for trace in empty.data] == ["daily returns"]
    assert not empty.layout.shapes  # no mean or quantile line without returns
    naive = pd.DatetimeIndex(["2024-01-01 00:00"])
    aware = naive.tz_localize("Europe/Paris")
    assert plots.utc_naive(naive)[0] == np.datetime64("2024-01-01T00:00")
    assert plots.utc_naive(aware)[0] == np.datetime64("2023-12-31T23:00")
