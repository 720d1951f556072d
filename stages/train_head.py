"""train_head: the blog's dense head on the cached backbone features (never on images,
never running VGG16), saved as data/models/head.keras, with its curves; then VGG16 whole,
the frozen backbone that made the features with the head on it, saved as
data/models/vgg16.keras, which takes raw digits as the CNN does."""

import json

from mnist_transfer.pipeline import params, paths
from mnist_transfer.pipeline.errors import InputError, run_stage

# What the features record of how they were made, and the params that must still say so.
FEATURES_MADE_WITH = ("weights", "layer", "input_size", "preprocess", "precision")
ADAPT_BATCH = 1024  # rows per step while the Normalization layer learns the features' statistics


def check_features_match(settings: dict, record: dict) -> None:
    """The backbone params still name the backbone that made the features."""
    for key in FEATURES_MADE_WITH:
        made = record["name"] if key == "weights" else record[key]
        if made != settings[key]:
            raise InputError(
                f"{paths.FEATURES_WEIGHTS}: the features were made with backbone.{key} {made!r}, params.yaml "
                f"now says {settings[key]!r}; run dvc repro (or python -m stages.extract_features) first"
            )


def main() -> None:
    p = params.load("train_head")
    record = json.loads(paths.FEATURES_WEIGHTS.read_text())
    check_features_match(p["backbone"], record)
    # Only now, so that a bad param fails at once, in one line, before TensorFlow loads.
    from mnist_transfer import backbone, determinism, models, splits, training
    from mnist_transfer.sources import vgg16_weights

    # The backbone's weights only, never run over images here; loaded first, so that the
    # seed set next drives the head alone.
    settings = p["backbone"]
    conv_base, weights = vgg16_weights.conv_base(settings["weights"], settings["input_size"])
    if weights["sha256"] != record["sha256"]:
        raise InputError(
            f"backbone.weights {settings['weights']!r}: their sha256 is {weights['sha256'][:12]} now, the features "
            f"were made with other weights; run dvc repro --force extract_features"
        )

    determinism.make_deterministic(p["seed"])
    train, val = splits.load("train", "features"), splits.load("val", "features")
    head = p["head"]
    # Adapted batch by batch, as training reads them: the features never sit whole in memory.
    normalize_on = None
    if head["normalize"]:
        normalize_on = training.inputs_only(training.batches(*train, ADAPT_BATCH, shuffle=False))
    epochs = head["epochs"] or p["epochs"]  # null: as many as the CNN
    head_model = models.head(train[0].shape[1:], head["units"], head["dropout"], normalize_on)
    training.train(
        head_model,
        train,
        val,
        training.Recipe(epochs, head["batch_size"], head["learning_rate"], head["optimizer"]),
        model_path=paths.MODELS["vgg16"],
        curves=paths.CURVES["vgg16"],
    )
    extractor = backbone.feature_extractor(conv_base, settings["preprocess"], settings["layer"], settings["precision"])
    models.save(models.vgg16(extractor, head_model), paths.CLASSIFIERS["vgg16"])
    print(f"train_head: VGG16 whole, backbone to {settings['layer']} and the head, saved {paths.CLASSIFIERS['vgg16']}")


if __name__ == "__main__":
    run_stage(main)
