"""What a stage cost, measured in the run itself: wall time and peak memory, written where
`dvc exp show` puts them beside the accuracy they bought."""

import resource
import time
from pathlib import Path

from mnist_transfer.core import atomic


class Cost:
    """Started when made; `write` records the seconds since, the process's peak resident
    memory, and whatever else the stage measured, each name led by `what` ("extraction"),
    so that `dvc exp show` gives every stage's figures a column of their own."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.start = time.perf_counter()

    def write(self, path: Path, **measured: float) -> dict:
        seconds = time.perf_counter() - self.start
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux gives KiB
        figures = {f"{self.what}_s": round(seconds, 1), f"{self.what}_peak_rss_mib": round(peak_mib), **measured}
        atomic.write_json(path, figures)
        return figures
