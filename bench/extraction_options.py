"""What each way of running the frozen backbone gives: images per second over the same
images, each option in a fresh process (environment variables and thread settings act
only before TensorFlow starts), how far its features are from the stage's own, and, where
the CPU has AMX, its share of AMX's bfloat16 peak and the oneDNN kernels that bfloat16 runs.
OpenVINO's rows need `pip install openvino==2026.4.1` (not a requirement: it is not adopted)."""

import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

from mnist_transfer.core import cpu

IMAGES = 2048  # 8 batches at the default batch size
REPEATS = 2
BFLOAT16 = ["avx512_bf16", "amx_bf16"]
# AMX's tile unit: 1,024 bfloat16 multiply-adds a cycle per core (Intel's figure for AMX-BF16).
AMX_BF16_FLOP_PER_CYCLE = 2 * 1024

# Option -> what it changes: the stage's settings (params.yaml's; its precision is auto),
# environment variables, TensorFlow's threads (intra-op, inter-op), the scaling run outside the
# convolution graph, XLA.
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
    "backbone.precision float32": {"settings": {"precision": "float32"}},
    "backbone.precision bfloat16": {"settings": {"precision": "bfloat16"}, "needs": BFLOAT16},
    "bfloat16, batch 1024": {"settings": {"precision": "bfloat16", "batch_size": 1024}, "needs": BFLOAT16},
    "bfloat16, XLA (jit_compile=True)": {"settings": {"precision": "bfloat16"}, "xla": True, "needs": BFLOAT16},
    # OpenVINO reads the extractor as a TensorFlow SavedModel; an async queue keeps both cores busy.
    # OpenVINO reads the float32 extractor and computes in the precision it is asked for.
    "OpenVINO 2026.4.1, float32": {"settings": {"precision": "float32"}, "openvino": "f32"},
    "OpenVINO 2026.4.1, bfloat16": {"settings": {"precision": "float32"}, "openvino": "bf16", "needs": BFLOAT16},
}
# Run once more with oneDNN's log on (its speed not counted): which kernels bfloat16 runs.
KERNELS_OF = "backbone.precision bfloat16"


def channels_first(model, conv_base, settings: dict):
    """The extractor with its convolutions in NCHW: the same weights, the input transposed."""
    import keras

    from bench import extraction
    from mnist_transfer.core import catalog
    from mnist_transfer.nets.models import computing_in

    made = catalog.made_with(settings)  # null layer and size resolved
    keras.config.set_image_data_format("channels_first")
    size = made["input_size"]
    with computing_in(made["precision"]):
        full = keras.applications.VGG16(include_top=False, weights=None, input_shape=(3, size, size))
    nchw = keras.Model(full.input, full.get_layer(made["layer"]).output)
    for layer in conv_base.layers[1:]:
        nchw.get_layer(layer.name).set_weights(layer.get_weights())
    scaled = extraction.scaling(model, settings)
    return keras.Model(scaled.input, nchw(keras.layers.Permute((3, 1, 2))(scaled.output)))


def openvino_extract(model, settings: dict, inference_precision: str):
    """The extractor compiled by OpenVINO for this CPU in `inference_precision` (f32, bf16):
    a function of a batch of digits to their features, run through an async queue."""
    import openvino as ov

    batch_size = settings["batch_size"]
    with tempfile.TemporaryDirectory() as folder:
        model.export(folder, format="tf_saved_model", verbose=False)
        converted = ov.convert_model(folder)
    compiled = ov.Core().compile_model(
        converted, "CPU", {"INFERENCE_PRECISION_HINT": inference_precision, "PERFORMANCE_HINT": "THROUGHPUT"}
    )
    queue = ov.AsyncInferQueue(compiled)
    shape = model.output_shape[1:]

    def extract(images: np.ndarray) -> np.ndarray:
        out = np.zeros((len(images), *shape), "float32")

        def done(request, start: int) -> None:
            out[start : start + batch_size] = request.get_output_tensor(0).data.reshape(-1, *shape)

        queue.set_callback(done)
        for start in range(0, len(images), batch_size):
            queue.start_async({0: images[start : start + batch_size]}, start)
        queue.wait_all()
        return out

    return extract


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
    if option.get("openvino"):
        compiled = openvino_extract(model, settings, option["openvino"])

        def extract() -> np.ndarray:
            return compiled(images)

    else:

        def extract() -> np.ndarray:
            return np.concatenate([run(images[i : i + batch_size]) for i in range(0, len(images), batch_size)])

    features = extract()  # warm up: tracing, first touch of memory
    seconds = best_of(extract, REPEATS)
    if option.get("channels_first"):
        features = np.moveaxis(features, 1, -1)
    np.save(features_path, np.asarray(features, dtype="float32"))
    return len(images) / seconds


