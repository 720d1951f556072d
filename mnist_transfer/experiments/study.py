"""A study: several configurations, each a seed sweep of the same params, into one record
(metrics/runs/study-NAME.jsonl) and one table of mean ± sd over seeds.

    python -m mnist_transfer.experiments.study backbones           # run each configuration, then the table
    python -m mnist_transfer.experiments.study backbones --table   # the table of its record; run nothing
"""

import argparse
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mnist_transfer.core import catalog
from mnist_transfer.core.errors import InputError, run_stage
from mnist_transfer.experiments import records, sweep
from mnist_transfer.experiments.configurations import BEST_FROZEN, ELSEWHERE_FROZEN
from mnist_transfer.experiments.formatting import markdown, mean_sd
from mnist_transfer.report import metrics

# The selection protocol (docs/experiments.md#choosing-on-validation-data): a study's winner is
# the configuration with the best mean score on validation data, and only that winner's score
# on held-out data is its headline. Each score a study chooses by, and the one it reports.
SCORE_TITLES = {
    metrics.VAL_ACCURACY: "validation split",
    metrics.ACCURACY: "MNIST test",
    metrics.FIRST_HALF_ACCURACY: "first half",
    metrics.HELD_OUT_ACCURACY: "held-out half",
}


@dataclass(frozen=True, kw_only=True)
class Study:
    common: tuple[str, ...]  # KEY=VALUE for every configuration
    configurations: Callable[[], list[tuple[str, ...]]]  # KEY=VALUE that make each one
    rows: Callable[[pd.DataFrame, tuple[str, ...]], list[dict[str, str]]]  # its experiments -> its table rows
    label: Callable[[tuple[str, ...]], str]  # a configuration, in words
    # Whose winner the study chooses (none: it compares, and chooses nothing), by which score,
    # and the held-out score it reports of the winner.
    chooses_for: tuple[str, ...] = ()
    chosen_by: str = metrics.VAL_ACCURACY
    reported: str = metrics.ACCURACY
    seeds: int = 3  # seeds 0 to seeds - 1
    # A second table, printed after the first, from the same experiments.
    details: Callable[[pd.DataFrame], str] | None = None


def backbone_configurations() -> list[tuple[str, ...]]:
    """Each backbone with an offline copy of its weights, at its last layer and one earlier."""
    return [
        (f"backbone.name={name}", f"backbone.layer={cut}")
        for name, entry in catalog.BACKBONES.items()
        if entry.packaged is not None
        for cut in entry.cuts[:2]
    ]


def backbone_of(configuration: tuple[str, ...]) -> tuple[str, str]:
    """A backbones study configuration's backbone name and layer."""
    name, cut = (setting.partition("=")[2] for setting in configuration)
    return name, cut


def backbone_label(configuration: tuple[str, ...]) -> str:
    name, cut = backbone_of(configuration)
    return f"{catalog.BACKBONES[name].title}, `{cut}`"


def backbone_rows(experiments: pd.DataFrame, configuration: tuple[str, ...]) -> list[dict[str, str]]:
    name, cut = backbone_of(configuration)
    entry = catalog.BACKBONES[name]
    row = {
        "backbone, layer": backbone_label(configuration),
        "validation accuracy": score(experiments, "transfer", metrics.VAL_ACCURACY),
        "test accuracy": score(experiments, "transfer", metrics.ACCURACY),
        "seeds": str(len(experiments)),
        "GFLOP per image": f"{entry.gflop[cut]:.3g}",
        "extraction, images/s": mean_sd(experiments["images_per_s"]),
        "features on disk, MiB": mean_sd(experiments["features_mib"]),
        "peak RSS, extract_features, MiB": mean_sd(experiments["extraction_peak_rss_mib"]),
        "peak RSS, train_head, MiB": mean_sd(experiments["head_peak_rss_mib"]),
    }
    return [row]


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
    (*ELSEWHERE_FROZEN, *CNN_AUGMENTED): (
        ("transfer", "VGG16 + head, frozen at block4_pool (standardised, 10 epochs)"),
        ("cnn", "CNN, the kernel's augmentation (10 epochs)"),
        (metrics.COMBINED, "the two combined"),
    ),
    (*ELSEWHERE_FROZEN, *CNN_AUGMENTED, *WITH_SCANS, "backbone.views=2"): (
        ("transfer", "VGG16 + head, frozen at block4_pool + 2 augmented views"),
        ("cnn", "CNN, the kernel's augmentation + stroke width + blur"),
        (metrics.COMBINED, "the two combined"),
    ),
    (*ELSEWHERE_FROZEN, *CNN_AUGMENTED, *WITH_SCANS, "backbone.views=4"): (
        ("transfer", "VGG16 + head, frozen at block4_pool + 4 augmented views"),
        (metrics.COMBINED, "the two combined (CNN as above)"),
    ),
    # Last, as the least needed: stroke width alone, without blur.
    (*ELSEWHERE_FROZEN, *CNN_AUGMENTED, "cnn.stroke=true"): (("cnn", "CNN, the kernel's augmentation + stroke width"),),
}


