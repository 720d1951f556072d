"""A benchmark's figures as a record under metrics/bench/, committed beside the docs that
quote them: what ran, on which commit and machine, how long, and whether the cores were
busy with something else when it started (the load average then, against the cores)."""

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from mnist_transfer.backbones import cpu
from mnist_transfer.core import atomic

RECORDS = Path("metrics/bench")
FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile")


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
        "flags": [flag for flag in FLAGS if flag in cpu.flags()],
        "python": platform.python_version(),
    }


class Recording:
    """Started when made; `write` saves the record of `part` with its rows."""

    def __init__(self, part: str) -> None:
        self.part = part
        self.started = time.perf_counter()
        self.load_before = os.getloadavg()[0]

    def write(self, rows: list[tuple[str, str]], **extra: object) -> Path:
        record = {
            "part": self.part,
            "command": f"python -m bench {self.part}",
            "commit": commit(),
            "machine": machine(),
            "wall_s": round(time.perf_counter() - self.started, 1),
            "load_average_at_start": round(self.load_before, 2),
            "cores_shared": self.load_before > 0.5,
            "rows": [{"figure": figure, "measured": measured} for figure, measured in rows],
            **extra,
        }
        path = RECORDS / f"{self.part}.json"
        atomic.write_json(path, record)
        print(f"bench: {path}", file=sys.stderr)
        return path
