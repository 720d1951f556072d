"""A seed sweep the DVC way: queue one experiment per seed (with any other params set),
run the queue two at a time, wait, then print the summary of every experiment.

    python -m mnist_transfer.sweep --seeds 'range(0,10)' -S head.optimizer=adam

`--seeds` takes DVC's sweep syntax: `range(0,10)`, `choice(0,3,7)`. The backbone's features
belong to the images, not to the split, so no experiment of a sweep runs VGG16 again.
"""

import argparse
import subprocess
import sys
import tempfile
import time

from mnist_transfer import summary
from mnist_transfer.pipeline.errors import InputError, run_stage

POLL_S = 10


def dvc(*args: str) -> subprocess.CompletedProcess:
    """A dvc command's exit status and output. Its output goes through a file, not a pipe:
    `dvc queue start` leaves workers behind that would hold a pipe open until the queue is done."""
    with tempfile.TemporaryFile("w+") as output:
        result = subprocess.run([sys.executable, "-m", "dvc", *args], stdout=output, stderr=output, check=False)
        output.seek(0)
        return subprocess.CompletedProcess(result.args, result.returncode, output.read(), "")


def dvc_error(result: subprocess.CompletedProcess) -> str:
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")]
    return (errors or lines or [f"exit status {result.returncode}"])[-1].removeprefix("ERROR: ")


def queue(seeds: str, settings: list[str]) -> int:
    """Queue the sweep; the number of experiments queued."""
    before = queued_count()
    result = dvc("exp", "run", "--queue", "-S", f"seed={seeds}", *(arg for s in settings for arg in ("-S", s)))
    if result.returncode != 0:
        raise InputError(f"dvc exp run rejected the sweep seed={seeds} {' '.join(settings)}: {dvc_error(result)}")
    return queued_count() - before


def queued_count() -> int:
    return sum(line.split()[-1] == "Queued" for line in dvc("queue", "status").stdout.splitlines() if line.strip())


def wait_for_queue(total: int) -> None:
    """Until nothing is queued or running; one progress line whenever the count changes."""
    shown = None
    while True:
        states = [line.split()[-1] for line in dvc("queue", "status").stdout.splitlines()[1:] if line.strip()]
        pending = sum(state in ("Queued", "Running") for state in states)
        if pending != shown:
            print(f"sweep: {total - pending} of {total} done, {states.count('Failed')} failed in the queue")
            shown = pending
        if pending == 0:
            return
        time.sleep(POLL_S)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="range(0,10)", help="DVC sweep syntax (default: range(0,10))")
    parser.add_argument("-S", "--set-param", action="append", default=[], metavar="KEY=VALUE", dest="settings")
    parser.add_argument("-j", "--jobs", type=int, default=2, help="experiments at once (default 2)")
    args = parser.parse_args(argv)
    total = queue(args.seeds, args.settings)
    print(f"sweep: {total} experiments queued; `dvc queue logs <name>` shows one as it runs")
    started = time.monotonic()
    result = dvc("queue", "start", "-j", str(args.jobs))
    if result.returncode != 0:
        raise InputError(f"dvc queue start failed: {dvc_error(result)}")
    wait_for_queue(total)
    print(f"sweep: finished in {time.monotonic() - started:.0f} s\n")
    summary.main([])


if __name__ == "__main__":
    run_stage(lambda: main(sys.argv[1:]))
