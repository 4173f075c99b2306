"""Benchmarks: synthetic specs (`generate`) and the per-size runner (`run`)."""
