"""Every results table in README.md and docs/, written from its record under metrics/ between
`<!-- table: NAME -->` and `<!-- end table -->` (docs/experiments.md, Records).

    python -m mnist_transfer.publishing.tables           # write every table from its record
    python -m mnist_transfer.publishing.tables --check   # exit 1, naming each table that differs
"""

import argparse
import itertools
import json
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import yaml

from mnist_transfer.core import atomic, catalog, params, paths
from mnist_transfer.core.errors import InputError, run_stage
from mnist_transfer.data import mnist
from mnist_transfer.experiments import records, study
from mnist_transfer.experiments.formatting import markdown, mean_sd
from mnist_transfer.publishing import strokes
from mnist_transfer.report import metrics

TRANSCRIBED = Path("metrics/transcribed")
BENCH = Path("metrics/bench")
MARKED = re.compile(r"<!-- table: (?P<name>[\w-]+) -->\n(?P<body>.*?)<!-- end table -->", re.DOTALL)
LINE = 100  # the docs' prose width (tests/test_docs.py)

# The blog's figures, as it published them: test accuracy after one epoch, and its errors.
BLOG = {"cnn": (0.9895, 105), "transfer": (0.9565, 435)}
MODEL_ROWS = {"cnn": "CNN, designed for digits", "transfer": "VGG16, frozen, + dense head"}
BLOGS_NAMES = {"cnn": "err_CNN", "transfer": "err_VGG16"}  # each model's errors where the two disagree
# The study whose winner on validation data is the best frozen configuration (docs/beyond-the-blog.md).
BEST_FROZEN = "layers-and-heads"
# The adaptation study whose winners README.md's headline on the digits from elsewhere gives.
ADAPTATION_HEADLINE = "stronger-adaptation"


def caption(text: str) -> str:
    return textwrap.fill(text, LINE, break_on_hyphens=False, break_long_words=False)


def percent(value: float) -> str:
    return f"{100 * value:.2f} %"


def seeds_of(runs: pd.DataFrame) -> str:
    seeds = sorted(int(seed) for seed in runs["seed"])
    if len(seeds) > 1 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"seeds {seeds[0]}-{seeds[-1]}"
    return ("seed " if len(seeds) == 1 else "seeds ") + ", ".join(map(str, seeds))


def machine_in_words(machine: dict) -> str:
    """`Intel Xeon (AVX-512, AMX)` from a record's machine."""
    name = re.sub(r"\((R|TM)\)|\bProcessor\b|\bCPU\b|@.*", "", machine.get("cpu", "?"))
    name = " ".join(word for word in name.split() if not re.fullmatch(r"\d+-Core", word))
    flags = set(machine.get("flags", ()))
    vectors = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    return f"{name} ({vectors}{', AMX' if flags & {'amx_tile', 'amx_bf16'} else ''})"


def run_machine_in_words(figures) -> str:
    """The machine of a run's dotted metrics (`machine.cpu`, `machine.flags`), as machine_in_words names it."""
    return machine_in_words({"cpu": figures["machine.cpu"], "flags": figures["machine.flags"].split()})


def run_record(name: str) -> tuple[pd.DataFrame, list[dict]]:
    rows = records.read(records.run_record(name))
    return records.frame(rows), rows


def provenance(name: str, rows: list[dict]) -> str:
    """Where a run record's rows were measured: commits, machines, shared cores."""
    commits = sorted({row["commit"][:7] for row in rows})
    machines = sorted({machine_in_words(row["machine"]) for row in rows})
    shared = sum(bool(row.get("cores_shared")) for row in rows)
    return (
        f"`{records.run_record(name)}`, {len(rows)} runs, commit {', '.join(commits)}, "
        f"{' and '.join(machines)}, {shared} of them sharing the cores"
    )


def headline() -> str:
    """README.md: the blog's two figures beside ours over seeds, and the best frozen
    configuration, chosen on validation data by the layers-and-heads study."""
    defaults, made = run_record("defaults")
    chooser = study.STUDIES[BEST_FROZEN]
    choices, chosen_made = run_record(f"study-{BEST_FROZEN}")
    configuration, best = study.winners(chooser, choices)["transfer"]
    rows = [
        [
            MODEL_ROWS[model],
            percent(BLOG[model][0]),
            mean_sd(defaults[metrics.key(model, metrics.ACCURACY)], percent=True, digits=2),
            "n/a"
            if model != "transfer"
            else mean_sd(best[metrics.key(model, metrics.ACCURACY)], percent=True, digits=2),
        ]
        for model in catalog.MODELS
    ]
    rows.append(
        ["machine", "not given", machine_in_words(made[-1]["machine"]), machine_in_words(chosen_made[-1]["machine"])]
    )
    columns = [
        "test accuracy, 10,000 digits",
        "the blog, epochs 1",
        f"ours, params.yaml (epochs 1), {seeds_of(defaults)}, mean ± sd",
        f"best frozen, chosen on validation: {chooser.label(configuration)}, `caffe`, {seeds_of(best)}",
    ]
    record = f"study-{BEST_FROZEN}"
    return (
        markdown(columns, rows)
        + "\n\n"
        + caption(
            f"Records: {provenance('defaults', made)}; {provenance(record, chosen_made)}. {blogs_place(defaults)}"
        )
    )


def sds_from(runs: pd.DataFrame, model: str) -> float:
    """How many of our sds over seeds the blog's figure for `model` lies from our mean."""
    ours = runs[metrics.key(model, metrics.ACCURACY)]
    return (BLOG[model][0] - ours.mean()) / ours.std()


def blogs_place(defaults: pd.DataFrame) -> str:
    """Where the blog's two figures lie in the spread of ours over seeds."""
    return (
        f"The blog's VGG16 lies {sds_from(defaults, 'transfer'):+.1f} sd from our mean, "
        f"its CNN {sds_from(defaults, 'cnn'):+.1f} sd."
    )


