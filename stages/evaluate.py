"""evaluate: both models and the two combined on MNIST's test digits and the digits from
elsewhere: predictions, confusion data, metrics/evaluate.json and metrics/per_class.json."""

import json

import numpy as np
import pandas as pd

from mnist_transfer.core import atomic, catalog, cpu, determinism, model_files, params, paths, splits
from mnist_transfer.core.errors import run_stage
from mnist_transfer.report import comparison, kaggle, metrics

# Of the digits from elsewhere's provenance, what the headline shows (the rest: data/raw/provenance.json).
ELSEWHERE_SHOWN = ("set", "route", "images")


def probabilities(models: dict, part: str) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Each of `models`' probabilities on `part` ("val", "test" or "elsewhere"), and the true labels."""
    found = {}
    for name, model in models.items():
        kind = catalog.MODELS[name].inputs
        inputs, labels = splits.load(part, kind)
        if isinstance(inputs, splits.Rows):  # val: rows of the training images, read here at once
            inputs = np.asarray(inputs[np.arange(len(inputs))], "float32" if kind == "features" else None)
        if len(inputs) == 0:  # data.elsewhere: none; Keras cannot predict on no inputs
            found[name] = np.zeros((0, model.output_shape[-1]), "float32")
            continue
        found[name] = model.predict(inputs, batch_size=model_files.PREDICT_BATCH, verbose=0)
    return found, labels


def main() -> None:
    params.load("evaluate")  # reads no key, but a typo anywhere in params.yaml stops it
    determinism.make_deterministic()
    data = json.loads(paths.RAW_PROVENANCE.read_text())
    backbone = json.loads(paths.FEATURES_WEIGHTS.read_text())
    models = {name: model_files.load(paths.MODELS[name]) for name in catalog.MODELS}
    test, labels = probabilities(models, "test")
    predictions = comparison.predicted(test)
    val, val_labels = probabilities(models, "val")
    statistics = model_files.load_statistics(paths.ELSEWHERE_STATISTICS)
    reading_elsewhere = {**models, "transfer": model_files.head_for_elsewhere(models["transfer"], statistics)}
    other, other_labels = probabilities(reading_elsewhere, "elsewhere")
    with np.load(paths.RAW_ELSEWHERE) as framed:
        names = framed["names"]
    other_predictions = comparison.predicted(other) if len(names) else {}
    has_labels = len(other_labels) > 0

    image_ids = np.arange(1, len(labels) + 1)
    each = {name: predictions[name] for name in catalog.MODELS}
    side_by_side = pd.DataFrame({"ImageId": image_ids, "actual": labels, **each})
    with atomic.replacing(paths.PREDICTIONS) as folder:
        folder.mkdir()
        for name, labelled in each.items():
            csv = folder / paths.predictions_csv(name, backbone["name"]).name
            csv.write_text(kaggle.submission(image_ids, labelled).to_csv(index=False))
        (folder / paths.COMPARISON_CSV.name).write_text(side_by_side.to_csv(index=False))
        (folder / paths.ELSEWHERE_CSV.name).write_text(elsewhere_table(names, other_labels, other).to_csv(index=False))

    compared = comparison.compare(labels, each)
    # The two combined right after the two, where `dvc metrics diff` lists them together.
    combined = comparison.scores(labels, predictions[metrics.COMBINED])
    headline = {**{name: compared.pop(name) for name in each}, metrics.COMBINED: combined, **compared}
    for name, labelled in comparison.predicted(val).items():
        headline[name][metrics.VAL_ACCURACY] = comparison.scores(val_labels, labelled)[metrics.ACCURACY]
    first, second = splits.halves(other_labels)
    for name, read in other_predictions.items() if has_labels else ():
        headline[name][metrics.ELSEWHERE_ACCURACY] = comparison.scores(other_labels, read)[metrics.ACCURACY]
        for metric, half in ((metrics.FIRST_HALF_ACCURACY, first), (metrics.HELD_OUT_ACCURACY, second)):
            headline[name][metric] = comparison.scores(other_labels[half], read[half])[metrics.ACCURACY]
    headline["cnn"]["computed_in"] = model_files.computes_in(models["cnn"])
    headline["elsewhere"] = {key: value for key, value in data["elsewhere"].items() if key in ELSEWHERE_SHOWN}
    if other_predictions and not has_labels:
        for name, found in {**other, metrics.COMBINED: comparison.combined_probabilities(other.values())}.items():
            headline[name][metrics.ELSEWHERE_SURENESS] = round(float(found.max(axis=1).mean()), 4)
        agreeing = other_predictions["cnn"] == other_predictions["transfer"]
        headline["elsewhere"][metrics.ELSEWHERE_AGREEMENT] = round(float(agreeing.mean()), 4)
    headline["data"] = {"route": data["route"], "sha256": data["sha256"]}
    # Another CPU rounds differently: the figures' last digits belong to the machine that made them.
    made_on = cpu.machine()
    headline["machine"] = {"cpu": made_on["cpu"], "flags": " ".join(made_on["flags"])}
    # Not "backbone": `dvc exp show` would then prefix the params of the same names with their file.
    headline["features"] = backbone
    atomic.write_json(paths.METRICS, headline)
    per_class = {"per_class": comparison.per_class(labels, predictions)}
    if other_predictions and has_labels:
        per_class["elsewhere"] = comparison.per_class(other_labels, other_predictions)
    atomic.write_json(paths.PER_CLASS_METRICS, per_class)
    for name in predictions:
        m = headline[name]
        on_other = ""
        if other_predictions and has_labels:
            on_other = (
                f"; {m[metrics.ELSEWHERE_ACCURACY]:.2%} from elsewhere, "
                f"{m[metrics.HELD_OUT_ACCURACY]:.2%} on its held-out half"
            )
        elif other_predictions:
            on_other = (
                f"; {len(names)} digits from elsewhere, unlabelled: {m[metrics.ELSEWHERE_SURENESS]:.2%} sure on average"
            )
        print(f"{name}: accuracy {m[metrics.ACCURACY]:.2%}, {m[metrics.ERRORS]} errors of {len(labels)}{on_other}")
    print(f"disagreements: {headline[metrics.DISAGREEMENTS]}")
    if other_predictions and not has_labels:
        agreement = headline["elsewhere"][metrics.ELSEWHERE_AGREEMENT]
        print(
            f"digits from elsewhere: the two models agree on {agreement:.2%}; each one's label: {paths.ELSEWHERE_CSV}"
        )


def elsewhere_table(names: np.ndarray, labels: np.ndarray, found: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per digit from elsewhere: its file (and row), its label and half where it has
    one, each model's and the two combined's label and probability of it."""
    table = pd.DataFrame({"input": names})
    if len(labels):
        table["actual"] = labels
        table["held_out"] = np.isin(np.arange(len(labels)), splits.halves(labels)[1]).astype(int)
    everything = {**found, metrics.COMBINED: comparison.combined_probabilities(found.values())} if len(names) else {}
    for name in (*catalog.MODELS, metrics.COMBINED):
        table[name] = everything[name].argmax(axis=1) if everything else []
    for name in (*catalog.MODELS, metrics.COMBINED):
        table[f"{name}_probability"] = everything[name].max(axis=1).round(4) if everything else []
    return table


if __name__ == "__main__":
    run_stage(main)
