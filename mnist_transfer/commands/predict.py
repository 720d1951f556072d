"""Your own digits through both models: image files, folders of them or Kaggle CSVs in, each
model's label and probability out, as CSV (README.md, Your own digits).

    python -m mnist_transfer.commands.predict my_digits/*.png           # CSV on stdout
    python -m mnist_transfer.commands.predict my_digits/ -o predictions.csv
    python -m mnist_transfer.commands.predict test.csv --kaggle cnn -o submission.csv
"""

import argparse
import csv
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError

from mnist_transfer.core import atomic, catalog, digits, params, paths, quiet
from mnist_transfer.core.errors import InputError, run_stage
from mnist_transfer.data import elsewhere, framing
from mnist_transfer.report import kaggle

PIXELS = [f"pixel{i}" for i in range(digits.SHAPE[0] * digits.SHAPE[1])]
KAGGLE_COLUMNS = (PIXELS, ["label", *PIXELS])


@dataclass(frozen=True)
class Item:
    """One input: an image file, or one row (from 1) of a Kaggle CSV; its digit, framed,
    or what was wrong with it."""

    file: str
    row: int | None = None
    digit: np.ndarray | None = None
    error: str | None = None

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
        items.append(Item(str(path), number, digit=digit, error=error))
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


def _number_or_nan(cell: str) -> float:
    try:
        return float(cell)
    except ValueError:
        return float("nan")


def read_inputs(names: list[str]) -> list[Item]:
    """Every input named, in order: a folder stands for the files in it and in the folders
    in it (hidden ones left out), a .csv for its rows."""
    items = []
    for name in names:
        path = Path(name)
        files = [path]
        if path.is_dir():
            files = sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        for file in files:
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


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """--models and --extractor: where `model_files.classifiers` finds the files, for every command that loads them."""
    parser.add_argument(
        "--models", type=Path, default=paths.MODELS["cnn"].parent, help="folder of cnn.keras and head.keras"
    )
    parser.add_argument(
        "--extractor",
        type=Path,
        default=paths.EXTRACTOR,
        help=f"the frozen backbone's extractor (default {paths.EXTRACTOR})",
    )


def framing_of_models() -> tuple[str, bool]:
    """params.yaml's data.strokes and data.deslant, as the models in data/models were made
    with them; as framed, outside a project folder."""
    if not params.PARAMS_FILE.is_file():
        return catalog.STROKE_WIDTHS[0], False
    data = params.everything()["data"]
    return data["strokes"], data["deslant"]


def like_the_models(items: list[Item], stroke_width: str, deslant: bool) -> list[np.ndarray]:
    """The digits read, those of images made `like_mnist`, those of Kaggle rows as they are."""
    return [
        item.digit if item.row is not None else elsewhere.like_mnist(item.digit[None], stroke_width, deslant)[0]
        for item in items
        if item.error is None
    ]


def predictions_table(items: list[Item], probabilities: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per digit read: its file and row, and each model's label and probability."""
    read = [item for item in items if item.error is None]
    table = pd.DataFrame({"file": [i.file for i in read], "row": pd.array([i.row for i in read], dtype="Int64")})
    for name, p in probabilities.items():
        table[name] = p.argmax(axis=1)
        table[f"{name}_probability"] = p.max(axis=1).round(4)
    return table


def kaggle_table(items: list[Item], probabilities: np.ndarray) -> pd.DataFrame:
    """Kaggle's submission format: ImageId (each input's place among all inputs, from 1,
    so an input that failed leaves its number out) and Label."""
    image_ids = [n for n, item in enumerate(items, start=1) if item.error is None]
    return kaggle.submission(image_ids, probabilities.argmax(axis=1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mnist_transfer.commands.predict", description=__doc__.splitlines()[0].rstrip(":")
    )
    parser.add_argument("inputs", nargs="+", help="image files, folders of them, or Kaggle digits CSVs")
    parser.add_argument("-o", "--output", type=Path, help="write the CSV here instead of to stdout")
    parser.add_argument("--kaggle", choices=tuple(catalog.MODELS), help="write ImageId,Label of this model only")
    parser.add_argument("--strokes", choices=catalog.STROKE_WIDTHS, help="images' strokes (default: data.strokes)")
    parser.add_argument(
        "--deslant", action=argparse.BooleanOptionalAction, help="shear images upright (default: data.deslant)"
    )
    parser.add_argument(
        "--elsewhere",
        action="store_true",
        help="the head reads the images' features as it reads the digits from elsewhere "
        f"(their own statistics, with adapt.normalize; {paths.ELSEWHERE_STATISTICS.name} in --models)",
    )
    add_model_arguments(parser)
    args = parser.parse_args(argv)
    stroke_width, deslant = framing_of_models()
    stroke_width = args.strokes or stroke_width
    deslant = deslant if args.deslant is None else args.deslant

    items = read_inputs(args.inputs)
    if args.output and args.output.resolve() in {Path(item.file).resolve() for item in items}:
        raise InputError(f"-o {args.output}: one of the inputs; write the predictions elsewhere")
    failed = [item for item in items if item.error is not None]
    for item in failed:
        print(f"error: {item.name}: {item.error}".encode(errors="backslashreplace").decode(), file=sys.stderr)
    read = like_the_models(items, stroke_width, deslant)
    if read:
        names = [args.kaggle] if args.kaggle else list(catalog.MODELS)
        batch = np.stack(read)
        quiet.load_tensorflow()  # only now, and without its start-up lines
        from mnist_transfer.core import model_files

        loaded = model_files.classifiers(names, args.models, args.extractor, elsewhere=args.elsewhere)

        probabilities = {
            name: model.predict(batch, batch_size=model_files.PREDICT_BATCH, verbose=0)
            for name, model in loaded.items()
        }
        if args.kaggle:
            table = kaggle_table(items, probabilities[args.kaggle])
        else:
            table = predictions_table(items, probabilities)
        # A file name that is not UTF-8 comes back as the bytes it was (os.fsdecode's escapes).
        data = table.to_csv(index=False).encode("utf-8", "surrogateescape")
        if args.output:
            atomic.write_bytes(args.output, data)
        else:
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
    if failed:
        print(f"predict: {len(read)} of {len(items)} inputs predicted, {len(failed)} failed", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    run_stage(lambda: sys.exit(main(sys.argv[1:])))
