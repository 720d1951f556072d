"""Shared fixtures: real MNIST digits, small enough data sets, and copies of the project
in temporary git repositories where the real DVC pipeline runs."""

import gzip
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml
from filelock import FileLock

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# The tests never reach the network: Keras' downloads go to a closed local port and its
# cache is an empty folder, so every stage takes the packaged copies, as offline.
OFFLINE = {
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "NO_PROXY": "",
    "no_proxy": "",
}
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}
# Small enough to run the whole pipeline in about a minute on 2 cores. Three epochs, not
# one: after one epoch on 900 images the test accuracy is a coin toss between CPUs (seeds
# 0-9 gave the CNN 0.34-0.70 here, and seed 2 gave 0.40 here and 0.23 on an AVX2 AMD);
# after three it is settled (CNN 0.83-0.89, VGG16 + head 0.66-0.78, seeds 0-9).
SMALL_TRAIN, SMALL_TEST = 1000, 500
# Without the 2,000 digits from elsewhere, which would more than double every extraction on the
# small set; the tests of them run on a pipeline of their own (`pipeline_elsewhere`).
SMALL_PARAMS = {"data.source": "small-mnist.npz", "backbone.input_size": 32, "epochs": 3, "data.elsewhere": "none"}


# Tests that run the pipeline again, or sweep over it, beyond the one reproduced run that
# `pipeline` gives every test to read: most of the suite's time. `-m "not reruns"` leaves them
# out; .ci/run does on its second Python, where the rest still runs every stage once.
RERUNNING_FIXTURES = {"pipeline_copy", "pipeline_elsewhere", "dask_cluster", "ssh_server"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if RERUNNING_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.reruns)


@pytest.fixture(scope="session", autouse=True)
def offline_environment(tmp_path_factory):
    saved = os.environ.copy()
    os.environ.update(OFFLINE)
    os.environ.update(GIT_IDENTITY)
    os.environ["KERAS_HOME"] = str(tmp_path_factory.mktemp("keras-home"))
    os.environ["PATH"] = f"{BIN}{os.pathsep}{os.environ['PATH']}"
    os.environ["DVC_NO_ANALYTICS"] = "1"
    yield
    os.environ.clear()
    os.environ.update(saved)


def system_file(path: Path, package: str) -> Path:
    """A file that a Debian package installs (`.ci/run` installs it where missing): a test
    that needs it is skipped without it, except in CI, where it fails."""
    if not path.exists():
        message = f"{path} is missing; apt-get install {package}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def run(args: list[str], cwd: Path, *, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
    """A command in `cwd`, its stdout and stderr captured together."""
    result = subprocess.run(
        args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {result.returncode}:\n{result.stdout[-6000:]}")
    return result


def dvc(repo: Path, *args: str, check: bool = True) -> str:
    return run([sys.executable, "-m", "dvc", *args], repo, check=check).stdout


def git(repo: Path, *args: str) -> str:
    return run(["git", *args], repo).stdout


def stage(repo: Path, name: str) -> subprocess.CompletedProcess:
    """One stage run as a user runs it, `python -m stages.<name>`, without DVC."""
    return subprocess.run(
        [sys.executable, "-m", f"stages.{name}"], cwd=repo, capture_output=True, text=True, timeout=900, check=False
    )


def stages_run(output: str) -> set[str]:
    """The stages that a `dvc repro` or `dvc exp run` output says it ran."""
    return {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage '")}


def set_params(repo: Path, changes: dict[str, object]) -> None:
    """Set dotted keys of the repo's params.yaml."""
    from mnist_transfer.core import params

    path = repo / "params.yaml"
    values = yaml.safe_load(path.read_text())
    for key, value in changes.items():
        params.set_dotted(values, key, value)
    path.write_text(yaml.safe_dump(values, sort_keys=False))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree_digest(path: Path) -> dict[str, str]:
    """sha256 of every file under `path` (or of `path` itself), by relative name."""
    if path.is_file():
        return {path.name: sha256(path)}
    return {str(p.relative_to(path)): sha256(p) for p in sorted(path.rglob("*")) if p.is_file()}


def copy_project(dest: Path) -> Path:
    """The project's files (as git sees them, committed or not) in a new git repository."""
    listed = run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], ROOT).stdout.split()
    for name in listed:
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    git(dest, "init", "-q", "-b", "main")
    return dest


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


