"""Your own digits as the set from elsewhere (`data.elsewhere` a folder of images or a Kaggle
CSV): read and framed as `predict` reads them, labelled or not, refused in one line where
they cannot serve, adapted to without labels, and predicted by the adapted models."""

import json
import shutil
import subprocess
import sys
from io import StringIO

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mnist_transfer.core import paths
from mnist_transfer.core.errors import InputError
from mnist_transfer.data import elsewhere, framing
from mnist_transfer.nets import adaptation
from tests.conftest import dvc, set_params, stages_run
from tests.test_framing import as_users_send_it
from tests.test_predict import kaggle_csv

SCANS = 120


@pytest.fixture(scope="module")
def test_set(mnist_arrays) -> tuple[np.ndarray, np.ndarray]:
    return mnist_arrays["x_test"][:SCANS], mnist_arrays["y_test"][:SCANS]


def scans(folder, digits, labels=None):
    """`digits` as a user's photographed pages in `folder`, PNG and JPEG, some in a sub-folder;
    with `labels`, a labels.csv beside them."""
    rng = np.random.default_rng(0)
    names = [
        f"{'more/' if i % 3 == 0 else ''}digit-{i:03d}.{'jpg' if i % 4 == 0 else 'png'}" for i in range(len(digits))
    ]
    for name, digit in zip(names, digits, strict=True):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        as_users_send_it(digit, rng).save(folder / name, quality=95)
    if labels is not None:
        rows = "".join(f"{name},{label}\n" for name, label in zip(names, labels, strict=True))
        (folder / elsewhere.LABELS_FILE).write_text("file,label\n" + rows)
    return names


def test_a_labelled_folder_is_read_in_file_order_framed_as_predict_frames_it(tmp_path, test_set):
    digits, labels = test_set
    names = scans(tmp_path, digits[:12], labels[:12])
    framed, found, read_names, record = elsewhere.load(str(tmp_path), "kept", False)
    order = np.argsort([str(tmp_path / name) for name in names])
    assert read_names.tolist() == [str(tmp_path / names[i]) for i in order]
    assert found.tolist() == labels[:12][order].tolist()
    for name, digit in zip(read_names, framed, strict=True):
        with Image.open(name) as image:
            np.testing.assert_array_equal(digit, framing.frame_image(image))
    assert record["labelled"] and record["images"] == 12 and record["left_out"] == 0
    assert record["route"] == "folder" and sum(record["class_counts"]) == 12


def test_an_unlabelled_folder_has_no_labels_and_a_blank_page_is_left_out_in_one_line(tmp_path, test_set, capsys):
    scans(tmp_path, test_set[0][:5])
    Image.new("L", (60, 60), 255).save(tmp_path / "blank.png")
    framed, labels, names, record = elsewhere.load(str(tmp_path), "kept", False)
    assert len(framed) == 5 and labels.shape == (0,) and not record["labelled"] and record["left_out"] == 1
    assert str(tmp_path / "blank.png") not in names
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"data.elsewhere: {tmp_path / 'blank.png'} left out: no digit")


def test_a_kaggle_csv_brings_its_labels_and_one_without_brings_none(tmp_path, test_set):
    digits, labels = test_set
    _, found, names, record = elsewhere.load(str(kaggle_csv(tmp_path / "train.csv", digits[:7], labels[:7])))
    assert found.tolist() == labels[:7].tolist() and record["route"] == "Kaggle CSV"
    assert names[0] == f"{tmp_path / 'train.csv'} row 1"
    _, found, _, record = elsewhere.load(str(kaggle_csv(tmp_path / "test.csv", digits[:7])))
    assert found.shape == (0,) and not record["labelled"]


def refusal(folder) -> str:
    with pytest.raises(InputError) as refused:
        elsewhere.load(str(folder), "kept", False)
    return str(refused.value)


