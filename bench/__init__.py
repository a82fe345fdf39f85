"""Benchmarks and load tests; run as modules, e.g. `python -m bench.load_test`."""
