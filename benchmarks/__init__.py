"""Benchmarks: run from the checkout root as modules, e.g. ``python -m benchmarks.fanout``."""