def blogs_gap_reading() -> str:
    """docs/results.md: where the blog's VGG16 figure lies against each reading of what it left
    unsaid, from the blogs-gap study's record."""
    runs, _ = run_record("study-blogs-gap")
    each = study.by_configuration(study.STUDIES["blogs-gap"], runs).items()
    found = {configuration: experiments for configuration, experiments in each if not experiments.empty}
    accuracy = metrics.key("transfer", metrics.ACCURACY)

    def place(experiments: pd.DataFrame) -> str:
        where = sds_from(experiments, "transfer")
        within = "within" if abs(where) <= 2 else "outside"
        return (
            f"{study.score(experiments, 'transfer', metrics.ACCURACY)}, the blog's {percent(BLOG['transfer'][0])} "
            f"{where:+.1f} sd from it ({within} 2 sd)"
        )

    bullets = [
        f"{study.BLOGS_GAP[configuration]}: {place(experiments)}." for configuration, experiments in found.items()
    ]
    caffe, unit = found.get((study.CAFFE,)), found.get(())
    if caffe is not None and unit is not None:
        bullets.append(
            f"From `caffe` to `unit` with the same head, paired by seed: {paired_change(unit, caffe, accuracy)}."
        )
    if found:
        together = pd.concat(found.values())
        cnn = metrics.key("cnn", metrics.ACCURACY)
        # No reading changes the CNN's params: each seed's CNN is one run, restored from DVC's run-cache.
        same = (together.groupby("seed")[cnn].nunique() == 1).all()
        every = together.drop_duplicates("seed")
        bullets.append(
            f"The CNN, {'the same run at each seed in every reading' if same else 'retrained in each reading'}: "
            f"{study.score(every, 'cnn', metrics.ACCURACY)} over {len(every)} seeds, the blog's "
            f"{percent(BLOG['cnn'][0])} {sds_from(every, 'cnn'):+.1f} sd from it."
        )
    return bulleted(bullets)


def committed() -> dict:
    """metrics/evaluate.json, the committed run of params.yaml, its keys dotted."""
    return params.dotted(json.loads(Path("metrics/evaluate.json").read_text()))


# metrics/runs/committed.jsonl: params.yaml's run as committed (metrics/evaluate.json), one line
# per commit that changed it on another machine kind; `--committed REV` adds one.
COMMITTED = "committed"


def committed_row(rev: str) -> dict:
    """The run committed at `rev`, as a run record's row: its metrics/evaluate.json, its seed, its machine."""

    def show(path: str) -> str:
        found = subprocess.run(["git", "show", f"{rev}:{path}"], capture_output=True, text=True, check=False)
        if found.returncode != 0:
            raise InputError(f"tables: git show {rev}:{path}: {found.stderr.strip() or 'failed'}")
        return found.stdout

    figures = json.loads(show(paths.METRICS))
    machine = figures.pop("machine")
    sha = subprocess.run(["git", "rev-parse", rev], capture_output=True, text=True, check=True).stdout.strip()
    return {
        "run": "dvc repro",
        "commit": sha,
        "seed": yaml.safe_load(show("params.yaml"))["seed"],
        "settings": {},
        "machine": {"cpu": machine["cpu"], "flags": machine["flags"].split()},
        "metrics": params.dotted(figures),
    }


def first_run() -> str:
    """README.md: where the committed figures came from, and how far the machine kinds at hand
    part from them (COMMITTED), and what a newcomer's run will show."""
    run = committed()
    defaults, _ = run_record("defaults")
    _, made = run_record(COMMITTED)
    cnn_sd = 100 * defaults[metrics.key("cnn", metrics.ACCURACY)].std()
    machine = run_machine_in_words(run)
    latest = {machine_in_words(row["machine"]): row for row in made}  # each kind's last

    def figures(found: dict) -> str:
        return (
            f"{percent(found[metrics.key('cnn', metrics.ACCURACY)])}, "
            f"{percent(found[metrics.key('transfer', metrics.ACCURACY)])}, {found[metrics.DISAGREEMENTS]}"
        )

    each = "; ".join(
        f"{kind}, {row['metrics'].get('features.precision', 'float32')}: {figures(row['metrics'])}"
        for kind, row in latest.items()
    )

    def spread(key: str) -> float:
        values = [row["metrics"][key] for row in latest.values()]
        return 100 * (max(values) - min(values))

    return caption(
        f"The committed figures (`metrics/evaluate.json`, seed 2) came from `dvc repro` on this CPU, {machine}: "
        f"CNN {percent(run[metrics.key('cnn', metrics.ACCURACY)])}, VGG16 + head "
        f"{percent(run[metrics.key('transfer', metrics.ACCURACY)])}, {run[metrics.DISAGREEMENTS]} "
        f"disagreements. Yours may differ in the last digits; the same run on each machine kind at hand "
        f"(`{records.run_record(COMMITTED)}`; CNN, VGG16 + head, disagreements): {each}. A spread of "
        f"{spread(metrics.key('cnn', metrics.ACCURACY)):.2f} point (CNN) and "
        f"{spread(metrics.key('transfer', metrics.ACCURACY)):.2f} (VGG16 + head), where a new seed moves the "
        f"CNN by {cnn_sd:.2f} (sd over seeds). `git status` then shows `dvc.lock` and `metrics/` changed, "
        "and `make sweep`, which runs each point from a commit, refuses to start: commit your run first "
        "(`git commit -am 'my run'`) or put the committed one back (`git checkout dvc.lock metrics`)."
    )


