"""What every model takes: raw 28x28 uint8 digits, as MNIST stores them."""

SHAPE = (28, 28)
