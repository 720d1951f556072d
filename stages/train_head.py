"""train_head: the blog's dense head on the cached backbone features (never on images,
never running VGG16), saved as data/models/head.keras, with its curves."""

from mnist_transfer.pipeline import params, paths
from mnist_transfer.pipeline.errors import run_stage


def main() -> None:
    p = params.load("train_head")
    # Only now, so that a bad param fails at once, in one line, before TensorFlow loads.
    from mnist_transfer import determinism, models, splits, training

    determinism.make_deterministic(p["seed"])
    train, val = splits.load("train", "features"), splits.load("val", "features")
    head = p["head"]
    normalize_on = train[0] if head["normalize"] else None
    epochs = head["epochs"] or p["epochs"]  # null: as many as the CNN
    training.train(
        models.head(train[0].shape[1:], head["units"], head["dropout"], normalize_on),
        train,
        val,
        training.Recipe(epochs, head["batch_size"], head["learning_rate"], head["optimizer"]),
        model_path=paths.MODELS["vgg16"],
        curves=paths.CURVES["vgg16"],
    )


if __name__ == "__main__":
    run_stage(main)
