"""Development sessions. ``nox -l`` lists them; ``nox -s lint`` runs one.

Each session builds its own virtualenv with the standard library's ``venv`` and installs with
pip, so nothing beyond Python 3.11 and a package index is needed. Without network access, run
the sessions in an environment that already holds the ``dev`` extra, with its ``bin`` on PATH:
``nox --no-venv --no-install -s docs``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"
nox.options.error_on_external_run = True
nox.options.sessions = ["tests", "lint", "typecheck", "imports", "docs"]

ROOT = Path(__file__).resolve().parent


def _scripts(folder: str) -> list[Path]:
    return sorted((ROOT / folder).glob("*.py"))


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite with coverage against the installed (non-editable) package."""
    session.install(".[test]")
    session.run("pytest", "--cov", "--cov-report=term-missing", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Check style and formatting with ruff."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """Type-check src with mypy --strict (settings in pyproject.toml)."""
    session.install("-e", ".[dev]")
    session.run("mypy", "--strict", *session.posargs)


@nox.session
def imports(session: nox.Session) -> None:
    """Check the layering rules: the import-linter contracts in pyproject.toml."""
    session.install("-e", ".", "import-linter>=2.0")
    session.run("lint-imports")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation; any warning fails the build."""
    session.install("-e", ".[dev]")
    site = Path(session.create_tmp()) / "site"
    session.run(
        "mkdocs", "build", "--strict", "--site-dir", str(site), env={"NO_MKDOCS_2_WARNING": "1"}
    )


@nox.session
def bench(session: nox.Session) -> None:
    """Run every script in benchmarks/ (extra arguments are passed to each)."""
    scripts = _scripts("benchmarks")
    if not scripts:
        session.skip("no scripts in benchmarks/")
    session.install(".")
    for script in scripts:
        session.run("python", str(script), *session.posargs)


@nox.session(python="3.11")
def peers(session: nox.Session) -> None:
    """Benchmark quantkit against vectorbt, backtesting.py and backtrader (pinned peers).

    Builds its own virtualenv from ``benchmarks/peers/requirements.txt`` plus quantkit, checks
    that every peer makes quantkit's trades, then prints the side-by-side table (see
    ``docs/benchmarks.md``). Extra arguments go to the script (``nox -s peers -- --repeats 5``).
    Not in the default sessions: it takes tens of minutes and vectorbt's 1M-bar sweep about
    6 GB of memory.
    """
    session.install(".", "-r", "benchmarks/peers/requirements.txt")
    session.run("python", "benchmarks/peers/run.py", *session.posargs)


@nox.session
def examples(session: nox.Session) -> None:
    """Run every script in examples/, each writing its HTML report to a temporary folder."""
    scripts = _scripts("examples")
    if not scripts:
        session.error("no scripts in examples/")
    session.install(".")
    out = Path(session.create_tmp())
    for script in scripts:
        session.run("python", "-W", "error", str(script), str(out / f"{script.stem}.html"))


@nox.session
def flake(session: nox.Session) -> None:
    """Run the whole suite three times in a row while other processes keep every core busy.

    The load is ``benchmarks/cpu_load.py``: one spinning process per core, each of which stops
    by itself after its time limit, and which this session also stops when it ends. Extra
    arguments go to pytest (``nox -s flake -- -x``).
    """
    session.install("-e", ".[dev]")
    runs = int(session.env.get("QUANTKIT_FLAKE_RUNS", "3"))
    load = _start_cpu_load()
    try:
        for run in range(1, runs + 1):
            session.log(f"flake run {run} of {runs} with every core busy")
            session.run("pytest", "-q", "-p", "no:cacheprovider", *session.posargs)
    finally:
        load.terminate()
        load.wait(timeout=30)


def _start_cpu_load() -> subprocess.Popen[bytes]:
    """Start the CPU load generator in its own process group, bounded to two hours."""
    script = ROOT / "benchmarks" / "cpu_load.py"
    return subprocess.Popen(
        [sys.executable, str(script), "--seconds", "7200"], start_new_session=True
    )
