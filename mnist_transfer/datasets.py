"""How the training images are split for validation, and how each split is read back, as
digits or as the backbone's features, with its labels."""

import numpy as np

from mnist_transfer.pipeline import paths
from mnist_transfer.pipeline.errors import InputError

# What each model takes: the CNN reads digits, VGG16's head the backbone's features.
MODEL_INPUTS = {"cnn": "images", "vgg16": "features"}


def stratified_sample(labels: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of `size` items in which every class keeps its share (largest
    remainders round the shares to whole items)."""
    classes, counts = np.unique(labels, return_counts=True)
    quotas = counts * size / len(labels)
    take = np.floor(quotas).astype(int)
    take[np.argsort(take - quotas, kind="stable")[: size - take.sum()]] += 1
    chosen = [rng.choice(np.flatnonzero(labels == c), k, replace=False) for c, k in zip(classes, take, strict=True)]
    return np.sort(np.concatenate(chosen))


def split(labels: np.ndarray, val_fraction: float, train_limit: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, val) into `labels`: disjoint, stratified, the same for the same seed."""
    if train_limit > len(labels):
        raise InputError(
            f"params.yaml: data.train_limit must be 0 or at most {len(labels)} (the training images), got {train_limit}"
        )
    rng = np.random.default_rng(seed)
    pool = np.arange(len(labels)) if train_limit == 0 else stratified_sample(labels, train_limit, rng)
    val_size = round(len(pool) * val_fraction)
    if not 0 < val_size < len(pool):
        raise InputError(
            f"params.yaml: data.val_fraction {val_fraction} of {len(pool)} training images leaves "
            f"{val_size} for validation and {len(pool) - val_size} for training; both must be at least 1"
        )
    val = pool[stratified_sample(labels[pool], val_size, rng)]
    return np.setdiff1d(pool, val), val


def labels(split: str) -> np.ndarray:
    with np.load(paths.prepared(split)) as data:
        return data["labels"]  # an .npz member is read only when asked for: no images


def load(split: str, inputs: str) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, labels) of `split`; `inputs` is "images" (uint8 digits) or "features"."""
    if inputs == "features":
        return np.load(paths.features(split)), labels(split)
    with np.load(paths.prepared(split)) as data:
        return data["images"], data["labels"]
