"""Every model the pipeline builds, in one place, each taking what the stage before it
writes: raw uint8 28x28 digits, or the backbone's features."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import keras
import numpy as np
from keras import layers

from mnist_transfer.core import augmentation, catalog, digits

if TYPE_CHECKING:
    import tensorflow as tf

CLASSES = 10


@contextlib.contextmanager
def computing_in(precision: str) -> Iterator[None]:
    """Layers built inside compute in `precision` (float32 or bfloat16; weights float32)."""
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy(catalog.KERAS_POLICIES[precision])
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)


def cnn(
    augment: bool,
    stroke: bool = False,
    blur: bool = False,
    stretch: bool = False,
    elastic: bool = False,
    stroke_reach: int = 1,
    precision: str = "float32",
) -> keras.Model:
    """The Kaggle kernel's CNN: [[Conv2D->relu]*2 -> MaxPool2D -> Dropout]*2 -> Flatten ->
    Dense -> Dropout -> Out, taking raw digits. `augment` adds the kernel's augmentation,
    `stroke` and `blur` a random stroke width (edges moved up to `stroke_reach` pixels) and
    blur, `stretch` and `elastic` a random width and an elastic distortion; Keras applies
    them in training only. Its layers from the first convolution on compute in `precision`;
    the probabilities come out in float32."""
    raw = digits.keras_input()
    x = layers.Rescaling(1 / 255)(raw)
    x = layers.Reshape((*digits.SHAPE, 1))(x)
    chosen = augmentation.augmenting(
        geometry=augment, stroke=stroke, blur=blur, stretch=stretch, elastic=elastic, stroke_reach=stroke_reach
    )
    for augment_layer in chosen:
        x = augment_layer(x)
    with computing_in(precision):
        for filters, kernel in ((32, 5), (64, 3)):
            x = layers.Conv2D(filters, kernel, padding="same", activation="relu")(x)
            x = layers.Conv2D(filters, kernel, padding="same", activation="relu")(x)
            x = layers.MaxPool2D(2, strides=2)(x)
            x = layers.Dropout(0.25)(x)
        x = layers.Flatten()(x)
        x = layers.Dense(256, activation="relu")(x)
        x = layers.Dropout(0.5)(x)
    # Softmax and the loss in float32, as Keras' mixed-precision guide advises.
    return keras.Model(raw, layers.Dense(CLASSES, activation="softmax", dtype="float32")(x), name="cnn")


def head(
    feature_shape: tuple[int, ...],
    units: int,
    dropout: float,
    normalize_on: np.ndarray | tf.data.Dataset | None = None,
) -> keras.Model:
    """The blog's head on the frozen backbone: Flatten -> Dense(relu) -> Dropout -> Out;
    with `normalize_on` (training features, as an array or in batches), a Normalization
    layer first, adapted per channel on them and saved inside the model."""
    features = keras.Input(feature_shape, name="features")
    x = features
    if normalize_on is not None:
        normalization = layers.Normalization(axis=-1, name="normalize_features")
        normalization.adapt(normalize_on)
        x = normalization(x)
    x = layers.Flatten()(x)
    x = layers.Dense(units, activation="relu")(x)
    x = layers.Dropout(dropout)(x)
    return keras.Model(features, layers.Dense(CLASSES, activation="softmax")(x), name="head")


OPTIMIZERS = {
    # The kernel's.
    "rmsprop": lambda learning_rate: keras.optimizers.RMSprop(learning_rate=learning_rate, rho=0.9, epsilon=1e-8),
    # Keras' defaults.
    "adam": lambda learning_rate: keras.optimizers.Adam(learning_rate=learning_rate),
}


def compile_for_training(model: keras.Model, learning_rate: float, optimizer: str = "rmsprop") -> None:
    """The kernel's recipe (RMSprop, or another of OPTIMIZERS) and categorical
    cross-entropy (on integer labels)."""
    model.compile(
        optimizer=OPTIMIZERS[optimizer](float(learning_rate)),  # Keras refuses a whole number, as YAML reads `1`
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
