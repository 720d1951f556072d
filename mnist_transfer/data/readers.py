"""Readers of users' digits, for `predict` and for `data.elsewhere`: image files, folders of
them and Kaggle digits CSVs, each bad file or row one error while the good ones are read."""

import csv
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from mnist_transfer.core import digits
from mnist_transfer.core.errors import InputError
from mnist_transfer.data import framing

PIXELS = [f"pixel{i}" for i in range(digits.SHAPE[0] * digits.SHAPE[1])]
KAGGLE_COLUMNS = (PIXELS, ["label", *PIXELS])


@dataclass(frozen=True)
class Item:
    """One input: an image file, or one row (from 1) of a Kaggle CSV; its digit, framed,
    or what was wrong with it; and a CSV row's label, where the CSV has a label column."""

    file: str
    row: int | None = None
    digit: np.ndarray | None = None
    error: str | None = None
    label: int | None = None

    @property
    def name(self) -> str:
        return self.file if self.row is None else f"{self.file} row {self.row}"


def read_image(path: Path) -> np.ndarray:
    """The digit in the image at `path`, framed as MNIST's are; an InputError saying why not."""
    with warnings.catch_warnings():
        # Pillow only warns between its limit and twice it; both are refused here.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as image:
                image.load()
                return framing.frame_image(image)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise InputError(f"over Pillow's decompression-bomb limit: {error}") from None
        except UnidentifiedImageError:
            if path.stat().st_size == 0:
                raise InputError("empty file, not an image") from None
            raise InputError("not an image Pillow can read (PNG, JPEG, BMP, ...) nor a .csv") from None
        # Pillow's plugins report a truncated or damaged file in these, each its own way.
        except (OSError, ValueError, EOFError, SyntaxError) as error:
            raise InputError(f"truncated or damaged image ({error})") from None


def describe_columns(columns: list[str]) -> str:
    if len(columns) not in (len(PIXELS), len(PIXELS) + 1):
        shown = ", ".join(columns[:3]) + (", ..." if len(columns) > 3 else "")
        return f"found {len(columns)} columns ({shown})"
    wanted = KAGGLE_COLUMNS[len(columns) - len(PIXELS)]
    found, expected = next((f, w) for f, w in zip(columns, wanted, strict=True) if f != w)
    return f"found {found!r} where {expected!r} should be"


def read_kaggle_csv(path: Path) -> list[Item]:
    """Every data row of a Kaggle digits CSV: its digit as it is, or what is wrong with it
    (a row of the wrong length, a cell that is no pixel). A file that is no such CSV at all
    is an InputError, saying why. Read row by row, so one bad row costs that row alone."""
    with path.open(encoding="utf-8-sig", newline="") as file:  # Excel writes a BOM before the header
        return _read_kaggle_rows(path, csv.reader(file))


def _read_kaggle_rows(path: Path, rows: Iterator[list[str]]) -> list[Item]:
    try:
        header = next(rows, None)
    except (csv.Error, UnicodeDecodeError) as error:
        raise InputError(f"not a readable CSV ({_why(error)})") from None
    if not header:
        raise InputError("empty, not a Kaggle digits CSV")
    columns = [cell.strip() for cell in header]
    if columns not in KAGGLE_COLUMNS:
        raise InputError(
            "not a Kaggle digits CSV: the columns must be pixel0 to pixel783, with or without label first; "
            + describe_columns(columns)
        )
    first_pixel = len(columns) - len(PIXELS)
    items: list[Item] = []
    number = 0
    while True:
        try:
            cells = next(rows, None)
        # A quote never closed, a field over the csv module's limit, bytes that are not UTF-8.
        except (csv.Error, UnicodeDecodeError) as error:
            items.append(
                Item(str(path), number + 1, error=f"not readable as CSV ({_why(error)}); the rest of the file skipped")
            )
            break
        if cells is None:
            break
        if not cells:  # a blank line, as pandas and Kaggle skip them
            continue
        number += 1
        if len(cells) != len(columns):
            items.append(Item(str(path), number, error=f"{len(cells)} cells, the header has {len(columns)}"))
            continue
        digit, error = pixels_of(cells[first_pixel:])
        label = None
        if first_pixel and error is None:
            label, error = label_of(cells[0])
        items.append(Item(str(path), number, digit=digit, error=error, label=label))
    if not items:
        raise InputError("a header and no rows, no digit to predict")
    return items


def _why(error: Exception) -> str:
    if isinstance(error, UnicodeDecodeError):
        return f"not UTF-8 text: byte {error.object[error.start]:#04x}"
    return str(error)


def pixels_of(cells: list[str]) -> tuple[np.ndarray | None, str | None]:
    """One row's 784 cells as a digit, or what is wrong with the first cell that is not a
    whole number 0-255 (12.0 counts as 12, as pandas writes whole numbers of a float column)."""
    try:
        values = np.array(cells, dtype=np.float64)
    except ValueError:
        values = np.array([_number_or_nan(cell) for cell in cells])
    bad = ~np.isin(values, np.arange(256))
    if bad.any():
        column = int(np.argmax(bad))
        cell = cells[column]
        what = "empty" if cell.strip() == "" else f"{cell!r}, not a whole number 0-255"
        return None, f"{PIXELS[column]} is {what}"
    return values.astype(np.uint8).reshape(digits.SHAPE), None


def label_of(cell: str) -> tuple[int | None, str | None]:
    """A label cell as a digit, or what is wrong with it."""
    value = _number_or_nan(cell)
    if value in range(10):
        return int(value), None
    return None, f"label is {cell!r}, not a digit 0-9"


def _number_or_nan(cell: str) -> float:
    try:
        return float(cell)
    except ValueError:
        return float("nan")


def files_in(folder: Path) -> list[Path]:
    """The files in `folder` and in the folders in it, hidden ones left out, sorted."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def read_inputs(names: list[str]) -> list[Item]:
    """Every input named, in order: a folder stands for the files in it and in the folders
    in it (hidden ones left out), a .csv for its rows."""
    items: list[Item] = []
    for name in names:
        path = Path(name)
        for file in files_in(path) if path.is_dir() else [path]:
            try:
                if not file.exists():
                    raise InputError("not found")
                if not file.is_file():  # reading a FIFO would wait for a writer; a device, forever
                    raise InputError("not a regular file (a FIFO, a device or a socket); predict reads files")
                if file.suffix.lower() == ".csv":
                    items += read_kaggle_csv(file)
                else:
                    items.append(Item(str(file), digit=read_image(file)))
            except InputError as error:
                items.append(Item(str(file), error=str(error)))
    return items
