"""train_cnn: the Kaggle kernel's CNN on the prepared digits, saved as
data/models/cnn.keras (it takes raw uint8 digits), with its curves."""

from mnist_transfer.core import params, paths
from mnist_transfer.core.errors import run_stage


def main() -> None:
    p = params.load("train_cnn")
    # Only now, so that a bad param fails at once, in one line, before TensorFlow loads.
    from mnist_transfer.core import determinism, splits
    from mnist_transfer.nets import models, training

    determinism.make_deterministic(p["seed"])
    training.train(
        models.cnn(p["cnn"]["augment"], p["cnn"]["stroke"], p["cnn"]["blur"]),
        splits.load("train", "images"),
        splits.load("val", "images"),
        training.Recipe(p["epochs"], p["cnn"]["batch_size"], p["cnn"]["learning_rate"]),
        model_path=paths.MODELS["cnn"],
        curves=paths.CURVES["cnn"],
    )


if __name__ == "__main__":
    run_stage(main)
