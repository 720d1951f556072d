"""How both models train: the kernel's recipe (RMSprop, ReduceLROnPlateau on validation
accuracy) on tf.data batches, and per-epoch curves logged by DVCLive."""

from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from dvclive import Live
from dvclive.keras import DVCLiveCallback

from mnist_transfer import models
from mnist_transfer.pipeline import atomic


def batches(inputs: np.ndarray, labels: np.ndarray, batch_size: int, *, shuffle: bool) -> tf.data.Dataset:
    """(inputs, labels) in batches; shuffled anew each epoch, in an order fixed by the seed."""
    dataset = tf.data.Dataset.from_tensor_slices((inputs, labels))
    if shuffle:
        dataset = dataset.shuffle(len(inputs), reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


@dataclass(frozen=True)
class Recipe:
    """How long and in what steps a model trains."""

    epochs: int
    batch_size: int
    learning_rate: float
    optimizer: str = "rmsprop"


def fit(
    model: keras.Model,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    recipe: Recipe,
    *,
    callbacks: tuple[keras.callbacks.Callback, ...] = (),
    verbose: str | int = "auto",
) -> None:
    """The kernel's recipe on (inputs, labels): RMSprop (or the recipe's optimizer), and
    the learning rate halved when validation accuracy stalls for 3 epochs."""
    models.compile_for_training(model, recipe.learning_rate, recipe.optimizer)
    reduce_lr = keras.callbacks.ReduceLROnPlateau(monitor="val_accuracy", patience=3, factor=0.5, min_lr=1e-5)
    model.fit(
        batches(*train, recipe.batch_size, shuffle=True),
        validation_data=batches(*val, recipe.batch_size, shuffle=False),
        epochs=recipe.epochs,
        shuffle=False,  # `batches` shuffles; Keras cannot shuffle a tf.data.Dataset
        callbacks=[reduce_lr, *callbacks],
        verbose=verbose,
    )


def train(
    model: keras.Model,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    recipe: Recipe,
    *,
    model_path: Path,
    curves: Path,
) -> None:
    """`fit`, with the curves logged into `curves`; then the model saved at `model_path`."""
    with atomic.replacing(curves) as partial_curves:
        live = Live(str(partial_curves), dvcyaml=False, save_dvc_exp=False)
        fit(model, train, val, recipe, callbacks=(DVCLiveCallback(live=live),))
        models.save(model, model_path)
    accuracy = live.summary["eval"]["accuracy"]
    print(f"{model.name}: validation accuracy {accuracy:.4f} after {recipe.epochs} epoch(s); saved {model_path}")
