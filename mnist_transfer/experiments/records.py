"""Records of measured runs under metrics/, from which every table in the docs is rebuilt: a run
record (metrics/runs/NAME.jsonl) holds a line per experiment, appended as each point finishes."""

import csv
import fcntl
import json
import os
import subprocess
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd
import yaml

from mnist_transfer.core import atomic, cpu, params, paths
from mnist_transfer.core.errors import InputError
from mnist_transfer.report import metrics

RUNS = Path("metrics/runs")
BENCH = Path("metrics/bench")


def run_record(name: str) -> Path:
    return RUNS / f"{name}.jsonl"


def commit(folder: Path | str = ".") -> str:
    """HEAD's commit, with `+changes` when tracked files differ from it."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, check=False).stdout.strip()

    found = git("rev-parse", "HEAD")
    if not found:
        return "unknown"
    return found + ("+changes" if git("status", "--porcelain", "--untracked-files=no") else "")


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
    """A record under metrics/bench/ (or `folder`), started when made: `write` saves what
    `command` measured as `part`, on which commit and machine, how long it took, and whether the cores were busy
    with something else when it started (their busy share over one second, before it)."""

    def __init__(self, part: str, command: str, folder: Path = BENCH) -> None:
        self.part, self.command, self.folder = part, command, folder
        self.busy_before = busy_share()
        self.started = time.perf_counter()

    def write(self, **figures: object) -> Path:
        record = {
            "part": self.part,
            "command": self.command,
            "commit": commit(),
            "machine": cpu.machine(),
            "wall_s": round(time.perf_counter() - self.started, 1),
            "cpu_busy_before_start": round(self.busy_before, 2),
            "cores_shared": self.busy_before > 0.1,
            **figures,
        }
        path = self.folder / f"{self.part}.json"
        atomic.write_json(path, record)
        return path


def metrics_of(workspace: Path) -> dict:
    """A finished run's metrics, read from its workspace and named as `dvc exp show` names
    them: metrics/evaluate.json's, and the stages' costs (metrics/cost/, whose keys say which
    stage: `extraction_s`, `head_peak_rss_mib`)."""
    found = params.dotted(json.loads((workspace / "metrics/evaluate.json").read_text()))
    for cost in sorted((workspace / "metrics/cost").glob("*.json")):
        found.update(params.dotted(json.loads(cost.read_text())))
    return found


def elsewhere_errors(workspace: Path, held_out_only: bool = False) -> dict[str, dict[str, int]]:
    """Where each model's errors on the digits from elsewhere went (on their held-out half
    only, with `held_out_only`), from the run's predictions: {model: {"4>6": how many 4s it
    read as 6}}; empty without that set."""
    predictions = workspace / paths.ELSEWHERE_CSV
    if not predictions.is_file():
        return {}
    with predictions.open(newline="") as file:
        rows = list(csv.DictReader(file))
    if not rows or "actual" not in rows[0]:  # none, or digits without labels
        return {}
    if held_out_only:
        rows = [row for row in rows if row["held_out"] == "1"]
    models = list(metrics.SCORED)
    return {
        model: dict(
            sorted(Counter(f"{row['actual']}>{row[model]}" for row in rows if row[model] != row["actual"]).items())
        )
        for model in models
    }


def parsed(settings: Iterable[str]) -> dict:
    """KEY=VALUE settings as {KEY: value}, each value read as params.yaml would read it."""
    return {key: yaml.safe_load(text) if text else None for key, _, text in (s.partition("=") for s in settings)}


def differing(settings: Iterable[str]) -> dict:
    """KEY=VALUE settings whose value is not params.yaml's, as {KEY: value}, sorted."""
    defaults = params.every_key()
    return {key: value for key, value in sorted(parsed(settings).items()) if value != defaults.get(key)}


def append(path: Path, rows: Iterable[Mapping]) -> None:
    """Add rows to a record, each one line; the file is replaced whole, so a reader never sees
    half a line, and under a lock on its folder, so two sweeps appending at once lose no row."""
    path.parent.mkdir(parents=True, exist_ok=True)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        lines = path.read_text() if path.exists() else ""
        lines += "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows)
        atomic.write_text(path, lines)
    finally:
        os.close(folder)  # and with it the lock


def read(path: Path) -> list[dict]:
    """A run record's rows; one line naming the file and line when one is not a JSON object."""
    if not path.is_file():
        raise InputError(f"{path}: no such record; a sweep or study with --record writes it")
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(f"{path} line {number}: not JSON ({error.msg})") from None
        if not isinstance(row, dict) or not {"settings", "seed", "metrics"} <= row.keys():
            raise InputError(f"{path} line {number}: expected an object with settings, seed and metrics")
        rows.append(row)
    return rows


def settings_text(settings: Mapping) -> str:
    """Settings as one comparable text, `-S` style: `backbone.layer=block3_pool head.epochs=10`."""
    return " ".join(f"{key}={json.dumps(value)}" for key, value in sorted(settings.items()))


def frame(rows: list[dict]) -> pd.DataFrame:
    """A record's rows as a table: a column per metric, `settings` as one text, and each
    (settings, seed) once: the newest."""
    table = pd.DataFrame(
        [
            {
                "run": row.get("run", ""),
                "settings": settings_text(row["settings"]),
                "seed": row["seed"],
                "commit": row.get("commit", ""),
                "elsewhere_errors": row.get("elsewhere_errors", {}),
                "held_out_errors": row.get("held_out_errors", {}),
                **row["metrics"],
            }
            for row in rows
        ],
        columns=["run", "settings", "seed", "commit", "elsewhere_errors", "held_out_errors"] if not rows else None,
    )
    return table.drop_duplicates(subset=["settings", "seed"], keep="last").reset_index(drop=True)
