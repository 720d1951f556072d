"""Handwritten digits from elsewhere (`data.elsewhere`): real people's handwriting that is
neither MNIST nor derived from it, framed as `predict` frames a picture, on which evaluate
scores the models trained on MNIST."""

import hashlib
import importlib
from pathlib import Path

import numpy as np

from mnist_transfer.core import catalog, digits
from mnist_transfer.core.downloads import packaged_file
from mnist_transfer.core.errors import InputError
from mnist_transfer.data import framing, strokes

# mfeat-pix: 16 rows of 15 values, each the black pixels of 6 in 3 rows by 2 columns of the scan.
MFEAT_ROWS, MFEAT_COLUMNS = 16, 15
MFEAT_WINDOW = (3, 2)
MFEAT_BLACK = 6
# Blank paper laid around each digit before framing: the scans are cut at the ink, and
# framing reads the paper's colour from the border.
PAPER = 6


def like_mnist(framed: np.ndarray, stroke_width: str, deslant: bool) -> np.ndarray:
    """Framed digits (n, 28, 28) with their strokes as `stroke_width` says (`mnist`: thinned
    or thickened to MNIST's median width; `capped`: thinned only where bolder than MNIST's
    95th percentile, down to it) and, with `deslant`, sheared upright by their moments."""
    if stroke_width == "mnist":
        framed = np.stack([strokes.normalised(digit) for digit in framed])
    elif stroke_width == "capped":
        framed = np.stack([strokes.capped(digit) for digit in framed])
    if deslant:
        framed = np.stack([framing.deslanted(digit) for digit in framed])
    return framed


def load(name: str, stroke_width: str = "kept", deslant: bool = False) -> tuple[np.ndarray, np.ndarray, dict]:
    """Set `name`'s digits framed as MNIST's (n, 28, 28) uint8 and made `like_mnist`, their
    labels, and a record of where they came from; for `none`, no digits."""
    if name == catalog.NO_ELSEWHERE:
        return np.zeros((0, *digits.SHAPE), np.uint8), np.zeros(0, np.uint8), {"set": name}
    chosen = catalog.ELSEWHERE[name]
    path = packaged_file(chosen.requirement, chosen.path, chosen.sha256, only_copy=True)
    module, _, function = chosen.reader.partition(":")
    levels, labels = getattr(importlib.import_module(module), function)(path)
    counts = tuple(np.bincount(labels, minlength=10).tolist())
    if counts != chosen.class_counts:
        raise InputError(f"{path}: class counts {counts}, expected {chosen.class_counts}")
    framed = like_mnist(np.stack([framing.frame(scan) for scan in levels]), stroke_width, deslant)
    record = {
        "set": name,
        "route": chosen.requirement,
        "images": len(labels),
        "class_counts": list(counts),
        "strokes": stroke_width,
        "deslant": deslant,
        "sha256": hashlib.sha256(framed.tobytes() + labels.tobytes()).hexdigest(),
    }
    return framed, labels, record


def read_mfeat_pix(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """mfeat-pix.csv (a header row, then 240 values and the label per digit) as grey scans,
    ink light on dark paper, with square pixels again, and the labels."""
    table = np.loadtxt(path, delimiter=",", skiprows=1)
    values, labels = table[:, :-1], table[:, -1].astype(np.uint8)
    windows = values.reshape(-1, MFEAT_ROWS, MFEAT_COLUMNS)
    scans = np.repeat(np.repeat(windows, MFEAT_WINDOW[0], axis=1), MFEAT_WINDOW[1], axis=2)
    scans = scans * (255 / MFEAT_BLACK)
    return np.pad(scans, ((0, 0), (PAPER, PAPER), (PAPER, PAPER))), labels
