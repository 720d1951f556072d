"""What a handwritten digit may look like that MNIST's do not, as Keras layers that act in
training only (`cnn.augment`, `stroke`, `blur`, `stretch`, `elastic`; `backbone.views`)."""

import keras
import numpy as np
from keras import layers, ops

from mnist_transfer.core import digits

# The kernel's: up to 10 degrees either way, 10 % zoom, 10 % shifts.
ROTATION = 10 / 360
ZOOM = 0.1
SHIFT = 0.1
# A 3x3 grey dilation or erosion moves each edge of the stroke by one pixel of 28;
# `cnn.stroke_reach` pixels take a (2 x reach + 1)-pixel square.
STROKE_FACTOR = 1.0
# Gaussian blur of sigma up to this many pixels of 28 (a 5x5 kernel holds it).
BLUR_SIGMA = 1.0
BLUR_KERNEL = 5
# A digit's width scaled by up to 40 % either way, its height kept: MNIST's 1s are 8 pixels
# wide and its 0s 17, where scans cut to the ink and stretched to their box have both near 12.
STRETCH = 0.4
# Simard, Steinkraus and Platt's elastic distortion for MNIST (2003): a random field uniform
# in [-1, 1], smoothed by a Gaussian of sigma 4 pixels, times 34.
ELASTIC_ALPHA = 34.0
ELASTIC_SIGMA = 4.0
VIEWS_BATCH = 1024  # digits augmented at once: memory, not results


@keras.saving.register_keras_serializable(package="mnist_transfer")
class RandomStrokeWidth(layers.Layer):
    """Ink made bolder or thinner: each image's edges moved by a number of pixels drawn
    uniformly from [-factor, factor x reach] per image, a whole pixel by a 3x3 grey dilation
    (bolder) or erosion (thinner), a share of one by blending the two nearest. Never thinner
    by more than a pixel: MNIST's strokes are under 3 pixels wide, and a second would erase many."""

    def __init__(self, factor: float = STROKE_FACTOR, reach: int = 1, **kwargs) -> None:
        super().__init__(**kwargs)
        self.factor, self.reach = factor, reach
        # Seeded by Keras' global seed (`determinism.make_deterministic`), as Keras' own layers are.
        self.seed_generator = keras.random.SeedGenerator()

    def call(self, images, training=None):
        if not training:
            return images
        widths = [-ops.max_pool(-images, 3, strides=1, padding="same"), images]
        for _ in range(self.reach):
            widths.append(ops.max_pool(widths[-1], 3, strides=1, padding="same"))
        widths = ops.stack(widths, axis=1)  # thinner, as it is, bolder by 1 to reach pixels
        moved = keras.random.uniform(
            (ops.shape(images)[0], 1, 1, 1), -self.factor, self.factor * self.reach, seed=self.seed_generator
        )
        level = moved + 1  # an index into widths
        lower = ops.clip(ops.floor(level), 0, self.reach)
        share = level - lower
        index = ops.cast(lower, "int32")[:, None]
        below = ops.take_along_axis(widths, index, axis=1)[:, 0]
        above = ops.take_along_axis(widths, index + 1, axis=1)[:, 0]
        return below + share * (above - below)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "factor": self.factor, "reach": self.reach}


@keras.saving.register_keras_serializable(package="mnist_transfer")
class RandomElastic(layers.Layer):
    """Simard, Steinkraus and Platt's elastic distortion: each pixel read from where a random
    field, uniform in [-1, 1], smoothed by a Gaussian of `sigma` pixels and scaled by `alpha`,
    moves it (bilinear; black beyond the edge), a new field for each image."""

    def __init__(self, alpha: float = ELASTIC_ALPHA, sigma: float = ELASTIC_SIGMA, **kwargs) -> None:
        super().__init__(**kwargs)
        self.alpha, self.sigma = alpha, sigma
        self.seed_generator = keras.random.SeedGenerator()
        radius = int(2 * sigma)
        taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
        square = np.outer(taps, taps) / taps.sum() ** 2
        self.smoothing = np.repeat(square[:, :, None, None], 2, axis=2).astype("float32")  # one per axis

    def call(self, images, training=None):
        if not training:
            return images
        # Bilinear sampling by gathers: it works where tf.data leaves the batch size unknown.
        batch = ops.shape(images)[0]
        height, width = images.shape[1], images.shape[2]
        field = keras.random.uniform((batch, height, width, 2), -1.0, 1.0, seed=self.seed_generator)
        moves = ops.depthwise_conv(field, self.smoothing, padding="same") * self.alpha
        rows = ops.reshape(ops.arange(height, dtype="float32"), (1, height, 1)) + moves[..., 0]
        columns = ops.reshape(ops.arange(width, dtype="float32"), (1, 1, width)) + moves[..., 1]
        flat = ops.reshape(images, (batch, height * width))
        top, left = ops.floor(rows), ops.floor(columns)
        down, right = rows - top, columns - left

        def at(row, column):
            inside = (row >= 0) & (row <= height - 1) & (column >= 0) & (column <= width - 1)
            index = ops.clip(row, 0, height - 1) * width + ops.clip(column, 0, width - 1)
            found = ops.take_along_axis(flat, ops.reshape(ops.cast(index, "int32"), (batch, -1)), axis=1)
            return ops.reshape(found, (batch, height, width)) * ops.cast(inside, images.dtype)

        moved = (
            at(top, left) * (1 - down) * (1 - right)
            + at(top, left + 1) * (1 - down) * right
            + at(top + 1, left) * down * (1 - right)
            + at(top + 1, left + 1) * down * right
        )
        return ops.reshape(moved, ops.shape(images))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "alpha": self.alpha, "sigma": self.sigma}


def augmenting(
    *,
    geometry: bool,
    stroke: bool,
    blur: bool,
    stretch: bool = False,
    elastic: bool = False,
    stroke_reach: int = 1,
) -> list[layers.Layer]:
    """The chosen augmentations, in order, for digits of shape (28, 28, 1) on the 0-1 scale;
    their random draws follow Keras' global seed."""
    chosen: list[layers.Layer] = []
    if geometry:
        chosen += [
            layers.RandomRotation(ROTATION, fill_mode="nearest"),
            layers.RandomZoom(ZOOM, fill_mode="nearest"),
            layers.RandomTranslation(SHIFT, SHIFT, fill_mode="nearest"),
        ]
    if stretch:
        chosen.append(layers.RandomZoom(0.0, (-STRETCH, STRETCH), fill_mode="constant"))
    if elastic:
        chosen.append(RandomElastic())
    if stroke:
        chosen.append(RandomStrokeWidth(reach=stroke_reach))
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