# The blog's reading put to the test: where each model's errors on the digits from elsewhere go.
CONFUSION_COLUMNS = (
    ((), "transfer", "VGG16 + head, the blog's"),
    ((*ELSEWHERE_FROZEN, *CNN_AUGMENTED), "transfer", "VGG16 + head, frozen at block4_pool"),
    ((), "cnn", "CNN, the blog's"),
    ((*ELSEWHERE_FROZEN, *CNN_AUGMENTED, *WITH_SCANS, "backbone.views=2"), "cnn", "CNN, augment + stroke + blur"),
)
SHOWN_CONFUSIONS = 2  # the most common wrong labels per digit


def mean_errors(runs: pd.DataFrame, model: str, errors_of: str = "elsewhere_errors") -> dict[tuple[int, int], float]:
    """`model`'s errors per seed (mean over `runs`): {(actual, predicted): count}."""
    found: dict[tuple[int, int], float] = {}
    for errors in runs[errors_of]:
        for pair, count in errors.get(model, {}).items():
            actual, _, predicted = pair.partition(">")
            key = (int(actual), int(predicted))
            found[key] = found.get(key, 0) + count / len(runs)
    return found


def confusion_cell(runs: pd.DataFrame, model: str, digit: int, errors_of: str = "elsewhere_errors") -> str:
    """Errors on `digit` per seed (mean), and the labels they went to most, each per seed."""
    if runs.empty:
        return "n/a"
    wrong = {
        str(predicted): count
        for (actual, predicted), count in mean_errors(runs, model, errors_of).items()
        if actual == digit
    }
    ranked = sorted(wrong.items(), key=lambda item: (-item[1], int(item[0])))
    shown = ", ".join(f"{label} ({count:.3g})" for label, count in ranked[:SHOWN_CONFUSIONS])
    return f"{sum(wrong.values()):.3g}" + (f": {shown}" if shown else "")


def confusion_table(runs: pd.DataFrame) -> str:
    common = STUDIES["elsewhere"].common
    columns = {
        label: (matching(runs, (*common, *configuration)), model) for configuration, model, label in CONFUSION_COLUMNS
    }
    rows = [
        {"digit": str(digit), **{label: confusion_cell(*found, digit) for label, found in columns.items()}}
        for digit in range(10)
    ]
    return table_of(rows)


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


