"""The frozen VGG16 base (random weights: speed only) at 48x48 on a GPU, float32 against
bfloat16, with Keras 3 on its JAX backend: a machine without TensorFlow, so this runs alone,
outside `python -m bench` (needs jax with CUDA, and keras). The record of its one run on an
H200 is metrics/bench/gpu_bfloat16.jsonl; docs/benchmark.md reads it.

Prints one JSON object per line; also appends them to $OUT/results.json when OUT is set.

Env knobs: BATCHES (default "256,1024"), NB (batches per timed run, default 20),
REPS (timed runs, best kept, default 3), TIME_BUDGET_S (skip optional parts after
this many seconds, default 330).
"""

import json
import os
import sys
import time
import traceback

os.environ.setdefault("KERAS_BACKEND", "jax")

T0 = time.time()
OUT = os.environ.get("OUT")
RES_PATH = os.path.join(OUT, "results.json") if OUT else None
BATCHES = [int(b) for b in os.environ.get("BATCHES", "256,1024").split(",")]
NB = int(os.environ.get("NB", "20"))
REPS = int(os.environ.get("REPS", "3"))
BUDGET = float(os.environ.get("TIME_BUDGET_S", "330"))


def emit(**kw):
    kw.setdefault("t", round(time.time() - T0, 1))
    line = json.dumps(kw, default=str)
    print(line, flush=True)
    if RES_PATH:
        with open(RES_PATH, "a") as f:
            f.write(line + "\n")


def guarded(name, fn, *a, **kw):
    try:
        return fn(*a, **kw)
    except Exception as e:  # noqa: BLE001 - keep going: one run should give all numbers it can
        emit(what="error", step=name, error=repr(e)[:2000], tb=traceback.format_exc()[-3000:])
        return None


import jax  # noqa: E402
import jaxlib  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

emit(
    what="env",
    python=sys.version.split()[0],
    jax=jax.__version__,
    jaxlib=jaxlib.__version__,
    keras=keras.__version__,
    backend=keras.backend.backend(),
    numpy=np.__version__,
    devices=[str(d) for d in jax.devices()],
    device_kind=jax.devices()[0].device_kind,
    platform=jax.devices()[0].platform,
    jax_default_matmul_precision=jax.config.jax_default_matmul_precision,
    xla_flags=os.environ.get("XLA_FLAGS"),
)

# ---- data: random uint8 images, VGG ("caffe") preprocessing, as float32 on host
rng = np.random.default_rng(0)
MAXB = max(BATCHES)
imgs = rng.integers(0, 256, size=(MAXB, 48, 48, 3)).astype("float32")
x_host = keras.applications.vgg16.preprocess_input(imgs.copy())
x_host = np.asarray(x_host, dtype="float32")


def build(policy, weights=None):
    keras.config.set_dtype_policy(policy)
    keras.utils.set_random_seed(0)
    m = keras.applications.VGG16(include_top=False, weights=None, input_shape=(48, 48, 3))
    m.trainable = False  # frozen base
    if weights is not None:
        m.set_weights(weights)  # same (random) weights for every policy
    keras.config.set_dtype_policy("float32")
    return m


def make_jit(model):
    # private copies: Keras' own predict function donates the variable buffers
    tv = [jax.numpy.array(v.value, copy=True) for v in model.trainable_variables]
    ntv = [jax.numpy.array(v.value, copy=True) for v in model.non_trainable_variables]

    @jax.jit
    def f(tv, ntv, x):
        y, _ = model.stateless_call(tv, ntv, x, training=False)
        return y

    return lambda x: f(tv, ntv, x)


def bench(call, x, block, label, **extra):
    tc = time.time()
    y = call(x)
    block(y)
    compile_s = time.time() - tc
    for _ in range(3):  # warm-up
        block(call(x))
    times = []
    for _ in range(REPS):
        t = time.perf_counter()
        for _ in range(NB):
            y = call(x)
        block(y)
        times.append(time.perf_counter() - t)
    bsz = x.shape[0]
    best = min(times)
    emit(
        what="speed",
        label=label,
        batch=bsz,
        batches_per_run=NB,
        reps=REPS,
        first_call_s=round(compile_s, 2),
        run_s=[round(s, 4) for s in times],
        img_per_s_best=round(bsz * NB / best, 1),
        ms_per_batch_best=round(1000 * best / NB, 3),
        **extra,
    )


def jax_block(y):
    jax.block_until_ready(y)


def np_block(y):
    np.asarray(y)


models = {}
fns = {}
weights = None


def setup(policy):
    global weights
    m = build(policy, weights)
    if weights is None:
        weights = m.get_weights()
    models[policy] = m
    fns[policy] = make_jit(m)
    v = m.weights[0]
    emit(
        what="model",
        policy=policy,
        params=m.count_params(),
        variable_dtype=str(v.dtype),
        compute_dtype=m.layers[1].compute_dtype,
        output_shape=list(m.output_shape),
    )


