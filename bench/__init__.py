"""Performance benchmarks for RAN Screening; run with `.venv/bin/python bench/run.py` (see bench/README.md)."""
