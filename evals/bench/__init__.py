"""Benchmark runners over external data: `python -m evals.bench <name> ...`."""
