"""A frozen backbone as a feature extractor: raw 28x28 uint8 digits in, the features at a
chosen layer out, written to disk batch by batch. Only extract_features runs it."""

import errno
import os
import shutil
from pathlib import Path

import keras
import numpy as np
from keras import layers

from mnist_transfer.core import catalog, digits
from mnist_transfer.core.errors import InputError

FLOAT16_MAX = float(np.finfo(np.float16).max)

# ImageNet's mean pixel and sd per channel, as Keras' `imagenet_utils.preprocess_input` uses them.
IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_SD_RGB = (0.229, 0.224, 0.225)
IMAGENET_MEAN_BGR_255 = (103.939, 116.779, 123.68)


def scaling_layer(scaling: str) -> layers.Layer:
    """One of catalog.SCALINGS as a Keras layer, so a model that holds it loads with
    safe_mode=True. A grey digit's three channels are equal, so caffe's RGB to BGR flip
    changes nothing: only the means' order matters."""
    if scaling == "unit":
        return layers.Rescaling(1 / 255, name="unit_preprocess")
    if scaling == "caffe":
        return layers.Normalization(mean=IMAGENET_MEAN_BGR_255, variance=(1.0, 1.0, 1.0), name="caffe_preprocess")
    if scaling == "tf":
        return layers.Rescaling(1 / 127.5, offset=-1.0, name="tf_preprocess")
    if scaling == "torch":
        mean = [255 * m for m in IMAGENET_MEAN_RGB]
        variance = [(255 * sd) ** 2 for sd in IMAGENET_SD_RGB]
        return layers.Normalization(mean=mean, variance=variance, name="torch_preprocess")
    raise ValueError(f"unknown scaling {scaling!r}")


def computing_in(conv_base: keras.Model, precision: str) -> keras.Model:
    """`conv_base` with its convolutions computed in `precision`, the same weights."""
    if precision == "float32":
        return conv_base
    policy = catalog.KERAS_POLICIES[precision]
    clone = keras.models.clone_model(
        conv_base, clone_function=lambda layer: layer.__class__.from_config({**layer.get_config(), "dtype": policy})
    )
    clone.set_weights(conv_base.get_weights())
    clone.trainable = False
    return clone


def feature_extractor(conv_base: keras.Model, scaling: str, layer: str, precision: str = "float32") -> keras.Model:
    """Raw digits -> resized to the backbone's input (bilinear), grey to RGB, scaled as
    `scaling` says -> the frozen backbone, up to `layer`, computed in `precision` ->
    float32 features."""
    size = conv_base.input_shape[1:3]
    raw = digits.keras_input()
    x = layers.Reshape((*digits.SHAPE, 1))(raw)
    x = layers.Resizing(*size, interpolation="bilinear")(x)
    x = layers.Concatenate()([x, x, x])
    x = scaling_layer(scaling)(x)
    base = computing_in(conv_base, precision)
    truncated = keras.Model(base.input, base.get_layer(layer).output, name=f"{conv_base.name}_to_{layer}")
    features = layers.Identity(dtype="float32", name="float32_features")(truncated(x, training=False))
    return keras.Model(raw, features, name="backbone_features")


def reserve_disk(path: Path) -> None:
    """Give `path` (a sparse file as memory-mapped) its every block now: on a full disk, a
    write into the map would end the process with SIGBUS, minutes in; this is one line first."""
    size = path.stat().st_size
    try:
        with path.open("r+b") as file:
            os.posix_fallocate(file.fileno(), 0, size)
    except OSError as error:
        if error.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        free = shutil.disk_usage(path.parent).free
        raise InputError(
            f"{path}: no room for {size / 2**20:.0f} MiB of features ({free / 2**20:.0f} MiB free there); "
            "free some space, or store them as float16 (backbone.feature_dtype)"
        ) from None


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
    reserve_disk(path)
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
