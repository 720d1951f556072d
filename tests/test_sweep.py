"""Sweeps on Dask's scheduler, with real processes on the small data set: a LocalCluster on
one machine; then a scheduler and two `dask worker` processes on localhost, speaking TLS, each
started in a clone of its own, sharing a bare Git remote and a local DVC remote, one SIGKILLed
mid-task."""

import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import psutil
import pytest
import yaml

from mnist_transfer.core.errors import InputError
from mnist_transfer.experiments import records
from mnist_transfer.experiments import sweep as sweep_module
from tests.conftest import BIN, ROOT, commit_all, copy_project, dvc, git, run, set_params

# One epoch: these tests are about the sweep, not about what the models learn.
QUICK = ("-S", "epochs=1")


def sweep(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "mnist_transfer.experiments.sweep", *args], repo, check=check, timeout=1200)


def sweep_lines(output: str) -> str:
    return "\n".join(line for line in output.splitlines() if line.startswith(("sweep:", "error:")))


def finished_seeds(repo: Path) -> list[int]:
    shown = pd.read_csv(io.StringIO(dvc(repo, "exp", "show", "--csv")))
    done = shown[shown["Experiment"].notna() & shown["transfer.accuracy"].notna()]
    return sorted(int(seed) for seed in done["seed"])


def test_a_local_sweep_runs_each_seed_once_never_runs_the_backbone_and_records_each(pipeline_copy):
    output = sweep(pipeline_copy, "--seeds", "range(0,2)", *QUICK, "-S", "head.units=64", "--record", "quick").stdout
    assert "sweep: 2 points on 2 Dask workers; dashboard " in output
    assert "sweep: 2 done, 0 failed" in output
    assert "extract_features ran 0 times" in output
    assert finished_seeds(pipeline_copy) == [0, 1]
    assert "n=2, seeds 0 1" in output  # the summary of them
    rows = records.read(pipeline_copy / records.run_record("quick"))
    shown = pd.read_csv(io.StringIO(dvc(pipeline_copy, "exp", "show", "--csv")))
    for row in rows:
        experiment = shown[shown["Experiment"] == row["run"]].iloc[0]
        assert row["metrics"]["transfer.accuracy"] == experiment["transfer.accuracy"]
        assert row["metrics"]["disagreements"] == experiment["disagreements"]
    assert sorted(row["seed"] for row in rows) == [0, 1]
    assert all(row["settings"] == {"epochs": 1, "head.units": 64} for row in rows)
    head = git(pipeline_copy, "rev-parse", "HEAD").strip()
    assert {row["commit"] for row in rows} == {head}
    assert all(row["cores_shared"] and row["wall_s"] > 0 and row["machine"]["cpu"] for row in rows)


def test_a_fresh_clone_that_pulled_the_data_sweeps_seeds_without_running_the_backbone(pipeline_copy, tmp_path):
    dvc(pipeline_copy, "remote", "add", "--default", "shared", str(tmp_path / "dvc-remote"))
    commit_all(pipeline_copy, "share the cache")
    dvc(pipeline_copy, "push")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(pipeline_copy), str(clone))
    # Every output but a timing: a cache that holds the features need not hold the timing of
    # the run that made them (only that run's cache does).
    lock = yaml.safe_load((clone / "dvc.lock").read_text())["stages"]
    outs = [out["path"] for stage in lock.values() for out in stage["outs"]]
    dvc(clone, "pull", *(out for out in outs if not out.startswith("metrics/cost/")))
    output = sweep(clone, "--seeds", "range(0,2)", *QUICK).stdout
    assert "sweep: 2 done, 0 failed" in output, output
    assert "extract_features ran 0 times" in output


def test_a_sweep_at_a_layer_never_extracted_extracts_once(pipeline_copy):
    output = sweep(pipeline_copy, "--seeds", "choice(3,5)", "-S", "backbone.layer=block4_pool", *QUICK).stdout
    assert "the first runs alone, to extract the features once" in output
    assert "extract_features ran 1 time, extract_elsewhere ran 1 time\n" in output, sweep_lines(output)
    assert finished_seeds(pipeline_copy) == [3, 5]