def test_what_cannot_serve_is_refused_in_one_line(tmp_path, test_set):
    digits, labels = test_set
    empty = tmp_path / "empty"
    empty.mkdir()
    assert (
        refusal(empty)
        == f"data.elsewhere {empty}: an empty folder; put images of digits in it (PNG, JPEG, ...) or a Kaggle digits CSV"
    )

    missing = tmp_path / "missing"
    missing.mkdir()
    scans(missing, digits[:3], labels[:3])
    with (missing / elsewhere.LABELS_FILE).open("a") as file:
        file.write("lost.png,4\n")
    assert refusal(missing) == f"{missing / elsewhere.LABELS_FILE} row 4: 'lost.png' is not a file in {missing}"

    some = tmp_path / "some"
    some.mkdir()
    names = scans(some, digits[:3], labels[:3])
    (some / elsewhere.LABELS_FILE).write_text(f"file,label\n{names[0]},{labels[0]}\n")
    assert "1 of its 3 digits are labelled" in refusal(some)

    wrong = tmp_path / "wrong"
    wrong.mkdir()
    names = scans(wrong, digits[:1])
    (wrong / elsewhere.LABELS_FILE).write_text(f"file,label\n{names[0]},seven\n")
    assert refusal(wrong) == f"{wrong / elsewhere.LABELS_FILE} row 1: label is 'seven', not a digit 0-9"

    unreadable = tmp_path / "unreadable"
    unreadable.mkdir()
    (unreadable / "notes.txt").write_text("not a digit")
    message = refusal(unreadable)
    assert message.startswith(f"data.elsewhere {unreadable}: none of its 1 inputs is a digit that can be read")
    assert "\n" not in message


@pytest.mark.parametrize(
    ("count", "labelled", "digits", "expected"),
    [
        (
            400,
            False,
            "first_half",
            "adapt.digits first_half cuts the digits from elsewhere into halves by their labels",
        ),
        (99, False, "all", "adapt.digits all adapts on 99 digits from elsewhere, under the 100 self-training needs"),
        (150, True, "first_half", "adapt.digits first_half adapts on 75 digits from elsewhere, under the 100"),
    ],
)
def test_adapting_on_what_cannot_serve_is_refused_before_any_training(
    tmp_path, monkeypatch, count, labelled, digits, expected
):
    monkeypatch.chdir(tmp_path)
    paths.RAW_ELSEWHERE.parent.mkdir(parents=True)
    labels = np.arange(count, dtype=np.uint8) % 10 if labelled else np.zeros(0, np.uint8)
    np.savez(paths.RAW_ELSEWHERE, x=np.zeros((count, 28, 28), np.uint8), y=labels)
    with pytest.raises(InputError, match=expected):
        adaptation.check_digits({"digits": digits})
    adaptation.check_digits({"digits": "none"})


@pytest.mark.reruns
def test_a_folder_of_your_digits_is_adapted_to_without_labels_and_predict_uses_the_adapted_models(
    pipeline, tmp_path, test_set
):
    repo = tmp_path / "repo"
    shutil.copytree(pipeline, repo, symlinks=True)
    folder = tmp_path / "my digits"
    folder.mkdir()
    scans(folder, test_set[0])
    set_params(repo, {"data.elsewhere": str(folder), "adapt.digits": "all", "adapt.rounds": 1})
    output = dvc(repo, "repro")
    assert {"fetch_mnist", "extract_elsewhere", "train_cnn", "train_head", "evaluate"} <= stages_run(output)
    assert "Stage 'extract_features' didn't change, skipping" in output
    assert f"digits from elsewhere ({folder}, without labels)" in output
    metrics = json.loads((repo / paths.METRICS).read_text())
    assert metrics["elsewhere"]["images"] == SCANS and 0 <= metrics["elsewhere"]["agreement"] <= 1
    table = pd.read_csv(repo / paths.ELSEWHERE_CSV)
    assert "actual" not in table.columns and len(table) == SCANS
    assert metrics["elsewhere"]["agreement"] == pytest.approx((table["cnn"] == table["transfer"]).mean(), abs=1e-4)
    for name in ("cnn", "transfer", "combined"):
        assert "elsewhere_accuracy" not in metrics[name]
        assert metrics[name]["elsewhere_sureness"] == pytest.approx(table[f"{name}_probability"].mean(), abs=1e-3)

    predicted = subprocess.run(
        [sys.executable, "-m", "mnist_transfer.commands.predict", str(folder), "--elsewhere"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    by_predict = pd.read_csv(StringIO(predicted.stdout)).set_index("file")
    by_evaluate = table.set_index("input")
    for name in ("cnn", "transfer"):
        assert by_predict.loc[by_evaluate.index, name].tolist() == by_evaluate[name].tolist()