def elsewhere_headline() -> str:
    """README.md: the committed run on the digits from elsewhere, and the winners of the latest
    adaptation study (ADAPTATION_HEADLINE), each chosen on the first half, on the held-out half."""
    run = committed()
    adaptation = study.STUDIES[ADAPTATION_HEADLINE]
    runs, made = run_record(f"study-{ADAPTATION_HEADLINE}")
    chosen = study.winners(adaptation, runs)
    unadapted = study.matching(runs, adaptation.common)
    scores = []
    for model, (configuration, experiments) in chosen.items():
        held_out = experiments[metrics.key(model, metrics.HELD_OUT_ACCURACY)]
        mnist = metrics.key(model, metrics.ACCURACY)
        change = 100 * (experiments[mnist].mean() - unadapted[mnist].mean())
        scores.append(
            f"{metrics.TITLES[model]} {mean_sd(held_out, percent=True, digits=2)} "
            f"({study.settings_in_words(configuration)}; MNIST's test {change:+.2f} point)"
        )
    seeds = min(len(experiments) for _, experiments in chosen.values())
    on_elsewhere = ", ".join(
        f"{percent(run[metrics.key(model, metrics.ELSEWHERE_ACCURACY)])} ({metrics.TITLES[model]})"
        for model in metrics.SCORED
    )
    return caption(
        f"On 2,000 digits written elsewhere (UCI's, from Dutch maps, bold, filling their box; "
        f"`data.elsewhere`), the committed seed-2 run scores {on_elsewhere}. Adapted without their "
        f"labels, each model's recipe chosen on one half and scored on the other, over {seeds} "
        f"seed{'s' * (seeds != 1)} "
        f"(study `{ADAPTATION_HEADLINE}`, {machine_in_words(made[-1]['machine'])}): {'; '.join(scores)}."
    )


def bulleted(items: list[str]) -> str:
    """A Markdown list at the docs' width."""
    return "\n".join(
        textwrap.fill(item, LINE, initial_indent="- ", subsequent_indent="  ", break_on_hyphens=False) for item in items
    )


def paired_change(after: pd.DataFrame, before: pd.DataFrame, key: str, key_before: str | None = None) -> str:
    """`key`'s change from `before` to `after` (or from `key_before` there), paired by seed, in
    points: mean ± sd (range), and on how many seeds it went which way."""
    change = (after.set_index("seed")[key] - before.set_index("seed")[key_before or key]).dropna() * 100
    ups, downs = int((change > 0).sum()), int((change < 0).sum())
    if not ups and not downs:
        return f"the same on each of {len(change)} seed{'s' * (len(change) != 1)}"
    shown = mean_sd(change, digits=2, extremes=True, signed=True)
    return f"{shown} points, up on {ups} seed{'s' * (ups != 1)} and down on {downs} of {len(change)}"


def elsewhere_reading() -> str:
    """docs/elsewhere.md: what the elsewhere study's table says, every figure from its record."""
    runs, _ = run_record("study-elsewhere")
    common = study.STUDIES["elsewhere"].common

    def of(*configuration: str) -> pd.DataFrame:
        return study.matching(runs, (*common, *configuration))

    def on(experiments: pd.DataFrame, model: str, metric: str = metrics.ELSEWHERE_ACCURACY) -> str:
        return study.score(experiments, model, metric)

    def mean(experiments: pd.DataFrame, model: str, metric: str = metrics.ELSEWHERE_ACCURACY) -> float:
        return experiments[metrics.key(model, metric)].mean()

    blogs = of()
    best = of(*study.ELSEWHERE_FROZEN, *study.CNN_AUGMENTED)
    scans = of(*study.ELSEWHERE_FROZEN, *study.CNN_AUGMENTED, *study.WITH_SCANS, "backbone.views=2")
    views4 = of(*study.ELSEWHERE_FROZEN, *study.CNN_AUGMENTED, *study.WITH_SCANS, "backbone.views=4")
    mnist, elsewhere = metrics.ACCURACY, metrics.ELSEWHERE_ACCURACY
    bullets = []  # each from the configurations its figures need, where the record has them
    if not blogs.empty:
        worse = "worse" if mean(blogs, "transfer") < mean(blogs, "cnn") else "better"
        guess = "as the blog guessed" if worse == "worse" else "against the blog's guess"
        bullets.append(
            f"**The blog's reading, on its own terms.** At the blog's configuration VGG16 + head scores "
            f"{on(blogs, 'transfer', mnist)} on MNIST and {on(blogs, 'transfer')} on the digits from elsewhere, "
            f"the CNN {on(blogs, 'cnn', mnist)} and {on(blogs, 'cnn')}: the frozen network is the {worse} of the "
            f"two there, {guess}."
        )
    if not best.empty:
        best_against_cnn = "above" if mean(best, "transfer") > mean(best, "cnn") else "below"
        gap = paired_change(best, best, metrics.key("transfer", elsewhere), metrics.key("cnn", elsewhere))
        bullets.append(
            f"**Frozen at `block4_pool`** (`caffe`, standardised, a 10-epoch head), VGG16 + head scores "
            f"{on(best, 'transfer')} on them, {best_against_cnn} the CNN with the kernel's augmentation and 10 "
            f"epochs ({on(best, 'cnn')}; the difference {gap}). It changes the layer, the scaling, the "
            f"standardisation and the head's epochs at once; which of them matters most here is not separated."
        )
    if not best.empty and not scans.empty:
        cnn_change = paired_change(scans, best, metrics.key("cnn", elsewhere))
        bullets.append(
            f"**Stroke width and blur, for the CNN:** {on(scans, 'cnn')} on the digits from elsewhere against "
            f"{on(best, 'cnn')} with the kernel's augmentation alone ({cnn_change}); "
            f"on MNIST {on(scans, 'cnn', mnist)} against {on(best, 'cnn', mnist)}."
        )
        four = (
            ""
            if views4.empty
            else f", 4 views to {on(views4, 'transfer')} "
            f"({paired_change(views4, best, metrics.key('transfer', elsewhere))}; "
            f"on MNIST {on(views4, 'transfer', mnist)})"
        )
        bullets.append(
            f"**Augmented views, for the frozen backbone:** 2 views of each training image take it from "
            f"{on(best, 'transfer')} to {on(scans, 'transfer')} on the digits from elsewhere "
            f"({paired_change(scans, best, metrics.key('transfer', elsewhere))}; on MNIST from "
            f"{on(best, 'transfer', mnist)} to {on(scans, 'transfer', mnist)}){four}. What they cost is below."
        )
        better = max(("transfer", "cnn"), key=lambda model: mean(scans, model))
        gap = 100 * abs(mean(scans, "transfer") - mean(scans, "cnn"))
        bullets.append(
            f"**The two combined** (2 views; the CNN with stroke and blur) score {on(scans, metrics.COMBINED, mnist)} "
            f"on MNIST against {on(scans, 'transfer', mnist)} (VGG16 + head) and {on(scans, 'cnn', mnist)} (CNN), "
            f"and {on(scans, metrics.COMBINED)} on the digits from elsewhere against {on(scans, 'transfer')} and "
            f"{on(scans, 'cnn')}, where {metrics.TITLES[better]} is the better alone by {gap:.2f} points."
        )
    return bulleted(bullets)


