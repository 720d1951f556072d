"""A 6-point seed sweep on small data, two ways, in one run: the project's sweep on a Dask
LocalCluster of 2 workers, and DVC's own queue (`dvc exp run --queue`, `dvc queue start -j 2`);
wall time and how many times each ran the backbone's extraction. Writes metrics/bench/sweep.json.

    python -m bench.sweep      # about 10 minutes on 2 cores
"""

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bench.record import Recording
from mnist_transfer.experiments import sweep_task

ROOT = Path(__file__).resolve().parents[1]
SEEDS = 6
# Small enough for a benchmark of the sweep itself: 1,000 training images, no digits from elsewhere.
SMALL = {"data": {"train_limit": 1000, "elsewhere": "none"}, "backbone": {"input_size": 32}, "epochs": 1}


ENV = sweep_task.this_python_first(dict(os.environ))


def sh(args: list[str], cwd: Path) -> str:
    result = subprocess.run(
        args, cwd=cwd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False
    )
    if result.returncode != 0:
        sys.exit(f"bench sweep: {' '.join(args)} failed:\n{result.stdout[-3000:]}")
    return result.stdout


def small_project(folder: Path) -> Path:
    """A clone of this commit on small data, reproduced once, so that both sweeps start from
    features in the cache."""
    clone = folder / "clone"
    sh(["git", "clone", "-q", str(ROOT), str(clone)], folder)
    params = yaml.safe_load((clone / "params.yaml").read_text())
    for key, value in SMALL.items():
        params[key] = {**params[key], **value} if isinstance(value, dict) else value
    (clone / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh(["git", "commit", "-qam", "small data"], clone)
    sh([sys.executable, "-m", "dvc", "repro"], clone)
    sh(["git", "commit", "-qam", "dvc repro"], clone)
    return clone


def dask_sweep(clone: Path) -> tuple[float, int]:
    started = time.monotonic()
    output = sh(
        [sys.executable, "-m", "mnist_transfer.experiments.sweep", "--seeds", f"range(0,{SEEDS})", "-j", "2"], clone
    )
    return time.monotonic() - started, int(re.search(r"extract_features ran (\d+) time", output)[1])


def queue_sweep(clone: Path) -> tuple[float, int]:
    started = time.monotonic()
    dvc = [sys.executable, "-m", "dvc"]
    sh([*dvc, "exp", "run", "--queue", "-S", f"seed=range({SEEDS},{2 * SEEDS})"], clone)
    sh([*dvc, "queue", "start", "-j", "2"], clone)
    while True:
        status = sh([*dvc, "queue", "status"], clone)
        if not re.search(r"\b(Queued|Running)\b", status):
            break
        time.sleep(2)
    seconds = time.monotonic() - started
    names = re.findall(r"^\S+\s+(\S+)\s+.*Success\s*$", status, flags=re.MULTILINE)
    extractions = sum("Running stage 'extract_features'" in sh([*dvc, "queue", "logs", name], clone) for name in names)
    sh([*dvc, "queue", "stop"], clone)
    return seconds, extractions


def main() -> None:
    recording = Recording("sweep", command="python -m bench.sweep")
    with tempfile.TemporaryDirectory(prefix="mnist-transfer-bench-sweep-") as folder:
        clone = small_project(Path(folder))
        dask_s, dask_extractions = dask_sweep(clone)
        queue_s, queue_extractions = queue_sweep(clone)
    rows = [
        (f"{SEEDS}-seed sweep, Dask LocalCluster of 2 workers", f"{dask_s:.0f} s, {dask_extractions} extractions"),
        (f"{SEEDS}-seed sweep, dvc queue start -j 2", f"{queue_s:.0f} s, {queue_extractions} extractions"),
    ]
    recording.write(rows, small_data=SMALL)
    for figure, measured in rows:
        print(f"| {figure} | {measured} |")


if __name__ == "__main__":
    main()
