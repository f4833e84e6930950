"""Tests of quantkit.optimize: search spaces, optimisation, executors, walk-forward."""
