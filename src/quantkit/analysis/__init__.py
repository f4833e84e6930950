"""Reports over finished runs: plots, the HTML report, Monte Carlo and the divergence report.

This layer sits above the engine (it reads `Result` and re-runs tapes through the `Engine`); the
pure statistics it shows live below the engine, in `quantkit.metrics`.
"""
