"""extract_features' speed: images per second through the stage's own extractor, its
GFLOP/s by the project's one FLOP counter (backbones/flops.py), the ratio to the highest float32 yardstick,
and a profile of where one batch's time goes, layer by layer."""

import tempfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from bench.timing import REPEATS, best_of
from mnist_transfer.backbones import extraction, flops, pretrained
from mnist_transfer.core import catalog
from mnist_transfer.data import mnist

IMAGES = 4096  # 16 full batches at the default batch size


def extractor(settings: dict) -> tuple[keras.Model, keras.Model]:
    """The stage's extractor (raw digits -> features), and the frozen convolution base in it,
    up to `backbone.layer`."""
    made = catalog.made_with(settings)
    conv_base, _ = pretrained.conv_base(settings["name"], settings["weights"], made["input_size"])
    model = extraction.feature_extractor(conv_base, made["scaling"], made["layer"], made["precision"])
    return model, model.get_layer(f"{conv_base.name}_to_{made['layer']}")


def scaling(model: keras.Model, settings: dict) -> keras.Model:
    """Everything in the extractor before the convolution base: resize, grey to RGB, preprocess."""
    return keras.Model(model.input, model.get_layer(f"{catalog.made_with(settings)['scaling']}_preprocess").output)


def flops_per_image(conv_base: keras.Model) -> int:
    return round(flops.gflop_per_image(conv_base, conv_base.layers[-1].name) * 1e9)


def throughput(images: np.ndarray, settings: dict) -> tuple[float, int, int]:
    """Images per second through the stage's own `extraction.extract`, FLOPs per image, and
    feature values per image."""
    model, conv_base = extractor(settings)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "features.npy"
        seconds = best_of(
            lambda: extraction.extract(
                model, images, settings["batch_size"], path, settings["feature_dtype"], progress_bar=False
            )
        )
    return len(images) / seconds, flops_per_image(conv_base), int(np.prod(model.output_shape[1:]))


def profile(images: np.ndarray, settings: dict) -> list[tuple[str, float, int]]:
    """(layer, seconds per batch, FLOPs per batch): the input scaling as one step, then each
    layer of the convolution base, each timed alone in graph mode on its real input."""
    model, conv_base = extractor(settings)
    batch = tf.constant(images[: settings["batch_size"]])
    steps = [("resize, grey to RGB, preprocess", scaling(model, settings))]
    steps += [(layer.name, layer) for layer in conv_base.layers[1:]]
    timings, tensor = [], batch
    for name, step in steps:
        run = tf.function(step)
        run(tensor)  # trace and warm up
        seconds = best_of(lambda run=run, tensor=tensor: run(tensor).numpy(), REPEATS)
        timings.append((name, seconds, flops.flops(step) * len(batch)))
        tensor = run(tensor)
    return timings


def rows(images: np.ndarray, settings: dict, peaks: dict[str, float]) -> list[tuple[str, str]]:
    size, batch = catalog.made_with(settings)["input_size"], settings["batch_size"]
    rate, per_image, _ = throughput(images[:IMAGES], settings)
    achieved = rate * per_image / 1e9
    yardstick = max(peaks, key=peaks.get)
    out = [
        (
            f"extract_features at {size}px, batch {batch}, {IMAGES} images, best of {REPEATS}",
            f"{rate:.0f} images/s = {achieved:.0f} GFLOP/s ({per_image / 1e9:.3f} GFLOP per image)",
        ),
        (
            "extraction / highest float32 peak",
            f"{achieved / peaks[yardstick]:.0%} of {yardstick} ({peaks[yardstick]:.0f} GFLOP/s)",
        ),
    ]
    for layer in catalog.BACKBONES[settings["name"]].cuts:  # where else the features may be taken
        rate, per_image, values = throughput(images[:IMAGES], {**settings, "layer": layer})
        on_disk = values * np.dtype(settings["feature_dtype"]).itemsize * mnist.IMAGES / 2**20
        out.append(
            (
                f"extract_features up to {layer} at {size}px",
                f"{rate:.0f} images/s, {per_image / 1e9:.3f} GFLOP and {values:,} feature values per image; "
                f"{mnist.IMAGES:,} images in {mnist.IMAGES / rate:.0f} s and "
                f"{on_disk:,.0f} MiB as {settings['feature_dtype']}",
            )
        )
    timings = profile(images, settings)
    total = sum(seconds for _, seconds, _ in timings)
    for name, seconds, layer_flops in timings:
        speed = f", {layer_flops / seconds / 1e9:.0f} GFLOP/s" if layer_flops else ""
        out.append((f"profile: {name}", f"{seconds * 1e3:.1f} ms per batch of {batch} ({seconds / total:.0%}){speed}"))
    return out
