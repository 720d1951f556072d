"""What this machine's CPU offers, from /proc/cpuinfo (empty where there is none), and
whether it computes in bfloat16."""

import os
import platform
from pathlib import Path

from mnist_transfer.core.errors import InputError

CPUINFO = Path("/proc/cpuinfo")
# The flags of a CPU that computes bfloat16 products itself (AVX-512's BF16, AMX's tiles).
BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")
# The flags that decide how fast float32 (and lower precisions) can go.
SPEED_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile")


def info() -> dict[str, str]:
    """The first processor's fields (model name, vendor_id, flags, cpu MHz, ...)."""
    fields: dict[str, str] = {}
    if CPUINFO.exists():
        for line in CPUINFO.read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    return fields


def flags() -> set[str]:
    return set(info().get("flags", "").split())


def speed_flags() -> list[str]:
    """Which of SPEED_FLAGS this CPU has, in their order."""
    present = flags()
    return [flag for flag in SPEED_FLAGS if flag in present]


def machine() -> dict:
    """This machine as a record names it: float results differ between CPUs in their last digits."""
    fields = info()
    return {
        "cpu": fields.get("model name", platform.processor()),
        "vendor": fields.get("vendor_id", ""),
        "cores": os.cpu_count(),
        "flags": speed_flags(),
        "python": platform.python_version(),
    }


def computes_bfloat16() -> bool:
    return bool(flags() & set(BFLOAT16_FLAGS))


def check_precision(key: str, precision: str) -> None:
    """bfloat16 only where the hardware computes it: emulated, it would be slower than float32."""
    if precision == "bfloat16" and not computes_bfloat16():
        import tensorflow as tf

        if not tf.config.list_physical_devices("GPU"):
            raise InputError(
                f"params.yaml: {key} bfloat16 needs a GPU or a CPU with {' or '.join(BFLOAT16_FLAGS)}, and "
                "this machine has neither; use float32 or auto"
            )
