"""A benchmark's figures as a record under metrics/bench/, committed beside the docs that
quote them: what ran, on which commit and machine, how long, and whether the cores were
busy with something else when it started (their busy share over one second, before it)."""

import sys
import time
from pathlib import Path

from mnist_transfer.core import atomic
from mnist_transfer.tools.records import busy_share, commit, machine

RECORDS = Path("metrics/bench")


class Recording:
    """Started when made; `write` saves the record of `part` with its rows."""

    def __init__(self, part: str) -> None:
        self.part = part
        self.busy_before = busy_share()
        self.started = time.perf_counter()

    def write(self, rows: list[tuple[str, str]], **extra: object) -> Path:
        record = {
            "part": self.part,
            "command": f"python -m bench {self.part}",
            "commit": commit(),
            "machine": machine(),
            "wall_s": round(time.perf_counter() - self.started, 1),
            "cpu_busy_before_start": round(self.busy_before, 2),
            "cores_shared": self.busy_before > 0.1,
            "rows": [{"figure": figure, "measured": measured} for figure, measured in rows],
            **extra,
        }
        path = RECORDS / f"{self.part}.json"
        atomic.write_json(path, record)
        print(f"bench: {path}", file=sys.stderr)
        return path
