"""Models on disk: saved byte-stable and without what nothing reads, loaded safely; the head
as it reads the digits from elsewhere, by the statistics train_head keeps for them; and each
model whole, raw digits in (the one place that puts the frozen extractor and a head together)."""

import json
import tempfile
import zipfile
from pathlib import Path

import keras
import numpy as np

from mnist_transfer.core import (
    atomic,
    augmentation,  # noqa: F401  registers the layers a saved CNN may hold
    digits,
    paths,
)
from mnist_transfer.core.errors import InputError

PREDICT_BATCH = 500  # digits per forward pass when a model predicts: memory, not results
# What train_head keeps of the digits from elsewhere's features and MNIST's, per channel.
STATISTICS = ("mean", "variance", "mnist_mean", "mnist_variance")


def save(model: keras.Model, path: Path) -> None:
    """`model.save`, atomically, without what Keras writes that changes from run to run
    (the save date, zip entry times, memory addresses as shared-object ids), so the same
    model gives the same bytes; and without the optimizer's state, which nothing reads and
    which is as large as the weights."""
    if getattr(model, "optimizer", None) is not None:
        model = keras.Model(model.inputs, model.outputs, name=model.name)  # the same layers, uncompiled
    with tempfile.TemporaryDirectory() as folder:
        saved = Path(folder) / "model.keras"
        model.save(saved)
        with zipfile.ZipFile(saved) as archive:
            members = {name: archive.read(name) for name in archive.namelist()}
    metadata = json.loads(members["metadata.json"])
    metadata.pop("date_saved", None)
    members["metadata.json"] = json.dumps(metadata).encode()
    members["config.json"] = json.dumps(_renumber_shared_objects(json.loads(members["config.json"]))).encode()
    atomic.write_bytes(path, atomic.zip_bytes(members))


def _renumber_shared_objects(config: object) -> object:
    """Replace each `shared_object_id` (an id() in memory) by its order of appearance:
    objects that shared one id still share one."""
    numbers: dict[object, int] = {}

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "shared_object_id":
                    node[key] = numbers.setdefault(value, len(numbers))
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(config)
    return config


def load(path: Path) -> keras.Model:
    return keras.models.load_model(path, safe_mode=True)


def computes_in(model: keras.Model) -> str:
    """bfloat16 where any of `model`'s layers computes in it, else float32."""
    return "bfloat16" if any(layer.compute_dtype == "bfloat16" for layer in model.layers) else "float32"


def load_statistics(path: Path) -> dict[str, np.ndarray]:
    """The per-channel statistics that train_head keeps for the digits from elsewhere."""
    try:
        with np.load(path, allow_pickle=False) as kept:
            statistics = {name: np.asarray(kept[name], "float32") for name in STATISTICS}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        statistics = {}
    shapes = {values.shape for values in statistics.values()}
    if len(statistics) < len(STATISTICS) or len(shapes) != 1 or len(next(iter(shapes))) != 1:
        raise InputError(
            f"{path}: not the statistics train_head keeps (an .npz of {', '.join(STATISTICS)}, one value a channel "
            "each); run dvc repro"
        )
    return statistics


def restandardizing(statistics: dict[str, np.ndarray], feature_shape: tuple[int, ...]) -> keras.Model:
    """Features from elsewhere in, the same features out, each channel standardised by the
    statistics of the digits from elsewhere (`mean`, `variance`) and given MNIST's back
    (`mnist_mean`, `mnist_variance`): what the head's own normalisation would be, had it been
    adapted on them. The identity when both are zero means and unit variances."""
    features = keras.Input(feature_shape)
    x = keras.layers.Normalization(axis=-1, mean=statistics["mean"], variance=statistics["variance"])(features)
    x = keras.layers.Normalization(
        axis=-1, mean=statistics["mnist_mean"], variance=statistics["mnist_variance"], invert=True
    )(x)
    return keras.Model(features, x, name="restandardize")


def head_for_elsewhere(head: keras.Model, statistics: dict[str, np.ndarray]) -> keras.Model:
    """The head as it reads the digits from elsewhere: their features restandardised first."""
    channels = head.input_shape[-1]
    if len(statistics["mean"]) != channels:
        raise InputError(
            f"the statistics for the digits from elsewhere have {len(statistics['mean'])} channels, the head takes "
            f"{channels}; they were not made with this head: run dvc repro"
        )
    features = keras.Input(head.input_shape[1:], name="features")
    return keras.Model(features, head(restandardizing(statistics, head.input_shape[1:])(features)), name="head")


def transfer(extractor: keras.Model, head: keras.Model) -> keras.Model:
    """The transfer model as one classifier, as the CNN is: raw digits -> the frozen
    backbone up to its layer (`extraction.feature_extractor`) -> the trained head -> ten
    probabilities."""
    raw = digits.keras_input()
    return keras.Model(raw, head(extractor(raw)), name="transfer_classifier")


def classifiers(
    names: list[str],
    folder: Path = paths.MODELS["cnn"].parent,
    extractor: Path = paths.EXTRACTOR,
    *,
    elsewhere: bool = False,
) -> dict[str, keras.Model]:
    """Each model named whole, raw digits in: the CNN as saved in `folder`; the transfer
    model as its frozen extractor (stored once, beside the features it made) with the head
    from `folder` on it (with `elsewhere`, reading their features as it reads the digits from
    elsewhere)."""
    needed = {name: [folder / paths.MODELS[name].name] for name in names}
    statistics = folder / paths.ELSEWHERE_STATISTICS.name
    if "transfer" in needed:
        needed["transfer"].insert(0, extractor)
        if elsewhere:
            needed["transfer"].append(statistics)
    for path in (path for files in needed.values() for path in files):
        if not path.is_file():
            raise InputError(
                f"{path}: not found; run dvc repro (or dvc pull) first, "
                "or name where it is with --models or --extractor"
            )
    loaded = {name: [load(path) for path in files if path != statistics] for name, files in needed.items()}
    if "transfer" in loaded and elsewhere:
        loaded["transfer"][1] = head_for_elsewhere(loaded["transfer"][1], load_statistics(statistics))
    return {name: transfer(*parts) if name == "transfer" else parts[0] for name, parts in loaded.items()}
