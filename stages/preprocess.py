"""preprocess: a stratified, seeded hold-out of the training images for validation (and,
for smoke runs, a stratified subset first), as data/prepared/{train,val,test}.npz."""

import numpy as np

from mnist_transfer import datasets
from mnist_transfer.pipeline import atomic, params, paths
from mnist_transfer.pipeline.errors import run_stage


def main() -> None:
    p = params.load("preprocess")
    with np.load(paths.RAW) as raw:
        x_train, y_train, x_test, y_test = (raw[key] for key in ("x_train", "y_train", "x_test", "y_test"))
    train, val = datasets.split(y_train, p["data"]["val_fraction"], p["data"]["train_limit"], p["seed"])
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
