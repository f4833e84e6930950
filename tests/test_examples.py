"""The examples and the README's example run as written; the README's commands stay runnable.

Every ``examples/*.py`` script is run in a subprocess, the way a newcomer runs it. The contract
for an example: it takes an optional output path for its HTML report as its first argument,
prints the Result (with its statistics table) and exits 0.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
README = ROOT / "README.md"
CI_SCRIPT = ROOT / ".ci" / "run"


def test_examples_are_found() -> None:
    assert EXAMPLES, "no scripts in examples/"


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda path: path.name)
def test_example_runs(script: Path, tmp_path: Path) -> None:
    report = tmp_path / "out" / f"{script.stem}.html"
    completed = subprocess.run(
        [sys.executable, "-W", "error", str(script), str(report)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "Total return" in completed.stdout
    assert "Sharpe ratio" in completed.stdout
    assert report.is_file(), f"{script.name} did not write its report to argv[1]"
    page = report.read_text(encoding="utf-8")
    assert "<div" in page
    assert "plotly" in page
    assert not (tmp_path / "reports").exists(), "the report went to the default path"


def test_sma_cross_example_default_report_path(tmp_path: Path) -> None:
    script = ROOT / "examples" / "01_sma_cross.py"
    completed = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "reports" / "sma_cross.html").is_file()
    assert "no look-ahead found" in completed.stdout


def _command(marker: str) -> str:
    """The one command line in README between ``<!-- marker -->`` and ``<!-- /marker -->``."""
    text = README.read_text(encoding="utf-8")
    blocks: list[str] = re.findall(
        rf"<!-- {marker} -->\n(.*?)<!-- /{marker} -->", text, flags=re.DOTALL
    )
    assert len(blocks) == 1, f"README needs exactly one {marker} block"
    lines = [line for line in blocks[0].splitlines() if line and not line.startswith("```")]
    assert len(lines) == 1, f"the {marker} block must hold one command line, got {lines}"
    return lines[0]


def test_readme_example_runs(tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) == 1, "README should hold one Python example"
    script = tmp_path / "readme_example.py"
    script.write_text(blocks[0], encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, "-W", "error", str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "Total return" in completed.stdout
    assert (tmp_path / "breakout.html").is_file()


def test_readme_demo_command_runs_an_existing_example() -> None:
    command = _command("demo-command")
    assert command.startswith("python3.11 -m venv .venv && . .venv/bin/activate && pip install .")
    script = command.rsplit("python ", 1)[-1]
    assert (ROOT / script).is_file(), script


def test_readme_test_command_is_what_ci_runs() -> None:
    command = _command("test-command")
    assert command.startswith("python3.11 -m venv .venv && . .venv/bin/activate && pip install")
    assert command.endswith("&& pytest --cov")  # coverage of src, fail_under in pyproject
    # .ci/run reads the command from the README markers rather than keeping its own copy.
    completed = subprocess.run(
        ["bash", str(CI_SCRIPT), "--print-test-command"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == command + "\n"
