"""Benchmark commands: `python -m benchmarks.<name>` prints a table."""
