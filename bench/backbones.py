"""Each backbone of the catalog side by side, in one run on one machine, so the ratios hold:
images per second through the stage's own extractor at each of its cuts, and the GFLOP/s
that makes. Backbones whose weights cannot be loaded here are named and left out."""

import numpy as np

from bench.extraction import throughput
from mnist_transfer.core import catalog
from mnist_transfer.core.errors import InputError

IMAGES = 1024


def rows(images: np.ndarray, settings: dict) -> list[tuple[str, str]]:
    out = []
    for name, entry in catalog.BACKBONES.items():
        for cut in entry.cuts[:2]:
            chosen = {**settings, "name": name, "layer": cut, "input_size": None, "weights": "imagenet"}
            try:
                rate, _, values = throughput(images[:IMAGES], chosen)
            except InputError as error:
                out.append((f"extraction, {entry.title}", f"not measured: {error}"))
                break
            gflop = entry.gflop[cut]
            out.append(
                (
                    f"extraction, {entry.title} up to {cut} at {entry.default_size}px",
                    f"{rate:.0f} images/s, {gflop:.3g} GFLOP per image: {rate * gflop:.0f} GFLOP/s; "
                    f"{values:,} feature values per image",
                )
            )
    return out