# docs/elsewhere.md's adaptation: the frozen transfer at block3_pool with a standardised head
# (256 units, dropout 0.5, 3 epochs, set in exploration on the first half), the digits'
# strokes made MNIST's, then both models self-trained without their labels.
ADAPTATION_COMMON = (
    "backbone.layer=block3_pool",
    "head.normalize=true",
    "head.epochs=3",
    "head.units=256",
    "head.dropout=0.5",
)
MNIST_STROKES = ("data.strokes=mnist",)
CAPPED_STROKES = ("data.strokes=capped",)
INDUCTIVE = (*MNIST_STROKES, "adapt.digits=first_half")
TRANSDUCTIVE = (*MNIST_STROKES, "adapt.digits=all")
CAPPED_INDUCTIVE = (*CAPPED_STROKES, "adapt.digits=first_half")
CAPPED_TRANSDUCTIVE = (*CAPPED_STROKES, "adapt.digits=all")
ADAPTATION = {
    (): "framed as MNIST frames its digits",
    MNIST_STROKES: "+ strokes made MNIST's (data.strokes: mnist)",
    INDUCTIVE: "+ self-trained on the first half (inductive)",
    TRANSDUCTIVE: "+ self-trained on all 2,000 (transductive)",
    # The head reads them standardised by their own statistics, estimated on the first half
    # (adapt.normalize); the CNN has no such statistics: it is the inductive row's again.
    (*INDUCTIVE, "adapt.normalize=true"): "+ the head reads them by their own statistics (inductive)",
    # Only the strokes bolder than MNIST's 95th percentile thinned, down to it (set in
    # exploration on the first half, among gates and caps, as sparing MNIST's own digits).
    CAPPED_STROKES: "framed, strokes capped at MNIST's 95th percentile (data.strokes: capped)",
    CAPPED_INDUCTIVE: "+ self-trained on the first half (inductive)",
    CAPPED_TRANSDUCTIVE: "+ self-trained on all 2,000 (transductive)",
    # Training-side robustness, one at a time, on the digits as framed: the CNN trained with
    # random stroke widths (edges moved up to 1 pixel, then up to 3), random widths of the
    # digit, elastic distortion.
    ("cnn.stroke=true",): "framed; CNN trained with random stroke widths (cnn.stroke)",
    ("cnn.stroke=true", "cnn.stroke_reach=3"): "framed; CNN trained with strokes up to 3 px bolder",
    ("cnn.stretch=true",): "framed; CNN trained with random digit widths (cnn.stretch)",
    ("cnn.elastic=true",): "framed; CNN trained with elastic distortion (cnn.elastic)",
}
# Where the errors on the held-out half go: each model framed, with capped strokes, and
# self-trained on the first half; the combined model once adapted.
BEFORE_ADAPTING = (((), "framed"), (CAPPED_STROKES, "capped"))
ADAPTATION_CONFUSIONS = {
    "cnn": (*BEFORE_ADAPTING, (CAPPED_INDUCTIVE, "capped, inductive")),
    "transfer": (*BEFORE_ADAPTING, (CAPPED_INDUCTIVE, "capped, inductive")),
    metrics.COMBINED: ((CAPPED_INDUCTIVE, "capped, inductive"),),
}
# The targets on the held-out half, each model's (and the two combined's): the recipe's, and
# those of the stronger adaptation (issue: SHOT's 98 % on MNIST to USPS).
TARGETS = {"cnn": 0.95, "transfer": 0.95, metrics.COMBINED: 0.96}
STRONGER_TARGETS = {"cnn": 0.98, "transfer": 0.98, metrics.COMBINED: 0.98}
INFOMAX = ("adapt.infomax=true",)
COTRAIN = ("adapt.cotrain=true",)
# docs/elsewhere.md: the recipe against information maximisation before it (adapt.infomax),
# co-training (adapt.cotrain) and both, at capped strokes on all 2,000 (transductive, the
# recipe's winner for the CNN on the first half), with the unadapted digits as MNIST's test
# reference.
STRONGER = {
    (): "framed as MNIST frames its digits, not adapted",
    CAPPED_TRANSDUCTIVE: "strokes capped, self-trained on all 2,000 (the recipe)",
    (*CAPPED_TRANSDUCTIVE, *INFOMAX): "+ information maximisation first",
    (*CAPPED_TRANSDUCTIVE, *COTRAIN): "+ the CNN co-trained with the head",
    (*CAPPED_TRANSDUCTIVE, *INFOMAX, *COTRAIN): "+ both",
}


def adaptation_rows(titles: dict[tuple[str, ...], str]) -> Callable:
    """Rows of a study of adapting to the digits from elsewhere: each configuration's scores
    on the first half (choosing), the held-out half (reported) and MNIST's test set."""

    def rows(experiments: pd.DataFrame, configuration: tuple[str, ...]) -> list[dict[str, str]]:
        return [
            {
                "digits from elsewhere": titles[configuration],
                **{
                    f"{SCORE_TITLES[metric]}, {metrics.TITLES[m]}": score(experiments, m, metric)
                    for metric in (metrics.FIRST_HALF_ACCURACY, metrics.HELD_OUT_ACCURACY, metrics.ACCURACY)
                    for m in TARGETS
                },
                "seeds": str(len(experiments)),
            }
        ]

    return rows


