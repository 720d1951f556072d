"""A seed sweep the DVC way: queue one experiment per seed (with any other params set),
run the queue N at a time, wait, then print the summary of every experiment.

    python -m mnist_transfer.tools.sweep --seeds 'range(0,10)' -S head.optimizer=adam

`--seeds` takes DVC's sweep syntax: `range(0,10)`, `choice(0,3,7)`. The backbone's features
belong to the images, not to the split, so a seed sweep never runs the backbone again; a
sweep that sets backbone or data params runs its first experiment alone, so that the
features it needs are extracted once and the others restore them from DVC's run-cache.

It never waits forever. Queue state left by an earlier sweep is cleared first. When the
queue's workers are gone with experiments unfinished (killed, or exited with work queued),
it restarts them once, queueing again what they left; the second time it stops with one
line naming the seeds that did not finish and the command that runs only those.
"""

import argparse
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mnist_transfer.core import params
from mnist_transfer.core.errors import InputError, run_stage
from mnist_transfer.tools import summary

POLL_S = 5
# No call into DVC may hang the sweep: its queue status can block for good on a task whose
# worker was killed. A call past this is one stale poll, or the end of the sweep.
DVC_TIMEOUT_S = 120
# Two polls in a row must agree that the workers are gone: a worker takes a moment to start.
STALE_POLLS = 2
# A task is done once the queue says so; between Running and Success it may be briefly missing.
DONE = ("Success", "Failed")


class DvcTimeout(Exception):
    """A dvc command did not answer within DVC_TIMEOUT_S."""


