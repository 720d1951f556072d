"""train_head: the blog's dense head on the cached backbone features (never on images,
never running VGG16), saved as data/models/head.keras, with its curves."""

import numpy as np

from stages import params, paths
from stages.errors import run_stage


def main() -> None:
    p = params.load("train_head")
    # Only now, so that a bad param fails at once, in one line, before TensorFlow loads.
    from stages import determinism, models, training

    determinism.make_deterministic(p["seed"])
    splits = {}
    for split in ("train", "val"):
        with np.load(paths.prepared(split)) as data:
            labels = data["labels"]  # an .npz member is read only when asked for: no images
        splits[split] = (np.load(paths.features(split)), labels)
    head = p["head"]
    training.train(
        models.head(splits["train"][0].shape[1:], head["units"], head["dropout"]),
        splits["train"],
        splits["val"],
        training.Recipe(p["epochs"], head["batch_size"], head["learning_rate"]),
        model_path=paths.HEAD_MODEL,
        curves=paths.HEAD_CURVES,
    )


if __name__ == "__main__":
    run_stage(main)