def by(errors: dict[tuple[int, int], float], side: int) -> dict[int, float]:
    """Errors summed by true digit (`side` 0) or by the label given (`side` 1)."""
    summed: dict[int, float] = {}
    for pair, count in errors.items():
        summed[pair[side]] = summed.get(pair[side], 0) + count
    return summed


def confusions_reading() -> str:
    """docs/elsewhere.md: where the elsewhere study's errors go, against the blog's reading."""
    runs, _ = run_record("study-elsewhere")
    common = study.STUDIES["elsewhere"].common
    blogs = study.mean_errors(study.matching(runs, common), "transfer")
    best = study.mean_errors(study.matching(runs, (*common, *study.ELSEWHERE_FROZEN, *study.CNN_AUGMENTED)), "transfer")
    scans = (*common, *study.ELSEWHERE_FROZEN, *study.CNN_AUGMENTED, *study.WITH_SCANS, "backbone.views=2")
    cnn = study.mean_errors(study.matching(runs, scans), "cnn")
    given = by(blogs, 1)
    favourite = max(given, key=given.get)
    into = sorted(
        ((actual, count) for (actual, label), count in blogs.items() if label == favourite),
        key=lambda item: -item[1],
    )
    sent = ", ".join(f"{actual}s ({count:.3g})" for actual, count in into[:4])

    def remaining(errors: dict[tuple[int, int], float]) -> str:
        digits = sorted(by(errors, 0).items(), key=lambda item: -item[1])[:2]
        share = 100 * sum(count for _, count in digits) / sum(errors.values())
        return (
            " and ".join(f"the {digit}s ({count:.3g} errors per seed)" for digit, count in digits)
            + f" are {share:.0f} % of the errors"
        )

    bullets = [
        f"**The blog named 4 -> 9 and 8 -> 9.** At its configuration VGG16 + head reads "
        f"{blogs.get((8, 9), 0):.3g} of the 200 8s per seed as 9 and {blogs.get((4, 9), 0):.3g} of the 4s. "
        f"The label it gives most wrongly is {favourite}: {given[favourite]:.0f} of its "
        f"{sum(blogs.values()):.0f} errors per seed, from {sent}."
    ]
    if best:
        bullets.append(
            f"**Frozen at `block4_pool`** the 8s have {by(best, 0).get(8, 0):.3g} errors per seed "
            f"({best.get((8, 9), 0):.3g} of them a 9), and {by(best, 1).get(favourite, 0):.0f} of its "
            f"{sum(best.values()):.0f} errors per seed are a {favourite}."
        )
        cnn_part = f"; for the CNN with augmentation, stroke and blur, {remaining(cnn)}" if cnn else ""
        bullets.append(f"**What remains.** Frozen at `block4_pool`, {remaining(best)}{cnn_part}.")
    return bulleted(bullets)


# docs/elsewhere.md: the largest change to MNIST's own digits a framing may make, in points.
FRAMING_BOUND = 0.1


def views_in_the_study() -> str:
    """docs/elsewhere.md: what `backbone.views` cost in the elsewhere study's own runs at the
    layer it compares them at, disk and memory, from the record."""
    runs, _ = run_record("study-elsewhere")
    with_views = runs[runs["features.views"] > 0]
    if with_views.empty:
        return "The record holds no run with views."
    at = runs[runs["features.layer"] == with_views["features.layer"].iloc[0]]

    def span(values: pd.Series, unit: str) -> str:
        low, high = values.min(), values.max()
        return f"{low:,.0f} {unit}" if round(low) == round(high) else f"{low:,.0f}-{high:,.0f} {unit}"

    each = []
    for views, found in at.groupby("features.views"):
        extracted = found.dropna(subset=["features_mib"])  # a configuration's first seed extracts; the rest restore
        each.append(
            f"K = {views:.0f}: features {span(extracted['features_mib'], 'MiB')}, extract_features' peak memory "
            f"{span(extracted['extraction_peak_rss_mib'], 'MiB')}, train_head's "
            f"{span(found['head_peak_rss_mib'], 'MiB')}, the head's training {span(found['head_s'], 's')}"
        )
    return caption(
        f"In the study's own runs at `{with_views['features.layer'].iloc[0]}` (its "
        f"{records.parsed(study.STUDIES['elsewhere'].common)['data.train_limit']:,}-image subset; each "
        f"configuration extracted once, for its first seed): {'; '.join(each)}. Their extraction times are not "
        "compared: other work shared the cores."
    )


