"""VGG16's frozen convolution base as a feature extractor: raw 28x28 uint8 digits in, the
features at a chosen layer out, written to disk batch by batch. Only extract_features
runs it."""

from pathlib import Path

import keras
import numpy as np
from keras import layers

from mnist_transfer import digits

# Where the features may be taken (`backbone.layer`): the blog's, the last pooling layer,
# or one block or two earlier, where the features are less ImageNet-specific.
LAYERS = ("block5_pool", "block4_pool", "block3_pool")

# How the features are stored.
FEATURE_DTYPE = "float32"

# ImageNet's mean pixel in BGR order, as Keras' `vgg16.preprocess_input` subtracts it.
IMAGENET_MEAN_BGR = (103.939, 116.779, 123.68)

# How pixels are scaled for the backbone (`backbone.preprocess`), as Keras layers, so a
# model that holds them loads with safe_mode=True.
PREPROCESSING = {
    # `vgg16.preprocess_input`, as VGG16's ImageNet weights were trained: RGB to BGR (a grey
    # digit's three channels are equal, so the flip changes nothing), ImageNet's mean subtracted.
    "caffe": lambda: layers.Normalization(mean=IMAGENET_MEAN_BGR, variance=(1.0, 1.0, 1.0), name="caffe_preprocess"),
    # Pixels / 255, no mean subtracted: what the blog's code shows.
    "unit": lambda: layers.Rescaling(1 / 255, name="unit_preprocess"),
}


def feature_extractor(conv_base: keras.Model, preprocess: str = "caffe", layer: str = "block5_pool") -> keras.Model:
    """Raw digits -> resized to the backbone's input (bilinear), grey to RGB, scaled as
    `preprocess` says -> the frozen convolution base, up to `layer`."""
    size = conv_base.input_shape[1:3]
    raw = digits.digits_input()
    x = layers.Reshape((*digits.SHAPE, 1))(raw)
    x = layers.Resizing(*size, interpolation="bilinear")(x)
    x = layers.Concatenate()([x, x, x])
    x = PREPROCESSING[preprocess]()(x)
    truncated = keras.Model(conv_base.input, conv_base.get_layer(layer).output, name=f"vgg16_to_{layer}")
    return keras.Model(raw, truncated(x, training=False), name="vgg16_features")


def extract(extractor: keras.Model, images: np.ndarray, batch_size: int, path: Path) -> tuple[int, ...]:
    """The features of `images`, one row per image, written into the .npy at `path` batch by
    batch (never all in memory), with a progress bar; their shape per image."""
    shape = extractor.output_shape[1:]
    out = np.lib.format.open_memmap(path, mode="w+", dtype=FEATURE_DTYPE, shape=(len(images), *shape))
    progress = keras.utils.Progbar(len(images), unit_name="image")
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        out[start : start + len(batch)] = extractor.predict_on_batch(batch)
        progress.add(len(batch))
    out.flush()
    del out
    return shape
