"""The images every model and the backbone see: all of MNIST's training images, or a
stratified subset of them chosen once (whatever the split), its test images, and the
digits from elsewhere (none when `data.elsewhere` is none), each with its label. Features
belong to these images, never to a split."""

import numpy as np

from mnist_transfer.core import paths
from mnist_transfer.core.errors import InputError

PARTS = ("train", "test", "elsewhere")
# The train_limit subset is drawn with its own fixed seed, so a new `seed` (a new split)
# leaves the images, and so the backbone's features, as they are.
SUBSET_SEED = 0


def stratified_sample(labels: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of `size` items in which every class keeps its share (largest
    remainders round the shares to whole items)."""
    classes, counts = np.unique(labels, return_counts=True)
    quotas = counts * size / len(labels)
    take = np.floor(quotas).astype(int)
    take[np.argsort(take - quotas, kind="stable")[: size - take.sum()]] += 1
    chosen = [rng.choice(np.flatnonzero(labels == c), k, replace=False) for c, k in zip(classes, take, strict=True)]
    return np.sort(np.concatenate(chosen))


def choose(labels: np.ndarray, train_limit: int) -> np.ndarray:
    """Indices of the training images kept: all of them (`train_limit` 0), or a stratified
    subset of `train_limit`, the same whatever the seed of the split."""
    if train_limit > len(labels):
        raise InputError(
            f"params.yaml: data.train_limit must be 0 or at most {len(labels)} (the training images), got {train_limit}"
        )
    if train_limit == 0:
        return np.arange(len(labels))
    return stratified_sample(labels, train_limit, np.random.default_rng(SUBSET_SEED))


def read(part: str) -> tuple[np.ndarray, np.ndarray]:
    """(images, labels) of `part`, one of PARTS."""
    with np.load(paths.IMAGES) as data:
        return data[f"x_{part}"], data[f"y_{part}"]


def labels(part: str) -> np.ndarray:
    with np.load(paths.IMAGES) as data:
        return data[f"y_{part}"]  # an .npz member is read only when asked for: no images
