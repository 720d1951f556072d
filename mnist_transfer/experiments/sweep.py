"""A seed sweep on Dask's scheduler: one `dvc exp run` per seed, each in a clone of its own, its
experiment pushed back; then the summary (docs/experiments.md).

    python -m mnist_transfer.experiments.sweep --seeds 'range(0,10)' -S head.optimizer=adam
    python -m mnist_transfer.experiments.sweep --seeds 'range(0,100)' --scheduler tls://HOST:8786 --git-remote URL
"""

import argparse
import contextlib
import dataclasses
import ipaddress
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import yaml

from mnist_transfer.core import params
from mnist_transfer.core.errors import InputError, run_stage
from mnist_transfer.experiments import records, summary, sweep_task

SEEDS_SYNTAX = "range(A,B), range(A,B,STEP), choice(A,B,...) or a whole number"


def parse_seeds(text: str) -> list[int]:
    """The seeds `--seeds` names, in order, each once."""
    compact = text.replace(" ", "")
    found: list[int] = []
    if match := re.fullmatch(r"range\((\d+),(\d+)(?:,(\d+))?\)", compact):
        start, stop, step = int(match[1]), int(match[2]), int(match[3] or 1)
        found = list(range(start, stop, step)) if step > 0 else []
    elif match := re.fullmatch(r"choice\((\d+(?:,\d+)*)\)", compact):
        found = [int(seed) for seed in match[1].split(",")]
    elif compact.isdigit():
        found = [int(compact)]
    seeds = list(dict.fromkeys(found))
    if not seeds or any(seed > params.SEED_MAX for seed in seeds):
        raise InputError(f"--seeds {text!r}: expected {SEEDS_SYNTAX}, naming at least one seed 0-{params.SEED_MAX}")
    return seeds


def check_settings(settings: list[str]) -> None:
    """Each -S KEY=VALUE names a param and a value its check accepts, as `dvc exp run -S`
    would set it; one line for the first that does not."""
    every = params.everything()
    for setting in settings:
        key, equals, text = setting.partition("=")
        if not equals or key == "seed":
            raise InputError(f"-S {setting!r}: expected KEY=VALUE with KEY a param of params.yaml other than seed")
        params.set_dotted(every, key, yaml.safe_load(text) if text else None)
    params.check(every, list(params.SCHEMA))


def record_row(point: sweep_task.Point, result: dict, settings: dict) -> dict:
    """A finished point as one row of a run record."""
    return {
        "run": point.name,
        "settings": settings,
        "seed": int(point.settings[0].partition("=")[2]),
        "metrics": result["metrics"],
        "elsewhere_errors": result["elsewhere_errors"],
        "held_out_errors": result["held_out_errors"],
        "commit": point.rev,
        "machine": result["machine"],
        "wall_s": result["seconds"],
        "cores_shared": result["cores_shared"],
    }


def why_it_failed(result: subprocess.CompletedProcess) -> str:
    """A failed command's last line: from its stderr, where git and DVC say why, else its stdout."""
    lines = result.stderr.strip().splitlines() or result.stdout.strip().splitlines()
    return lines[-1] if lines else f"exit status {result.returncode}"


def git(*args: str) -> str:
    result = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise InputError(f"git {' '.join(args)} failed: {why_it_failed(result)}")
    return result.stdout.strip()


def committed_rev(record: Path | None = None) -> str:
    """The commit the points run on: the workers clone it, so the workspace must hold nothing
    more; but `record`, which only this process writes and no worker reads, may have grown
    (a study appends to one record sweep after sweep)."""
    changed = [
        line.split(maxsplit=1)[1]
        for line in git("status", "--porcelain", "--untracked-files=no").splitlines()
        if record is None or Path(line.split(maxsplit=1)[1]) != record
    ]
    if changed:
        first = changed[0]
        raise InputError(f"sweep: {first} has uncommitted changes; the workers run commits only: commit first")
    return git("rev-parse", "HEAD")