@pytest.fixture(scope="session")
def mnist_arrays() -> dict[str, np.ndarray]:
    """The real MNIST, through the packaged copy."""
    from mnist_transfer.data import mnist

    return mnist.packaged_arrays()


@pytest.fixture(scope="session")
def small_mnist(mnist_arrays, tmp_path_factory) -> Path:
    """Real digits, few of them: the first images of MNIST's training and test sets."""
    path = tmp_path_factory.mktemp("small") / "small-mnist.npz"
    from mnist_transfer.core import atomic

    atomic.write_npz(
        path,
        {
            "x_train": mnist_arrays["x_train"][:SMALL_TRAIN],
            "y_train": mnist_arrays["y_train"][:SMALL_TRAIN],
            "x_test": mnist_arrays["x_test"][:SMALL_TEST],
            "y_test": mnist_arrays["y_test"][:SMALL_TEST],
        },
    )
    return path


def tiny_arrays(n_train: int = 30, n_test: int = 10) -> dict[str, np.ndarray]:
    """Random digits in MNIST's format, every class present."""
    rng = np.random.default_rng(0)
    return {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": (np.arange(n_train) % 10).astype(np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": (np.arange(n_test) % 10).astype(np.uint8),
    }


def write_idx_folder(folder: Path, arrays: dict[str, np.ndarray], *, gzipped: bool) -> None:
    """The four IDX files of `arrays`, as MNIST ships them."""
    from mnist_transfer.data import mnist

    folder.mkdir()
    for key, name in mnist.IDX_FILES.items():
        array = arrays[key]
        data = bytes([0, 0, 0x08, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape) + array.tobytes()
        if gzipped:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data, mtime=0))
        else:
            (folder / name).write_bytes(data)


def new_project(dest: Path, small_mnist: Path, **changes: object) -> Path:
    """A committed copy of the project that runs on the small data set."""
    copy_project(dest)
    shutil.copy(small_mnist, dest / "small-mnist.npz")
    set_params(dest, {**SMALL_PARAMS, **changes})
    commit_all(dest, "project on small data")
    return dest


def built_once(tmp_path_factory, name: str, build: Callable[[Path], None]) -> Path:
    """A folder that `build` fills, built once for the whole run: under pytest-xdist the first
    worker to ask builds it while the others wait, and each worker gets a copy of its own, as
    if it had built it itself."""
    own = tmp_path_factory.mktemp(name)
    if "PYTEST_XDIST_WORKER" not in os.environ:
        build(own)
        return own
    shared = tmp_path_factory.getbasetemp().parent  # this run's, the same for every worker
    built, done = shared / f"{name}-built", shared / f"{name}-built.done"
    with FileLock(shared / f"{name}-built.lock"):
        if not done.exists():
            shutil.rmtree(built, ignore_errors=True)
            built.mkdir()
            build(built)
            done.touch()
    shutil.copytree(built, own, symlinks=True, dirs_exist_ok=True)
    return own


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory, small_mnist) -> Path:
    """The whole pipeline, reproduced once on the small data set and committed. Tests
    that change it work on a copy (`pipeline_copy`)."""

    def build(repo: Path) -> None:
        new_project(repo, small_mnist)
        dvc(repo, "repro")
        commit_all(repo, "dvc repro")

    return built_once(tmp_path_factory, "pipeline", build)


@pytest.fixture(scope="session")
def pipeline_elsewhere(tmp_path_factory, small_mnist) -> Path:
    """The pipeline reproduced once on the small data set with the digits from elsewhere."""

    def build(repo: Path) -> None:
        new_project(repo, small_mnist, **{"data.elsewhere": "mfeat-pix"})
        dvc(repo, "repro")

    return built_once(tmp_path_factory, "elsewhere", build)


@pytest.fixture
def pipeline_copy(pipeline, tmp_path) -> Path:
    """A copy of the reproduced pipeline, git history and DVC cache included."""
    dest = tmp_path / "repo"
    shutil.copytree(pipeline, dest, symlinks=True)
    return dest
