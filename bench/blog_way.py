"""The blog's way against ours, on a subset of the training images: the blog trains VGG16
(frozen) and the head as one model on images, so the backbone runs in every epoch; we
extract the features once and train the head on them. Both train through the stages' own
`training.fit`, with the same recipe."""

import keras
import numpy as np

from bench import extraction
from bench.timing import REPEATS, timed
from mnist_transfer.core import determinism, splits
from mnist_transfer.nets import models, training

IMAGES = 6000


def recipe(p: dict, epochs: int) -> training.Recipe:
    head = p["head"]
    return training.Recipe(epochs, head["batch_size"], head["learning_rate"], head["optimizer"])


def blog_way(images: np.ndarray, labels: np.ndarray, p: dict, epochs: int) -> float:
    determinism.make_deterministic(p["seed"])
    extractor, _ = extraction.extractor(p["backbone"])
    head = models.head(extractor.output_shape[1:], p["head"]["units"], p["head"]["dropout"])
    model = keras.Sequential([extractor, head])
    train, val = splits.split(labels, p["data"]["val_fraction"], p["seed"])
    return timed(
        lambda: training.fit(
            model, (images[train], labels[train]), (images[val], labels[val]), recipe(p, epochs), verbose=0
        )
    )


def our_way(images: np.ndarray, labels: np.ndarray, p: dict, epochs: int) -> tuple[float, float]:
    """Seconds to extract the features once, and to train the head on them."""
    determinism.make_deterministic(p["seed"])
    extractor, _ = extraction.extractor(p["backbone"])
    features = []
    extract = timed(
        lambda: features.append(extractor.predict(images, batch_size=p["backbone"]["batch_size"], verbose=0))
    )
    head = models.head(features[0].shape[1:], p["head"]["units"], p["head"]["dropout"])
    train, val = splits.split(labels, p["data"]["val_fraction"], p["seed"])
    x = features[0]
    fit = timed(
        lambda: training.fit(head, (x[train], labels[train]), (x[val], labels[val]), recipe(p, epochs), verbose=0)
    )
    return extract, fit


def rows(images: np.ndarray, labels: np.ndarray, p: dict) -> list[tuple[str, str]]:
    images, labels = images[:IMAGES], labels[:IMAGES]
    out, per_image, repeats = [], 1e3 / IMAGES, REPEATS - 1
    for epochs in (1, 3):
        blog = min(blog_way(images, labels, p, epochs) for _ in range(repeats))
        extract, fit = min((our_way(images, labels, p, epochs) for _ in range(repeats)), key=sum)
        out += [
            (
                f"the blog's way, {IMAGES} images, epochs {epochs}, best of {repeats}",
                f"{blog:.1f} s ({blog * per_image:.2f} ms/image)",
            ),
            (
                f"ours, epochs {epochs}: extract + train_head, best of {repeats}",
                f"{extract:.1f} s + {fit:.1f} s ({(extract + fit) * per_image:.2f} ms/image)",
            ),
            (f"speed-up, epochs {epochs}", f"{blog / (extract + fit):.1f}x"),
        ]
    out.append(("speed-up of a re-run with other epochs or head params (features cached)", f"{blog / fit:.0f}x"))
    return out
