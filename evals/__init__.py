"""Eval datasets, metrics, gates and the benchmark runner for external data."""