def adaptation_details(runs: pd.DataFrame) -> str:
    """The adaptation study's targets_table, and where the errors on the held-out half go."""
    adaptation = STUDIES["adaptation"]
    columns = {
        f"{metrics.TITLES[model]}, {label}": (matching(runs, (*adaptation.common, *configuration)), model)
        for model, configurations in ADAPTATION_CONFUSIONS.items()
        for configuration, label in configurations
    }
    rows = [
        {
            "digit": str(digit),
            **{label: confusion_cell(*found, digit, errors_of="held_out_errors") for label, found in columns.items()},
        }
        for digit in range(10)
    ]
    return targets_table("adaptation", TARGETS)(runs) + table_of(rows)


def targets_table(name: str, targets: dict[str, float]) -> Callable[[pd.DataFrame], str]:
    """Study `name`'s chosen configuration of each model (winners_table) against its target on
    the held-out half, and what it costs on MNIST's test set against the digits framed and not
    adapted (the study's common settings alone)."""

    def table(runs: pd.DataFrame) -> str:
        chooser = STUDIES[name]
        unadapted = matching(runs, chooser.common)
        found_targets = [
            target_row(model, found, targets[model], unadapted) for model, (_, found) in winners(chooser, runs).items()
        ]
        return table_of(found_targets) + "\n\n" if found_targets else ""

    return table


def target_row(model: str, found: pd.DataFrame, target: float, unadapted: pd.DataFrame) -> dict[str, str]:
    scores = found[metrics.key(model, metrics.HELD_OUT_ACCURACY)]
    gap = (scores.mean() - target) * 100
    mnist = metrics.key(model, metrics.ACCURACY)
    change = (found[mnist].mean() - unadapted.get(mnist, pd.Series(dtype=float)).mean()) * 100
    change = round(change, 2) + 0.0  # a change that rounds to nothing is +0.00, not -0.00
    return {
        "model, as chosen on the first half": metrics.TITLES[model],
        "target on the held-out half": f"{target * 100:.0f} %",
        "against the target": f"{'met' if gap >= 0 else 'missed'} by {abs(gap):.2f} points",
        "MNIST test against framed": f"{change:+.2f} points",
        "seeds": str(len(scores)),
    }


def settings_in_words(configuration: tuple[str, ...]) -> str:
    """A configuration as the settings that make it, each in backticks: a row's words lean on
    the rows above it, a winner stands alone."""
    return ", ".join(f"`{setting}`" for setting in configuration) or "the study's settings alone"


def compared_rows(titles: dict[tuple[str, ...], str], common: tuple[str, ...] = ()) -> Callable:
    """Rows of a study that compares configurations of the transfer model on MNIST: each one's
    validation and test accuracy, the CNN's beside it, the disagreements, its settings beyond
    the study's `common` ones."""

    def rows(experiments: pd.DataFrame, configuration: tuple[str, ...]) -> list[dict[str, str]]:
        def accuracy(model: str, metric: str) -> str:
            found = experiments.get(metrics.key(model, metric), pd.Series(dtype=float))
            return mean_sd(found, percent=True, digits=2, extremes=True)

        return [
            {
                "configuration": titles[configuration],
                "VGG16 + head, validation": accuracy("transfer", metrics.VAL_ACCURACY),
                "VGG16 + head, test": accuracy("transfer", metrics.ACCURACY),
                "CNN, test": accuracy("cnn", metrics.ACCURACY),
                "disagreements": mean_sd(experiments.get(metrics.DISAGREEMENTS, pd.Series(dtype=float))),
                "seeds": str(len(experiments)),
                "settings": " ".join(f"`{setting}`" for setting in configuration)
                or ("the study's settings alone" if common else "params.yaml"),
            }
        ]

    return rows


