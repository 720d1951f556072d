"""What every model takes: raw 28x28 uint8 digits, as MNIST stores them."""

import keras

SHAPE = (28, 28)


def digits_input() -> keras.KerasTensor:
    return keras.Input(SHAPE, dtype="uint8", name="digits")
