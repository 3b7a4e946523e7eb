"""Benchmarks of seatwise, run with `make bench` (`python -m bench`).

Each `bench_*.py` module in this package that defines `main()` is one benchmark. Speed and memory
are measured here, never asserted by timed tests.
"""