CAFFE = "backbone.preprocess=caffe"
# docs/results.md: the readings of what the blog left unsaid (input scaling, optimizer, batch).
BLOGS_GAP = {
    (CAFFE,): "`caffe` (Keras' `vgg16.preprocess_input`), RMSprop, batch 86 (the kernel's head)",
    (CAFFE, "head.batch_size=32"): "`caffe`, RMSprop, batch 32 (Keras' default batch)",
    (CAFFE, "head.optimizer=adam"): "`caffe`, Adam",
    (CAFFE, "head.optimizer=adam", "head.batch_size=32"): "`caffe`, Adam, batch 32",
    (): "`unit` (pixels / 255, the blog's code's scaling), RMSprop, batch 86: params.yaml",
}
# docs/results.md: three epochs against the blog's one, at either scaling.
MORE_EPOCHS = {
    (): "`unit`, epochs 1: params.yaml",
    ("epochs=3",): "`unit`, epochs 3",
    (CAFFE,): "`caffe`, epochs 1",
    (CAFFE, "epochs=3"): "`caffe`, epochs 3",
}
# docs/beyond-the-blog.md: where the features are taken, standardised or not, how long the head trains.
LAYERS_AND_HEADS = {
    (f"backbone.layer={layer}", f"head.normalize={normalize}", f"head.epochs={epochs}"): (
        f"`{layer}`, {'standardised' if normalize == 'true' else 'raw'}, {epochs} head epoch{'s' * (epochs > 1)}"
    )
    for layer in ("block5_pool", "block4_pool", "block3_pool")
    for normalize in ("false", "true")
    for epochs in (1, 10)
}
# docs/beyond-the-blog.md: one change at a time around the best frozen configuration.
AROUND_THE_BEST = {
    (): "the configuration: float16 features, 48 px, computed as `auto` picks",
    ("backbone.feature_dtype=float32",): "features stored as float32",
    ("backbone.precision=float32",): "convolutions in float32",
    ("backbone.input_size=32",): "32 px input",
    ("backbone.weights=random",): "random frozen weights (what ImageNet buys)",
}


def adapting(titles: dict[tuple[str, ...], str], targets: dict[str, float], details: Callable) -> Study:
    """A study of adapting to the digits from elsewhere without their labels: each model's (and
    the two combined's) configuration chosen on the first half, its held-out half reported."""
    return Study(
        common=ADAPTATION_COMMON,
        configurations=lambda: list(titles),
        rows=adaptation_rows(titles),
        label=settings_in_words,
        chooses_for=tuple(targets),
        chosen_by=metrics.FIRST_HALF_ACCURACY,
        reported=metrics.HELD_OUT_ACCURACY,
        details=details,
    )


STUDIES = {
    # docs/backbones.md: every backbone at its last layer and one earlier, a standardised head
    # trained 10 epochs; a 10,000-image training subset, so the study fits an afternoon on 2 cores.
    # The best chosen on MNIST's validation split, its test accuracy reported.
    "backbones": Study(
        common=("head.normalize=true", "head.epochs=10", "data.train_limit=10000"),
        configurations=backbone_configurations,
        rows=backbone_rows,
        label=backbone_label,
        chooses_for=("transfer",),
    ),
    # The blog's gap (docs/results.md): which reading of its VGG16 is chosen on validation data.
    "blogs-gap": Study(
        common=(),
        configurations=lambda: list(BLOGS_GAP),
        rows=compared_rows(BLOGS_GAP),
        label=BLOGS_GAP.__getitem__,
        chooses_for=("transfer",),
        seeds=5,
    ),
    # docs/results.md: both models at 3 epochs beside 1, at either scaling. It compares; it
    # chooses nothing.
    "epochs": Study(
        common=(),
        configurations=lambda: list(MORE_EPOCHS),
        rows=compared_rows(MORE_EPOCHS),
        label=MORE_EPOCHS.__getitem__,
    ),
    # docs/beyond-the-blog.md: the layer and the head, at VGG16's own scaling; the best frozen
    # configuration is this study's winner on validation data.
    "layers-and-heads": Study(
        common=(CAFFE,),
        configurations=lambda: list(LAYERS_AND_HEADS),
        rows=compared_rows(LAYERS_AND_HEADS, common=(CAFFE,)),
        label=LAYERS_AND_HEADS.__getitem__,
        chooses_for=("transfer",),
    ),
    "around-the-best": Study(
        common=BEST_FROZEN,
        configurations=lambda: list(AROUND_THE_BEST),
        rows=compared_rows(AROUND_THE_BEST, common=BEST_FROZEN),
        label=AROUND_THE_BEST.__getitem__,
    ),
    # docs/elsewhere.md: both models, their augmentations and the two combined, on MNIST's test
    # set and on the digits from elsewhere; the same training subset. It compares; it chooses nothing.
    "elsewhere": Study(
        common=("data.train_limit=10000",),
        configurations=lambda: list(ELSEWHERE),
        rows=elsewhere_rows,
        label=lambda configuration: " ".join(configuration) or "params.yaml",
        details=confusion_table,
    ),
    # docs/elsewhere.md: the digits from elsewhere made like MNIST's and adapted to without
    # their labels; all 60,000 training digits. Each model's recipe chosen on the first half,
    # its held-out half reported (splits.halves).
    "adaptation": adapting(ADAPTATION, TARGETS, details=adaptation_details),
    # docs/elsewhere.md: stronger adaptation (information maximisation, co-training) against
    # the recipe; chosen on the first half, the held-out half reported against 98 %.
    "stronger-adaptation": adapting(
        STRONGER, STRONGER_TARGETS, details=targets_table("stronger-adaptation", STRONGER_TARGETS)
    ),
}