def dvc(*args: str) -> subprocess.CompletedProcess:
    """A dvc command's exit status and output, within DVC_TIMEOUT_S. Its output goes through
    a file, not a pipe: `dvc queue start` leaves workers behind that would hold a pipe open."""
    # The queue's workers are started as `dvc` from PATH: this interpreter's own, even when
    # its environment is not activated.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    with tempfile.TemporaryFile("w+") as output:
        try:
            result = subprocess.run(
                [sys.executable, "-m", "dvc", *args],
                stdout=output,
                stderr=output,
                env=env,
                timeout=DVC_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise DvcTimeout(f"dvc {' '.join(args)} did not answer within {DVC_TIMEOUT_S} s") from None
        output.seek(0)
        return subprocess.CompletedProcess(result.args, result.returncode, output.read(), "")


def dvc_error(result: subprocess.CompletedProcess) -> str:
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")]
    return (errors or lines or [f"exit status {result.returncode}"])[-1].removeprefix("ERROR: ")


def dvc_or_fail(*args: str) -> str:
    result = dvc(*args)
    if result.returncode != 0:
        raise InputError(f"dvc {' '.join(args)} failed: {dvc_error(result)}")
    return result.stdout


def seeds_expression(seeds: list[int]) -> str:
    """DVC's sweep syntax for these seeds (choice() wants two or more)."""
    return f"choice({','.join(map(str, seeds))})" if len(seeds) > 1 else f"range({seeds[0]},{seeds[0] + 1})"


@dataclass(frozen=True)
class Sweep:
    seeds: str
    settings: tuple[str, ...]
    jobs: int

    def command(self, seeds: list[int]) -> str:
        """The command that runs this sweep's `seeds` alone."""
        return " ".join(
            [
                "python -m mnist_transfer.tools.sweep",
                f"--seeds '{seeds_expression(seeds)}'",
                *(f"-S '{s}'" for s in self.settings),
            ]
            + ([f"-j {self.jobs}"] if self.jobs != 2 else [])
        )


def queue(sweep: Sweep, seeds: str) -> dict[str, int]:
    """Queue one experiment per seed; each queued experiment's name and seed."""
    result = dvc("exp", "run", "--queue", "-S", f"seed={seeds}", *(arg for s in sweep.settings for arg in ("-S", s)))
    if result.returncode != 0:
        raise InputError(f"dvc exp run rejected the sweep seed={seeds} {' '.join(sweep.settings)}: {dvc_error(result)}")
    # DVC prints "Queueing with overrides '{...seed=N...}'." before each "Queued experiment 'NAME' ...".
    overrides = re.findall(r"Queueing with overrides .*?\bseed=(\d+)", result.stdout)
    names = re.findall(r"Queued experiment '([^']+)' for future execution", result.stdout)
    return dict(zip(names, map(int, overrides), strict=True))


def queue_status() -> dict[str, str]:
    """Every task the queue knows, by name: Queued, Running, Success or Failed."""
    rows = dvc("queue", "status").stdout.splitlines()
    # "Task  Name  Created  Status" rows, then a blank line and the workers' count.
    tasks = [row.split() for row in rows[1:] if row.strip() and not row.startswith("Worker status")]
    return {columns[1]: columns[-1] for columns in tasks if len(columns) >= 4}


def worker_prefix(root: str = ".") -> str:
    """How DVC names a repository's queue workers: dvc-exp-<hash of its queue folder>-<n>@localhost."""
    from dvc.repo import Repo

    with Repo(root) as repo:
        folder = repo.experiments.celery_queue.wdir
    return f"dvc-exp-{hashlib.sha256(folder.encode()).hexdigest()[:6]}-"


def workers(prefix: str) -> list:
    """The live queue worker processes (psutil.Process) whose names start with `prefix`."""
    import psutil

    return [
        process
        for process in psutil.process_iter(["cmdline"])
        if "queue-worker" in (process.info["cmdline"] or [])
        and any(arg.startswith(prefix) for arg in process.info["cmdline"])
    ]


def clear_stale_queue() -> None:
    """Before a new sweep: tasks that an earlier, killed sweep left Running or Queued with no
    worker to run them, and the record of finished tasks (the experiments themselves stay)."""
    if workers(worker_prefix()):
        raise InputError(
            "the experiment queue is already running (dvc queue status); wait for it, or stop it with dvc queue stop"
        )
    status = queue_status()
    running = [name for name, state in status.items() if state == "Running"]
    queued = [name for name, state in status.items() if state == "Queued"]
    if running:
        kill_stale(running)
    if status:
        dvc_or_fail("queue", "remove", "--all")
        print(f"sweep: cleared the queue left by an earlier run ({len(running)} stale running, {len(queued)} queued)")


def kill_stale(names: list[str]) -> None:
    """Mark tasks whose worker is gone as failed. DVC marks a task failed only when its
    process cannot be found, so a process still alive is killed first, then asked again."""
    for _ in range(2):
        result = dvc("queue", "kill", "--force", *names)
        still = [name for name, state in queue_status().items() if name in names and state == "Running"]
        if not still:
            return
        names = still
        time.sleep(1)
    raise InputError(f"dvc queue kill could not clear the stale tasks {', '.join(names)}: {dvc_error(result)}")


def needs_new_features(settings: tuple[str, ...]) -> bool:
    """Whether the sweep may need features the cache does not hold: it sets a param that
    the features depend on, or the workspace's own features are out of date."""
    feature_keys = set(params.declared_params("extract_features")) | {"data.source", "data.train_limit"}
    if any(setting.split("=", 1)[0] in feature_keys for setting in settings):
        return True
    return "extract_features" in dvc("status", "extract_features").stdout


def run(sweep: Sweep, experiments: dict[str, int], *, first_alone: bool, clock: Callable[[], float]) -> None:
    """Run the queued experiments to the end, restarting the workers once if they go."""
    prefix = worker_prefix()
    dvc_or_fail("queue", "start", "-j", "1" if first_alone else str(sweep.jobs))
    parallel, restarted, stale_polls, shown = not first_alone, False, 0, None
    while True:
        try:
            status = queue_status()
        except DvcTimeout:
            status = {}  # unknown: counts towards a stale poll below, unless workers are busy
        states = {name: status.get(name, "Missing") for name in experiments}
        pending = [name for name, state in states.items() if state not in DONE]
        failed = sum(state == "Failed" for state in states.values())
        progress = (len(experiments) - len(pending), failed)
        if progress != shown:
            print(f"sweep: {progress[0]} of {len(experiments)} done, {failed} failed ({clock():.0f} s)", flush=True)
            shown = progress
        if not pending:
            stop_workers(prefix)
            return
        if not parallel and len(pending) < len(experiments):
            dvc_or_fail("queue", "start", "-j", str(sweep.jobs))  # the features are in the run-cache now
            parallel = True
        running = sum(states[name] == "Running" for name in pending)
        stale_polls = stale_polls + 1 if len(workers(prefix)) < max(running, 1) else 0
        if stale_polls >= STALE_POLLS:
            left = sorted(experiments[name] for name in pending)
            if restarted:
                dvc("queue", "stop", "--kill")
                raise InputError(
                    f"sweep: the queue's workers stopped twice with {len(left)} of {len(experiments)} experiments "
                    f"unfinished (seeds {' '.join(map(str, left))}); run them with: {sweep.command(left)}"
                )
            print(f"sweep: the queue's workers are gone with seeds {' '.join(map(str, left))} unfinished; restarting")
            experiments = restart(sweep, experiments, pending)
            restarted, stale_polls, shown = True, 0, None
        time.sleep(POLL_S)


def stop_workers(prefix: str) -> None:
    """Once every task is done: the workers, idle, would linger a while, and the next sweep
    would find the queue still running. Asked to stop, then ended if they do not."""
    dvc("queue", "stop")
    deadline = time.monotonic() + DVC_TIMEOUT_S
    while workers(prefix) and time.monotonic() < deadline:
        time.sleep(1)
    for process in workers(prefix):
        process.kill()


def restart(sweep: Sweep, experiments: dict[str, int], pending: list[str]) -> dict[str, int]:
    """Stop what is left of the queue, queue the unfinished seeds again, start the workers."""
    dvc("queue", "stop", "--kill")
    running = [name for name, state in queue_status().items() if name in pending and state == "Running"]
    if running:
        kill_stale(running)
    dvc_or_fail("queue", "remove", *pending)
    again = queue(sweep, seeds_expression(sorted(experiments[name] for name in pending)))
    dvc_or_fail("queue", "start", "-j", str(sweep.jobs))
    return {name: seed for name, seed in experiments.items() if name not in pending} | again


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="range(0,10)", help="DVC sweep syntax (default: range(0,10))")
    parser.add_argument("-S", "--set-param", action="append", default=[], metavar="KEY=VALUE", dest="settings")
    parser.add_argument("-j", "--jobs", type=int, default=2, help="experiments at once (default 2)")
    args = parser.parse_args(argv)
    sweep = Sweep(args.seeds, tuple(args.settings), args.jobs)
    if not Path("dvc.yaml").is_file():
        raise InputError("dvc.yaml: not found; run the sweep from the project's root folder")
    clear_stale_queue()
    experiments = queue(sweep, sweep.seeds)
    first_alone = needs_new_features(sweep.settings) and len(experiments) > 1
    print(
        f"sweep: {len(experiments)} experiment{'' if len(experiments) == 1 else 's'} queued"
        + ("; the first runs alone, to extract the features once" if first_alone else "")
        + "; `dvc queue logs <name>` shows one as it runs",
        flush=True,
    )
    started = time.monotonic()
    run(sweep, experiments, first_alone=first_alone, clock=lambda: time.monotonic() - started)
    print(f"sweep: finished in {time.monotonic() - started:.0f} s\n")
    summary.main([])


def main_or_one_line(argv: list[str]) -> None:
    try:
        main(argv)
    except DvcTimeout as error:
        raise InputError(f"sweep: {error}; see dvc queue status, then run the sweep again") from None


if __name__ == "__main__":
    run_stage(lambda: main_or_one_line(sys.argv[1:]))
