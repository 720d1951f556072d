"""VGG16's frozen convolution base as a feature extractor: raw 28x28 uint8 digits in, the
features at a chosen layer out, written to disk batch by batch. Only extract_features
runs it."""

from pathlib import Path

import keras
import numpy as np
from keras import layers

from mnist_transfer import cpu, digits
from mnist_transfer.pipeline.errors import InputError

# Where the features may be taken (`backbone.layer`): the blog's, the last pooling layer,
# or one block or two earlier, where the features are less ImageNet-specific.
LAYERS = ("block5_pool", "block4_pool", "block3_pool")

# How the features are stored (`backbone.feature_dtype`): float16 halves disk and memory.
FEATURE_DTYPES = ("float16", "float32")
FLOAT16_MAX = float(np.finfo(np.float16).max)

# What the convolutions compute in (`backbone.precision`), as a Keras dtype policy; the
# weights stay float32, and bfloat16 needs hardware that has it.
PRECISIONS = {"float32": "float32", "bfloat16": "mixed_bfloat16"}
BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")

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


def check_precision(precision: str) -> None:
    """bfloat16 only where the hardware computes it: emulated, it would be slower than float32."""
    if precision == "bfloat16" and not cpu.flags() & set(BFLOAT16_FLAGS):
        import tensorflow as tf

        if not tf.config.list_physical_devices("GPU"):
            raise InputError(
                f"backbone.precision bfloat16 needs a GPU or a CPU with {' or '.join(BFLOAT16_FLAGS)}, and this "
                f"machine has neither; use float32"
            )


def computing_in(conv_base: keras.Model, precision: str) -> keras.Model:
    """`conv_base` with its convolutions computed in `precision`, the same weights."""
    if precision == "float32":
        return conv_base
    policy = PRECISIONS[precision]
    clone = keras.models.clone_model(
        conv_base, clone_function=lambda layer: layer.__class__.from_config({**layer.get_config(), "dtype": policy})
    )
    clone.set_weights(conv_base.get_weights())
    clone.trainable = False
    return clone


def feature_extractor(
    conv_base: keras.Model, preprocess: str = "caffe", layer: str = "block5_pool", precision: str = "float32"
) -> keras.Model:
    """Raw digits -> resized to the backbone's input (bilinear), grey to RGB, scaled as
    `preprocess` says -> the frozen convolution base, up to `layer`, computed in
    `precision` -> float32 features."""
    size = conv_base.input_shape[1:3]
    raw = digits.digits_input()
    x = layers.Reshape((*digits.SHAPE, 1))(raw)
    x = layers.Resizing(*size, interpolation="bilinear")(x)
    x = layers.Concatenate()([x, x, x])
    x = PREPROCESSING[preprocess]()(x)
    base = computing_in(conv_base, precision)
    truncated = keras.Model(base.input, base.get_layer(layer).output, name=f"vgg16_to_{layer}")
    features = layers.Identity(dtype="float32", name="float32_features")(truncated(x, training=False))
    return keras.Model(raw, features, name="vgg16_features")


def extract(
    extractor: keras.Model,
    images: np.ndarray,
    batch_size: int,
    path: Path,
    dtype: str = "float16",
    *,
    progress_bar: bool = True,
) -> tuple[int, ...]:
    """The features of `images`, one row per image, stored as `dtype` in the .npy at `path`,
    batch by batch (never all in memory), with a progress bar; their shape per image."""
    shape = extractor.output_shape[1:]
    out = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=(len(images), *shape))
    progress = keras.utils.Progbar(len(images), unit_name="image", verbose=int(progress_bar))
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        features = extractor.predict_on_batch(batch)
        largest = float(np.abs(features).max())
        if dtype == "float16" and largest > FLOAT16_MAX:
            raise InputError(
                f"backbone.feature_dtype float16: a feature of images {start}-{start + len(batch) - 1} is "
                f"{largest:.0f}, beyond float16's {FLOAT16_MAX:.0f}; use float32"
            )
        out[start : start + len(batch)] = features
        progress.add(len(batch))
    out.flush()
    del out
    return shape
