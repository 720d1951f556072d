"""A study: several configurations, each a seed sweep (mnist_transfer.tools.sweep) of the same
params, and one Markdown table of them, each figure as mean ± sd over the seeds.

    python -m mnist_transfer.tools.study backbones            # run each configuration, then the table
    python -m mnist_transfer.tools.study backbones --table    # the table of the experiments already run
    python -m mnist_transfer.tools.study elsewhere            # MNIST's test set and the digits from elsewhere

The experiments are ordinary DVC experiments on HEAD: `dvc exp show` lists them, and they
spread across machines as any sweep does (docs/experiments.md).
"""

import argparse
import io
import sys
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from mnist_transfer.core import catalog, params, paths
from mnist_transfer.core.errors import InputError, run_stage
from mnist_transfer.report import metrics
from mnist_transfer.tools import summary, sweep


@dataclass(frozen=True)
class Study:
    common: tuple[str, ...]  # KEY=VALUE for every configuration
    configurations: Callable[[], list[tuple[str, ...]]]  # KEY=VALUE that make each one
    rows: Callable[[pd.DataFrame, tuple[str, ...]], list[dict[str, str]]]  # its experiments -> its table rows
    seeds: int = 3  # seeds 0 to seeds - 1
    # A second table, printed after the first, from the same experiments.
    details: Callable[[pd.DataFrame], str] | None = None


def mean_sd(values: pd.Series, percent: bool = False, digits: int = 0) -> str:
    values = values.dropna().astype(float) * (100 if percent else 1)
    if values.empty:
        return "n/a"
    unit = " %" if percent else ""
    if len(values) == 1 or round(values.std(ddof=1), digits) == 0:
        return f"{values.mean():.{digits}f}{unit}"
    return f"{values.mean():.{digits}f} ± {values.std(ddof=1):.{digits}f}{unit}"


def backbone_configurations() -> list[tuple[str, ...]]:
    """Each backbone with an offline copy of its weights, at its last layer and one earlier."""
    return [
        (f"backbone.name={name}", f"backbone.layer={cut}")
        for name, entry in catalog.BACKBONES.items()
        if entry.packaged is not None
        for cut in entry.cuts[:2]
    ]


def backbone_rows(experiments: pd.DataFrame, configuration: tuple[str, ...]) -> list[dict[str, str]]:
    name, cut = (setting.partition("=")[2] for setting in configuration)
    entry = catalog.BACKBONES[name]
    row = {
        "backbone, layer": f"{entry.title}, `{cut}`",
        "test accuracy": mean_sd(experiments[metrics.key("transfer", metrics.ACCURACY)], percent=True, digits=2),
        "seeds": str(len(experiments)),
        "GFLOP per image": f"{entry.gflop[cut]:.3g}",
        "extraction, images/s": mean_sd(experiments["images_per_s"]),
        "features on disk, MiB": mean_sd(experiments["features_mib"]),
        "peak RSS, extract_features, MiB": mean_sd(experiments["extraction_peak_rss_mib"]),
        "peak RSS, train_head, MiB": mean_sd(experiments["head_peak_rss_mib"]),
    }
    return [row]


# "Beyond the blog"'s best frozen configuration (docs/beyond-the-blog.md).
BEST_FROZEN = ("backbone.preprocess=caffe", "backbone.layer=block3_pool", "head.normalize=true", "head.epochs=10")
# The CNN with augmentation trains longer than the blog's one epoch: augmented digits need more.
CNN_AUGMENTED = ("epochs=10", "cnn.augment=true")
WITH_SCANS = ("cnn.stroke=true", "cnn.blur=true")
# Each configuration, and the rows it gives: (model, what the row calls it).
ELSEWHERE = {
    (): (
        ("cnn", "CNN, the blog's (1 epoch)"),
        ("transfer", "VGG16 + head, the blog's (block5_pool, 1 epoch)"),
        (metrics.COMBINED, "the two combined"),
    ),
    (*BEST_FROZEN, *CNN_AUGMENTED): (
        ("transfer", "VGG16 + head, best frozen (block3_pool, normalised, 10 epochs)"),
        ("cnn", "CNN, the kernel's augmentation (10 epochs)"),
        (metrics.COMBINED, "the two combined"),
    ),
    (*BEST_FROZEN, *CNN_AUGMENTED, *WITH_SCANS, "backbone.views=2"): (
        ("transfer", "VGG16 + head, best frozen + 2 augmented views"),
        ("cnn", "CNN, the kernel's augmentation + stroke width + blur"),
        (metrics.COMBINED, "the two combined"),
    ),
    (*BEST_FROZEN, *CNN_AUGMENTED, *WITH_SCANS, "backbone.views=4"): (
        ("transfer", "VGG16 + head, best frozen + 4 augmented views"),
        (metrics.COMBINED, "the two combined (CNN as above)"),
    ),
    # Last, as the least needed: stroke width alone, without blur.
    (*BEST_FROZEN, *CNN_AUGMENTED, "cnn.stroke=true"): (("cnn", "CNN, the kernel's augmentation + stroke width"),),
}


# The blog's reading put to the test: where each model's errors on the digits from elsewhere go.
CONFUSION_COLUMNS = (
    ((), "transfer", "VGG16 + head, the blog's"),
    ((*BEST_FROZEN, *CNN_AUGMENTED), "transfer", "VGG16 + head, best frozen"),
    ((), "cnn", "CNN, the blog's"),
    ((*BEST_FROZEN, *CNN_AUGMENTED, *WITH_SCANS, "backbone.views=2"), "cnn", "CNN, augment + stroke + blur"),
)
SHOWN_CONFUSIONS = 2  # the most common wrong labels per digit


