"""What a handwritten digit may look like that MNIST's do not, as Keras layers that act in
training only: the kernel's geometry (rotation, zoom, shifts), and what other scans and
photos add, a bolder or thinner stroke and blur. The CNN learns through them
(`cnn.augment`, `cnn.stroke`, `cnn.blur`); the frozen backbone sees all of them in the
augmented views of the training digits (`backbone.views`)."""

import keras
import numpy as np
from keras import layers, ops

from mnist_transfer.core import digits

# The kernel's: up to 10 degrees either way, 10 % zoom, 10 % shifts.
ROTATION = 10 / 360
ZOOM = 0.1
SHIFT = 0.1
# A 3x3 grey dilation or erosion moves each edge of the stroke by one pixel of 28.
STROKE_FACTOR = 1.0
# Gaussian blur of sigma up to this many pixels of 28 (a 5x5 kernel holds it).
BLUR_SIGMA = 1.0
BLUR_KERNEL = 5
VIEWS_BATCH = 1024  # digits augmented at once: memory, not results


@keras.saving.register_keras_serializable(package="mnist_transfer")
class RandomStrokeWidth(layers.Layer):
    """Ink made bolder or thinner: each image is blended with its 3x3 grey dilation (bolder)
    or erosion (thinner), by a share drawn uniformly from [-factor, factor] per image."""

    def __init__(self, factor: float = STROKE_FACTOR, **kwargs) -> None:
        super().__init__(**kwargs)
        self.factor = factor
        # Seeded by Keras' global seed (`determinism.make_deterministic`), as Keras' own layers are.
        self.seed_generator = keras.random.SeedGenerator()

    def call(self, images, training=None):
        if not training:
            return images
        bolder = ops.max_pool(images, 3, strides=1, padding="same")
        thinner = -ops.max_pool(-images, 3, strides=1, padding="same")
        share = keras.random.uniform(
            (ops.shape(images)[0], 1, 1, 1), -self.factor, self.factor, seed=self.seed_generator
        )
        return ops.where(share > 0, images + share * (bolder - images), images - share * (thinner - images))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "factor": self.factor}


def augmenting(*, geometry: bool, stroke: bool, blur: bool) -> list[layers.Layer]:
    """The chosen augmentations, in order, for digits of shape (28, 28, 1) on the 0-1 scale;
    their random draws follow Keras' global seed."""
    chosen: list[layers.Layer] = []
    if geometry:
        chosen += [
            layers.RandomRotation(ROTATION, fill_mode="nearest"),
            layers.RandomZoom(ZOOM, fill_mode="nearest"),
            layers.RandomTranslation(SHIFT, SHIFT, fill_mode="nearest"),
        ]
    if stroke:
        chosen.append(RandomStrokeWidth())
    if blur:
        chosen.append(layers.RandomGaussianBlur(1.0, BLUR_KERNEL, (0.0, BLUR_SIGMA), value_range=(0, 1)))
    return chosen


def views(images: np.ndarray, count: int, batch_size: int = VIEWS_BATCH) -> np.ndarray:
    """`count` augmented views of each of `images` (uint8 digits), with every augmentation:
    (count x n, 28, 28) uint8, view v of image i at row v x n + i."""
    augment = keras.Sequential(augmenting(geometry=True, stroke=True, blur=True))
    shape = (*digits.SHAPE, 1)
    made = np.empty((count * len(images), *digits.SHAPE), np.uint8)
    for view in range(count):
        for start in range(0, len(images), batch_size):
            batch = images[start : start + batch_size].reshape(-1, *shape).astype("float32") / 255
            augmented = keras.ops.convert_to_numpy(augment(batch, training=True)).reshape(-1, *digits.SHAPE)
            rows = slice(view * len(images) + start, view * len(images) + start + len(batch))
            made[rows] = np.round(np.clip(augmented, 0, 1) * 255)
    return made
