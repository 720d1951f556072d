"""A benchmark's figures as a record under metrics/bench/, committed beside the docs that
quote them: what ran, on which commit and machine, how long, and whether the cores were
busy with something else when it started (their busy share over one second, before it)."""

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from bench.machine import flags as machine_flags
from mnist_transfer.backbones import cpu
from mnist_transfer.core import atomic

RECORDS = Path("metrics/bench")


def commit() -> str:
    found = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True)
    return found + ("+changes" if dirty.stdout.strip() else "") if found else "unknown"


def machine() -> dict:
    info = cpu.info()
    return {
        "cpu": info.get("model name", platform.processor()),
        "vendor": info.get("vendor_id", ""),
        "cores": os.cpu_count(),
        "flags": machine_flags(),
        "python": platform.python_version(),
    }


def busy_share(seconds: float = 1.0) -> float:
    """The share of the machine's CPU time that was busy over `seconds` (from /proc/stat)."""

    def ticks() -> tuple[int, int]:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = values[3] + values[4]  # idle and iowait
        return sum(values) - idle, sum(values)

    busy_before, total_before = ticks()
    time.sleep(seconds)
    busy_after, total_after = ticks()
    return (busy_after - busy_before) / max(1, total_after - total_before)


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
