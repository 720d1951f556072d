"""train_cnn: the Kaggle kernel's CNN on the prepared digits, saved as
data/models/cnn.keras (it takes raw uint8 digits), with its curves."""

import numpy as np

from stages import params, paths
from stages.errors import run_stage


def main() -> None:
    p = params.load("train_cnn")
    # Only now, so that a bad param fails at once, in one line, before TensorFlow loads.
    from stages import determinism, models, training

    determinism.make_deterministic(p["seed"])
    splits = {}
    for split in ("train", "val"):
        with np.load(paths.prepared(split)) as data:
            splits[split] = (data["images"], data["labels"])
    training.train(
        models.cnn(p["cnn"]["augment"]),
        splits["train"],
        splits["val"],
        training.Recipe(p["epochs"], p["cnn"]["batch_size"], p["cnn"]["learning_rate"]),
        model_path=paths.CNN_MODEL,
        curves=paths.CNN_CURVES,
    )


if __name__ == "__main__":
    run_stage(main)
