"""The images kept and the split: stratified, seeded, disjoint, of the right sizes; the
images never depend on the split's seed."""

import numpy as np
import pytest

from mnist_transfer.core.errors import InputError
from mnist_transfer.core.images import choose, stratified_sample
from mnist_transfer.core.splits import split


@pytest.fixture
def labels(mnist_arrays) -> np.ndarray:
    return mnist_arrays["y_train"]


def class_shares(labels: np.ndarray) -> np.ndarray:
    return np.bincount(labels, minlength=10) / len(labels)


def test_the_kernels_hold_out_is_a_tenth_disjoint_and_complete(labels):
    train, val = split(labels, 0.1, seed=2)
    assert (len(train), len(val)) == (54000, 6000)
    assert not set(train) & set(val)
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(60000))


def test_the_split_is_stratified(labels):
    train, val = split(labels, 0.1, seed=2)
    expected = np.bincount(labels, minlength=10) * 0.1
    assert np.all(np.abs(np.bincount(labels[val], minlength=10) - expected) <= 1)
    assert np.allclose(class_shares(labels[train]), class_shares(labels), atol=1e-4)


def test_the_same_seed_gives_the_same_split_and_another_seed_another(labels):
    first, second, other = (split(labels, 0.1, seed) for seed in (2, 2, 3))
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    assert not np.array_equal(first[1], other[1])


def test_train_limit_takes_a_stratified_subset_whatever_the_seed_then_the_hold_out(labels):
    kept = choose(labels, 1000)
    assert len(kept) == len(set(kept)) == 1000
    assert np.all(np.abs(np.bincount(labels[kept], minlength=10) - np.bincount(labels, minlength=10) / 60) <= 1)
    train, val = split(labels[kept], 0.1, seed=2)
    assert (len(train), len(val)) == (900, 100)
    assert not set(train) & set(val)
    assert np.all(np.bincount(labels[kept][val], minlength=10) >= 9)


def test_every_image_is_kept_without_a_train_limit(labels):
    assert np.array_equal(choose(labels, 0), np.arange(60000))


def test_stratified_sample_hits_the_exact_size_with_every_class_in_proportion():
    labels = np.repeat(np.arange(3), [50, 30, 20])
    chosen = stratified_sample(labels, 7, np.random.default_rng(0))
    assert len(chosen) == len(set(chosen)) == 7
    assert list(np.bincount(labels[chosen])) == [4, 2, 1]  # 3.5, 2.1, 1.4 by largest remainders
    assert np.array_equal(chosen, np.sort(chosen))


def test_a_train_limit_larger_than_the_data_is_refused(labels):
    with pytest.raises(
        InputError,
        match=r"^params.yaml: data.train_limit must be 0 or at most 60000 \(the training images\), got 70000$",
    ):
        choose(labels, 70000)


def test_a_hold_out_that_leaves_a_split_empty_is_refused(labels):
    with pytest.raises(InputError, match=r"data.val_fraction 0.1 of 4 training images leaves 0 for validation"):
        split(labels[:4], 0.1, seed=2)
