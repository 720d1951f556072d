"""render_errors: a picture of every test digit on which the two models disagree, named as
the blog named them, {index}_{label}_{cnn}_{vgg16}.jpg, and one captioned grid of them all."""

import io
import math

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFont

from stages import atomic, comparison, params, paths
from stages.errors import run_stage

DIGIT_SCALE = 4  # 28 px -> 112 px: large enough to read
GRID_SCALE = 3
GRID_MARGIN = 8
RIGHT, WRONG = (0, 110, 0), (200, 0, 0)


def error_name(row) -> str:
    return f"{row.index}_{row.label}_{row.cnn}_{row.vgg16}.jpg"


def enlarged(image: np.ndarray, scale: int) -> Image.Image:
    return Image.fromarray(np.kron(image, np.ones((scale, scale), dtype=np.uint8)), mode="L")


def digit_jpeg(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    enlarged(image, DIGIT_SCALE).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def grid_png(images: np.ndarray, rows: pd.DataFrame, columns: int, title: str) -> bytes:
    """All disagreements in one picture, each captioned: label, CNN, VGG16, wrong in red."""
    font = ImageFont.load_default(size=14)
    side = 28 * GRID_SCALE
    cell_width, cell_height = side + GRID_MARGIN, side + 22
    header = 56
    lines = max(1, math.ceil(len(rows) / columns))
    canvas = Image.new("RGB", (GRID_MARGIN + columns * cell_width, header + lines * cell_height), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((GRID_MARGIN, 8), title, fill="black", font=ImageFont.load_default(size=16))
    draw.text(
        (GRID_MARGIN, 30),
        "under each digit: true label, CNN, VGG16 (a wrong prediction in red)",
        fill="black",
        font=font,
    )
    for i, row in enumerate(rows.itertuples(index=False)):
        x = GRID_MARGIN + (i % columns) * cell_width
        y = header + (i // columns) * cell_height
        canvas.paste(enlarged(images[row.index], GRID_SCALE), (x, y))
        for text, color in (
            (f"{row.label}  ", "black"),
            (f"{row.cnn}  ", RIGHT if row.cnn == row.label else WRONG),
            (f"{row.vgg16}", RIGHT if row.vgg16 == row.label else WRONG),
        ):
            draw.text((x, y + side + 2), text, fill=color, font=font)
            x += draw.textlength(text, font=font)
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def main() -> None:
    columns = params.load("render_errors")["render"]["grid_columns"]
    cnn = pd.read_csv(paths.PREDICTIONS_CSV["cnn"])["Label"].to_numpy()
    vgg16 = pd.read_csv(paths.PREDICTIONS_CSV["vgg16"])["Label"].to_numpy()
    with np.load(paths.prepared("test")) as test:
        images, labels = test["images"], test["labels"]
    rows = comparison.disagreements(labels, cnn, vgg16)
    err_cnn, err_vgg16 = comparison.wrong_among(rows, "cnn"), comparison.wrong_among(rows, "vgg16")

    with atomic.replacing(paths.ERRORS) as folder:
        folder.mkdir()
        for row in rows.itertuples(index=False):
            (folder / error_name(row)).write_bytes(digit_jpeg(images[row.index]))
    title = f"{len(rows)} test digits where the CNN and VGG16 disagree: CNN wrong on {err_cnn}, VGG16 on {err_vgg16}"
    atomic.write_bytes(paths.ERRORS_GRID, grid_png(images, rows, columns, title))
    print(f"render_errors: {len(rows)} disagreements in {paths.ERRORS}/")
    print(f"err_CNN: {err_cnn}")
    print(f"err_VGG16: {err_vgg16}")


if __name__ == "__main__":
    run_stage(main)
