"""The digits from elsewhere beside MNIST's, as docs/elsewhere.md shows them (after `dvc repro`).

python -m mnist_transfer.publishing.strokes picture    # metrics/plots/elsewhere_beside_mnist.png
python -m mnist_transfer.publishing.strokes widths     # metrics/bench/stroke-widths.json
python -m mnist_transfer.publishing.strokes on-mnist   # metrics/bench/framing-on-mnist.json
"""

import argparse
import io
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFont

from mnist_transfer.core import atomic, catalog, paths, quiet
from mnist_transfer.core.errors import InputError, run_stage
from mnist_transfer.data import elsewhere, strokes
from mnist_transfer.experiments import formatting, records
from mnist_transfer.report import comparison, metrics

PICTURE = Path("metrics/plots/elsewhere_beside_mnist.png")
PER_CLASS = 8  # digits of each class in each panel of the picture
SCALE = 2
# MNIST's test digits, each way a foreign digit may be made like MNIST's: (strokes, deslant).
FRAMINGS = {
    "as MNIST made them": ("kept", False),
    "strokes made MNIST's (data.strokes: mnist)": ("mnist", False),
    "strokes capped at MNIST's 95th percentile (data.strokes: capped)": ("capped", False),
    "deslanted (data.deslant: true)": ("kept", True),
    "both": ("mnist", True),
}


# The columns of on-mnist's table: each model, and the two combined.
MODELS = {"cnn": "CNN", "transfer": "VGG16 + head", metrics.COMBINED: "the two combined"}


def digits_of_each_set() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """MNIST's training and test digits, the set from elsewhere framed, and it made like MNIST's."""
    if not paths.RAW.is_file():
        raise InputError(f"{paths.RAW}: not found; run dvc repro (or python -m stages.fetch_mnist) first")
    with np.load(paths.RAW) as mnist:
        found = {"MNIST train": (mnist["x_train"], mnist["y_train"]), "MNIST test": (mnist["x_test"], mnist["y_test"])}
    for name in catalog.ELSEWHERE:
        framed, labels, _, _ = elsewhere.load(name)
        found[f"{name}, framed"] = (framed, labels)
        found[f"{name}, strokes made MNIST's"] = (elsewhere.like_mnist(framed, "mnist", deslant=False), labels)
    return found


