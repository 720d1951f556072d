"""Timing on a shared 2-core VM: the first touch of fresh memory is slow and neighbours
come and go, so a figure is the best of a few runs, the steady state a long stage sees."""

import time
from collections.abc import Callable

REPEATS = 3


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def best_of(work: Callable[[], object], repeats: int = REPEATS) -> float:
    return min(timed(work) for _ in range(repeats))
