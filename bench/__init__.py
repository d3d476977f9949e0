"""Benchmarks: `make bench` runs every bench_*.py module and prints figure, target and baseline."""
