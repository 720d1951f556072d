"""evaluate: both models on the 10,000 test images (the CNN from the images, the head from
the cached test features): Kaggle-format predictions, the data for the confusion
matrices, metrics/evaluate.json with the blog's counts and where the data and weights
came from, and metrics/per_class.json."""

import json

import numpy as np
import pandas as pd

from mnist_transfer import comparison, determinism, model_files, splits
from mnist_transfer.pipeline import atomic, paths
from mnist_transfer.pipeline.errors import run_stage

PREDICT_BATCH = 500


def kaggle_csv(predicted: np.ndarray) -> str:
    return pd.DataFrame({"ImageId": np.arange(1, len(predicted) + 1), "Label": predicted}).to_csv(index=False)


def predict(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Model `name`'s predicted labels on the test split, and the true labels."""
    inputs, labels = splits.load("test", splits.MODEL_INPUTS[name])
    probabilities = model_files.load(paths.MODELS[name]).predict(inputs, batch_size=PREDICT_BATCH, verbose=0)
    return probabilities.argmax(axis=1), labels


def main() -> None:
    determinism.make_deterministic()
    data = json.loads(paths.RAW_PROVENANCE.read_text())
    weights = json.loads(paths.FEATURES_WEIGHTS.read_text())
    predictions = {}
    for name in paths.MODELS:
        predictions[name], labels = predict(name)

    side_by_side = pd.DataFrame({"ImageId": np.arange(1, len(labels) + 1), "actual": labels, **predictions})
    with atomic.replacing(paths.PREDICTIONS) as folder:
        folder.mkdir()
        for name, predicted in predictions.items():
            (folder / paths.PREDICTIONS_CSV[name].name).write_text(kaggle_csv(predicted))
        (folder / paths.COMPARISON_CSV.name).write_text(side_by_side.to_csv(index=False))

    metrics = comparison.compare(labels, predictions)
    metrics["data"] = {"route": data["route"], "sha256": data["sha256"]}
    metrics["weights"] = weights
    atomic.write_json(paths.METRICS, metrics)
    atomic.write_json(paths.PER_CLASS_METRICS, {"per_class": comparison.per_class(labels, predictions)})
    for name in predictions:
        m = metrics[name]
        print(f"{name}: accuracy {m['accuracy']:.2%}, {m['errors']} errors of {len(labels)}")
    print(f"disagreements: {metrics['disagreements']}")


if __name__ == "__main__":
    run_stage(main)
