"""The two models' training speed, each setting in a fresh process (TensorFlow reads its
thread counts and oneDNN switch once, at start): images a second through the stages' own
`training.fit` batches and recipe, GFLOP/s by the project's one FLOP counter (a training
step taken as 3 forward passes: the forward, and the backward's two products per layer), and
the share of the machine's fastest float32 yardstick.

    python -m bench training      # inside `python -m bench`; or alone:
    python -m bench.training      # the table, without the yardsticks
"""

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field

# Each setting: environment variables and options of the run; "default" is the stages' way.
# Batch size and recipe stay the kernel's: a setting that changed the numbers would be an option,
# not a speed-up.
SETTINGS = {
    "default": {},
    "oneDNN on (TF_ENABLE_ONEDNN_OPTS=1)": {"env": {"TF_ENABLE_ONEDNN_OPTS": "1"}},
    "oneDNN off (TF_ENABLE_ONEDNN_OPTS=0)": {"env": {"TF_ENABLE_ONEDNN_OPTS": "0"}},
    "XLA (jit_compile=True)": {"jit": True},
    "threads: 2 intra-op, 1 inter-op": {"threads": (2, 1)},
    "threads: 1 intra-op, 2 inter-op": {"threads": (1, 2)},
    "input: the images as one tensor (tf.data from memory, no Python per batch)": {"in_memory": True},
    # cnn.precision's bfloat16 for the CNN; the head has no such param, this row says why.
    "mixed_bfloat16 (where the CPU has avx512_bf16 or amx_bf16)": {"precision": "bfloat16"},
}
MODELS = ("cnn", "head")
# Steps of the kernel's batch (86) in each timed epoch: a few seconds each, after a warm-up epoch.
STEPS = {"cnn": 60, "head": 1200}
REPEATS = 3  # timed epochs in a process; the fastest counts
# Processes per setting: the same setting ran at 1,010 or about 1,300 images/s from one process to
# the next on a 2-core Intel VM (the CNN), so each is run in several and all are shown.
PROCESSES = 3
HEAD_FEATURES = (1, 1, 512)  # VGG16 at block5_pool, the blog's


@dataclass
class Run:
    model: str
    setting: str
    images_per_s: list[float] = field(default_factory=list)  # one per process
    gflop_per_image: float = 0.0
    error: str = ""


def measure(model_name: str, setting: dict) -> dict:
    """Runs in the child: one model trained an epoch to warm up, then REPEATS epochs timed."""
    import numpy as np
    import tensorflow as tf

    if "threads" in setting:  # before the first op, which fixes TensorFlow's thread pools
        intra, inter = setting["threads"]
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)

    from mnist_transfer.backbones import flops
    from mnist_transfer.core import determinism
    from mnist_transfer.nets import models, training

    determinism.make_deterministic(0)
    rng = np.random.default_rng(0)
    images = 86 * STEPS[model_name]
    labels = (np.arange(images) % 10).astype(np.uint8)
    precision = setting.get("precision", "float32")
    if model_name == "cnn":
        inputs = rng.integers(0, 256, (images, 28, 28), dtype=np.uint8)
        model = models.cnn(augment=False, precision=precision)
    else:
        inputs = rng.standard_normal((images, *HEAD_FEATURES)).astype(np.float16)
        with models.computing_in(precision):
            model = models.head(HEAD_FEATURES, 512, 0.4)
    per_image = 3 * flops.gflop_per_image(model, model.layers[-1].name)
    models.compile_for_training(model, 0.001)
    if setting.get("jit"):
        model.jit_compile = True
    if setting.get("in_memory"):
        data = tf.data.Dataset.from_tensor_slices((inputs, labels)).shuffle(images, seed=0).batch(86).prefetch(2)
    else:
        data = training.batches(inputs, labels, 86, shuffle=True)
    model.fit(data, epochs=1, verbose=0)  # warm-up: tracing, first touch of memory
    seconds = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        model.fit(data, epochs=1, verbose=0)
        seconds.append(time.perf_counter() - started)
    return {"images_per_s": images / min(seconds), "gflop_per_image": per_image}


def run(model: str, name: str, found: Run) -> None:
    """One process of setting `name`, its figure added to `found`."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **SETTINGS[name].get("env", {})}
    result = subprocess.run(
        [sys.executable, "-m", "bench.training", "--child", model, name],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        found.error = (result.stderr.strip().splitlines() or ["no output"])[-1][:200]
        return
    measured = json.loads(lines[-1])
    found.images_per_s.append(round(measured["images_per_s"], 1))
    found.gflop_per_image = measured["gflop_per_image"]


def runs() -> list[Run]:
    """Every setting of both models that this CPU can run, PROCESSES times, the settings
    interleaved so that a slow spell of the machine falls on all of them alike."""
    from mnist_transfer.core import cpu

    offered = [name for name, setting in SETTINGS.items() if "precision" not in setting or cpu.computes_bfloat16()]
    found = {(model, name): Run(model, name) for model in MODELS for name in offered}
    for _ in range(PROCESSES):
        for (model, name), into in found.items():
            run(model, name, into)
    return list(found.values())


def rows(measured: list[Run], peaks: dict[str, float]) -> list[tuple[str, str]]:
    yardstick = max(peaks, key=peaks.get) if peaks else None
    default = {r.model: max(r.images_per_s) for r in measured if r.setting == "default" and r.images_per_s}
    out = []
    for r in measured:
        figure = f"train_{r.model} step, {r.setting}"
        if r.error:
            out.append((figure, f"failed: {r.error}"))
            continue
        best = max(r.images_per_s)
        gflops = best * r.gflop_per_image
        share = f", {gflops / peaks[yardstick]:.0%} of {yardstick}" if yardstick else ""
        speedup = f", {best / default[r.model]:.2f}x the default's best" if r.setting != "default" else ""
        each = " / ".join(f"{rate:,.0f}" for rate in r.images_per_s)
        out.append((figure, f"best {best:,.0f} images/s = {gflops:.1f} GFLOP/s{share}{speedup} (each process: {each})"))
    return out


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(measure(sys.argv[2], SETTINGS[sys.argv[3]])))
        return
    measured = runs()
    print("| figure | measured |\n|---|---|")
    for figure, value in rows(measured, {}):
        print(f"| {figure} | {value} |")
    print(json.dumps([vars(r) for r in measured]), file=sys.stderr)


if __name__ == "__main__":
    main()
