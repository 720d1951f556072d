"""The images every model and the backbone see: all of MNIST's training images, or a
stratified subset of them chosen once (whatever the split), and its test images, in
data/prepared/images.npz; and the digits from elsewhere as fetch_mnist framed them (none
when `data.elsewhere` is none), in data/raw/elsewhere.npz, so that reframing them leaves
MNIST's images, and their features, as they are. Features belong to images, never to a split."""

from pathlib import Path

import numpy as np

from mnist_transfer.core import paths
from mnist_transfer.core.errors import InputError

MNIST_PARTS = ("train", "test")  # in data/prepared/images.npz
PARTS = (*MNIST_PARTS, "elsewhere")
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


def _file_and_keys(part: str) -> tuple[Path, str, str]:
    if part == "elsewhere":
        return paths.RAW_ELSEWHERE, "x", "y"
    return paths.IMAGES, f"x_{part}", f"y_{part}"


def read(part: str) -> tuple[np.ndarray, np.ndarray]:
    """(images, labels) of `part`, one of PARTS."""
    path, x, y = _file_and_keys(part)
    with np.load(path) as data:
        return data[x], data[y]


def labels(part: str) -> np.ndarray:
    path, _, y = _file_and_keys(part)
    with np.load(path) as data:
        return data[y]  # an .npz member is read only when asked for: no images
