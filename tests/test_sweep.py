"""Sweeps that never wait forever, and extract the features once: real queue workers of
the real DVC, killed with SIGKILL mid-run, on the small data set."""

import io
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil

from mnist_transfer.tools import sweep as sweep_module
from tests.conftest import dvc, run

# One epoch: these tests are about the queue, not about what the models learn.
QUICK = ("-S", "epochs=1")


def sweep(repo: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "mnist_transfer.tools.sweep", *args],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def queue_states(repo: Path) -> list[str]:
    status = run([sys.executable, "-m", "dvc", "queue", "status"], repo, timeout=120).stdout
    return [line.split()[-1] for line in status.splitlines()[1:] if line.strip() and "Worker status" not in line]


def experiment_running(repo: Path) -> bool:
    """Whether one of the repository's experiments is running: `dvc exp exec-run` on its
    info file (found from the processes, not from `dvc queue status`, which a killed worker
    can leave hanging)."""
    return any(
        "exec-run" in (process.info["cmdline"] or []) and any(str(repo) in arg for arg in process.info["cmdline"])
        for process in psutil.process_iter(["cmdline"])
    )


def kill_workers_once_running(repo: Path, process: subprocess.Popen, timeout: float = 300) -> float:
    """SIGKILL every queue worker as soon as an experiment runs; when it happened."""
    prefix = sweep_module.worker_prefix(str(repo))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if experiment_running(repo):
            killed = sweep_module.workers(prefix)
            if killed:
                for worker in killed:
                    worker.send_signal(signal.SIGKILL)
                return time.monotonic()
        time.sleep(0.5)
    raise AssertionError(f"no experiment ran within {timeout} s")


def finished_seeds(repo: Path) -> list[int]:
    shown = pd.read_csv(io.StringIO(dvc(repo, "exp", "show", "--csv")))
    done = shown[shown["Experiment"].notna() & shown["transfer.accuracy"].notna()]
    return sorted(int(seed) for seed in done["seed"])


def test_a_sweep_whose_workers_are_killed_restarts_them_once_and_finishes(pipeline_copy):
    process = sweep(pipeline_copy, "--seeds", "range(0,1)", *QUICK)
    kill_workers_once_running(pipeline_copy, process)
    output, _ = process.communicate(timeout=900)
    assert process.returncode == 0, output
    assert "sweep: the queue's workers are gone with seeds 0 unfinished; restarting" in output
    assert "sweep: 1 of 1 done, 0 failed" in output
    assert finished_seeds(pipeline_copy) == [0]


def test_a_sweep_whose_workers_die_twice_stops_in_one_line_and_says_how_to_resume(pipeline_copy):
    process = sweep(pipeline_copy, "--seeds", "range(3,4)", "-j", "1", *QUICK)
    kill_workers_once_running(pipeline_copy, process)
    killed_again = kill_workers_once_running(pipeline_copy, process)
    output, _ = process.communicate(timeout=300)
    stopped_after = time.monotonic() - killed_again
    assert process.returncode == 2, output
    assert stopped_after < 120, output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    assert errors[0].startswith(
        "error: sweep: the queue's workers stopped twice with 1 of 1 experiments unfinished (seeds 3); run them with: "
    )
    resume = errors[0].split("run them with: ")[1]
    assert resume == "python -m mnist_transfer.tools.sweep --seeds 'range(3,4)' -S 'epochs=1' -j 1"
    # Resuming runs that seed alone, and clears what the stopped sweep left in the queue.
    result = run([sys.executable, "-m", "mnist_transfer.tools.sweep", "--seeds", "range(3,4)", *QUICK], pipeline_copy)
    assert "sweep: 1 experiment queued" in result.stdout
    assert finished_seeds(pipeline_copy) == [3]


def test_a_task_left_running_by_a_killed_sweep_is_cleared_before_the_next(pipeline_copy):
    dvc(pipeline_copy, "exp", "run", "--queue", "-S", "seed=5", *QUICK)
    # Not through a pipe: the worker it leaves behind would hold the pipe open until it ends.
    subprocess.run(
        [sys.executable, "-m", "dvc", "queue", "start"],
        cwd=pipeline_copy,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    process = subprocess.Popen(["sleep", "3600"])  # stands for the sweep that was killed with its workers
    try:
        kill_workers_once_running(pipeline_copy, process)
    finally:
        process.kill()
    time.sleep(3)
    assert "Running" in queue_states(pipeline_copy)  # stale: nothing will ever finish it

    result = run([sys.executable, "-m", "mnist_transfer.tools.sweep", "--seeds", "range(0,1)", *QUICK], pipeline_copy)
    assert "sweep: cleared the queue left by an earlier run (1 stale running, 0 queued)" in result.stdout
    assert "sweep: 1 of 1 done, 0 failed" in result.stdout
    assert "Running" not in queue_states(pipeline_copy)


def test_a_sweep_at_a_layer_never_extracted_extracts_once(pipeline_copy):
    result = run(
        [
            sys.executable,
            "-m",
            "mnist_transfer.tools.sweep",
            "--seeds",
            "range(0,3)",
            "-S",
            "backbone.layer=block4_pool",
        ],
        pipeline_copy,
    )
    assert "the first runs alone, to extract the features once" in result.stdout
    assert "sweep: 3 of 3 done, 0 failed" in result.stdout
    shown = pd.read_csv(io.StringIO(dvc(pipeline_copy, "exp", "show", "--csv")))
    names = shown[shown["Experiment"].notna()]["Experiment"]
    extracted = [
        name for name in names if "Running stage 'extract_features'" in dvc(pipeline_copy, "queue", "logs", name)
    ]
    assert len(names) == 3 and len(extracted) == 1, extracted
