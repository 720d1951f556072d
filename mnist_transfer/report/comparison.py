"""The blog's comparison of models' predictions on the same test images: each one's
errors, the images where they disagree, and how many of those each got wrong. Models
come as name -> predicted labels, in the order they are named everywhere."""

from collections.abc import Iterable

import numpy as np
import pandas as pd

from mnist_transfer.report import metrics

Predictions = dict[str, np.ndarray]


def disagreements(labels: np.ndarray, predictions: Predictions) -> pd.DataFrame:
    """One row per test image where the models disagree: index (from 0), label, and each
    model's prediction in a column named after it."""
    stacked = np.stack(list(predictions.values()))
    index = np.flatnonzero((stacked != stacked[0]).any(axis=0))
    return pd.DataFrame({"index": index, "label": labels[index], **{n: p[index] for n, p in predictions.items()}})


def wrong_among(rows: pd.DataFrame, model: str) -> int:
    """How many of the disagreements `model` got wrong: the blog's err_CNN and err_VGG16."""
    return int((rows[model] != rows["label"]).sum())


def scores(labels: np.ndarray, predicted: np.ndarray) -> dict:
    """Accuracy and errors of one model's predictions."""
    wrong = predicted != labels
    return {metrics.ACCURACY: round(float(1 - wrong.mean()), 6), metrics.ERRORS: int(wrong.sum())}


def compare(labels: np.ndarray, predictions: Predictions) -> dict:
    """The headline, for `dvc metrics diff` to read at a glance."""
    rows = disagreements(labels, predictions)
    each = {
        name: {**scores(labels, predicted), metrics.ERRORS_WHERE_DISAGREE: wrong_among(rows, name)}
        for name, predicted in predictions.items()
    }
    return {**each, metrics.DISAGREEMENTS: len(rows), metrics.TEST_IMAGES: len(labels)}


def combined_probabilities(probabilities: Iterable[np.ndarray]) -> np.ndarray:
    """The two combined: the mean of the models' probabilities."""
    return np.mean(list(probabilities), axis=0)


def combine(probabilities: Iterable[np.ndarray]) -> np.ndarray:
    """The labels that the mean of the models' probabilities gives."""
    return combined_probabilities(probabilities).argmax(axis=1)


def predicted(found: dict[str, np.ndarray]) -> Predictions:
    """Each model's labels from its probabilities, and those of the two combined."""
    return {
        **{name: p.argmax(axis=1) for name, p in found.items()},
        metrics.COMBINED: combine(found.values()),
    }


def per_class(labels: np.ndarray, predictions: Predictions) -> dict:
    """Each model's accuracy on each digit."""
    return {
        name: {str(d): round(float((predicted[labels == d] == d).mean()), 4) for d in np.unique(labels)}
        for name, predicted in predictions.items()
    }