def run_option(name: str, folder: Path, env_extra: dict | None = None) -> tuple[float | None, str]:
    """(images per second, or None and why not) for option `name`, in a fresh process; with
    `env_extra`, the child's output instead of why not."""
    option = OPTIONS[name]
    env = {**os.environ, **option.get("env", {}), **(env_extra or {})}
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
    rate = json.loads(result.stdout.splitlines()[-1])["images_per_second"]
    return rate, (result.stdout if env_extra else "")


def amx_peak_gflops() -> tuple[float, str]:
    """AMX's bfloat16 peak at the clock /proc/cpuinfo reports, and how it is computed."""
    cores, gigahertz = os.cpu_count() or 1, float(cpu.info().get("cpu MHz", "nan")) / 1000
    how = f"{cores} cores x {gigahertz:.2f} GHz x {AMX_BF16_FLOP_PER_CYCLE} FLOP/cycle"
    return cores * gigahertz * AMX_BF16_FLOP_PER_CYCLE, how


def bfloat16_kernels(folder: Path) -> str:
    """The oneDNN convolution kernels that the stage's bfloat16 extraction runs, and how often."""
    _, log = run_option(KERNELS_OF, folder, {"ONEDNN_VERBOSE": "1"})
    kernels = Counter(
        # onednn_verbose,v1,primitive,exec,cpu,convolution,IMPLEMENTATION,...
        line.split(",")[6]
        for line in log.splitlines()
        if line.startswith("onednn_verbose") and ",exec,cpu,convolution," in line
    )
    return ", ".join(f"{kernel} x{count}" for kernel, count in kernels.most_common()) or "none logged"


def rows(settings: dict, flops_per_image: int) -> list[tuple[str, str]]:
    """One row per option: images/s, GFLOP/s, speed against the stage as it is, and the
    largest difference of its features from the stage's."""
    out = []
    present = cpu.flags()
    amx = "amx_bf16" in present
    peak, how = amx_peak_gflops() if amx else (0.0, "")
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
            baseline = np.load(folder / "0.npy")
            difference = np.abs(np.load(folder / f"{index}.npy") - baseline)
            gflops = rate * flops_per_image / 1e9
            share = f", {gflops / peak:.0%} of AMX's bfloat16 peak" if amx else ""
            out.append(
                (
                    f"option: {name}",
                    f"{rate:.0f} images/s = {gflops:.0f} GFLOP/s{share}, {rate / baseline_rate:.2f}x; features differ "
                    f"by at most {difference.max():.3g} ({difference.max() / np.abs(baseline).max():.2%} of the "
                    "largest feature)",
                )
            )
        if amx:
            out.append(("AMX's bfloat16 peak", f"{peak:,.0f} GFLOP/s ({how}, the reported clock)"))
        if present & set(BFLOAT16):
            out.append((f"oneDNN's convolution kernels, {KERNELS_OF} (ONEDNN_VERBOSE=1)", bfloat16_kernels(folder)))
    return out


def main() -> None:
    """One option, in this process: python -m bench.extraction_options NAME FEATURES.npy"""

    from mnist_transfer.core import params
    from mnist_transfer.data import mnist

    name, features_path = sys.argv[1], Path(sys.argv[2])
    settings = params.everything()["backbone"]
    arrays = mnist.packaged_arrays()
    rate = measure(OPTIONS[name], arrays["x_train"][:IMAGES], settings, features_path)
    print(json.dumps({"images_per_second": rate}))


if __name__ == "__main__":
    main()