def test_a_sweep_over_a_framing_of_the_digits_from_elsewhere_extracts_them_once_and_mnist_never(pipeline_copy):
    output = sweep(
        pipeline_copy, "--seeds", "range(0,2)", "-S", "data.elsewhere=mfeat-pix", "-S", "data.strokes=mnist", *QUICK
    ).stdout
    assert "the first runs alone, to extract the features once" in output
    assert "extract_features ran 0 times, extract_elsewhere ran 1 time\n" in output, sweep_lines(output)
    assert finished_seeds(pipeline_copy) == [0, 1]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--seeds", "range(0,"), "--seeds 'range(0,': expected range(A,B), range(A,B,STEP), choice(A,B,...) or"),
        (("-S", "epoch=3"), "params.yaml: unknown key 'epoch'; did you mean 'epochs'?"),
        (("-S", "epochs=0"), "params.yaml: epochs must be a whole number >= 1, got 0"),
        (("--scheduler", "tcp://127.0.0.1:9"), "--scheduler and --git-remote go together"),
        (
            ("--scheduler", "tcp://10.1.2.3:8786", "--git-remote", "x"),
            "--scheduler tcp://10.1.2.3:8786: a tcp:// scheduler off this machine lets anyone who reaches it",
        ),
        (
            ("--scheduler", "tls://10.1.2.3:8786", "--git-remote", "x"),
            "--scheduler tls://10.1.2.3:8786: TLS without credentials; set Dask's distributed.comm.tls.ca-file",
        ),
    ],
)
def test_a_bad_sweep_is_one_line_and_runs_nothing(pipeline_copy, args, expected):
    result = sweep(pipeline_copy, *args, check=False)
    assert result.returncode == 2, result.stdout
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {expected}"), lines
    assert dvc(pipeline_copy, "exp", "list").strip() == ""


def test_a_resumed_sweep_runs_only_the_seeds_its_record_lacks(pipeline_copy):
    sweep(pipeline_copy, "--seeds", "0", *QUICK, "--record", "resumed")
    result = sweep(pipeline_copy, "--seeds", "range(0,2)", *QUICK, "--record", "resumed", "--resume")
    assert "sweep: 1 point on" in result.stdout, result.stdout
    rows = records.read(pipeline_copy / "metrics/runs/resumed.jsonl")
    assert sorted(row["seed"] for row in rows) == [0, 1]
    again = sweep(pipeline_copy, "--seeds", "range(0,2)", *QUICK, "--record", "resumed", "--resume")
    assert (
        sweep_lines(again.stdout)
        == "sweep: every seed asked for is in metrics/runs/resumed.jsonl already; nothing to run"
    )


def test_a_record_that_cannot_be_written_is_one_line_and_the_experiment_is_kept(pipeline_copy):
    (pipeline_copy / "metrics/runs/blocked.jsonl").mkdir(parents=True)  # a folder where the file would go
    result = sweep(pipeline_copy, "--seeds", "0", *QUICK, "--record", "blocked", check=False)
    assert result.returncode == 2, result.stdout
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("error: sweep: 1 finished points not recorded, their experiments kept: sweep-"), last
    assert finished_seeds(pipeline_copy) == [0]


def test_a_repository_dvc_cannot_read_stops_the_sweep_in_one_line(pipeline_copy):
    (pipeline_copy / ".dvc/config").write_text("[core\n")  # not INI: every dvc command fails
    commit_all(pipeline_copy, "a broken DVC config")
    result = sweep(pipeline_copy, "--seeds", "range(0,2)", check=False)
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, lines
    assert lines[0].startswith("error: sweep: DVC cannot read this repository, so nothing was started: config file")


def test_uncommitted_changes_stop_the_sweep_before_any_worker_starts(pipeline_copy):
    set_params(pipeline_copy, {"head.units": 64})
    result = sweep(pipeline_copy, "--seeds", "0", check=False)
    assert result.returncode == 2
    assert result.stdout.strip().splitlines() == [
        "error: sweep: params.yaml has uncommitted changes; the workers run commits only: commit first"
    ]


APPENDER = """
import sys
from pathlib import Path
from mnist_transfer.experiments import records
for row in range(int(sys.argv[3])):
    records.append(Path(sys.argv[1]), [{"writer": sys.argv[2], "row": row, "metrics": {}, "padding": "x" * 4000}])
"""


