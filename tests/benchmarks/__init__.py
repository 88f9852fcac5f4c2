"""Jalon's benchmarks: each figure measured next to a raw baseline in the same run."""
