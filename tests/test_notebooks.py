"""Every example notebook executes cleanly, in a kernel of the interpreter running the tests.

The kernel is declared in a temporary Jupyter path (so neither a user's own ``python3`` kernel nor
another interpreter is picked up), and it runs in a temporary working directory: whatever a
notebook writes lands there. Jupyter's runtime, data and config folders point there as well.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "examples").glob("*.ipynb"))
KERNEL = "quantkit-tests"
STATS_TABLE = '<table class="quantkit-stats">'


@pytest.fixture
def kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernel spec for ``sys.executable`` in a temporary Jupyter path; returns its name."""
    jupyter = tmp_path / "jupyter"
    spec = jupyter / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel_json = {"argv": argv, "display_name": "quantkit tests", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel_json), encoding="utf-8")
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(jupyter / "data"))
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(jupyter / "config"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(jupyter / "runtime"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "matplotlib"))
    return KERNEL


def test_notebooks_are_found() -> None:
    assert NOTEBOOKS, "no notebooks in examples/"


def html_outputs(notebook: nbformat.NotebookNode) -> list[str]:
    return [
        output["data"]["text/html"]
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if "text/html" in output.get("data", {})
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_runs(path: Path, kernel: str, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    before = sorted(p.name for p in path.parent.iterdir())
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name=kernel,
        timeout=300,
        resources={"metadata": {"path": str(work)}},
    )
    client.execute()

    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert not errors, errors
    assert all(cell.execution_count for cell in notebook.cells if cell.cell_type == "code")
    assert any(STATS_TABLE in markup for markup in html_outputs(notebook))
    assert sorted(p.name for p in path.parent.iterdir()) == before, "wrote into examples/"
    if path.name == "06_tour.ipynb":
        assert (work / "tour_report.html").is_file()
