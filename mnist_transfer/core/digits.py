"""What every model takes: raw 28x28 uint8 digits, as MNIST stores them."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras

SHAPE = (28, 28)


def keras_input() -> keras.KerasTensor:
    """Every model's input, raw digits; Keras loads only when a model is built."""
    import keras

    return keras.Input(SHAPE, dtype="uint8", name="digits")
