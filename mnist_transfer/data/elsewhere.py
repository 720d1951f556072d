"""Handwritten digits from elsewhere (`data.elsewhere`): real people's handwriting that is
neither MNIST nor derived from it, framed as `predict` frames a picture, on which evaluate
scores the models trained on MNIST, and to which they can adapt without labels. A catalog
entry, or your own: a folder of images or a Kaggle digits CSV, labelled or not."""

import csv
import hashlib
import importlib
import sys
from pathlib import Path

import numpy as np

from mnist_transfer.core import catalog, digits
from mnist_transfer.core.downloads import packaged_file
from mnist_transfer.core.errors import InputError
from mnist_transfer.data import framing, readers, strokes

# mfeat-pix: 16 rows of 15 values, each the black pixels of 6 in 3 rows by 2 columns of the scan.
MFEAT_ROWS, MFEAT_COLUMNS = 16, 15
MFEAT_WINDOW = (3, 2)
MFEAT_BLACK = 6
# Beside a folder's images: `file,label` per image, `file` as a path inside the folder.
LABELS_FILE = "labels.csv"
LABELS_COLUMNS = ["file", "label"]
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


def like_the_models(items: list[readers.Item], stroke_width: str, deslant: bool) -> list[np.ndarray]:
    """The digits read, those of images made `like_mnist`, those of Kaggle rows as they are."""
    return [
        item.digit if item.row is not None else like_mnist(item.digit[None], stroke_width, deslant)[0]
        for item in items
        if item.error is None
    ]


def load(
    name: str, stroke_width: str = "kept", deslant: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Set `name`'s digits framed as MNIST's (n, 28, 28) uint8 and made `like_mnist`, their
    labels (none, an empty array, for digits without), each digit's name (its file, or its
    file and row), and a record of where they came from; for `none`, no digits."""
    if name == catalog.NO_ELSEWHERE:
        return np.zeros((0, *digits.SHAPE), np.uint8), np.zeros(0, np.uint8), np.zeros(0, str), {"set": name}
    if name not in catalog.ELSEWHERE:
        return load_own(Path(name), stroke_width, deslant)
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
    names = np.array([f"{Path(chosen.path).name} row {row}" for row in range(1, len(labels) + 1)])
    return framed, labels, names, record


def load_own(path: Path, stroke_width: str, deslant: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """`load` of a folder of images or a Kaggle digits CSV: each file or row that cannot be
    read or framed is one line on stderr, the others are kept; refused in one line when none is."""
    items, labels = read_own(path)
    failed = [item for item in items if item.error is not None]
    for item in failed:
        print(f"data.elsewhere: {item.name} left out: {item.error}", file=sys.stderr)
    read = [item for item in items if item.error is None]
    if not read:
        raise InputError(
            f"data.elsewhere {path}: none of its {len(items)} inputs is a digit that can be read; "
            f"the first: {failed[0].name}: {failed[0].error}"
        )
    framed = np.stack(like_the_models(read, stroke_width, deslant))
    names = np.array([item.name for item in read])
    record = {
        "set": str(path),
        "route": "folder" if path.is_dir() else "Kaggle CSV",
        "images": len(read),
        "left_out": len(failed),
        "labelled": bool(len(labels)),
        "class_counts": np.bincount(labels, minlength=10).tolist() if len(labels) else None,
        "strokes": stroke_width,
        "deslant": deslant,
        "sha256": hashlib.sha256(framed.tobytes() + labels.tobytes()).hexdigest(),
    }
    return framed, labels, names, record


def read_own(path: Path) -> tuple[list[readers.Item], np.ndarray]:
    """A folder's images (and Kaggle CSVs), or one Kaggle CSV, read; and the labels of those
    read, in their order (uint8): from the folder's labels.csv for images, from a CSV's
    label column for its rows; none (an empty array) where nothing is labelled. Labelling
    some digits and not others is refused: evaluate would score a part and call it the whole."""
    if path.is_dir():
        files = [file for file in readers.files_in(path) if file != path / LABELS_FILE]
        if not files:
            raise InputError(
                f"data.elsewhere {path}: an empty folder; put images of digits in it (PNG, JPEG, ...) "
                "or a Kaggle digits CSV"
            )
        items = readers.read_inputs([str(file) for file in files])
        given = folder_labels(path) if (path / LABELS_FILE).is_file() else {}
    else:
        items, given = readers.read_inputs([str(path)]), {}
    read = [item for item in items if item.error is None]
    labels = [given.get(inside(path, item.file)) if item.row is None else item.label for item in read]
    if not any(label is not None for label in labels):
        return items, np.zeros(0, np.uint8)
    missing = [item.name for item, label in zip(read, labels, strict=True) if label is None]
    if missing:
        raise InputError(
            f"data.elsewhere {path}: {len(read) - len(missing)} of its {len(read)} digits are labelled, "
            f"{missing[0]} is not; label every one (in {LABELS_FILE} beside the images, or a CSV's label "
            "column), or none to adapt without labels"
        )
    return items, np.array(labels, np.uint8)


def inside(folder: Path, file: str) -> str:
    """`file`'s path inside `folder`, as labels.csv names it."""
    return Path(file).relative_to(folder).as_posix()


def folder_labels(folder: Path) -> dict[str, int]:
    """The folder's labels.csv: {file inside the folder: label}; refused in one line where a
    row names no file there, or a label is no digit 0-9."""
    labels_path = folder / LABELS_FILE
    with labels_path.open(encoding="utf-8-sig", newline="") as file:
        rows = csv.reader(file)
        header = [cell.strip() for cell in next(rows, [])]
        if header != LABELS_COLUMNS:
            raise InputError(
                f"{labels_path}: the header must be {','.join(LABELS_COLUMNS)}, found {','.join(header)!r}"
            )
        labels = {}
        for number, row in enumerate(rows, start=1):
            if not row:
                continue
            if len(row) != 2:
                raise InputError(f"{labels_path} row {number}: {len(row)} cells, expected 2 (file,label)")
            name, cell = row[0].strip(), row[1]
            if not (folder / name).is_file():
                raise InputError(f"{labels_path} row {number}: {name!r} is not a file in {folder}")
            label, error = readers.label_of(cell)
            if error:
                raise InputError(f"{labels_path} row {number}: {error}")
            labels[inside(folder, str(folder / name))] = label
    return labels


def read_mfeat_pix(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """mfeat-pix.csv (a header row, then 240 values and the label per digit) as grey scans,
    ink light on dark paper, with square pixels again, and the labels."""
    table = np.loadtxt(path, delimiter=",", skiprows=1)
    values, labels = table[:, :-1], table[:, -1].astype(np.uint8)
    windows = values.reshape(-1, MFEAT_ROWS, MFEAT_COLUMNS)
    scans = np.repeat(np.repeat(windows, MFEAT_WINDOW[0], axis=1), MFEAT_WINDOW[1], axis=2)
    scans = scans * (255 / MFEAT_BLACK)
    return np.pad(scans, ((0, 0), (PAPER, PAPER), (PAPER, PAPER))), labels