def speed_jit(policy, b, label=None):
    xd = jax.device_put(x_host[:b])
    bench(
        fns[policy],
        xd,
        jax_block,
        label or f"jit/{policy}",
        policy=policy,
        mode="jax.jit(stateless_call), input on device",
    )


def speed_pob(policy, b):
    xb = x_host[:b]
    bench(
        models[policy].predict_on_batch,
        xb,
        np_block,
        f"predict_on_batch/{policy}",
        policy=policy,
        mode="model.predict_on_batch, numpy in/out",
    )


def compare(policy, ref, got, ref_key, b, out_dtype):
    ref = np.asarray(np.asarray(ref).astype(np.float32), dtype=np.float64)
    got = np.asarray(np.asarray(got).astype(np.float32), dtype=np.float64)
    d = np.abs(ref - got)
    emit(
        what="accuracy",
        policy=policy,
        vs=ref_key,
        batch=b,
        out_dtype=out_dtype,
        f32_absmax=float(np.abs(ref).max()),
        f32_absmean=float(np.abs(ref).mean()),
        max_abs_diff=float(d.max()),
        max_abs_diff_rel_to_f32_absmax=float(d.max() / np.abs(ref).max()),
        mean_abs_diff_rel_to_f32_absmean=float(d.mean() / np.abs(ref).mean()),
        frac_f32_zero=float((ref == 0).mean()),
        cosine=float((ref * got).sum() / (np.linalg.norm(ref) * np.linalg.norm(got))),
    )


def accuracy(policy, b=256, ref_key="float32"):
    xd = jax.device_put(x_host[:b])
    ref = fns[ref_key](xd)
    got = fns[policy](xd)
    compare(policy, ref, got, ref_key, xd.shape[0], str(got.dtype))


def left():
    return BUDGET - (time.time() - T0)


# ---- 1. core: float32 vs mixed_bfloat16, jitted, both batch sizes
for p in ["float32", "mixed_bfloat16"]:
    guarded(f"setup/{p}", setup, p)
for b in BATCHES:
    for p in ["float32", "mixed_bfloat16"]:
        if p in fns:
            guarded(f"jit/{p}/{b}", speed_jit, p, b)
if "mixed_bfloat16" in fns:
    guarded("accuracy/mixed_bfloat16", accuracy, "mixed_bfloat16")

# ---- 2. pure bfloat16 policy (bf16 variables too)
if left() > 60:
    guarded("setup/bfloat16", setup, "bfloat16")
    if "bfloat16" in fns:
        guarded("accuracy/bfloat16", accuracy, "bfloat16")
        for b in BATCHES:
            if left() > 30:
                guarded(f"jit/bfloat16/{b}", speed_jit, "bfloat16", b)

# ---- 3. predict_on_batch (numpy in/out, what a Keras user calls)
for b in BATCHES:
    for p in ["float32", "mixed_bfloat16"]:
        if p in models and left() > 40:
            guarded(f"pob/{p}/{b}", speed_pob, p, b)

# ---- 4. float32 with full-precision matmul/conv (no TF32), for reference.
# NB: jit retraces under a changed default_matmul_precision, so every call of the
# "highest" function happens inside the context and every other call outside it.
if left() > 60 and "float32" in models:

    def f32_highest():
        b = min(256, MAXB)
        xd = jax.device_put(x_host[:b])
        with jax.default_matmul_precision("highest"):
            fns["float32_highest"] = make_jit(models["float32"])
            ref = fns["float32_highest"](xd)
            jax.block_until_ready(ref)
            for bb in BATCHES:
                speed_jit("float32_highest", bb, label="jit/float32/precision=highest")
        for p in ["float32", "mixed_bfloat16", "bfloat16"]:
            if p in fns:
                got = fns[p](xd)
                compare(p, ref, got, "float32_precision_highest", b, str(got.dtype))

    guarded("jit/float32_highest", f32_highest)


# ---- 5. where predict_on_batch's time goes: host->device copy of the numpy batch,
# and predict_on_batch fed an array already on the GPU
def h2d(b):
    xb = np.ascontiguousarray(x_host[:b])
    jax.block_until_ready(jax.device_put(xb))
    ts = []
    for _ in range(5):
        t = time.perf_counter()
        jax.block_until_ready(jax.device_put(xb))
        ts.append(time.perf_counter() - t)
    emit(
        what="h2d",
        batch=b,
        bytes=xb.nbytes,
        best_ms=round(1000 * min(ts), 3),
        GB_per_s=round(xb.nbytes / min(ts) / 1e9, 2),
    )


def pob_dev(policy, b):
    xd = jax.device_put(x_host[:b])
    bench(
        models[policy].predict_on_batch,
        xd,
        np_block,
        f"predict_on_batch_device_input/{policy}",
        policy=policy,
        mode="model.predict_on_batch, jax array on GPU in, numpy out",
    )


for b in BATCHES:
    guarded(f"h2d/{b}", h2d, b)
    for p in ["float32", "mixed_bfloat16"]:
        if p in models and left() > 20:
            guarded(f"pob_dev/{p}/{b}", pob_dev, p, b)

emit(what="done", total_s=round(time.time() - T0, 1))
