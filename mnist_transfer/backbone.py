"""VGG16's frozen convolution base as a feature extractor: raw 28x28 uint8 digits in, the
features at its last layer out. Only extract_features runs it."""

import keras
from keras import layers

from mnist_transfer import digits

# How pixels are scaled for the backbone (`backbone.preprocess`).
PREPROCESSING = {
    # Keras' own for VGG16, as its ImageNet weights were trained: BGR, ImageNet's mean subtracted.
    "caffe": lambda: layers.Lambda(keras.applications.vgg16.preprocess_input, name="vgg16_preprocess"),
    # Pixels / 255, no mean subtracted: what the blog's code shows.
    "unit": lambda: layers.Rescaling(1 / 255, name="unit_preprocess"),
}


def feature_extractor(conv_base: keras.Model, preprocess: str = "caffe") -> keras.Model:
    """Raw digits -> resized to the backbone's input (bilinear), grey to RGB, scaled as
    `preprocess` says -> the frozen convolution base's features."""
    size = conv_base.input_shape[1:3]
    raw = digits.digits_input()
    x = layers.Reshape((*digits.SHAPE, 1))(raw)
    x = layers.Resizing(*size, interpolation="bilinear")(x)
    x = layers.Concatenate()([x, x, x])
    x = PREPROCESSING[preprocess]()(x)
    return keras.Model(raw, conv_base(x, training=False), name="vgg16_features")
