"""Pictures of test digits: one JPEG per disagreement, named as the blog named them, and
one captioned grid of them all."""

import io
import math

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFont

DIGIT_SCALE = 4  # 28 px -> 112 px: large enough to read
GRID_SCALE = 3
GRID_MARGIN = 8
GRID_HEADER = 56
RIGHT, WRONG = (0, 110, 0), (200, 0, 0)


def model_columns(rows: pd.DataFrame) -> list[str]:
    """The models' columns of a `comparison.disagreements` table, in order."""
    return [column for column in rows.columns if column not in ("index", "label")]


def error_name(row: pd.Series) -> str:
    """{index}_{label}_{cnn}_{vgg16}.jpg: the blog's name for the picture of a disagreement."""
    return "_".join(str(value) for value in row.to_numpy()) + ".jpg"


def enlarged(image: np.ndarray, scale: int) -> Image.Image:
    return Image.fromarray(np.kron(image, np.ones((scale, scale), dtype=np.uint8)), mode="L")


def digit_jpeg(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    enlarged(image, DIGIT_SCALE).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def grid_title(wrong: dict[str, int], titles: dict[str, str]) -> str:
    """ "the CNN and VGG16 disagree: CNN wrong on 102, VGG16 on 418", models named by `titles`."""
    counts = [f"{titles[name]} wrong on {n}" for name, n in wrong.items()]
    counts[1:] = [text.replace(" wrong", "", 1) for text in counts[1:]]
    return f"the {' and '.join(titles[name] for name in wrong)} disagree: {', '.join(counts)}"


def grid_png(images: np.ndarray, rows: pd.DataFrame, columns: int, titles: dict[str, str], title: str) -> bytes:
    """All disagreements in one picture, each captioned: label, then each model's
    prediction, a wrong one in red."""
    models = model_columns(rows)
    font = ImageFont.load_default(size=14)
    side = 28 * GRID_SCALE
    cell_width, cell_height = side + GRID_MARGIN, side + 22
    lines = max(1, math.ceil(len(rows) / columns))
    canvas = Image.new("RGB", (GRID_MARGIN + columns * cell_width, GRID_HEADER + lines * cell_height), "white")
    draw = ImageDraw.Draw(canvas)
    heading = f"{len(rows)} test digits where {title}"
    draw.text((GRID_MARGIN, 8), heading, fill="black", font=ImageFont.load_default(size=16))
    legend = ", ".join(["true label", *(titles[name] for name in models)])
    draw.text((GRID_MARGIN, 30), f"under each digit: {legend} (a wrong prediction in red)", fill="black", font=font)
    for i, row in enumerate(rows.itertuples(index=False)):
        x = GRID_MARGIN + (i % columns) * cell_width
        y = GRID_HEADER + (i // columns) * cell_height
        canvas.paste(enlarged(images[row.index], GRID_SCALE), (x, y))
        predicted = [getattr(row, name) for name in models]
        captions = [(f"{row.label}", "black")] + [(f"{p}", RIGHT if p == row.label else WRONG) for p in predicted]
        for n, (text, color) in enumerate(captions):
            text += "  " if n < len(captions) - 1 else ""
            draw.text((x, y + side + 2), text, fill=color, font=font)
            x += draw.textlength(text, font=font)
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
