"""The blog's comparison of two models' predictions on the same test images: each one's
errors, the images where they disagree, and how many of those each got wrong."""

import numpy as np
import pandas as pd

TOP_CONFUSIONS = 5


def disagreements(labels: np.ndarray, cnn: np.ndarray, vgg16: np.ndarray) -> pd.DataFrame:
    """One row per test image where the models disagree: index (from 0), label, both predictions."""
    index = np.flatnonzero(cnn != vgg16)
    return pd.DataFrame({"index": index, "label": labels[index], "cnn": cnn[index], "vgg16": vgg16[index]})


def wrong_among(rows: pd.DataFrame, model: str) -> int:
    """How many of the disagreements `model` got wrong: the blog's err_CNN and err_VGG16."""
    return int((rows[model] != rows["label"]).sum())


def model_metrics(labels: np.ndarray, predicted: np.ndarray, errors_where_disagree: int) -> dict:
    wrong = predicted != labels
    pairs, counts = np.unique(np.stack([labels[wrong], predicted[wrong]], axis=1), axis=0, return_counts=True)
    order = np.lexsort((pairs[:, 1], pairs[:, 0], -counts))[:TOP_CONFUSIONS]  # most frequent, then by digits
    return {
        "accuracy": round(float(1 - wrong.mean()), 6),
        "errors": int(wrong.sum()),
        "errors_where_disagree": errors_where_disagree,
        "per_class": {str(d): round(float((predicted[labels == d] == d).mean()), 4) for d in np.unique(labels)},
        "confusions": {f"{pairs[i, 0]}->{pairs[i, 1]}": int(counts[i]) for i in order},
    }


def compare(labels: np.ndarray, cnn: np.ndarray, vgg16: np.ndarray) -> dict:
    rows = disagreements(labels, cnn, vgg16)
    return {
        "cnn": model_metrics(labels, cnn, wrong_among(rows, "cnn")),
        "vgg16": model_metrics(labels, vgg16, wrong_among(rows, "vgg16")),
        "disagreements": len(rows),
        "test_images": len(labels),
    }
