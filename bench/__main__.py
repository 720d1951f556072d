"""python -m bench: measure, then print one Markdown table (about 30 minutes on 2 cores).

Parts (all by default): machine (three float32 yardsticks), extraction (throughput and a
per-layer profile), backbones (every backbone of the catalog at each cut, side by side),
views (what `backbone.views` costs in time and disk), options (each way of running the
backbone tried), training (both models' training step, each setting in a fresh process),
blog (the blog's way against ours), end-to-end (the user's commands on the full data in a
fresh clone, each stage's peak memory and what the DVC cache holds). Each part's figures are
also written as a record, metrics/bench/PART.json (metrics/bench/FOLDER/PART.json with
`--folder`), with the commit and the machine.
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

from bench import machine
from bench.record import Recording
from mnist_transfer.core import params
from mnist_transfer.data import mnist

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("machine", "extraction", "backbones", "views", "options", "training", "blog", "end-to-end")
# What a figure should reach, by the start of its name: one table for every target.
TARGETS = {
    "extraction / highest float32 peak": ">= 85 %",
    "train_cnn step, default": ">= 50 % of the fastest yardstick",
    "speed-up, epochs 3": ">= 2x",
    "speed-up of a re-run": ">= 20x",
    "cold dvc repro": "<= 720 s (AVX-512), <= 1200 s (AVX2)",
    "dvc exp run -S head.units=1024": "<= 60 s",
    "dvc repro with nothing to do": "<= 10 s",
    "peak memory of extract_features": "<= 4 GiB",
    "peak memory of train_head": "<= 6 GiB",
}


def target(figure: str) -> str:
    return next((goal for start, goal in TARGETS.items() if figure.startswith(start)), "")


def part_rows(part: str, p: dict, peaks: dict[str, float], arrays: dict) -> list[tuple[str, str]]:
    """The figures of one part."""
    if part == "machine":
        return machine.rows(peaks)
    if part == "extraction":
        from bench import extraction

        return extraction.rows(arrays["x_train"], p["backbone"], peaks)
    if part == "backbones":
        from bench import backbones

        return backbones.rows(arrays["x_train"], p["backbone"])
    if part == "views":
        from bench import views

        return views.rows(arrays["x_train"], p["backbone"])
    if part == "options":
        from bench import extraction, extraction_options

        conv_base = extraction.extractor(p["backbone"])[1]
        return extraction_options.rows(p["backbone"], extraction.flops_per_image(conv_base))
    if part == "training":
        from bench import training

        return training.rows(training.runs(), peaks)
    if part == "blog":
        from bench import blog_way

        return blog_way.rows(arrays["x_train"], arrays["y_train"], p)
    from bench import end_to_end

    with tempfile.TemporaryDirectory(prefix="mnist-transfer-bench-") as folder:
        return end_to_end.rows(ROOT, Path(folder) / "clone")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parts", nargs="*", choices=PARTS, default=list(PARTS), help="the parts to run")
    parser.add_argument(
        "--folder",
        default="",
        help="write the records under metrics/bench/FOLDER/, named for this machine, so another's stay as they are",
    )
    args = parser.parse_args()
    chosen, folder = args.parts, args.folder
    os.chdir(ROOT)
    p = params.everything()
    print(f"Machine: {machine.describe()}\n", file=sys.stderr)
    first = Recording(chosen[0], folder)  # started before the yardsticks, which the machine part measures
    peaks = machine.peaks() if {"machine", "extraction", "training"} & set(chosen) else {}
    arrays = {}
    if {"extraction", "backbones", "views", "blog"} & set(chosen):
        arrays = mnist.packaged_arrays()
    rows: list[tuple[str, str]] = []
    for part in chosen:
        recording = first if part == chosen[0] else Recording(part, folder)
        found = part_rows(part, p, peaks, arrays)
        recording.write(found, yardsticks_gflops={name: round(value, 1) for name, value in peaks.items()})
        rows += found
    print(f"Machine: {machine.describe()}\n")
    print("| figure | measured | target |\n|---|---|---|")
    for figure, measured in rows:
        print(f"| {figure} | {measured} | {target(figure)} |")


if __name__ == "__main__":
    main()
