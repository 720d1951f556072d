"""The machine, and three yardsticks for float32 arithmetic on it: TensorFlow's matmul,
NumPy's matmul, and the FMA limit from cores, clock and vector width."""

import os
import platform

import numpy as np

from bench.timing import best_of
from mnist_transfer.core import cpu

MATMUL_N = 4096


def fma_flops_per_cycle(vendor: str, present: list[str]) -> int:
    """float32 FLOPs one core can retire per cycle: 2 FMA pipes x lanes x 2. AMD's Zen 4
    runs AVX-512 on 256-bit pipes, so only Intel's AVX-512 doubles the lanes."""
    lanes = 16 if "avx512f" in present and vendor == "GenuineIntel" else 8
    return 2 * lanes * 2


def fma_limit_gflops() -> tuple[float, str]:
    """The FMA limit at the clock /proc/cpuinfo reports. In a virtual machine that is the
    nominal clock, and cores that boost beat it: `rows` then says by how much."""
    info = cpu.info()
    megahertz = float(info.get("cpu MHz", "nan"))
    cores = os.cpu_count() or 1
    per_cycle = flops_per_cycle()
    how = f"{cores} cores x {megahertz / 1000:.2f} GHz x {per_cycle} FLOP/cycle"
    return cores * megahertz / 1000 * per_cycle, how


def flops_per_cycle() -> int:
    return fma_flops_per_cycle(cpu.info().get("vendor_id", ""), cpu.speed_flags())


def tensorflow_matmul_gflops() -> float:
    import tensorflow as tf

    a = tf.random.normal((MATMUL_N, MATMUL_N), seed=1)
    b = tf.random.normal((MATMUL_N, MATMUL_N), seed=2)
    multiply = tf.function(lambda: tf.matmul(a, b))
    multiply().numpy()  # compile and warm up
    return 2 * MATMUL_N**3 / best_of(lambda: multiply().numpy(), 5) / 1e9


def numpy_matmul_gflops() -> float:
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((MATMUL_N, MATMUL_N), dtype=np.float32) for _ in range(2))
    a @ b  # warm up
    return 2 * MATMUL_N**3 / best_of(lambda: a @ b, 5) / 1e9


def describe() -> str:
    import tensorflow as tf

    info = cpu.info()
    return (
        f"{info.get('model name', platform.processor())} ({info.get('vendor_id', '?')}), {os.cpu_count()} cores, "
        f"flags: {', '.join(cpu.speed_flags()) or 'none of ' + ', '.join(cpu.SPEED_FLAGS)}; "
        f"TensorFlow {tf.__version__}, NumPy {np.__version__}"
    )


def peaks() -> dict[str, float]:
    """GFLOP/s by yardstick."""
    fma, _ = fma_limit_gflops()
    return {"TensorFlow matmul": tensorflow_matmul_gflops(), "NumPy matmul": numpy_matmul_gflops(), "FMA limit": fma}


def rows(measured: dict[str, float]) -> list[tuple[str, str]]:
    _, how = fma_limit_gflops()
    size = f"{MATMUL_N}x{MATMUL_N}, best of 5"
    out = [
        (
            f"float32 peak: TensorFlow matmul ({size})",
            f"{measured['TensorFlow matmul']:.0f} GFLOP/s",
        ),
        (f"float32 peak: NumPy matmul ({size})", f"{measured['NumPy matmul']:.0f} GFLOP/s"),
        ("float32 peak: FMA limit", f"{measured['FMA limit']:.0f} GFLOP/s ({how}, the reported clock)"),
    ]
    fastest = max(measured, key=measured.get)
    if fastest != "FMA limit":
        # A matmul cannot beat the FMA limit at the real clock: the cores ran faster than reported.
        gigahertz = measured[fastest] / (os.cpu_count() or 1) / flops_per_cycle()
        out.append(
            (
                "float32 peak: the clock the fastest matmul implies",
                f"at least {gigahertz:.2f} GHz ({fastest} beats the FMA limit at the reported clock: the cores boost)",
            )
        )
    return out