def test_the_cluster_refuses_a_client_in_the_clear_or_with_a_strangers_certificate(dask_cluster):
    from distributed import Client
    from distributed.security import Security

    in_the_clear = dask_cluster["address"].replace("tls://", "tcp://")
    with pytest.raises((OSError, TimeoutError)):
        Client(in_the_clear, timeout="5s")
    with pytest.raises((OSError, TimeoutError)):
        Client(dask_cluster["address"], timeout="5s", security=Security.temporary())


def test_a_local_sweeps_cluster_speaks_tls_and_listens_on_this_machine_only():
    with contextlib.ExitStack() as stack:
        client = sweep_module.client_for(None, None, 1, stack)
        assert client.scheduler.address.startswith("tls://127.0.0.1:")
        assert client.dashboard_link.startswith("http://127.0.0.1:")
        listening = [c.laddr.ip for c in psutil.Process().net_connections("inet") if c.status == psutil.CONN_LISTEN]
        assert listening and set(listening) == {"127.0.0.1"}, listening


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.8.9.10", "[::1]"])
def test_a_plain_scheduler_on_this_machine_needs_no_tls(host):
    assert sweep_module.scheduler_security(f"tcp://{host}:8786") is not None


@pytest.mark.parametrize("address", ["tcp://0.0.0.0:8786", "tcp://scheduler.example:8786", "ws://192.168.1.2:8786"])
def test_a_plain_scheduler_elsewhere_is_refused(address):
    with pytest.raises(InputError, match=r"off this machine lets anyone who reaches it run code on the workers"):
        sweep_module.scheduler_security(address)


def test_two_processes_appending_to_one_record_at_once_lose_no_row(tmp_path):
    record, rows = tmp_path / "runs" / "both.jsonl", 150
    writers = [
        subprocess.Popen([sys.executable, "-c", APPENDER, str(record), name, str(rows)], cwd=ROOT) for name in "ab"
    ]
    assert [writer.wait(timeout=300) for writer in writers] == [0, 0]
    written = [yaml.safe_load(line) for line in record.read_text().splitlines()]
    for name in "ab":
        assert [row["row"] for row in written if row["writer"] == name] == list(range(rows))


def test_the_record_a_study_appends_to_does_not_stop_its_next_sweep(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    record = records.run_record("study-some")
    record.parent.mkdir(parents=True)
    record.write_text('{"seed": 0}\n')
    for command in (["init", "-q"], ["add", "."], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "r"]):
        subprocess.run(["git", *command], check=True)
    with record.open("a") as grown:
        grown.write('{"seed": 1}\n')
    assert sweep_module.committed_rev(record) == sweep_module.git("rev-parse", "HEAD")
    with pytest.raises(InputError) as error:
        sweep_module.committed_rev()
    assert str(error.value).startswith(f"sweep: {record} has uncommitted changes")


def test_a_cache_moved_with_dvc_cache_dir_is_the_one_a_sweep_reads(tmp_path, monkeypatch):
    git(tmp_path, "init", "-q")
    dvc(tmp_path, "init", "-q")
    monkeypatch.chdir(tmp_path)
    assert sweep_module.local_cache_dir() == str((tmp_path / ".dvc/cache").resolve())
    dvc(tmp_path, "cache", "dir", "--local", str(tmp_path / "shared-cache"))
    assert sweep_module.local_cache_dir() == str(tmp_path / "shared-cache")


