"""One point of a sweep, as a Dask worker runs it: a clone of its own, `dvc exp run` there,
and the experiment pushed to the shared Git remote (and its outputs to the DVC remote)."""

import contextlib
import ctypes
import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from mnist_transfer.core import cpu
from mnist_transfer.experiments import records

PR_SET_PDEATHSIG = 1
# The stages that run the frozen backbone, whose runs a sweep counts: MNIST's and the digits from elsewhere's.
EXTRACTING = ("extract_features", "extract_elsewhere")
# Past this a point has hung: one failed task, the sweep goes on.
POINT_TIMEOUT_S = 6 * 3600
# A Git or DVC remote that fails is tried again this many times in all, after 2 s, 4 s, ...
REMOTE_TRIES = 4
RETRY_WAIT_S = 2.0


@dataclass(frozen=True)
class Point:
    name: str  # the experiment's name, unique to this sweep
    settings: tuple[str, ...]  # KEY=VALUE, seed included
    source: str  # the Git repository to clone and push to: a path on one machine, a URL on a cluster
    rev: str  # the commit to run on
    cache_dir: str | None  # a DVC cache shared on one machine; None: pull from and push to the DVC remote
    threads: int  # TensorFlow's intra-op threads: the cores shared among the workers of a machine


class PointFailed(Exception):
    """`dvc exp run` or the push failed, or the point ran past its time: its last error line."""


def _terminate_with_the_worker() -> None:
    """In the point's process: SIGTERM when the worker that started it dies (SIGKILL included),
    so that a dead worker leaves no experiment running behind it to push a second copy."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def run_point(point: Point) -> dict:
    """In a Dask worker: run one point in a process of its own, in a session of its own, and
    return what it did (see `point_in_this_process`). Every process the point starts is in
    that session; the worker's death, or the point's timeout, ends them all and removes the
    point's clone."""
    busy_before = records.busy_share()
    guard = subprocess.Popen(
        [sys.executable, "-m", "mnist_transfer.experiments.point_process"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_terminate_with_the_worker if sys.platform == "linux" else None,
        env=this_python_first(dict(os.environ)),
    )
    try:
        out, err = guard.communicate(json.dumps(dataclasses.asdict(point)), timeout=POINT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        guard.terminate()  # it ends its session's every process and removes its clone
        guard.communicate()
        raise PointFailed(f"{point.name}: still running after {POINT_TIMEOUT_S} s") from None
    if guard.returncode != 0:
        lines = err.strip().splitlines()
        raise PointFailed(lines[-1] if lines else f"{point.name}: exit status {guard.returncode}")
    result = json.loads(out)
    # Other workers on this host, or other work when it started.
    result["cores_shared"] = point.threads < (os.cpu_count() or 1) or busy_before > 0.1
    return result


def _run(args: list[str], cwd: Path, env: dict[str, str], *, tries: int = 1) -> str:
    """`args`' output; one line when it fails. A command that only talks to a remote (a clone,
    a push) is tried `tries` times, RETRY_WAIT_S, then twice that, and so on, apart."""
    for attempt in range(tries):
        result = subprocess.run(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if result.returncode == 0:
            return result.stdout
        if attempt + 1 < tries:
            time.sleep(RETRY_WAIT_S * 2**attempt)
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR") or line.startswith("error:")]
    again = f" (tried {tries} times)" if tries > 1 else ""
    raise PointFailed(f"{' '.join(args[:4])} failed{again}: {(errors or lines or ['no output'])[-1]}")


def this_python_first(env: dict[str, str]) -> dict[str, str]:
    """`env` with this interpreter's folder first on PATH: the stages run as `python -m
    stages.NAME`, and must find the Python that has the project's packages."""
    return {**env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"}


def end_everything(folder: Path) -> None:
    """Kill every process this one started, at any depth, then remove `folder`."""
    me = psutil.Process()
    while children := me.children(recursive=True):
        for child in children:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        psutil.wait_procs(children, timeout=10)
    shutil.rmtree(folder, ignore_errors=True)


def point_in_this_process(point: Point) -> dict:
    """Run one point: its name, the worker's host, seconds, how many times it ran the frozen
    backbone's extraction (0 when the features came from a cache), and its metrics with the
    machine it ran on, for the sweep's record."""
    started = time.monotonic()
    env = {
        **dict(os.environ),
        "TF_NUM_INTRAOP_THREADS": str(point.threads),
        "TF_NUM_INTEROP_THREADS": "1",
        "DVC_NO_ANALYTICS": "1",
    }
    dvc = [sys.executable, "-m", "dvc"]
    folder = Path(tempfile.mkdtemp(prefix="mnist-transfer-sweep-"))

    def on_terminate(signum: int, frame: object) -> None:
        end_everything(folder)
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, on_terminate)
    try:
        workspace = folder / "workspace"
        clone = ["git", "clone", "-q", "--no-checkout", point.source, str(workspace)]
        _run(clone, folder, env, tries=REMOTE_TRIES)
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
        # Never forced: a point's experiment goes to the remote once, or the point fails.
        _run([*dvc, "exp", "push", *cache, point.source, point.name], workspace, env, tries=REMOTE_TRIES)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        end_everything(folder)
    return {
        "name": point.name,
        "host": socket.gethostname(),
        "seconds": round(time.monotonic() - started, 1),
        "extractions": {stage: output.count(f"Running stage '{stage}'") for stage in EXTRACTING},
        "metrics": measured,
        "elsewhere_errors": errors,
        "held_out_errors": held_out_errors,
        "machine": cpu.machine(),
    }