def framing_reading() -> str:
    """docs/elsewhere.md: what each framing does to MNIST's own digits, paired by the seed
    whose models judged both, from the framing-on-mnist record; the stroke widths from theirs."""
    found = bench_record("framing-on-mnist")
    scores = pd.DataFrame(found["scores"]).pivot_table(index="draw", columns=["framing", "model"], values="accuracy")
    as_made, with_mnists, capped, deslanted, _ = strokes.FRAMINGS

    def by_seed(framing: str) -> pd.DataFrame:
        return scores[framing].rename_axis(columns=None).reset_index().rename(columns={"draw": "seed"})

    def changes(framing: str) -> str:
        return "; ".join(
            f"{title} {paired_change(by_seed(framing), by_seed(as_made), model)}"
            for model, title in strokes.MODELS.items()
        )

    def against_the_bound(framing: str) -> str:
        means = {model: 100 * (by_seed(framing)[model] - by_seed(as_made)[model]).mean() for model in strokes.MODELS}
        beyond = [
            f"{strokes.MODELS[model]} ({mean:+.2f})" for model, mean in means.items() if abs(mean) > FRAMING_BOUND
        ]
        if not beyond:
            return f"Every mean change is within the bound of {FRAMING_BOUND} point."
        return f"Beyond the bound of {FRAMING_BOUND} point in the mean: {', '.join(beyond)}."

    widths = {(row[0], row[1]): row[-1] for row in bench_record("stroke-widths")["rows"]}
    percentiles = "stroke width, 5th / 95th percentile, px"
    test_low, test_high = widths[("MNIST test", percentiles)].split(" / ")
    train_high = widths[("MNIST train", percentiles)].split(" / ")[1]
    return bulleted(
        [
            f"**Deslanting**: {changes(deslanted)}. {against_the_bound(deslanted)}",
            f"**MNIST's strokes**: {changes(with_mnists)}. {against_the_bound(with_mnists)} Every digit "
            f"is brought to one width, MNIST's median, where MNIST's own test digits spread from {test_low} to "
            f"{test_high} px (5th to 95th percentile, the stroke widths' table); the models learned that spread, "
            f"and a thin digit thickened or a bold one thinned is one they rarely saw (a reading).",
            f"**Capped strokes**: {changes(capped)}. {against_the_bound(capped)} Only the digits bolder "
            f"than {train_high} px, the 95th percentile of MNIST's training digits, are thinned (the test "
            f"digits' own 95th percentile is {test_high} px).",
        ]
    )


def backbones_reading() -> str:
    """docs/backbones.md: what the backbones study's table says, every figure from its record."""
    runs, _ = run_record("study-backbones")
    backbones = study.STUDIES["backbones"]
    accuracy, validation = metrics.key("transfer", metrics.ACCURACY), metrics.key("transfer", metrics.VAL_ACCURACY)

    def title(name: str) -> str:
        return catalog.BACKBONES[name].title

    def scores(experiments: pd.DataFrame) -> str:
        return (
            f"{study.score(experiments, 'transfer', metrics.VAL_ACCURACY)} on validation, "
            f"{study.score(experiments, 'transfer', metrics.ACCURACY)} on test"
        )

    measured: dict[str, list[tuple[str, pd.DataFrame]]] = {}  # backbone -> its cuts run, last first
    for configuration, experiments in study.by_configuration(backbones, runs).items():
        if not experiments.empty:
            name, cut = study.backbone_of(configuration)
            measured.setdefault(name, []).append((cut, experiments))
    bullets = []
    pairs = {name: (cuts[0][1], cuts[1][1]) for name, cuts in measured.items() if len(cuts) == 2}
    if pairs:
        wins = sum(earlier[accuracy].mean() > last[accuracy].mean() for last, earlier in pairs.values())
        changes = "; ".join(
            f"{title(name)} {paired_change(earlier, last, accuracy)}" for name, (last, earlier) in pairs.items()
        )
        bullets.append(
            f"**The earlier cut against the last** (test accuracy, paired by seed): higher at {wins} of "
            f"{len(pairs)} backbones. {changes}."
        )
    chosen = study.winners(backbones, runs).get("transfer")
    if chosen:
        configuration, experiments = chosen
        name, cut = study.backbone_of(configuration)
        gflop = catalog.BACKBONES[name].gflop[cut]
        others = []
        for other, cuts in measured.items():
            if other != name:
                best_cut, best = max(cuts, key=lambda found: found[1][validation].mean())
                others.append(
                    f"{title(other)} at `{best_cut}` ({scores(best)}), "
                    f"{catalog.BACKBONES[other].gflop[best_cut] / gflop:.2g} times its GFLOP"
                )
        against = f" Each other backbone's best cut on validation: {'; '.join(others)}." if others else ""
        bullets.append(
            f"**Chosen on MNIST's validation split:** {title(name)} at `{cut}` ({scores(experiments)}).{against}"
        )
    if measured:
        name, cut, experiments = max(
            ((name, cut, found) for name, cuts in measured.items() for cut, found in cuts),
            key=lambda item: item[2]["features_mib"].mean(),
        )
        images = records.parsed(backbones.common)["data.train_limit"] + int(experiments["test_images"].iloc[0])
        size = experiments["features_mib"].mean()
        bullets.append(
            f"**Disk** follows the feature map (float16): the largest here, {title(name)} at `{cut}`, is "
            f"{size:,.0f} MiB for the study's {images:,} MNIST images, so about "
            f"{size * mnist.IMAGES / images / 1024:.1f} GiB for all {mnist.IMAGES:,}."
        )
    return bulleted(bullets)


def extraction_run(settings: tuple[str, ...], machine: str) -> tuple[dict, Path] | None:
    """The figures of the run that extracted `settings`' features on `machine` (in words), and
    its record, from any study's record: a run whose features DVC restored records no speed."""

    def extraction(found: dict) -> dict:
        return {key: value for key, value in found.items() if key.startswith(("backbone.", "data."))}

    wanted = extraction(records.differing(settings))
    for path in sorted(records.RUNS.glob("study-*.jsonl")):
        for row in records.read(path):
            figures = row["metrics"]
            extracted = "images_per_s" in figures and extraction(row["settings"]) == wanted
            if extracted and run_machine_in_words(figures) == machine:
                return figures, path
    return None