def local_cache_dir() -> str:
    """This repository's DVC cache, wherever `dvc cache dir` put it (.dvc/cache unless set)."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    try:
        with Repo(".") as repo:
            return str(Path(repo.cache.local_cache_dir).resolve())
    except DvcException as error:
        raise InputError(f"sweep: DVC cannot read this repository, so nothing was started: {error}") from None


def missing_from_cache(cache_dir: Path) -> list[str]:
    """The folders dvc.lock names as outputs that the DVC cache does not hold. An experiment
    that restores a later stage from the run-cache loads them, and fails there, after minutes
    of work on every point."""
    lock = yaml.safe_load(Path("dvc.lock").read_text()) if Path("dvc.lock").is_file() else {}
    missing = []
    for stage in (lock or {}).get("stages", {}).values():
        for out in stage.get("outs", []):
            digest = out.get("md5", "")
            if digest.endswith(".dir") and not (cache_dir / "files" / "md5" / digest[:2] / digest[2:]).is_file():
                missing.append(out["path"])
    return missing


def feature_keys() -> set[str]:
    """Every param the features depend on: the extracting stages' own, and those of what reads
    and frames the images they see (not the split's seed nor its share: features belong to images)."""
    keys = {key for stage in ("fetch_mnist", *sweep_task.EXTRACTING) for key in params.declared_params(stage)}
    return keys | {"data.train_limit"}


def needs_new_features(settings: list[str]) -> bool:
    """Whether the sweep may need features no cache holds: it sets a param that the features
    depend on (a key, or a group such as `backbone`), or the workspace's own features are out of date."""
    keys = feature_keys()
    for setting in settings:
        key = setting.split("=", 1)[0]
        if any(key == k or k.startswith(f"{key}.") or key.startswith(f"{k}.") for k in keys):
            return True
    status = subprocess.run(
        [sys.executable, "-m", "dvc", "status", *sweep_task.EXTRACTING], capture_output=True, text=True, check=False
    )
    if status.returncode != 0:
        raise InputError(f"sweep: dvc status failed, so nothing was started: {why_it_failed(status)}")
    return any(stage in status.stdout for stage in sweep_task.EXTRACTING)


def still_to_run(seeds: list[int], settings: dict, record: str | None) -> list[int]:
    """`seeds` less those that `record` holds a run of with these `settings`."""
    if record is None:
        raise InputError("--resume needs --record NAME: the record says which points finished")
    path = records.run_record(record)
    finished = {row["seed"] for row in (records.read(path) if path.exists() else []) if row["settings"] == settings}
    return [seed for seed in seeds if seed not in finished]


def points(seeds: list[int], settings: list[str], source: str, rev: str, cache_dir: str | None, threads: int):
    sweep_id = uuid.uuid4().hex[:6]
    return [
        sweep_task.Point(
            name=f"sweep-{sweep_id}-seed{seed}",
            settings=(f"seed={seed}", *settings),
            source=source,
            rev=rev,
            cache_dir=cache_dir,
            threads=threads,
        )
        for seed in seeds
    ]


# A scheduler runs whatever code its clients send on every worker, and the workers hold the
# user's Git and DVC credentials: off this machine it must be reached over TLS, with a
# certificate, never in the clear (docs/experiments.md#a-sweep-across-machines).
LOOPBACK_NAMES = {"localhost"}
TLS_HOW = (
    "set Dask's distributed.comm.tls.ca-file, .client.cert and .client.key (in ~/.config/dask/ or as "
    "DASK_DISTRIBUTED__COMM__TLS__CA_FILE, ..._CLIENT__CERT, ..._CLIENT__KEY): docs/experiments.md"
)


def is_loopback(host: str) -> bool:
    bare = host.strip("[]")  # an IPv6 address comes in brackets
    if bare in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:  # a host name: it may resolve anywhere
        return False


def scheduler_security(scheduler: str):
    """The credentials to reach `scheduler` with, from Dask's config; one line where an address
    off this machine is not TLS, or TLS has no certificate to show."""
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.security import Security

    try:
        scheme, location = parse_address(scheduler)
        host, _ = parse_host_port(location)
    except ValueError as error:
        raise InputError(f"--scheduler {scheduler}: not an address, as tls://HOST:8786 is ({error})") from None
    security = Security()
    if scheme == "tls":
        if not (security.tls_ca_file and security.tls_client_cert):
            raise InputError(f"--scheduler {scheduler}: TLS without credentials; {TLS_HOW}")
        return security
    if not is_loopback(str(host)):
        raise InputError(
            f"--scheduler {scheduler}: a {scheme}:// scheduler off this machine lets anyone who reaches "
            f"it run code on the workers; use tls://{location} with credentials: {TLS_HOW}"
        )
    return security


def client_for(scheduler: str | None, security, jobs: int, stack: contextlib.ExitStack):
    """A Dask client, closed with `stack`: of the scheduler at `scheduler`, or of a LocalCluster
    of `jobs` single-threaded worker processes (each point runs in processes of its own beneath),
    reached over TLS with credentials made for it alone, listening on this machine only.
    `security`: scheduler_security's, for `scheduler`."""
    from distributed import Client, LocalCluster
    from distributed.security import Security

    if scheduler:
        try:
            return stack.enter_context(Client(scheduler, timeout="30s", security=security))
        except OSError as error:
            raise InputError(f"--scheduler {scheduler}: no Dask scheduler answered ({error})") from None
    cluster = stack.enter_context(
        LocalCluster(
            n_workers=jobs,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
            security=Security.temporary(),
        )
    )
    return stack.enter_context(Client(cluster))


def run(client, todo: list, first_alone: bool, record: Callable[[sweep_task.Point, dict], None]):
    """Every point through the scheduler: the first alone when it extracts features for the
    rest, each finished one recorded as it comes. What each finished point did, and one line
    per point that failed."""
    from distributed import as_completed

    started = time.monotonic()
    done: list[dict] = []
    failed: list[str] = []
    batches = [todo[:1], todo[1:]] if first_alone else [todo]
    for batch in batches:
        futures = {client.submit(sweep_task.run_point, point, key=point.name, pure=False): point for point in batch}
        for future in as_completed(futures):
            point = futures[future]
            try:
                result = future.result()
            # A point's own failure, its timeout, or Dask's KilledWorker once it has lost
            # `distributed.scheduler.allowed-failures` workers: one failed point, the rest go on.
            except Exception as error:  # noqa: BLE001
                reason = " ".join(str(error).split()) or type(error).__name__  # Dask's span lines
                failed.append(f"{point.name} ({' '.join(point.settings)}): {reason}")
                print(f"sweep: {point.name} failed: {reason}", flush=True)
                continue
            done.append(result)
            record(point, result)
            print(
                f"sweep: {point.name} done on {result['host']} in {result['seconds']:.0f} s "
                f"({len(done) + len(failed)} of {len(todo)}, {time.monotonic() - started:.0f} s)",
                flush=True,
            )
    return done, failed


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="range(0,10)", help=f"{SEEDS_SYNTAX} (default: range(0,10))")
    parser.add_argument("-S", "--set-param", action="append", default=[], metavar="KEY=VALUE", dest="settings")
    parser.add_argument("-j", "--jobs", type=int, default=2, help="workers of the LocalCluster (default 2)")
    parser.add_argument(
        "--scheduler", help="a Dask scheduler's address, tls://HOST:8786 off this machine (default: a LocalCluster)"
    )
    parser.add_argument("--git-remote", help="with --scheduler: the Git remote every worker clones and pushes to")
    parser.add_argument("--record", metavar="NAME", help="append each finished point to metrics/runs/NAME.jsonl")
    parser.add_argument("--resume", action="store_true", help="with --record: run only the seeds it lacks")
    args = parser.parse_args(argv)
    if not Path("dvc.yaml").is_file():
        raise InputError("dvc.yaml: not found; run the sweep from the project's root folder")
    if args.jobs < 1:
        raise InputError(f"-j {args.jobs}: expected a whole number >= 1")
    if bool(args.scheduler) != bool(args.git_remote):
        raise InputError("--scheduler and --git-remote go together: workers elsewhere clone the Git remote")
    if args.record is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", args.record):
        raise InputError(f"--record {args.record!r}: expected a name of letters, digits, '.', '_' and '-'")
    security = scheduler_security(args.scheduler) if args.scheduler else None
    seeds = parse_seeds(args.seeds)
    check_settings(args.settings)
    settings = records.differing(args.settings)

    unrecorded: list[str] = []

    def record(point: sweep_task.Point, result: dict) -> None:
        if args.record is None:
            return
        try:
            records.append(records.run_record(args.record), [record_row(point, result, settings)])
        except OSError as error:  # the experiment itself is kept: `dvc exp show` lists it
            unrecorded.append(point.name)
            print(f"sweep: {point.name} not recorded in {records.run_record(args.record)}: {error}", flush=True)

    if args.resume:
        seeds = still_to_run(seeds, settings, args.record)
        if not seeds:
            print(f"sweep: every seed asked for is in {records.run_record(args.record)} already; nothing to run")
            return
    rev = committed_rev(records.run_record(args.record) if args.record is not None else None)
    if args.scheduler:
        source, cache_dir, threads = args.git_remote, None, 1
    else:
        source, cache_dir = str(Path.cwd()), local_cache_dir()
        if missing := missing_from_cache(Path(cache_dir)):
            raise InputError(
                f"sweep: {missing[0]}, an output of HEAD's dvc.lock, is not in the DVC cache, and "
                "the experiments need it: run dvc repro (or dvc pull) first, then commit dvc.lock"
            )
        threads = max(1, len(os.sched_getaffinity(0)) // args.jobs)
    todo = points(seeds, args.settings, source, rev, cache_dir, threads)
    first_alone = len(todo) > 1 and needs_new_features(args.settings)
    if first_alone and not args.scheduler:
        # Alone on this machine, the first point has every core.
        todo[0] = dataclasses.replace(todo[0], threads=threads * args.jobs)
    with contextlib.ExitStack() as stack:
        client = client_for(args.scheduler, security, args.jobs, stack)
        info = client.scheduler_info()
        # Dask serves its dashboard only where bokeh is installed.
        dashboard = client.dashboard_link if "dashboard" in info.get("services", {}) else "none (pip install bokeh)"
        print(
            f"sweep: {len(todo)} point{'' if len(todo) == 1 else 's'} on {len(info['workers'])} "
            f"Dask workers; dashboard {dashboard}"
            + ("; the first runs alone, to extract the features once" if first_alone else ""),
            flush=True,
        )
        started = time.monotonic()
        done, failed = run(client, todo, first_alone, record)
    if args.scheduler and done:
        pull = subprocess.run(
            [sys.executable, "-m", "dvc", "exp", "pull", "--force", args.git_remote, *(r["name"] for r in done)],
            capture_output=True,
            text=True,
            check=False,
        )
        if pull.returncode != 0:
            raise InputError(f"dvc exp pull {args.git_remote} failed: {why_it_failed(pull)}")
    ran = ", ".join(
        f"{stage} ran {count} time{'' if count == 1 else 's'}"
        for stage in sweep_task.EXTRACTING
        for count in [sum(result["extractions"][stage] for result in done)]
    )
    print(f"sweep: {len(done)} done, {len(failed)} failed in {time.monotonic() - started:.0f} s; {ran}\n", flush=True)
    if done:  # the sweep's own commit: HEAD may have moved since it started
        summary.main(["--rev", rev])
    if failed:
        raise InputError(f"sweep: {len(failed)} of {len(todo)} points failed; the first: {failed[0]}")
    if unrecorded:
        raise InputError(
            f"sweep: {len(unrecorded)} finished points not recorded, their experiments kept: {', '.join(unrecorded)}"
        )


if __name__ == "__main__":
    run_stage(lambda: main(sys.argv[1:]))