# Two of a study's experiments side by side as `dvc metrics diff` shows them: seed DIFF_SEED of
# its first configuration against another, the metrics shown, and the record written
# (metrics/bench/metrics-diff-NAME.json).
DIFF_SEED = 2
DIFFS = {
    "backbones": (
        ("backbone.name=vgg16", "backbone.layer=block5_pool"),
        ("backbone.name=inception_v3", "backbone.layer=mixed10"),
        (
            "cnn.errors_where_disagree",
            "disagreements",
            "features.input_size",
            "features.layer",
            "features.name",
            "features.route",
            "transfer.accuracy",
            "transfer.errors",
            "transfer.errors_where_disagree",
        ),
    ),
    "elsewhere": (
        (),
        (*ELSEWHERE_FROZEN, *CNN_AUGMENTED),
        (
            "cnn.accuracy",
            "cnn.elsewhere_accuracy",
            "combined.accuracy",
            "combined.elsewhere_accuracy",
            "features.layer",
            "features.preprocess",
            "transfer.accuracy",
            "transfer.elsewhere_accuracy",
        ),
    ),
}


def experiment_of(name: str, configuration: tuple[str, ...], seed: int) -> str:
    """The name of study `name`'s experiment of `configuration` at `seed`, from its record."""
    found = matching(runs_so_far(name), (*STUDIES[name].common, *configuration))
    found = found[found["seed"] == seed]
    if found.empty:
        raise InputError(
            f"study {name}: its record has no seed-{seed} experiment of {settings_in_words(configuration)}; "
            f"run the study first (python -m mnist_transfer.experiments.study {name})"
        )
    return str(found["run"].iloc[-1])


def table_cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def metrics_diff(name: str) -> Path:
    """Write the record of DIFFS[name]: the rows it shows of `dvc metrics diff`'s own table."""
    before, after, shown = DIFFS[name]
    old, new = (experiment_of(name, configuration, DIFF_SEED) for configuration in (before, after))
    recording = records.Recording(f"metrics-diff-{name}", f"python -m mnist_transfer.experiments.study {name} --diff")
    command = ["dvc", "metrics", "diff", old, new, "--targets", "metrics/evaluate.json", "--no-path", "--md"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in result.stdout.splitlines() if line.startswith("|")]
    if result.returncode != 0 or not lines:
        said = (result.stderr.strip().splitlines() or ["no table"])[-1]
        raise InputError(f"study {name}: {' '.join(command)} failed: {said}")
    rows = [table_cells(line) for line in lines[2:] if table_cells(line)[0] in shown]
    return recording.write(columns=table_cells(lines[0]), rows=rows, dvc_command=" ".join(command))


def score(experiments: pd.DataFrame, model: str, metric: str) -> str:
    """`model`'s `metric`, mean ± sd over the seeds, as a percentage; n/a where none has it."""
    return mean_sd(experiments.get(metrics.key(model, metric), pd.Series(dtype=float)), percent=True, digits=2)


def winners(study: Study, runs: pd.DataFrame) -> dict[str, tuple[tuple[str, ...], pd.DataFrame]]:
    """For each model the study chooses for: the configuration with the best mean
    `study.chosen_by` over its seeds, and its experiments. Held-out scores play no part."""
    found, each = {}, by_configuration(study, runs).items()
    for model in study.chooses_for:
        key = metrics.key(model, study.chosen_by)
        candidates = [(c, experiments) for c, experiments in each if experiments.get(key, pd.Series()).notna().any()]
        if candidates:
            found[model] = max(candidates, key=lambda candidate: candidate[1][key].mean())
    return found


