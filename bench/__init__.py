"""Runnable benchmarks (``make bench`` runs ``python -m bench.all``); not part of the test suite."""
