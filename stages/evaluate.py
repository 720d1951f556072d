"""evaluate: both models on the 10,000 test images (the CNN from the images, the transfer
model's head from the cached test features): Kaggle-format predictions, the data for the
confusion matrices, metrics/evaluate.json with the blog's counts and where the data and
the backbone's weights came from, and metrics/per_class.json."""

import json

import numpy as np
import pandas as pd

from mnist_transfer import catalog, comparison, determinism, kaggle, model_files, splits
from mnist_transfer.pipeline import atomic, paths
from mnist_transfer.pipeline.errors import run_stage


def predict(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Model `name`'s predicted labels on the test split, and the true labels."""
    inputs, labels = splits.load("test", catalog.MODELS[name].inputs)
    model = model_files.load(paths.MODELS[name])
    return model.predict(inputs, batch_size=model_files.PREDICT_BATCH, verbose=0).argmax(axis=1), labels


def main() -> None:
    determinism.make_deterministic()
    data = json.loads(paths.RAW_PROVENANCE.read_text())
    backbone = json.loads(paths.FEATURES_WEIGHTS.read_text())
    predictions = {}
    for name in catalog.MODELS:
        predictions[name], labels = predict(name)

    image_ids = np.arange(1, len(labels) + 1)
    side_by_side = pd.DataFrame({"ImageId": image_ids, "actual": labels, **predictions})
    with atomic.replacing(paths.PREDICTIONS) as folder:
        folder.mkdir()
        for name, predicted in predictions.items():
            csv = folder / paths.predictions_csv(name, backbone["name"]).name
            csv.write_text(kaggle.submission(image_ids, predicted).to_csv(index=False))
        (folder / paths.COMPARISON_CSV.name).write_text(side_by_side.to_csv(index=False))

    metrics = comparison.compare(labels, predictions)
    metrics["data"] = {"route": data["route"], "sha256": data["sha256"]}
    # Not "backbone": `dvc exp show` would then prefix the params of the same names with their file.
    metrics["features"] = backbone
    atomic.write_json(paths.METRICS, metrics)
    atomic.write_json(paths.PER_CLASS_METRICS, {"per_class": comparison.per_class(labels, predictions)})
    for name in predictions:
        m = metrics[name]
        print(f"{name}: accuracy {m['accuracy']:.2%}, {m['errors']} errors of {len(labels)}")
    print(f"disagreements: {metrics['disagreements']}")


if __name__ == "__main__":
    run_stage(main)