def elsewhere_predictions(experiments: pd.DataFrame) -> list[pd.DataFrame]:
    """Each experiment's labels for the digits from elsewhere, read from its commit."""
    import dvc.api

    return [pd.read_csv(io.StringIO(dvc.api.read(str(paths.ELSEWHERE_CSV), rev=rev))) for rev in experiments["rev"]]


def confusion_cell(predictions: list[pd.DataFrame], model: str, digit: int) -> str:
    """Errors on `digit` per seed (mean), and the labels they went to most, each per seed."""
    if not predictions:
        return "n/a"
    taken = pd.concat([frame[frame["actual"] == digit][model] for frame in predictions])
    wrong = taken[taken != digit].value_counts() / len(predictions)
    shown = ", ".join(f"{int(label)} ({count:.3g})" for label, count in wrong.head(SHOWN_CONFUSIONS).items())
    return f"{wrong.sum():.3g}" + (f": {shown}" if shown else "")


def confusion_table(experiments: pd.DataFrame) -> str:
    common = STUDIES["elsewhere"].common
    columns = {
        label: (elsewhere_predictions(matching(experiments, (*common, *configuration))), model)
        for configuration, model, label in CONFUSION_COLUMNS
    }
    rows = [
        {"digit": str(digit), **{label: confusion_cell(*found, digit) for label, found in columns.items()}}
        for digit in range(10)
    ]
    return markdown(pd.DataFrame(rows))


def elsewhere_rows(experiments: pd.DataFrame, configuration: tuple[str, ...]) -> list[dict[str, str]]:
    command = " ".join(f"-S {setting}" for setting in configuration) or "(params.yaml as it is)"
    return [
        {
            "model": label,
            "MNIST test": mean_sd(
                experiments.get(metrics.key(model, metrics.ACCURACY), pd.Series()), percent=True, digits=2
            ),
            "digits from elsewhere": mean_sd(
                experiments.get(metrics.key(model, metrics.ELSEWHERE_ACCURACY), pd.Series()), percent=True, digits=2
            ),
            "seeds": str(len(experiments)),
            "settings": command,
        }
        for model, label in ELSEWHERE[configuration]
    ]


STUDIES = {
    # docs/backbones.md: every backbone at its last layer and one earlier, a standardised head
    # trained 10 epochs; a 10,000-image training subset, so the study fits an afternoon on 2 cores.
    "backbones": Study(
        ("head.normalize=true", "head.epochs=10", "data.train_limit=10000"), backbone_configurations, backbone_rows
    ),
    # docs/elsewhere.md: both models, their augmentations and the two combined, on MNIST's test
    # set and on the digits from elsewhere; the same training subset.
    "elsewhere": Study(("data.train_limit=10000",), lambda: list(ELSEWHERE), elsewhere_rows, details=confusion_table),
}


def spelled(value) -> str:
    """A param's value as `-S` spells it, whether it came from YAML, from `dvc exp show`
    (which gives a null as "None") or from KEY=VALUE."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "null"
    text = summary.shown_param(value).lower()
    return "null" if text in ("none", "null") else text


def matching(experiments: pd.DataFrame, settings: tuple[str, ...]) -> pd.DataFrame:
    """The experiments made with `settings` (KEY=VALUE) and params.yaml's value of every
    other param but `seed`."""
    wanted = {key: spelled(value) for key, value in params.every_key().items() if key != "seed"}
    wanted.update(setting.partition("=")[::2] for setting in settings)
    chosen = pd.Series(True, index=experiments.index)
    for key, value in wanted.items():
        if key not in experiments.columns:
            return experiments.iloc[0:0]
        chosen &= experiments[key].map(spelled) == spelled(value)
    return experiments[chosen]


def finished_experiments() -> pd.DataFrame:
    import dvc.api

    return summary.finished(summary.experiments_table(dvc.api.exp_show()))[0]


def table(study: Study, experiments: pd.DataFrame) -> str:
    rows = [
        row
        for configuration in study.configurations()
        for row in study.rows(matching(experiments, (*study.common, *configuration)), configuration)
    ]
    return markdown(pd.DataFrame(rows))


def markdown(frame: pd.DataFrame) -> str:
    """A frame of text as a Markdown table."""
    header = "| " + " | ".join(frame.columns) + " |\n|" + "---|" * len(frame.columns)
    return "\n".join([header, *("| " + " | ".join(row) + " |" for row in frame.itertuples(index=False))])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", choices=STUDIES)
    parser.add_argument("--table", action="store_true", help="print the table of what has run; run nothing")
    parser.add_argument("-j", "--jobs", type=int, default=2, help="experiments at once (default 2)")
    args = parser.parse_args(argv)
    study = STUDIES[args.study]
    if not args.table:
        for configuration in study.configurations():
            settings = (*study.common, *configuration)
            if len(matching(finished_experiments(), settings)) >= study.seeds:
                continue  # run before, by this study or by hand
            print(f"study {args.study}: {' '.join(configuration)}", file=sys.stderr)
            options = [item for setting in settings for item in ("-S", setting)]
            sweep.main([f"--seeds=range(0,{study.seeds})", "-j", str(args.jobs), *options])
    experiments = finished_experiments()
    if experiments.empty:
        raise InputError(f"no finished experiments on HEAD; run: python -m mnist_transfer.tools.study {args.study}")
    print(table(study, experiments))
    if study.details:
        print(f"\n{study.details(experiments)}")


if __name__ == "__main__":
    run_stage(lambda: main(sys.argv[1:]))
