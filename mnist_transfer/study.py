"""A study: several configurations, each a seed sweep (mnist_transfer.sweep) of the same
params, and one Markdown table of them, each figure as mean ± sd over the seeds.

    python -m mnist_transfer.study backbones            # run each configuration, then the table
    python -m mnist_transfer.study backbones --table    # the table of the experiments already run

The experiments are ordinary DVC experiments on HEAD: `dvc exp show` lists them, and they
spread across machines as any sweep does (docs/experiments.md).
"""

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from mnist_transfer import catalog, summary, sweep
from mnist_transfer.pipeline.errors import InputError, run_stage


@dataclass(frozen=True)
class Study:
    common: tuple[str, ...]  # KEY=VALUE for every configuration
    configurations: Callable[[], list[tuple[str, ...]]]  # KEY=VALUE that make each one
    rows: Callable[[pd.DataFrame, tuple[str, ...]], dict[str, str]]  # its experiments -> its table row
    seeds: int = 3  # seeds 0 to seeds - 1


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


def backbone_row(experiments: pd.DataFrame, configuration: tuple[str, ...]) -> dict[str, str]:
    name, cut = (setting.partition("=")[2] for setting in configuration)
    entry = catalog.BACKBONES[name]
    return {
        "backbone, layer": f"{entry.title}, `{cut}`",
        "test accuracy": mean_sd(experiments["transfer.accuracy"], percent=True, digits=2),
        "seeds": str(len(experiments)),
        "GFLOP per image": f"{entry.gflop[cut]:.3g}",
        "extraction, images/s": mean_sd(experiments["images_per_s"]),
        "features on disk, MiB": mean_sd(experiments["features_mib"]),
        "peak RSS, extract_features, MiB": mean_sd(experiments["extraction_peak_rss_mib"]),
        "peak RSS, train_head, MiB": mean_sd(experiments["head_peak_rss_mib"]),
    }


STUDIES = {
    # docs/backbones.md: every backbone at its last layer and one earlier, a standardised head
    # trained 10 epochs; a 10,000-image training subset, so the study fits an afternoon on 2 cores.
    "backbones": Study(
        ("head.normalize=true", "head.epochs=10", "data.train_limit=10000"), backbone_configurations, backbone_row
    ),
}


def matching(experiments: pd.DataFrame, settings: tuple[str, ...]) -> pd.DataFrame:
    """The experiments whose params are `settings` (KEY=VALUE, compared as text)."""
    chosen = pd.Series(True, index=experiments.index)
    for setting in settings:
        key, _, value = setting.partition("=")
        if key not in experiments.columns:
            return experiments.iloc[0:0]
        chosen &= experiments[key].map(summary.shown_param).str.lower() == value.lower()
    return experiments[chosen]


def finished_experiments() -> pd.DataFrame:
    import dvc.api

    return summary.finished(summary.experiments_table(dvc.api.exp_show()))[0]


def table(study: Study, experiments: pd.DataFrame) -> str:
    rows = [
        study.rows(matching(experiments, (*study.common, *configuration)), configuration)
        for configuration in study.configurations()
    ]
    frame = pd.DataFrame(rows)
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
            sweep.main_or_one_line([f"--seeds=range(0,{study.seeds})", "-j", str(args.jobs), *options])
    experiments = finished_experiments()
    if experiments.empty:
        raise InputError(f"no finished experiments on HEAD; run: python -m mnist_transfer.study {args.study}")
    print(table(study, experiments))


if __name__ == "__main__":
    run_stage(lambda: main(sys.argv[1:]))
