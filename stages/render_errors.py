"""render_errors: a picture of every test digit on which the two models disagree, named as
the blog named them, {index}_{label}_{cnn}_{vgg16}.jpg, and one captioned grid of them all."""

import pandas as pd

from mnist_transfer import comparison, images, pictures
from mnist_transfer.pipeline import atomic, params, paths
from mnist_transfer.pipeline.errors import run_stage


def main() -> None:
    columns = params.load("render_errors")["render"]["grid_columns"]
    predictions = {name: pd.read_csv(csv)["Label"].to_numpy() for name, csv in paths.PREDICTIONS_CSV.items()}
    digits, labels = images.read("test")
    rows = comparison.disagreements(labels, predictions)
    wrong = {name: comparison.wrong_among(rows, name) for name in predictions}

    with atomic.replacing(paths.ERRORS) as folder:
        folder.mkdir()
        for _, row in rows.iterrows():
            (folder / pictures.error_name(row)).write_bytes(pictures.digit_jpeg(digits[row["index"]]))
    atomic.write_bytes(paths.ERRORS_GRID, pictures.grid_png(digits, rows, columns, pictures.grid_title(rows, wrong)))
    print(f"render_errors: {len(rows)} disagreements in {paths.ERRORS}/")
    for name, count in wrong.items():
        print(f"err_{pictures.DISPLAY_NAMES.get(name, name)}: {count}")


if __name__ == "__main__":
    run_stage(main)
