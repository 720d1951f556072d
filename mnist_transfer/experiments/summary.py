"""The experiments of this repository grouped by the params that differ other than seed: n, mean,
sd, min and max of each figure.

    python -m mnist_transfer.experiments.summary                     # the experiments on HEAD
    python -m mnist_transfer.experiments.summary -n 3 --csv          # those on the last 3 commits, as CSV
    python -m mnist_transfer.experiments.summary --record defaults   # the runs of metrics/runs/defaults.jsonl
"""

import argparse
import sys
from collections.abc import Iterable

import pandas as pd

from mnist_transfer.core import params
from mnist_transfer.core.errors import InputError, run_stage
from mnist_transfer.experiments import records
from mnist_transfer.report import metrics

# Every finished experiment has the REQUIRED; the rest are missing from runs made before them.
REQUIRED = metrics.REQUIRED
FIGURES = tuple(figure.key for figure in metrics.SUMMARY)
PERCENT = {figure.key for figure in metrics.SUMMARY if figure.percent}
WIDTH = max(map(len, FIGURES))
STATISTICS = ("mean", "sd", "min", "max")


def finished(experiments: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The experiments that finished with metrics, each set of params once (the newest);
    and how many were left out (queued, running, failed, or without metrics)."""
    ran = experiments[experiments["typ"] != "baseline"]
    done = ran[ran["State"].isna() | (ran["State"] == "Success")]
    done = done.dropna(subset=list(REQUIRED))
    keys = [key for key in params.SCHEMA if key in done.columns]
    return done.drop_duplicates(subset=keys, keep="first"), len(ran) - len(done)


def varying(experiments: pd.DataFrame) -> list[str]:
    """The params, `seed` aside, whose values differ between experiments."""
    keys = [key for key in params.SCHEMA if key in experiments.columns and key != "seed"]
    return [key for key in keys if experiments[key].astype(str).nunique() > 1]


def summarize(experiments: pd.DataFrame) -> pd.DataFrame:
    """One row per group of experiments that differ only in `seed`: its params, the seeds,
    n, and mean, sd, min and max of each figure."""
    groups = varying(experiments)
    rows = []
    grouped = experiments.groupby(groups, sort=True, dropna=False) if groups else [((), experiments)]
    for values, group in grouped:
        values = values if isinstance(values, tuple) else (values,)
        row = dict(zip(groups, values, strict=True))
        row["seeds"] = " ".join(str(int(s)) for s in sorted(group["seed"]))
        row["n"] = len(group)
        for figure in FIGURES:
            column = group[figure].astype(float)
            row[f"{figure} mean"] = column.mean()
            row[f"{figure} sd"] = column.std(ddof=1)  # NaN for a group of one
            row[f"{figure} min"] = column.min()
            row[f"{figure} max"] = column.max()
        rows.append(row)
    return pd.DataFrame(rows)


def shown_param(value) -> str:
    """A param as params.yaml spells it: exp_show gives whole numbers as floats."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def as_text(summary: pd.DataFrame, left_out: int) -> str:
    """A block per group: its params, n and seeds, then a line per figure."""
    params_shown = [c for c in summary.columns if c not in ("seeds", "n") and " " not in c]
    blocks = []
    for _, group in summary.iterrows():
        settings = ", ".join(f"{key}={shown_param(group[key])}" for key in params_shown) or "all experiments"
        lines = [
            f"{settings}: n={group['n']}, seeds {group['seeds']}",
            f"  {'':<{WIDTH}}" + "".join(f"{s:>9}" for s in STATISTICS),
        ]
        for figure in FIGURES:
            values = [group[f"{figure} {s}"] for s in STATISTICS]
            shown = [("-" if pd.isna(v) else f"{v:.2%}" if figure in PERCENT else f"{v:.1f}") for v in values]
            lines.append(f"  {figure:<{WIDTH}}" + "".join(f"{v:>9}" for v in shown))
        blocks.append("\n".join(lines))
    text = "\n\n".join(blocks)
    if left_out:
        text += f"\n\n({left_out} unfinished or failed experiments left out)"
    return text


def experiments_table(rows: Iterable[dict]) -> pd.DataFrame:
    table = pd.DataFrame(list(rows))
    if table.empty or "typ" not in table.columns:
        table = pd.DataFrame(columns=["typ", "State", *FIGURES])
    for figure in FIGURES:
        if figure not in table.columns:
            table[figure] = float("nan")
    return table


def recorded(name: str) -> pd.DataFrame:
    """The runs of a record as `dvc exp show` would list them, each set of params once (the
    newest): every param (params.yaml's value where the run set none), the seed, the metrics."""
    defaults = params.every_key()
    rows = records.read(records.run_record(name))
    table = experiments_table(
        [{**defaults, **row["settings"], "seed": row["seed"], **row["metrics"], "typ": "recorded"} for row in rows]
    )
    return table.drop_duplicates(subset=[key for key in params.SCHEMA if key in table.columns], keep="last")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    parser.add_argument("--rev", help="the commit whose experiments to read (default HEAD)")
    parser.add_argument("-n", "--num", type=int, default=1, help="read the last NUM commits' experiments (-1: all)")
    parser.add_argument("--record", metavar="NAME", help="summarise metrics/runs/NAME.jsonl instead of experiments")
    args = parser.parse_args(argv)
    experiments, left_out = (recorded(args.record), 0) if args.record else experiments_of(args.rev, args.num)
    summary = summarize(experiments)
    print(summary.to_csv(index=False) if args.csv else as_text(summary, left_out), end="" if args.csv else "\n")


def experiments_of(rev: str | None, num: int) -> tuple[pd.DataFrame, int]:
    """The finished experiments of `num` commits from `rev`, and how many were left out."""
    import dvc.api
    from dvc.exceptions import DvcException
    from dvc.scm import SCMError

    try:
        rows = dvc.api.exp_show(revs=rev, num=num)
    except (DvcException, SCMError) as error:
        raise InputError(f"dvc exp show --rev {rev or 'HEAD'}: {error}") from None
    experiments, left_out = finished(experiments_table(rows))
    if experiments.empty:
        raise InputError(
            f"no finished experiments in this repository ({left_out} unfinished or failed); "
            "run some first, e.g. dvc exp run --queue -S 'seed=range(0,3)' && dvc queue start -j 2"
        )
    return experiments, left_out


if __name__ == "__main__":
    run_stage(lambda: main(sys.argv[1:]))
