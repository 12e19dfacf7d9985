"""Benchmarks for SPEC §8: run them all with ``python -m benchmarks [--quick] [--json PATH]``.

Every ``bench_*.py`` module exposes ``run(quick: bool) -> dict``. Machines are shared and noisy, so each benchmark
compares its variants inside one process, interleaves their rounds and reports medians (helpers in ``_common``).
"""
