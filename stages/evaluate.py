"""evaluate: both models on the 10,000 test images (the CNN from the images, the head from
the cached test features): Kaggle-format predictions, the data for the confusion
matrices, and metrics/evaluate.json with the blog's counts and where the data and weights
came from."""

import json

import numpy as np
import pandas as pd

from stages import atomic, models, paths
from stages.errors import run_stage

PREDICT_BATCH = 500
TOP_CONFUSIONS = 5


def model_metrics(labels: np.ndarray, predicted: np.ndarray, disagree: np.ndarray) -> dict:
    wrong = predicted != labels
    pairs, counts = np.unique(np.stack([labels[wrong], predicted[wrong]], axis=1), axis=0, return_counts=True)
    order = np.lexsort((pairs[:, 1], pairs[:, 0], -counts))[:TOP_CONFUSIONS]  # most frequent, then by digits
    return {
        "accuracy": round(float(1 - wrong.mean()), 6),
        "errors": int(wrong.sum()),
        "errors_where_disagree": int((wrong & disagree).sum()),
        "per_class": {str(d): round(float((predicted[labels == d] == d).mean()), 4) for d in np.unique(labels)},
        "confusions": {f"{pairs[i, 0]}->{pairs[i, 1]}": int(counts[i]) for i in order},
    }


def compare(labels: np.ndarray, cnn: np.ndarray, vgg16: np.ndarray) -> dict:
    """The blog's comparison: each model's errors, the disagreements, and how many of
    those each model got wrong."""
    disagree = cnn != vgg16
    return {
        "cnn": model_metrics(labels, cnn, disagree),
        "vgg16": model_metrics(labels, vgg16, disagree),
        "disagreements": int(disagree.sum()),
        "test_images": len(labels),
    }


def kaggle_csv(predicted: np.ndarray) -> str:
    return pd.DataFrame({"ImageId": np.arange(1, len(predicted) + 1), "Label": predicted}).to_csv(index=False)


def main() -> None:
    with np.load(paths.prepared("test")) as test:
        images, labels = test["images"], test["labels"]
    cnn = models.load(paths.CNN_MODEL).predict(images, batch_size=PREDICT_BATCH, verbose=0).argmax(axis=1)
    features = np.load(paths.features("test"))
    vgg16 = models.load(paths.HEAD_MODEL).predict(features, batch_size=PREDICT_BATCH, verbose=0).argmax(axis=1)

    comparison = pd.DataFrame({"ImageId": np.arange(1, len(labels) + 1), "actual": labels, "cnn": cnn, "vgg16": vgg16})
    with atomic.replacing(paths.PREDICTIONS) as folder:
        folder.mkdir()
        for name, predicted in (("cnn", cnn), ("vgg16", vgg16)):
            (folder / paths.PREDICTIONS_CSV[name].name).write_text(kaggle_csv(predicted))
        (folder / paths.COMPARISON_CSV.name).write_text(comparison.to_csv(index=False))

    metrics = compare(labels, cnn, vgg16)
    data = json.loads(paths.RAW_PROVENANCE.read_text())
    metrics["data"] = {"route": data["route"], "sha256": data["sha256"]}
    metrics["weights"] = json.loads(paths.FEATURES_WEIGHTS.read_text())
    atomic.write_json(paths.METRICS, metrics)
    for name in ("cnn", "vgg16"):
        m = metrics[name]
        print(f"{name}: accuracy {m['accuracy']:.2%}, {m['errors']} errors of {len(labels)}")
    print(f"disagreements: {metrics['disagreements']}")


if __name__ == "__main__":
    run_stage(main)