def winners_table(study: Study, runs: pd.DataFrame) -> str:
    """Each model's winner: what chose it, its score there, and its held-out score, the study's headline."""
    chosen_by, reported = SCORE_TITLES[study.chosen_by], SCORE_TITLES[study.reported]
    rows = [
        {
            "model": metrics.TITLES[model],
            f"chosen on the {chosen_by}": study.label(configuration),
            f"{chosen_by} (chose it)": score(experiments, model, study.chosen_by),
            f"{reported} (reported)": score(experiments, model, study.reported),
            "seeds": str(len(experiments)),
        }
        for model, (configuration, experiments) in winners(study, runs).items()
    ]
    return table_of(rows) if rows else ""


def by_configuration(study: Study, runs: pd.DataFrame) -> dict[tuple[str, ...], pd.DataFrame]:
    """Each of the study's configurations, in its order, and its runs in `runs` (none where
    it was not run)."""
    return {configuration: matching(runs, (*study.common, *configuration)) for configuration in study.configurations()}


def matching(runs: pd.DataFrame, settings: tuple[str, ...]) -> pd.DataFrame:
    """The runs made with `settings` (KEY=VALUE) and params.yaml's value of every other param
    but `seed`."""
    return runs[runs["settings"] == records.settings_text(records.differing(settings))]


def table(study: Study, runs: pd.DataFrame) -> str:
    """Every configuration's rows; where the study chooses, a last column names the models each
    row won for on validation data, and marks every other row as not chosen."""
    chosen = winners(study, runs)
    rows, not_run = [], []
    for configuration, experiments in by_configuration(study, runs).items():
        if experiments.empty:
            not_run.append(settings_in_words(configuration))
            continue
        won = ", ".join(metrics.TITLES[model] for model, (c, _) in chosen.items() if c == configuration)
        for row in study.rows(experiments, configuration):
            if study.chooses_for:
                row[f"chosen on the {SCORE_TITLES[study.chosen_by]}"] = won or "not chosen"
            rows.append(row)
    shown = [table_of(rows)] if rows else []
    if not_run:
        missing = f"Not in the record, so neither shown nor chosen among: {'; '.join(not_run)}."
        shown.append(textwrap.fill(missing, 100, break_on_hyphens=False, break_long_words=False))
    return "\n\n".join(shown)


def everything(study: Study, runs: pd.DataFrame) -> str:
    """The study's tables: its winners (where it chooses), every configuration, its details."""
    tables = [winners_table(study, runs), table(study, runs), study.details(runs) if study.details else ""]
    return "\n\n".join(text for text in tables if text)


def table_of(rows: list[dict[str, str]]) -> str:
    return markdown(list(rows[0]), [list(row.values()) for row in rows])


def record(name: str) -> Path:
    return records.run_record(f"study-{name}")


def runs_so_far(name: str) -> pd.DataFrame:
    """The runs in study `name`'s record; none before its first sweep."""
    return records.frame(records.read(record(name)) if record(name).exists() else [])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", choices=STUDIES)
    parser.add_argument("--table", action="store_true", help="print the table of its record; run nothing")
    parser.add_argument(
        "--diff", action="store_true", help=f"record `dvc metrics diff` of two of its seed-{DIFF_SEED} experiments"
    )
    parser.add_argument("-j", "--jobs", type=int, default=2, help="experiments at once (default 2)")
    args = parser.parse_args(argv)
    study = STUDIES[args.study]
    if args.diff:
        if args.study not in DIFFS:
            raise InputError(f"study {args.study}: --diff is for {' or '.join(DIFFS)}")
        print(metrics_diff(args.study))
        return
    if not args.table:
        for configuration in study.configurations():
            settings = (*study.common, *configuration)
            if len(matching(runs_so_far(args.study), settings)) >= study.seeds:
                continue  # in the record already
            print(f"study {args.study}: {' '.join(configuration)}", file=sys.stderr)
            options = [item for setting in settings for item in ("-S", setting)]
            sweep.main(
                [f"--seeds=range(0,{study.seeds})", "-j", str(args.jobs), "--record", f"study-{args.study}", *options]
            )
    print(everything(study, records.frame(records.read(record(args.study)))))


if __name__ == "__main__":
    run_stage(lambda: main(sys.argv[1:]))
