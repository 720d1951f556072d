"""train_head: the blog's dense head on the cached features (never the backbone), saved as
data/models/head.keras with its curves and its statistics for the digits from elsewhere."""

import json
import math

import numpy as np

from mnist_transfer.core import atomic, catalog, params, paths
from mnist_transfer.core.cost import Cost
from mnist_transfer.core.errors import InputError, run_stage

ADAPT_BATCH = 1024  # rows per step while the Normalization layer learns the features' statistics
# The first Dense layer's weights: with their gradients and RMSprop's state, about 3 GiB.
FIRST_LAYER_WEIGHTS_MAX = 2**28


def check_features_match(settings: dict, record: dict) -> None:
    """The backbone params still name the backbone that made the features (null resolved
    as extract_features resolves it; features made before backbones had names are VGG16's,
    before views, with none)."""
    wanted = catalog.resolved(settings)
    made_with = {"views": 0, **record}
    if "weights" not in record:
        made_with.update(name="vgg16", weights=record["name"])
    # Of what made the features (catalog.MADE_WITH), what train_head's params say: not how they are stored.
    for key in (key for key in catalog.MADE_WITH if key in wanted):
        made = made_with.get(key)
        if made != wanted[key]:
            raise InputError(
                f"{paths.FEATURES_WEIGHTS}: the features were made with backbone.{key} {made!r}, params.yaml "
                f"now says {wanted[key]!r}; run dvc repro (or python -m stages.extract_features) first"
            )


def check_head_fits(units: int, features_per_image: int) -> None:
    """The head's first layer, units x features weights, fits in memory."""
    weights = units * features_per_image
    if weights > FIRST_LAYER_WEIGHTS_MAX:
        raise InputError(
            f"params.yaml: head.units {units} on {features_per_image:,} features per image is {weights:,} weights, "
            f"over the {FIRST_LAYER_WEIGHTS_MAX:,} that fit in about 3 GiB with their optimizer state; "
            f"use head.units <= {FIRST_LAYER_WEIGHTS_MAX // features_per_image}, "
            "or features from a later layer or a smaller input_size"
        )


def main() -> None:
    cost = Cost("head")
    p = params.load("train_head")
    check_features_match(p["backbone"], json.loads(paths.FEATURES_WEIGHTS.read_text()))
    check_head_fits(p["head"]["units"], math.prod(np.load(paths.features("train"), mmap_mode="r").shape[1:]))
    # Only now, so that a bad param fails at once, in one line, before TensorFlow loads.
    from mnist_transfer.core import determinism, model_files, splits
    from mnist_transfer.nets import adaptation, models, training

    adaptation.check_digits(p["adapt"])
    determinism.make_deterministic(p["seed"])
    train, val = splits.load("train", "features"), splits.load("val", "features")
    head = p["head"]
    # Adapted batch by batch, as training reads them: the features never sit whole in memory.
    normalize_on = None
    if head["normalize"]:
        normalize_on = training.inputs_only(training.batches(*train, ADAPT_BATCH, shuffle=False))
    epochs = head["epochs"] or p["epochs"]  # null: as many as the CNN
    statistics = adaptation.statistics_for_elsewhere(p["adapt"], train[0])
    atomic.write_npz(paths.ELSEWHERE_STATISTICS, statistics)
    training.train(
        models.head(train[0].shape[1:], head["units"], head["dropout"], normalize_on),
        train,
        val,
        training.Recipe(epochs, head["batch_size"], head["learning_rate"], head["optimizer"]),
        model_path=paths.MODELS["transfer"],
        curves=paths.CURVES["transfer"],
        then=lambda model: adaptation.adapt(model, p["adapt"], "features", head["batch_size"], p["seed"], statistics),
    )
    # Read back as saved, so that the CNN co-trains with the head evaluate scores.
    trained = model_files.load(paths.MODELS["transfer"])
    atomic.write_npy(paths.HEAD_ON_ELSEWHERE, adaptation.head_on_elsewhere(trained, p["adapt"], statistics))
    cost.write(paths.HEAD_COST)


if __name__ == "__main__":
    run_stage(main)
