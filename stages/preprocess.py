"""preprocess: MNIST's images (all training images, or a stratified `data.train_limit` subset
chosen once, and the test images) as data/prepared/images.npz,
the same bytes whatever the split; and the split, a stratified, seeded hold-out of `data.val_fraction` of the training
images for validation, as data/prepared/split.npz."""

import numpy as np

from mnist_transfer.core import atomic, images, params, paths, splits
from mnist_transfer.core.errors import run_stage


def main() -> None:
    p = params.load("preprocess")
    with np.load(paths.RAW) as raw:
        arrays = {key: raw[key] for key in raw.files}
    kept = images.choose(arrays["y_train"], p["data"]["train_limit"])
    arrays["x_train"], arrays["y_train"] = arrays["x_train"][kept], arrays["y_train"][kept]
    train, val = splits.split(arrays["y_train"], p["data"]["val_fraction"], p["seed"])
    atomic.write_npz(paths.IMAGES, arrays)
    atomic.write_npz(paths.SPLIT, {"train": train, "val": val})
    print(f"preprocess: {len(kept)} training images ({len(train)} train, {len(val)} val), {len(arrays['y_test'])} test")


if __name__ == "__main__":
    run_stage(main)
