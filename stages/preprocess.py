"""preprocess: a stratified, seeded hold-out of the training images for validation (and,
for smoke runs, a stratified subset first), as data/prepared/{train,val,test}.npz."""

import numpy as np

from stages import atomic, params, paths
from stages.errors import InputError, run_stage


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


def main() -> None:
    p = params.load("preprocess")
    with np.load(paths.RAW) as raw:
        x_train, y_train, x_test, y_test = (raw[key] for key in ("x_train", "y_train", "x_test", "y_test"))
    train, val = split(y_train, p["data"]["val_fraction"], p["data"]["train_limit"], p["seed"])
    splits = {
        "train": (x_train[train], y_train[train]),
        "val": (x_train[val], y_train[val]),
        "test": (x_test, y_test),
    }
    with atomic.replacing(paths.PREPARED) as folder:
        folder.mkdir()
        for name, (images, labels) in splits.items():
            atomic.write_npz(folder / paths.prepared(name).name, {"images": images, "labels": labels})
    print("preprocess: " + ", ".join(f"{name} {len(labels)}" for name, (_, labels) in splits.items()))


if __name__ == "__main__":
    run_stage(main)
