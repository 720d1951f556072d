"""How both models train: the kernel's recipe (RMSprop, ReduceLROnPlateau on validation
accuracy) on tf.data batches, and curves logged by DVCLive: per epoch, and every few
batches within it, so that a one-epoch run draws a learning curve too."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from dvclive import Live
from dvclive.keras import DVCLiveCallback

from mnist_transfer.core import atomic, model_files
from mnist_transfer.core.splits import Rows, Versions
from mnist_transfer.nets import models

Inputs = np.ndarray | Rows
# Points per epoch of the within-epoch curves (fewer where an epoch has fewer batches).
POINTS_PER_EPOCH = 20
# Where, inside a model's curves folder, the within-epoch curves are logged.
STEPS = "steps"


def batches(inputs: Inputs, labels: np.ndarray, batch_size: int, *, shuffle: bool) -> tf.data.Dataset:
    """(inputs, labels) in batches; shuffled anew each epoch, in an order fixed by the seed.
    Each batch's rows are read only when it is needed, so that memory holds a few batches
    rather than a copy of `inputs`; floats arrive as float32, whatever they are stored as.
    Shuffled `Versions` give each row as one of its versions, drawn anew each epoch."""
    dtype = np.dtype("float32") if np.issubdtype(inputs.dtype, np.floating) else inputs.dtype
    versions = inputs.versions if shuffle and isinstance(inputs, Versions) else 1

    def take(rows: np.ndarray, drawn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = inputs.read(rows, drawn) if versions > 1 else inputs[rows]
        return np.asarray(x, dtype=dtype), labels[rows]

    def read(rows: tf.Tensor, drawn: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        x, y = tf.numpy_function(take, [rows, drawn], (tf.as_dtype(dtype), tf.as_dtype(labels.dtype)), stateful=False)
        return tf.ensure_shape(x, (None, *inputs.shape[1:])), tf.ensure_shape(y, (None,))

    order = tf.data.Dataset.range(len(inputs))
    if shuffle:
        order = order.shuffle(len(inputs), reshuffle_each_iteration=True)
    if versions > 1:
        drawn = tf.data.Dataset.random(rerandomize_each_iteration=True).map(lambda value: value % versions)
    else:
        drawn = tf.data.Dataset.from_tensors(tf.constant(0, tf.int64)).repeat()
    return tf.data.Dataset.zip(order, drawn).batch(batch_size).map(read).prefetch(tf.data.AUTOTUNE)


def inputs_only(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """The inputs of (inputs, labels) batches: what a Normalization layer adapts on."""
    return dataset.map(lambda x, _: x)


@dataclass(frozen=True)
class Recipe:
    """How long and in what steps a model trains."""

    epochs: int
    batch_size: int
    learning_rate: float
    optimizer: str = "rmsprop"


def fit(
    model: keras.Model,
    train: tuple[Inputs, np.ndarray],
    val: tuple[Inputs, np.ndarray],
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


class StepCurves(keras.callbacks.Callback):
    """Training loss and accuracy (Keras' running means over the epoch so far) logged about
    `points_per_epoch` times an epoch, DVCLive's step counting the batches trained on."""

    def __init__(self, live: Live, points_per_epoch: int = POINTS_PER_EPOCH) -> None:
        super().__init__()
        self.live = live
        self.points_per_epoch = points_per_epoch
        self.batches = 0

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.every = max(1, self.params["steps"] // self.points_per_epoch)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.batches += 1
        if (batch + 1) % self.every == 0:
            self.live.step = self.batches
            for name in ("loss", "accuracy"):
                self.live.log_metric(f"train/{name}", float(logs[name]))

    def on_train_end(self, logs: dict | None = None) -> None:
        self.live.make_summary()


def train(
    model: keras.Model,
    train: tuple[Inputs, np.ndarray],
    val: tuple[Inputs, np.ndarray],
    recipe: Recipe,
    *,
    model_path: Path,
    curves: Path,
    then: Callable[[keras.Model], None] | None = None,
) -> None:
    """`fit`, with the curves logged into `curves`; then `then` (adaptation) on the model,
    if given; then the model saved at `model_path`."""
    with atomic.replacing(curves) as partial_curves:
        live = Live(str(partial_curves), dvcyaml=False, save_dvc_exp=False)
        within_epochs = Live(str(partial_curves / STEPS), dvcyaml=False, save_dvc_exp=False)
        fit(model, train, val, recipe, callbacks=(StepCurves(within_epochs), DVCLiveCallback(live=live)))
        if then:
            then(model)
        model_files.save(model, model_path)
    accuracy = live.summary["eval"]["accuracy"]
    print(f"{model.name}: validation accuracy {accuracy:.4f} after {recipe.epochs} epoch(s); saved {model_path}")
