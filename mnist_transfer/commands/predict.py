"""Your own digits through both models: image files, folders of them or Kaggle CSVs in, each
model's label and probability out, as CSV (README.md, Your own digits).

    python -m mnist_transfer.commands.predict my_digits/*.png           # CSV on stdout
    python -m mnist_transfer.commands.predict my_digits/ -o predictions.csv
    python -m mnist_transfer.commands.predict test.csv --kaggle cnn -o submission.csv
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from mnist_transfer.core import atomic, catalog, params, paths, quiet
from mnist_transfer.core.errors import InputError, run_stage
from mnist_transfer.data import elsewhere
from mnist_transfer.data.readers import Item, read_inputs
from mnist_transfer.report import kaggle


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
    read = elsewhere.like_the_models(items, stroke_width, deslant)
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
