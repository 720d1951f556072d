"""The user's commands on the full data, in a fresh clone, timed; the peak resident memory of
every stage while they run; and what the clone's DVC cache holds after each, and after the
clean-up experiments/experiments.md gives (an experiment should store what it changed, never
VGG16 again)."""

import json
import subprocess
import sys
import threading
from pathlib import Path

from bench.timing import timed
from mnist_transfer.core import paths
from mnist_transfer.report import metrics

COMMANDS = {
    "cold dvc repro": ["repro"],
    "dvc exp run -S epochs=3": ["exp", "run", "-S", "epochs=3"],
    "dvc exp run -S head.units=1024": ["exp", "run", "-S", "head.units=1024"],
    "dvc exp run -S seed=7 (a new split)": ["exp", "run", "-S", "seed=7"],
    "dvc repro with nothing to do": ["repro"],
}
# docs/experiments.md's clean-up: every experiment removed, then what the workspace does not use.
CLEAN_UP = (["exp", "remove", "--all-commits"], ["gc", "--workspace", "--force"])


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
                        kib = int((entry / "status").read_text().split("VmHWM:")[1].split()[0])
                        self.peaks[stage] = max(self.peaks.get(stage, 0), kib * 1024)
                except (OSError, IndexError, ValueError):
                    continue


def dvc(args: list[str], cwd: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    if result.returncode != 0:
        sys.exit(f"dvc {' '.join(args)} failed:\n{result.stdout[-4000:]}")


def cache_bytes(clone: Path) -> int:
    """The bytes of every file in the clone's DVC cache (`du -sb` counts its folders too)."""
    return sum(file.stat().st_size for file in (clone / ".dvc/cache").rglob("*") if file.is_file())


def megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def stored(clone: Path) -> list[tuple[str, str]]:
    """The size of what the cold run stored that experiments.md names: the frozen extractor,
    stored once beside its features, and each model, stored again by every experiment that trains it."""
    files = {
        "the frozen extractor": paths.EXTRACTOR,
        "the CNN": paths.MODELS["cnn"],
        "the head": paths.MODELS["transfer"],
    }
    return [
        (f"DVC cache, of it: {what} ({file})", megabytes((clone / file).stat().st_size)) for what, file in files.items()
    ]


def accuracies(clone: Path) -> str:
    found = json.loads((clone / paths.METRICS).read_text())
    scored = [
        f"{metrics.TITLES[model]} {found[model][metrics.ACCURACY]:.2%} ({found[model][metrics.ERRORS]} errors)"
        for model in ("cnn", "transfer")
    ]
    return f"{', '.join(scored)}; {found[metrics.DISAGREEMENTS]} disagreements"


def rows(root: Path, clone: Path) -> list[tuple[str, str]]:
    subprocess.run(["git", "clone", "-q", str(root), str(clone)], check=True)
    out, sizes = [], []
    with PeakMemory() as memory:
        for name, args in COMMANDS.items():
            before = cache_bytes(clone) if args[0] == "exp" else 0  # the cold run made the cache
            seconds = timed(lambda args=args: dvc(args, clone))
            out.append((f"{name}, full data", f"{seconds:.1f} s"))
            if name == "cold dvc repro":
                out.append(("accuracy at the default params", accuracies(clone)))
                sizes += [("DVC cache after the cold dvc repro", megabytes(cache_bytes(clone))), *stored(clone)]
            elif args[0] == "exp":
                sizes.append((f"DVC cache added by {name}", megabytes(cache_bytes(clone) - before)))
    for stage, peak in sorted(memory.peaks.items(), key=lambda item: -item[1]):
        out.append((f"peak memory of {stage}", f"{peak / 2**30:.2f} GiB"))
    for args in CLEAN_UP:
        dvc(args, clone)
    sizes.append(
        (
            f"DVC cache after {' then '.join('dvc ' + ' '.join(args) for args in CLEAN_UP)}",
            megabytes(cache_bytes(clone)),
        )
    )
    return out + sizes
