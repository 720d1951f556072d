"""render_errors: a picture of every test digit on which the two models disagree, named as
the blog named them, {index}_{label}_{cnn}_{vgg16}.jpg (the transfer model's prediction
last, whatever its backbone), and one captioned grid of them all."""

import pandas as pd

from mnist_transfer.core import atomic, catalog, images, params, paths
from mnist_transfer.core.errors import run_stage
from mnist_transfer.report import comparison, pictures


def main() -> None:
    p = params.load("render_errors")
    titles = {"cnn": "CNN", "transfer": catalog.BACKBONES[p["backbone"]["name"]].title}
    table = pd.read_csv(paths.COMPARISON_CSV)
    predictions = {name: table[name].to_numpy() for name in catalog.MODELS}
    digits, labels = images.read("test")
    rows = comparison.disagreements(labels, predictions)
    wrong = {name: comparison.wrong_among(rows, name) for name in predictions}

    with atomic.replacing(paths.ERRORS) as folder:
        folder.mkdir()
        for _, row in rows.iterrows():
            (folder / pictures.error_name(row)).write_bytes(pictures.digit_jpeg(digits[row["index"]]))
    grid = pictures.grid_png(digits, rows, p["render"]["grid_columns"], titles, pictures.grid_title(wrong, titles))
    atomic.write_bytes(paths.ERRORS_GRID, grid)
    print(f"render_errors: {len(rows)} disagreements in {paths.ERRORS}/")
    for name, count in wrong.items():
        print(f"err_{titles[name]}: {count}")


if __name__ == "__main__":
    run_stage(main)