def around_the_best_reading() -> str:
    """docs/beyond-the-blog.md: what each variant of the best frozen configuration changes,
    paired by seed, and what it costs in speed and disk, all from the around-the-best record."""
    runs, _ = run_record("study-around-the-best")
    around = study.STUDIES["around-the-best"]
    found = {c: experiments for c, experiments in study.by_configuration(around, runs).items() if not experiments.empty}
    base = found.get(())
    if base is None:
        return "The record holds no run of the configuration itself yet."
    accuracy, validation = metrics.key("transfer", metrics.ACCURACY), metrics.key("transfer", metrics.VAL_ACCURACY)
    machine = run_machine_in_words(base.iloc[0])

    def cost(experiments: pd.DataFrame, configuration: tuple[str, ...]) -> str:
        figures, where = experiments, ""
        if experiments.get("images_per_s", pd.Series(dtype=float)).isna().all():
            found = extraction_run((*around.common, *configuration), machine)
            if found is None:
                return "its extraction's speed in no record of this machine"
            figures, record = pd.DataFrame([found[0]]), found[1]
            where = f" (DVC restored these features; they were extracted for `{record}`)"
        return (
            f"{figures['images_per_s'].mean():.0f} images/s through the backbone, "
            f"{figures['features_mib'].mean():,.0f} MiB of features{where}"
        )

    bullets = [
        f"**The configuration** ({study.settings_in_words(around.common)}; its convolutions in "
        f"{base['features.precision'].iloc[0]}, as `auto` "
        f"picks on this record's {machine}): {study.score(base, 'transfer', metrics.VAL_ACCURACY)} on validation, "
        f"{study.score(base, 'transfer', metrics.ACCURACY)} on test; {cost(base, ())}."
    ]
    for configuration, experiments in found.items():
        if configuration:
            bullets.append(
                f"**{study.AROUND_THE_BEST[configuration]}** ({study.settings_in_words(configuration)}), "
                f"against it, paired by seed: validation {paired_change(experiments, base, validation)}; test "
                f"{paired_change(experiments, base, accuracy)}; {cost(experiments, configuration)}."
            )
    return bulleted(bullets)


def backbone_catalog() -> str:
    """docs/backbones.md: each backbone's sizes, scaling, cuts and their arithmetic, from the catalog."""
    rows = [
        [
            f"`{name}`",
            f"{entry.default_size} ({entry.min_size})",
            f"`{entry.scaling}`",
            ", ".join(f"`{cut}`" for cut in entry.cuts),
            ", ".join(f"{entry.gflop[cut]:.3g}" for cut in entry.cuts),
        ]
        for name, entry in catalog.BACKBONES.items()
    ]
    columns = [
        "`backbone.name`",
        "input size: default (smallest)",
        "own scaling",
        "`backbone.layer`: null (the last), then earlier",
        "GFLOP per image at each",
    ]
    return markdown(columns, rows) + "\n\n" + caption("From `core.catalog`; GFLOP counted by `backbones.flops`.")


def at_the_defaults() -> str:
    """docs/results.md: the blog, ours over seeds, and the committed seed-2 run."""
    runs, made = run_record("defaults")
    run = committed()
    rows = []
    for model in catalog.MODELS:
        accuracy, errors = metrics.key(model, metrics.ACCURACY), metrics.key(model, metrics.ERRORS)
        blog_accuracy, blog_errors = BLOG[model]
        rows.append(
            [
                f"{'CNN' if model == 'cnn' else 'VGG16 + head'}: test accuracy",
                f"{percent(blog_accuracy)} ({blog_errors} errors)",
                mean_sd(runs[accuracy], percent=True, digits=2, extremes=True),
                f"{percent(run[accuracy])} ({run[errors]} errors)",
            ]
        )
    disagree = metrics.DISAGREEMENTS
    rows.append(
        [
            "test digits where the two disagree",
            "not given",
            mean_sd(runs[disagree], extremes=True),
            str(run[disagree]),
        ]
    )
    rows += [
        [
            f"of those, {'CNN' if model == 'cnn' else 'VGG16 + head'} wrong (the blog's {BLOGS_NAMES[model]})",
            "not given",
            mean_sd(runs[metrics.key(model, metrics.ERRORS_WHERE_DISAGREE)], extremes=True),
            str(run[metrics.key(model, metrics.ERRORS_WHERE_DISAGREE)]),
        ]
        for model in catalog.MODELS
    ]
    columns = ["", "the blog", f"ours, {seeds_of(runs)}", "ours, seed 2 (`make repro`)"]
    machine = run_machine_in_words(run)
    return (
        markdown(columns, rows)
        + "\n\n"
        + caption(
            f"Records: {provenance('defaults', made)}; `metrics/evaluate.json` for seed 2, on the {machine}. "
            f"{blogs_place(runs)}"
        )
    )


# The precision decision (docs/benchmark.md): float32, then bfloat16 features, then the CNN
# trained in bfloat16 on them too; each step judged against the step before it.
PRECISION = "precision"
PRECISION_STEPS = {
    "float32": {},
    "bfloat16 features": {"backbone.precision": "bfloat16"},
    "bfloat16 features and CNN": {"backbone.precision": "bfloat16", "cnn.precision": "bfloat16"},
}
# Which models' means each step is judged on (the rule written before the runs).
PRECISION_JUDGED = {"bfloat16 features": ("transfer", "combined"), "bfloat16 features and CNN": ("cnn", "combined")}


def precision_decision() -> str:
    """docs/benchmark.md: each model over seeds at each precision step, the paired per-seed
    change from the step before, and whether the rule holds (|mean change| < the earlier sd)."""
    runs, made = run_record(PRECISION)
    by_step = {
        step: runs[runs["settings"] == records.settings_text(settings)].set_index("seed").sort_index()
        for step, settings in PRECISION_STEPS.items()
    }
    steps = list(PRECISION_STEPS)
    rows, verdicts = [], {}
    for scored in metrics.SCORED:
        key = metrics.key(scored, metrics.ACCURACY)
        row = [metrics.TITLES[scored], mean_sd(by_step[steps[0]][key], percent=True, digits=2)]
        for before, after in itertools.pairwise(steps):
            paired = (by_step[after][key] - by_step[before][key]).dropna()
            sd_before = by_step[before][key].std(ddof=1)
            judged = scored in PRECISION_JUDGED[after]
            holds = abs(paired.mean()) < sd_before
            if judged:
                verdicts.setdefault(after, []).append(holds)
            verdict = f"{'within' if holds else 'beyond'} {100 * sd_before:.2f}" if judged else "not judged"
            row += [
                mean_sd(by_step[after][key], percent=True, digits=2),
                f"{mean_sd(paired * 100, digits=2, extremes=True, signed=True)} points ({verdict})",
            ]
        rows.append(row)
    columns = ["test accuracy, 10,000 digits", f"float32, {seeds_of(by_step[steps[0]].reset_index())}"]
    for before, after in itertools.pairwise(steps):
        columns += [after, f"change from {before}, paired by seed (against its sd)"]
    decided = "; ".join(
        f"{step}: {'adopted, `auto`' if all(verdicts[step]) else 'an option only'}" for step in PRECISION_JUDGED
    )
    return (
        markdown(columns, rows)
        + "\n\n"
        + caption(
            f"Decision by the rule above: {decided}. Record: {provenance(PRECISION, made)}. To measure it "
            f"again: `make sweep RECORD={PRECISION}`, then the same with `SET='backbone.precision=bfloat16'` and "
            "with `SET='backbone.precision=bfloat16 cnn.precision=bfloat16'`."
        )
    )