def panel(images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The first PER_CLASS digits of each class, a row per class, each with a grey edge."""
    rows = []
    for digit in range(10):
        chosen = images[np.flatnonzero(labels == digit)[:PER_CLASS]]
        rows.append(np.concatenate([np.pad(image, 1, constant_values=70) for image in chosen], axis=1))
    return np.concatenate(rows, axis=0)


def picture(found: dict[str, tuple[np.ndarray, np.ndarray]]) -> bytes:
    """MNIST's test digits, the set's framed, and the set's with MNIST's strokes, side by side."""
    shown = {name: found[name] for name in found if name != "MNIST train"}
    panels = [np.kron(panel(*digits), np.ones((SCALE, SCALE), np.uint8)) for digits in shown.values()]
    gap, header = 16, 28
    width = sum(p.shape[1] for p in panels) + gap * (len(panels) + 1)
    canvas = Image.new("L", (width, panels[0].shape[0] + header + gap), 255)
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=15)
    left = gap
    for name, image in zip(shown, panels, strict=True):
        draw.text((left, 6), name, fill=0, font=font)
        canvas.paste(Image.fromarray(image), (left, header))
        left += image.shape[1] + gap
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def spread(widths: np.ndarray) -> str:
    low, high = np.percentile(widths, [5, 95])
    return f"{low:.2f} / {high:.2f}"


def width_table(found: dict[str, tuple[np.ndarray, np.ndarray]]) -> tuple[list[str], list[list[str]]]:
    """Per class, each set's median stroke width, its spread, and mean inked pixels."""
    columns = ["set", "measure", *map(str, range(10)), "all"]
    rows = []
    for name, (images, labels) in found.items():
        measured = strokes.widths(images)
        inked = (images >= strokes.INK_LEVEL).sum(axis=(1, 2))
        rows.append(
            [name, "median stroke width, px"]
            + [f"{np.median(measured[labels == digit]):.2f}" for digit in range(10)]
            + [f"{np.median(measured):.2f}"]
        )
        rows.append(
            [name, "stroke width, 5th / 95th percentile, px"]
            + [spread(measured[labels == digit]) for digit in range(10)]
            + [spread(measured)]
        )
        rows.append(
            [name, "mean inked pixels"]
            + [f"{inked[labels == digit].mean():.0f}" for digit in range(10)]
            + [f"{inked.mean():.0f}"]
        )
    return columns, rows


def on_mnist(draws: list[Path], extractor: Path) -> pd.DataFrame:
    """Each model's accuracy on MNIST's test set as it is and made like MNIST's each way, by
    each of `draws` (folders of models, one seed's training each)."""
    quiet.load_tensorflow()  # only now, and without its start-up lines
    from mnist_transfer.core import model_files

    with np.load(paths.RAW) as mnist:
        images, labels = mnist["x_test"], mnist["y_test"]
    made = {name: elsewhere.like_mnist(images, *framing) for name, framing in FRAMINGS.items()}
    scores = []
    for folder in draws:
        loaded = model_files.classifiers(list(catalog.MODELS), folder, extractor)
        for framing, framed in made.items():
            found = {
                model: classifier.predict(framed, batch_size=model_files.PREDICT_BATCH, verbose=0)
                for model, classifier in loaded.items()
            }
            for model, predictions in comparison.predicted(found).items():
                accuracy = round(float((predictions == labels).mean()), 4)
                scores.append({"draw": str(folder), "framing": framing, "model": model, "accuracy": accuracy})
            print(f"strokes: {folder}: {framing}: scored", file=sys.stderr)
    return pd.DataFrame(scores)


def framing_table(scores: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Scores (draw, framing, model, accuracy) as the docs' table: each framing's accuracy as
    mean ± sd over the draws, and under each framing but the first its change from the first,
    taken draw by draw (one seed's models judge both)."""
    table = scores.pivot_table(index=["framing", "draw"], columns="model", values="accuracy")
    draws = scores["draw"].nunique()
    kept = table.loc[next(iter(FRAMINGS))]
    rows = []
    for framing in FRAMINGS:
        cells = [formatting.mean_sd(table.loc[framing][model], percent=True, digits=2) for model in MODELS]
        if rows:
            changes = [
                formatting.mean_sd(table.loc[framing][model] - kept[model], percent=True, digits=2, signed=True)
                for model in MODELS
            ]
            cells = [f"{cell} ({change})" for cell, change in zip(cells, changes, strict=True)]
        rows.append([framing, *cells])
    seeds = f"{draws} seed{'s' * (draws > 1)}"
    return [f"MNIST's 10,000 test digits ({seeds})", *MODELS.values()], rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m mnist_transfer.publishing.strokes", description=__doc__.splitlines()[0]
    )
    parser.add_argument("what", choices=("picture", "widths", "on-mnist"))
    parser.add_argument(
        "--models",
        type=Path,
        nargs="+",
        default=[paths.MODELS["cnn"].parent],
        help="folders of models, one a seed (on-mnist gives mean ± sd over them)",
    )
    parser.add_argument("--extractor", type=Path, default=paths.EXTRACTOR, help="the frozen backbone's extractor")
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    if args.what == "picture":
        atomic.write_bytes(PICTURE, picture(digits_of_each_set()))
        print(f"strokes: {PICTURE}", file=sys.stderr)
        return
    part = {"widths": "stroke-widths", "on-mnist": "framing-on-mnist"}[args.what]
    command = " ".join(["python -m mnist_transfer.publishing.strokes", *argv])
    recording = records.Recording(part, command)
    if args.what == "on-mnist":
        scores = on_mnist(args.models, args.extractor)
        columns, rows = framing_table(scores)
        written = recording.write(columns=columns, rows=rows, scores=scores.to_dict("records"))
    else:
        columns, rows = width_table(digits_of_each_set())
        written = recording.write(columns=columns, rows=rows)
    print(f"strokes: {written}", file=sys.stderr)


if __name__ == "__main__":
    run_stage(main)
