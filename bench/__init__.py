"""Benchmarks: `make bench` (python -m bench). Figures and how to reproduce them: docs/performance.md."""