def bench_record(name: str) -> dict:
    """metrics/bench/NAME.json; NAME may name a machine's folder too (`zen4/machine`)."""
    return json.loads((BENCH / f"{name}.json").read_text())


def bench_source(name: str, record: dict) -> str:
    return (
        f"`{BENCH / (name + '.json')}`, commit {record['commit'][:7]}, "
        f"{machine_in_words(record['machine'])}, cores {'shared' if record['cores_shared'] else 'to itself'}"
    )


def bench_rows(*parts: str, starting: str = "") -> Callable[[], str]:
    """The figures of one or more bench records, as they wrote them; those whose name starts
    with `starting` alone, where given."""

    def table() -> str:
        found = {part: bench_record(part) for part in parts}
        rows = [
            [row["figure"], row["measured"]]
            for record in found.values()
            for row in record["rows"]
            if row["figure"].startswith(starting)
        ]
        sources = "; ".join(bench_source(part, record) for part, record in found.items())
        return markdown(["figure", "measured"], rows) + "\n\n" + caption(f"Records: {sources}.")

    return table


# An option of `python -m bench options` that is this much faster than the stage as it is
# would be adopted (docs/benchmark.md).
ADOPTED_FROM = 1.10


def options_reading(name: str) -> Callable[[], str]:
    """docs/benchmark.md: which ways of running the backbone an options record found at least
    ADOPTED_FROM times as fast as the stage as it is, and how far their features moved."""

    def reading() -> str:
        found = bench_record(name)
        faster = []
        for row in found["rows"]:
            ratio = re.search(
                r"(\d+\.\d+)x; features differ by at most ([\d.]+ \([\d.]+% of the largest feature\))", row["measured"]
            )
            if row["figure"].startswith("option: ") and ratio and float(ratio.group(1)) >= ADOPTED_FROM:
                faster.append(
                    f"{row['figure'].removeprefix('option: ')}, {ratio.group(1)}x, features differ by at most "
                    f"{ratio.group(2)}"
                )
        machine = machine_in_words(found["machine"])
        if not faster:
            return caption(f"On the {machine}, no option is {ADOPTED_FROM:.2f}x the stage as it is or faster.")
        return caption(f"On the {machine}, {ADOPTED_FROM:.2f}x the stage as it is or faster: {'; '.join(faster)}.")

    return reading


def bench_table(part: str) -> Callable[[], str]:
    """A bench record that holds its own columns and rows, and the command that wrote it."""

    def table() -> str:
        found = bench_record(part)
        return (
            markdown(found["columns"], found["rows"])
            + "\n\n"
            + caption(f"Record: {bench_source(part, found)}. To measure it again: `{found['command']}`.")
        )

    return table


def study_table(name: str, part: Callable[[study.Study, pd.DataFrame], str] = study.everything) -> Callable[[], str]:
    """A study's tables (study.everything, or one `part` of them) from its run record."""

    def table() -> str:
        runs, made = run_record(f"study-{name}")
        chosen = study.STUDIES[name]
        text = part(chosen, runs)
        common = (
            f"Common to every row: {' '.join(f'`{setting}`' for setting in chosen.common)}. " if chosen.common else ""
        )
        again = f"To measure it again: `python -m mnist_transfer.experiments.study {name}`."
        return text + "\n\n" + caption(f"{common}Record: {provenance(f'study-{name}', made)}. {again}")

    return table


def ci_run() -> str:
    """docs/benchmark.md: the `.ci/run` record kept (metrics/bench/ci.json, the line it ends with)."""
    found = bench_record("ci")
    machine = machine_in_words({"cpu": found["cpu"], "flags": found["flags"].split()})

    def minutes(seconds: int) -> str:
        return f"{seconds // 60} min {seconds % 60} s"

    return caption(
        f"The latest kept, `{BENCH / 'ci.json'}`: a fresh clone of commit {found['commit'][:7]} on a "
        f"{found['cores']}-core {machine}, {minutes(found['ci_run_s'])} in all, "
        f"{'passed' if found['passed'] else 'failed'}; Python 3.11's set-up and suite "
        f"{minutes(found['make_test_3.11_s'])}, 3.13's {minutes(found['make_test_3.13_s'])}."
    )


def gpu_bfloat16() -> str:
    """docs/benchmark.md: VGG16's base on a GPU, float32 against bfloat16, from its JSON lines."""
    path = BENCH / "gpu_bfloat16.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    speed = {(line["label"], line["batch"]): line["img_per_s_best"] for line in lines if line["what"] == "speed"}
    about = next(line for line in lines if line["what"] == "record")
    rows = []
    for batch in sorted({batch for _, batch in speed}):
        float32 = speed[("jit/float32", batch)]
        bfloat16 = speed[("jit/mixed_bfloat16", batch)]
        rows.append(
            [
                f"batch {batch}",
                f"{float32:,.0f}",
                f"{bfloat16:,.0f} ({bfloat16 / float32:.2f}x)",
                f"{speed[('jit/float32/precision=highest', batch)]:,.0f}",
            ]
        )
    columns = [
        "images/s",
        "float32 (XLA's default: TF32 convolutions)",
        "mixed_bfloat16",
        'float32, precision "highest"',
    ]
    agreement = {(line["policy"], line["vs"]): line for line in lines if line["what"] == "accuracy"}
    bfloat16, highest = agreement[("mixed_bfloat16", "float32")], agreement[("float32", "float32_precision_highest")]
    fed = [line["img_per_s_best"] for line in lines if line.get("label", "").startswith("predict_on_batch/")]
    readings = [
        f"mixed_bfloat16 against float32 on one batch of {bfloat16['batch']}: largest difference "
        f"{100 * bfloat16['max_abs_diff_rel_to_f32_absmax']:.1f} % of the largest feature, "
        f"cosine {bfloat16['cosine']:.5f} (float32 against 'highest': "
        f"{100 * highest['max_abs_diff_rel_to_f32_absmax']:.2f} %).",
        f"Through `model.predict_on_batch` with NumPy batches, both precisions stay at {min(fed):,.0f}-{max(fed):,.0f} "
        f"images/s: the copy to the GPU and Keras' host-side work per call take most of the time there, so "
        f"bfloat16 gains nothing on that path (a reading). At batch 256 in float32, MNIST's {mnist.IMAGES:,} images "
        f"take {mnist.IMAGES / speed[('jit/float32', 256)]:.1f} s of GPU time; the pipeline's cost on a GPU would lie "
        f"in feeding it, not in the convolutions (a reading, not measured with TensorFlow here).",
    ]
    return (
        markdown(columns, rows)
        + "\n\n"
        + caption(f"Record: `{path}`, commit {about['commit'][:7]}, {about['machine']}.")
        + "\n\n"
        + bulleted(readings)
    )


