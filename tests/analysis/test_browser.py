"""The tear sheet renders in a real browser: headless Chromium, offline, from a file URL.

Chromium runs once: it dumps the DOM after the page's scripts ran (plotly.js draws each figure
as SVG) and takes a screenshot. Without a chromium binary the test is
skipped, unless the CI environment variable is set: CI installs Debian's chromium (.ci/run), so
there a missing browser is a failure. ``QUANTKIT_CHROMIUM`` names another binary.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from quantkit import BacktestBroker, Engine, Result, SmaCross, sample_feed
from quantkit.analysis.plots import MAX_FILL_MARKERS

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WIDTH, HEIGHT = 1400, 3000
FIGURES = 4  # main figure, monthly heatmap, returns histogram, rolling Sharpe
TIMEOUT = 120.0


def find_chromium() -> str | None:
    override = os.environ.get("QUANTKIT_CHROMIUM")
    if override:
        return override
    if Path("/usr/bin/chromium").is_file():
        return "/usr/bin/chromium"
    return next(filter(None, map(shutil.which, CANDIDATES)), None)


@pytest.fixture(scope="module")
def chromium() -> str:
    binary = find_chromium()
    if binary is None:
        reason = (
            "no chromium binary found (tried /usr/bin/chromium and "
            f"{', '.join(CANDIDATES)} on PATH; set QUANTKIT_CHROMIUM to use another)"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI is set, and .ci/run installs Debian's chromium")
        pytest.skip(reason)
    return binary


def browse(binary: str, page: Path, work: Path, *mode: str) -> subprocess.Popen[bytes]:
    """Start headless Chromium on ``page`` with a fresh profile and no network."""
    profile = work / "profile"
    env = {
        **os.environ,
        "HOME": str(work),
        "XDG_CONFIG_HOME": str(work / "config"),
        "XDG_CACHE_HOME": str(work / "cache"),
    }
    command = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # no name resolves: nothing can be fetched
        f"--user-data-dir={profile}",
        "--virtual-time-budget=10000",
        f"--window-size={WIDTH},{HEIGHT}",
        *mode,
        page.as_uri(),
    ]
    return subprocess.Popen(
        command, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def finish(process: subprocess.Popen[bytes]) -> bytes:
    try:
        out, err = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    assert process.returncode == 0, err.decode(errors="replace")[-2000:]
    return out


class _Dom(HTMLParser):
    """Counts elements by class, and collects the text of SVG <text> elements.

    Both are also kept per report section (``<section id=...>``), and the y-axis tick labels
    (``<g class="ytick"><text>``) of each section.
    """

    def __init__(self) -> None:
        super().__init__()
        self.classes: dict[str, int] = {}
        self.texts: list[str] = []
        self.section_classes: dict[str, dict[str, int]] = {}
        self.yticks: dict[str, list[str]] = {}
        self._in_text = False
        self._in_ytick = False
        self._section = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "section":
            self._section = attributes.get("id") or ""
        names = (attributes.get("class") or "").split()
        counts = self.section_classes.setdefault(self._section, {})
        for name in names:
            self.classes[name] = self.classes.get(name, 0) + 1
            counts[name] = counts.get(name, 0) + 1
        if tag == "g":
            self._in_ytick = "ytick" in names
        self._in_text = tag == "text"

    def handle_endtag(self, tag: str) -> None:
        self._in_text = False
        if tag == "section":
            self._section = ""

    def handle_data(self, data: str) -> None:
        if self._in_text:
            self.texts.append(data)
            if self._in_ytick:
                self.yticks.setdefault(self._section, []).append(data)


def png_pixels_summary(data: bytes) -> tuple[int, int, int, float]:
    """Return width, height, distinct byte values and non-zero share of the filtered scanlines.

    A blank page compresses to scanlines that are nearly all one byte value; a page with charts
    holds many values. (The filtered bytes are not pixel values, but a uniform image gives
    uniform filtered rows whatever the filter.)
    """
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    offset, idat, width, height = 8, [], 0, 0
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat.append(body)
        offset += 12 + length
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), dtype=np.uint8)
    distinct = int(np.count_nonzero(np.bincount(raw, minlength=256)))
    return width, height, distinct, float(np.count_nonzero(raw)) / raw.size


def render(chromium: str, result: Result, work: Path) -> tuple[_Dom, Path]:
    """Write the report, load it in Chromium; return the DOM after its scripts ran and a shot."""
    page = result.report(work / "report.html")
    shot = work / "report.png"
    (work / "browser").mkdir()
    # One run does both: the DOM goes to stdout once the virtual time budget is spent.
    browser = browse(chromium, page, work / "browser", "--dump-dom", f"--screenshot={shot}")
    dom = _Dom()
    dom.feed(finish(browser).decode("utf-8", errors="replace"))
    return dom, shot


def test_report_renders_in_chromium(chromium: str, tmp_path: Path) -> None:
    feed = sample_feed("BTC/USDT", end="2021-03-01")
    result = Engine(feed=feed, strategy=SmaCross(fast=5, slow=20), broker=BacktestBroker()).run()
    dom, shot = render(chromium, result, tmp_path)
    # plotly.js ran: it marks each figure's div and draws it into SVG layers.
    assert dom.classes.get("js-plotly-plot") == FIGURES, dom.classes.get("js-plotly-plot")
    assert dom.classes.get("main-svg", 0) >= 2 * FIGURES
    assert dom.classes.get("scatterlayer", 0) >= 2  # the main figure and the rolling Sharpe
    assert dom.classes.get("heatmaplayer", 0) >= 1 and dom.classes.get("barlayer", 0) >= 1
    assert dom.classes.get("point", 0) >= len(result.fills)  # one marker per fill
    texts = " ".join(dom.texts)
    for title in ("Monthly returns [%]", "Equity", "Drawdown [%]", "BTC/USDT close"):
        assert title in texts, title

    assert shot.is_file()
    width, height, distinct, busy = png_pixels_summary(shot.read_bytes())
    assert (width, height) == (WIDTH, HEIGHT)
    assert shot.stat().st_size > 50_000
    assert distinct > 64 and busy > 0.01, (distinct, busy)


def test_report_with_thousands_of_trades_renders_readably(chromium: str, tmp_path: Path) -> None:
    # two years of hourly bars (closes 2021-01-01 01:00 .. 2023-01-01 00:00) and a strategy
    # that trades all the time: more than 3,000 fills
    feed = sample_feed("BTC/USDT")
    result = Engine(feed=feed, strategy=SmaCross(fast=2, slow=3), broker=BacktestBroker()).run()
    assert len(result.trades) > 1_500 and len(result.fills) > 3_000
    dom, shot = render(chromium, result, tmp_path)
    assert dom.classes.get("js-plotly-plot") == FIGURES
    # the fills are aggregated: at most MAX_FILL_MARKERS markers per side in the main figure
    overview = dom.section_classes["overview"]
    assert 2 <= overview.get("point", 0) <= 2 * MAX_FILL_MARKERS
    assert "BTC/USDT buys (aggregated)" in " ".join(dom.texts)  # the legend says so
    # the heatmap has one row per calendar year of the data: the last bar (31 Dec 23:00,
    # closing at midnight) is December 2022, not an empty 2023
    assert sorted(dom.yticks["monthly-returns"]) == ["2021", "2022"]
    assert dom.section_classes["trades"].get("note", 0) == 1  # "The first 2,000 of ..."
    width, height, distinct, busy = png_pixels_summary(shot.read_bytes())
    assert (width, height) == (WIDTH, HEIGHT)
    assert distinct > 64 and busy > 0.01, (distinct, busy)


def test_png_summary_tells_a_blank_image() -> None:
    width, height = 40, 30
    rows = b"".join(b"\x00" + b"\xff" * (3 * width) for _ in range(height))
    chunk = zlib.compress(rows)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)

    def part(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    blank = b"\x89PNG\r\n\x1a\n" + part(b"IHDR", ihdr) + part(b"IDAT", chunk) + part(b"IEND", b"")
    assert png_pixels_summary(blank)[:3] == (width, height, 2)
    with pytest.raises(AssertionError, match="not a PNG"):
        png_pixels_summary(b"GIF89a")
