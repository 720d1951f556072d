"""One point of a sweep, as a Dask worker runs it: a clone of its own, `dvc exp run` there,
and the experiment pushed to the shared Git remote (and its outputs to the DVC remote)."""

import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from mnist_transfer.core import cpu
from mnist_transfer.experiments import records

PR_SET_PDEATHSIG = 1
# Past this a point has hung: one failed task, the sweep goes on.
POINT_TIMEOUT_S = 6 * 3600


@dataclass(frozen=True)
class Point:
    name: str  # the experiment's name, unique to this sweep
    settings: tuple[str, ...]  # KEY=VALUE, seed included
    source: str  # the Git repository to clone and push to: a path on one machine, a URL on a cluster
    rev: str  # the commit to run on
    cache_dir: str | None  # a DVC cache shared on one machine; None: pull from and push to the DVC remote
    threads: int  # TensorFlow's intra-op threads: the cores shared among the workers of a machine


class PointFailed(Exception):
    """`dvc exp run` or the push failed: its last error line."""


def _die_with_the_worker() -> None:
    """In the child: killed when the process that started it dies, so that a dead worker
    leaves no experiment running behind it to push a second copy."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(
        args,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=POINT_TIMEOUT_S,
        preexec_fn=_die_with_the_worker if sys.platform == "linux" else None,
        check=False,
    )
    if result.returncode != 0:
        lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("ERROR") or line.startswith("error:")]
        raise PointFailed(f"{' '.join(args[:4])} failed: {(errors or lines or ['no output'])[-1]}")
    return result.stdout


def this_python_first(env: dict[str, str]) -> dict[str, str]:
    """`env` with this interpreter's folder first on PATH: the stages run as `python -m
    stages.NAME`, and must find the Python that has the project's packages."""
    return {**env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"}


def run_point(point: Point) -> dict:
    """Run one point; what it did: its name, the worker's host, seconds, how many times it ran
    the frozen backbone's extraction (0 when the features came from a cache), and its metrics
    with the machine it ran on, for the sweep's record."""
    busy_before = records.busy_share()
    started = time.monotonic()
    env = {
        **this_python_first(dict(os.environ)),
        "TF_NUM_INTRAOP_THREADS": str(point.threads),
        "TF_NUM_INTEROP_THREADS": "1",
        "DVC_NO_ANALYTICS": "1",
    }
    dvc = [sys.executable, "-m", "dvc"]
    with tempfile.TemporaryDirectory(prefix="mnist-transfer-sweep-") as folder:
        workspace = Path(folder) / "workspace"
        _run(["git", "clone", "-q", "--no-checkout", point.source, str(workspace)], Path(folder), env)
        _run(["git", "checkout", "-q", point.rev], workspace, env)
        if point.cache_dir:
            _run([*dvc, "cache", "dir", "--local", point.cache_dir], workspace, env)
        overrides = [arg for setting in point.settings for arg in ("-S", setting)]
        pull = [] if point.cache_dir else ["--pull"]
        output = _run([*dvc, "exp", "run", "-n", point.name, *pull, *overrides], workspace, env)
        measured = records.metrics_of(workspace)
        errors = records.elsewhere_errors(workspace)
        held_out_errors = records.elsewhere_errors(workspace, held_out_only=True)
        cache = ["--no-cache"] if point.cache_dir else ["--run-cache"]
        _run([*dvc, "exp", "push", "--force", *cache, point.source, point.name], workspace, env)
    return {
        "name": point.name,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "seconds": round(time.monotonic() - started, 1),
        "extractions": output.count("Running stage 'extract_features'"),
        "metrics": measured,
        "elsewhere_errors": errors,
        "held_out_errors": held_out_errors,
        "machine": cpu.machine(),
        # Other workers on this host, or other work when it started.
        "cores_shared": point.threads < (os.cpu_count() or 1) or busy_before > 0.1,
    }