def test_a_lock_whose_outputs_are_not_cached_stops_the_sweep_before_any_worker_starts(pipeline_copy):
    lock = yaml.safe_load((pipeline_copy / "dvc.lock").read_text())
    digest = next(out["md5"] for out in lock["stages"]["extract_features"]["outs"] if out["path"] == "data/features")
    (pipeline_copy / ".dvc/cache/files/md5" / digest[:2] / digest[2:]).unlink()
    result = sweep(pipeline_copy, "--seeds", "0", check=False)
    assert result.returncode == 2
    assert result.stdout.strip().splitlines() == [
        "error: sweep: data/features, an output of HEAD's dvc.lock, is not in the DVC cache, and the "
        "experiments need it: run dvc repro (or dvc pull) first, then commit dvc.lock"
    ]
    assert dvc(pipeline_copy, "exp", "list").strip() == ""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def started(args: list[str], cwd: Path, log: Path, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(args, cwd=cwd, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env)


def clone_of_project(dest: Path) -> dict:
    """A clone of the project where a Dask process starts, and the environment that puts it
    on PYTHONPATH, as docs/experiments.md starts them."""
    copy_project(dest)
    return {**os.environ, "PYTHONPATH": str(dest)}


def tls_files(folder: Path) -> dict[str, str]:
    """A certificate authority's certificate, and a certificate and key it signed, as PEM files
    in `folder`: what a cluster's scheduler, workers and clients each present."""
    from distributed.security import Security

    made = Security.temporary()  # in memory: a self-signed certificate, its own authority
    folder.mkdir()
    files = {"ca": made.tls_ca_file, "cert": made.tls_client_cert, "key": made.tls_client_key}
    for name, contents in files.items():
        (folder / f"{name}.pem").write_text(contents)
    return {name: str(folder / f"{name}.pem") for name in files}


def tls_options(files: dict[str, str]) -> list[str]:
    return ["--host", "127.0.0.1", "--tls-ca-file", files["ca"], "--tls-cert", files["cert"], "--tls-key", files["key"]]


def tls_config(files: dict[str, str]) -> dict[str, str]:
    """Dask's config for a client of that cluster, as environment variables."""
    prefix = "DASK_DISTRIBUTED__COMM__"
    return {
        f"{prefix}TLS__CA_FILE": files["ca"],
        f"{prefix}TLS__CLIENT__CERT": files["cert"],
        f"{prefix}TLS__CLIENT__KEY": files["key"],
        f"{prefix}REQUIRE_ENCRYPTION": "True",
    }


@pytest.fixture
def dask_cluster(tmp_path) -> Iterator[dict]:
    """A scheduler and two workers (no nanny: killing one kills it for good), on localhost,
    each in a clone of its own, speaking TLS only, as docs/experiments.md starts them."""
    from distributed import Client
    from distributed.security import Security

    port = free_port()
    address = f"tls://127.0.0.1:{port}"
    dask = str(BIN / "dask")
    credentials = tls_files(tmp_path / "tls")
    tls = ["--protocol", "tls", *tls_options(credentials)]
    home = tmp_path / "scheduler"
    processes = [
        started(
            [dask, "scheduler", "--port", str(port), "--no-dashboard", *tls],
            home,
            tmp_path / "scheduler.log",
            clone_of_project(home),
        )
    ]
    workers = {}
    try:
        for name in ("worker-a", "worker-b"):
            home = tmp_path / name
            scratch = tmp_path / f"{name}-tmp"  # where its points' clones go
            scratch.mkdir()
            workers[name] = started(
                [dask, "worker", address, "--name", name, "--nthreads", "1", "--no-nanny", "--no-dashboard", *tls],
                home,
                tmp_path / f"{name}.log",
                {**clone_of_project(home), "TMPDIR": str(scratch)},
            )
            processes.append(workers[name])
        deadline = time.monotonic() + 60
        security = Security(
            tls_ca_file=credentials["ca"],
            tls_client_cert=credentials["cert"],
            tls_client_key=credentials["key"],
            require_encryption=True,
        )
        with Client(address, timeout="30s", security=security) as client:
            while len(client.scheduler_info()["workers"]) < 2:
                assert time.monotonic() < deadline, (tmp_path / "scheduler.log").read_text()
                time.sleep(0.5)
        yield {"address": address, "workers": workers, "env": {**os.environ, **tls_config(credentials)}}
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def command_line(process: psutil.Process) -> list[str]:
    # A child may exit, or linger as a zombie, between being listed and being read.
    try:
        return process.cmdline()
    except psutil.NoSuchProcess:  # ZombieProcess included
        return []


def running_a_stage(worker: subprocess.Popen) -> bool:
    """Whether one of the worker's points is running a stage that trains."""
    try:
        children = psutil.Process(worker.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return False
    return any(set(command_line(child)) & {"stages.train_cnn", "stages.train_head"} for child in children)


def processes_in(folder: Path) -> list[str]:
    """The command lines of the processes working in `folder` or below it."""
    found = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if Path(process.cwd()).is_relative_to(folder):
                found.append(" ".join(process.cmdline()))
    return found


def clones_in(folder: Path) -> list[Path]:
    return sorted(folder.glob("mnist-transfer-sweep-*"))


@contextlib.contextmanager
def served_counting_pushes(bare: Path, log: Path) -> Iterator[str]:
    """`bare` served by `git daemon` on localhost, its URL, with a hook that logs each ref every
    push updates, one line each: git's own receive-pack runs it, whoever pushes (a push to a
    path goes through DVC's Git library, which runs no hook)."""
    hook = bare / "hooks" / "update"
    hook.write_text(f'#!/bin/sh\necho "$1" >> {log}\n')
    hook.chmod(0o755)
    port = free_port()
    serving = ["--reuseaddr", "--export-all", "--enable=receive-pack", "--listen=127.0.0.1", f"--port={port}"]
    daemon = started(
        ["git", "daemon", *serving, f"--base-path={bare.parent}", str(bare.parent)],
        bare.parent,
        log.with_suffix(".daemon.log"),
    )
    url = f"git://127.0.0.1:{port}/{bare.name}"
    try:
        deadline = time.monotonic() + 30
        while subprocess.run(["git", "ls-remote", url], capture_output=True, check=False).returncode != 0:
            assert time.monotonic() < deadline, log.with_suffix(".daemon.log").read_text()
            time.sleep(0.2)
        yield url
    finally:
        daemon.terminate()
        daemon.wait(timeout=20)


def sweep_and_kill(repo: Path, cluster: dict, git_remote: str, tmp_path: Path) -> str:
    """A sweep of 4 seeds on `cluster`, one of whose workers is SIGKILLed while its point
    trains; its output, once it has checked that the dead worker left nothing behind."""
    args = ["--seeds", "range(0,4)", *QUICK, "--scheduler", cluster["address"], "--git-remote", git_remote]
    log = tmp_path / "sweep.log"
    process = started([sys.executable, "-m", "mnist_transfer.experiments.sweep", *args], repo, log, cluster["env"])
    victim = cluster["workers"]["worker-a"]
    deadline = time.monotonic() + 600
    while not running_a_stage(victim):
        assert process.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    os.kill(victim.pid, signal.SIGKILL)
    # The dead worker's point leaves no process (its training stage included) and no clone.
    scratch = tmp_path / "worker-a-tmp"
    deadline = time.monotonic() + 60
    while (processes_in(scratch) or clones_in(scratch)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert processes_in(scratch) == []
    assert clones_in(scratch) == []
    assert process.wait(timeout=1200) == 0, log.read_text()
    assert clones_in(tmp_path / "worker-b-tmp") == []
    return log.read_text()


def test_a_cluster_sweep_loses_one_task_to_a_killed_worker_and_pushes_every_experiment_once(
    pipeline_copy, dask_cluster, tmp_path
):
    origin = tmp_path / "shared.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    dvc(pipeline_copy, "remote", "add", "--default", "shared", str(tmp_path / "dvc-remote"))
    commit_all(pipeline_copy, "share the cache")
    dvc(pipeline_copy, "push", "--run-cache")
    git(pipeline_copy, "push", "-q", str(origin), "main")
    pushes = tmp_path / "pushed-refs.log"
    with served_counting_pushes(origin, pushes) as url:
        output = sweep_and_kill(pipeline_copy, dask_cluster, url, tmp_path)
    assert "sweep: 4 done, 0 failed" in output, output
    assert "extract_features ran 0 times" in output  # the features came from the DVC remote's run-cache
    # Each point's experiment reached the Git remote once, by the remote's own count.
    pushed = pushes.read_text().split()
    assert len(pushed) == 4 and len(set(pushed)) == 4, pushed
    assert finished_seeds(pipeline_copy) == [0, 1, 2, 3]  # pulled back by the sweep

    third = tmp_path / "third"
    git(tmp_path, "clone", "-q", str(origin), str(third))
    dvc(third, "exp", "pull", str(origin), "--all-commits")
    assert finished_seeds(third) == [0, 1, 2, 3]


def test_every_param_upstream_of_the_features_sends_a_sweeps_first_point_alone(monkeypatch):
    monkeypatch.chdir(ROOT)
    keys = sweep_module.feature_keys()
    assert {
        "data.source",
        "data.elsewhere",
        "data.strokes",
        "data.deslant",
        "data.train_limit",
        "backbone.layer",
    } <= keys
    assert not {"seed", "data.val_fraction", "epochs", "head.units", "adapt.digits"} & keys  # features belong to images
    for setting in ("data.strokes=mnist", "data.deslant=true", "backbone.layer=block4_pool", "data.train_limit=500"):
        assert sweep_module.needs_new_features([setting]), setting
