"""evaluate: both models on the 10,000 test images (the CNN from the images, the head from
the cached test features): Kaggle-format predictions, the data for the confusion
matrices, and metrics/evaluate.json with the blog's counts and where the data and weights
came from."""

import json

import numpy as np
import pandas as pd

from stages import atomic, comparison, determinism, models, paths
from stages.errors import run_stage

PREDICT_BATCH = 500


def kaggle_csv(predicted: np.ndarray) -> str:
    return pd.DataFrame({"ImageId": np.arange(1, len(predicted) + 1), "Label": predicted}).to_csv(index=False)


def main() -> None:
    determinism.make_deterministic()
    with np.load(paths.prepared("test")) as test:
        images, labels = test["images"], test["labels"]
    data = json.loads(paths.RAW_PROVENANCE.read_text())
    weights = json.loads(paths.FEATURES_WEIGHTS.read_text())
    cnn = models.load(paths.CNN_MODEL).predict(images, batch_size=PREDICT_BATCH, verbose=0).argmax(axis=1)
    features = np.load(paths.features("test"))
    vgg16 = models.load(paths.HEAD_MODEL).predict(features, batch_size=PREDICT_BATCH, verbose=0).argmax(axis=1)

    side_by_side = pd.DataFrame(
        {"ImageId": np.arange(1, len(labels) + 1), "actual": labels, "cnn": cnn, "vgg16": vgg16}
    )
    with atomic.replacing(paths.PREDICTIONS) as folder:
        folder.mkdir()
        for name, predicted in (("cnn", cnn), ("vgg16", vgg16)):
            (folder / paths.PREDICTIONS_CSV[name].name).write_text(kaggle_csv(predicted))
        (folder / paths.COMPARISON_CSV.name).write_text(side_by_side.to_csv(index=False))

    metrics = comparison.compare(labels, cnn, vgg16)
    metrics["data"] = {"route": data["route"], "sha256": data["sha256"]}
    metrics["weights"] = weights
    atomic.write_json(paths.METRICS, metrics)
    for name in ("cnn", "vgg16"):
        m = metrics[name]
        print(f"{name}: accuracy {m['accuracy']:.2%}, {m['errors']} errors of {len(labels)}")
    print(f"disagreements: {metrics['disagreements']}")


if __name__ == "__main__":
    run_stage(main)
