"""What this machine's CPU offers, from /proc/cpuinfo (empty where there is none)."""

from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")


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