def transcribed(name: str) -> Callable[[], str]:
    """A table measured before runs were recorded, as it was published, and where it came from."""

    def table() -> str:
        path = TRANSCRIBED / f"{name}.json"
        found = json.loads(path.read_text())
        return (
            markdown(found["columns"], found["rows"])
            + "\n\n"
            + caption(
                f"Record: `{path}`, transcribed: measured {found['measured']}, before runs were "
                f"recorded; the experiments were not kept. To measure it again: {found['rerun']}."
            )
        )

    return table


GENERATED: dict[str, Callable[[], str]] = {
    "headline": headline,
    "first-run": first_run,
    "backbone-catalog": backbone_catalog,
    "elsewhere-headline": elsewhere_headline,
    "at-the-defaults": at_the_defaults,
    "the-blogs-gap": study_table("blogs-gap"),
    "blogs-gap-reading": blogs_gap_reading,
    "the-two-commands": bench_rows("make-test", "make-repro"),
    "training": bench_rows("training"),
    "views-cost": bench_rows("views"),
    "options": bench_rows("options"),
    "this-machine": bench_rows("machine", "extraction"),
    "zen4-benchmark": bench_rows("zen4/machine", "zen4/extraction"),
    "zen4-options": bench_rows("zen4/options"),
    "zen4-options-reading": options_reading("zen4/options"),
    "zen4-end-to-end": bench_rows("zen4/end-to-end"),
    "cache-sizes": bench_rows("zen4/end-to-end", starting="DVC cache"),
    "layer-costs": bench_rows("extraction", starting="extract_features up to"),
    "gpu-bfloat16": gpu_bfloat16,
    "ci-run": ci_run,
    "sweep-schedulers": bench_rows("sweep"),
    "precision-decision": precision_decision,
    "stroke-widths": bench_table("stroke-widths"),
    "framing-on-mnist": bench_table("framing-on-mnist"),
    "framing-reading": framing_reading,
    "views-in-the-study": views_in_the_study,
    "adaptation": study_table("adaptation"),
    "stronger-adaptation": study_table("stronger-adaptation"),
    "layers-and-heads": study_table("layers-and-heads"),
    "elsewhere": study_table("elsewhere", study.table),
    "elsewhere-confusions": study_table("elsewhere", lambda elsewhere, runs: elsewhere.details(runs)),
    "elsewhere-reading": elsewhere_reading,
    "confusions-reading": confusions_reading,
    "metrics-diff-elsewhere": bench_table("metrics-diff-elsewhere"),
    "backbones": study_table("backbones"),
    "backbones-reading": backbones_reading,
    "around-the-best": study_table("around-the-best"),
    "around-the-best-reading": around_the_best_reading,
    "metrics-diff-backbones": bench_table("metrics-diff-backbones"),
}


def tables() -> dict[str, Callable[[], str]]:
    """Every table by the name its markers give: those made from run and bench records, and
    one per transcribed record."""
    return {**GENERATED, **{path.stem: transcribed(path.stem) for path in sorted(TRANSCRIBED.glob("*.json"))}}


def documents() -> list[Path]:
    return [Path("README.md"), *sorted(Path("docs").glob("*.md"))]


def rendered(text: str, document: Path) -> str:
    """`text` with each marked table made again from its record."""

    known = tables()

    def one(match: re.Match) -> str:
        name = match["name"]
        if name not in known:
            raise InputError(f"{document}: no table named {name!r}; the tables: {', '.join(sorted(known))}")
        return f"<!-- table: {name} -->\n{known[name]()}\n<!-- end table -->"

    return MARKED.sub(one, text)


def differing() -> list[str]:
    """The documents whose tables differ from what their records render, and every table
    that no document places."""
    problems, placed = [], set()
    for document in documents():
        text = document.read_text()
        placed |= {match["name"] for match in MARKED.finditer(text)}
        if rendered(text, document) != text:
            problems.append(f"{document}: a table differs from its record")
    problems += [f"table {name}: in no document" for name in sorted(set(tables()) - placed)]
    return problems


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a table differs")
    parser.add_argument(
        "--committed", metavar="REV", help=f"add the run committed at REV to {records.run_record(COMMITTED)}"
    )
    args = parser.parse_args(argv)
    if args.committed:
        records.append(records.run_record(COMMITTED), [committed_row(args.committed)])
        print(f"tables: {records.run_record(COMMITTED)}")
        return
    if args.check:
        problems = differing()
        for problem in problems:
            print(f"error: {problem}; run: python -m mnist_transfer.publishing.tables")
        sys.exit(1 if problems else 0)
    for document in documents():
        text = document.read_text()
        if (new := rendered(text, document)) != text:
            atomic.write_text(document, new)
            print(f"tables: {document}")


if __name__ == "__main__":
    run_stage(lambda: main(sys.argv[1:]))
