"""The one params loader: reads `params.yaml`, checks every key a stage reads before any
work, and gives the stage exactly the keys `dvc.yaml` declares for it."""

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mnist_transfer.core import catalog
from mnist_transfer.core.errors import InputError

PARAMS_FILE = Path("params.yaml")
DVC_FILE = Path("dvc.yaml")


@dataclass(frozen=True)
class Rule:
    allowed: str
    accepts: Callable[[Any], bool]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def whole_number(minimum: int, maximum: int | None = None, why: str = "") -> Rule:
    allowed = f"a whole number >= {minimum}" if maximum is None else f"a whole number from {minimum} to {maximum}"
    return Rule(
        f"{allowed}{f' ({why})' if why else ''}",
        lambda v: _is_int(v) and v >= minimum and (maximum is None or v <= maximum),
    )


def number_between(low: float, high: float, *, low_open: bool, high_open: bool) -> Rule:
    left, right = ("(" if low_open else "["), (")" if high_open else "]")
    return Rule(
        f"a number in {left}{low}, {high}{right}",
        lambda v: _is_number(v) and (v > low if low_open else v >= low) and (v < high if high_open else v <= high),
    )


def boolean() -> Rule:
    return Rule("true or false", lambda v: isinstance(v, bool))


def one_of(names: tuple[str, ...]) -> Rule:
    return Rule(" or ".join(names), lambda v: isinstance(v, str) and v in names)


def catalog_name() -> Rule:
    # Looked up when checked, not when imported: a backbone registered later counts.
    return Rule(f"one of the catalog's backbones: {', '.join(catalog.BACKBONES)}", lambda v: v in catalog.BACKBONES)


def null_or(rule: Rule, null_means: str) -> Rule:
    return Rule(f"null ({null_means}) or {rule.allowed}", lambda v: v is None or rule.accepts(v))


def _is_csv(path: Path) -> bool:
    return path.suffix.lower() == ".csv" and path.is_file()


def name_or_existing_path(names: tuple[str, ...], path_kind: str, *, folders: bool) -> Rule:
    exists = Path.exists if folders else Path.is_file
    return Rule(
        f"{' or '.join(names)}, or the path of an existing {path_kind}",
        lambda v: isinstance(v, str) and (v in names or exists(Path(v))),
    )


DATA_SOURCES = ("mnist",)
BACKBONE_WEIGHTS = ("imagenet", "random")

# Upper bounds: what the code can run on a machine with a few GiB to spare. A value past
# one would otherwise end in a traceback from NumPy or TensorFlow, or in running out of memory.
SEED_MAX = 2**32 - 1  # NumPy's and TensorFlow's seeds are 32-bit
INPUT_SIZE_MAX = 299  # the largest ImageNet size in the catalog; a 28-pixel digit gains nothing beyond it
# VGG16's first block holds two maps of 64 float32 channels per pixel at once, the most of any
# backbone in the catalog per pixel: this many
# pixels per batch (batch_size x input_size^2) keep it near 4 GiB.
BACKBONE_PIXELS_PER_BATCH_MAX = 2**23
ADAPT_ROUNDS_MAX = 20
VIEWS_MAX = 8  # 8 x 60,000 augmented digits sit in memory at once: 376 MB

SCHEMA: dict[str, Rule] = {
    "seed": whole_number(0, SEED_MAX, "NumPy's seeds are 32-bit"),
    "epochs": whole_number(1),
    "data.source": name_or_existing_path(DATA_SOURCES, ".npz file or folder of IDX files", folders=True),
    "data.val_fraction": number_between(0, 1, low_open=True, high_open=True),
    "data.train_limit": Rule("0 (all the training images) or a whole number >= 1", lambda v: _is_int(v) and v >= 0),
    "data.elsewhere": Rule(
        f"{' or '.join((*catalog.ELSEWHERE, catalog.NO_ELSEWHERE))}, or the path of an existing folder of digit "
        "images or Kaggle digits .csv",
        lambda v: (
            isinstance(v, str)
            and (v in (*catalog.ELSEWHERE, catalog.NO_ELSEWHERE) or Path(v).is_dir() or _is_csv(Path(v)))
        ),
    ),
    "data.strokes": one_of(catalog.STROKE_WIDTHS),
    "data.deslant": boolean(),
    "cnn.batch_size": whole_number(1, 4096, "about 1 MiB of activations per image in training"),
    "cnn.learning_rate": number_between(0, 1, low_open=True, high_open=False),
    "cnn.augment": boolean(),
    "cnn.stroke": boolean(),
    "cnn.blur": boolean(),
    "cnn.stroke_reach": whole_number(1, 4, "a stroke of MNIST's is about 3 pixels wide"),
    "cnn.stretch": boolean(),
    "cnn.elastic": boolean(),
    "cnn.precision": one_of(catalog.PRECISIONS),
    "backbone.name": catalog_name(),
    "backbone.weights": name_or_existing_path(BACKBONE_WEIGHTS, "no-top weights file of backbone.name", folders=False),
    "backbone.layer": null_or(Rule("one of the backbone's layers", lambda v: isinstance(v, str)), "the last"),
    "backbone.preprocess": one_of((catalog.OWN_SCALING, *catalog.SCALINGS)),
    "backbone.input_size": null_or(whole_number(32, INPUT_SIZE_MAX, "and at least the backbone's minimum"), "its own"),
    "backbone.batch_size": whole_number(1, 8192, "and batch_size x input_size^2 at most 2^23"),
    "backbone.feature_dtype": one_of(catalog.FEATURE_DTYPES),
    "backbone.precision": one_of(catalog.PRECISIONS),
    "backbone.views": whole_number(0, VIEWS_MAX, "each view costs an extraction of the training images"),
    "head.units": whole_number(1, 8192, "its weights grow with units x features"),
    "head.dropout": number_between(0, 1, low_open=False, high_open=True),
    "head.batch_size": whole_number(1, 16384, "up to 36 KiB of features per row"),
    "head.learning_rate": number_between(0, 1, low_open=True, high_open=False),
    "head.optimizer": one_of(("rmsprop", "adam")),
    "head.normalize": boolean(),
    "head.epochs": Rule(
        "null (as many as epochs) or a whole number >= 1", lambda v: v is None or whole_number(1).accepts(v)
    ),
    "adapt.digits": one_of(catalog.ADAPT_ON),
    "adapt.rounds": whole_number(1, ADAPT_ROUNDS_MAX, "each round trains both models once more"),
    "adapt.normalize": boolean(),
    "adapt.infomax": boolean(),
    "adapt.cotrain": boolean(),
    "render.grid_columns": whole_number(1, 200, "the grid's width in digits"),
}

TOP_KEYS = list(dict.fromkeys(key.split(".")[0] for key in SCHEMA))
SECTIONS = {
    top: [key.split(".")[1] for key in SCHEMA if key.startswith(f"{top}.")] for top in TOP_KEYS if top not in SCHEMA
}


def _shown(value: Any) -> str:
    return "nothing" if value is None else repr(value)


# params.yaml is a few hundred bytes, two levels deep, and names no anchor: anything far
# beyond stops in one line before a parser builds it.
MAX_PARAMS_BYTES = 64 * 1024
MAX_PARAMS_DEPTH = 8


class _Bounded(yaml.SafeLoader):
    """A safe loader that refuses anchors and aliases (one alias of an alias of ... grows into
    billions of values when walked) and nesting past MAX_PARAMS_DEPTH (Python's recursion
    limit would end it in a traceback)."""

    depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        where = f"{self.name}: line {event.start_mark.line + 1}"
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise InputError(f"{where}: an anchor or alias; params.yaml names every value itself")
        self.depth += 1
        try:
            if self.depth > MAX_PARAMS_DEPTH:
                raise InputError(f"{where}: nested {self.depth} deep; params.yaml is {MAX_PARAMS_DEPTH} at most")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _read_yaml(path: Path) -> Any:
    try:
        if (size := path.stat().st_size) > MAX_PARAMS_BYTES:
            raise InputError(f"{path}: {size} bytes; a params file is a few hundred")
        with path.open() as file:
            return yaml.load(file, Loader=_Bounded)
    except FileNotFoundError:
        raise InputError(f"{path}: not found; run from the project's root folder") from None
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" at line {where.line + 1}" if where else ""
        problem = getattr(error, "problem", None)
        raise InputError(f"{path}: not valid YAML{line}{f' ({problem})' if problem else ''}") from None


def _did_you_mean(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""


def _check_known_keys(params: Any) -> None:
    """Every key of the file is one the pipeline knows: a typo stops every stage and tool, in one line."""
    if not isinstance(params, dict):
        raise InputError(f"{PARAMS_FILE}: must be a mapping of {', '.join(TOP_KEYS)}, got {_shown(params)}")
    for key, value in params.items():
        if key not in TOP_KEYS:
            raise InputError(
                f"{PARAMS_FILE}: unknown key {key!r}; {_did_you_mean(str(key), TOP_KEYS)}"
                f"the keys are {', '.join(TOP_KEYS)}"
            )
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise InputError(
                    f"{PARAMS_FILE}: {key} must be a mapping of {', '.join(SECTIONS[key])}, got {_shown(value)}"
                )
            for sub in value:
                if sub not in SECTIONS[key]:
                    raise InputError(
                        f"{PARAMS_FILE}: unknown key {key}.{sub}; {_did_you_mean(str(sub), SECTIONS[key])}"
                        f"{key} takes {', '.join(SECTIONS[key])}"
                    )


def declared_params(stage: str) -> list[str]:
    """The param keys `dvc.yaml` declares for `stage`, sections expanded to their keys."""
    stages = (_read_yaml(DVC_FILE) or {}).get("stages", {})
    if stage not in stages:
        raise InputError(f"{DVC_FILE}: no stage named {stage!r}")
    keys = []
    for entry in stages[stage].get("params", []):
        if not isinstance(entry, str):
            raise InputError(f"{DVC_FILE}: {stage} declares params as {entry!r}; list keys of params.yaml instead")
        if entry in SECTIONS:
            keys += [f"{entry}.{sub}" for sub in SECTIONS[entry]]
        elif entry in SCHEMA:
            keys.append(entry)
        else:
            raise InputError(f"{DVC_FILE}: {stage} declares unknown param {entry!r}")
    return keys


def check(params: Any, keys: list[str]) -> dict[str, Any]:
    """Check `keys` of a parsed params mapping; return them, nested as in the file."""
    _check_known_keys(params)
    checked: dict[str, Any] = {}
    for key in keys:
        section, _, sub = key.rpartition(".")
        holder = params.get(section, {}) if section else params
        if sub not in holder:
            raise InputError(f"{PARAMS_FILE}: {key} is missing; it must be {SCHEMA[key].allowed}")
        value = holder[sub]
        if not SCHEMA[key].accepts(value):
            raise InputError(f"{PARAMS_FILE}: {key} must be {SCHEMA[key].allowed}, got {_shown(value)}")
        set_dotted(checked, key, value)
    backbone = checked.get("backbone", {})
    if {"name", "layer"} <= set(backbone):
        _check_layer(backbone["name"], backbone["layer"])
    if {"name", "input_size"} <= set(backbone):
        size = catalog.input_size(backbone["name"], backbone["input_size"])
        _check_input_size(backbone["name"], size)
        if "batch_size" in backbone:
            _check_backbone_batch(backbone["batch_size"], size)
    if checked.get("adapt", {}).get("normalize") and checked["adapt"].get("digits") == catalog.ADAPT_ON[0]:
        raise InputError(
            f"{PARAMS_FILE}: adapt.normalize true needs digits from elsewhere to estimate their statistics on; "
            "set adapt.digits to first_half or all"
        )
    for option in ("infomax", "cotrain"):
        if checked.get("adapt", {}).get(option) and checked["adapt"].get("digits") == catalog.ADAPT_ON[0]:
            raise InputError(
                f"{PARAMS_FILE}: adapt.{option} true adapts on digits from elsewhere; "
                "set adapt.digits to first_half or all"
            )
    return checked


def _check_layer(name: str, layer: str | None) -> None:
    cuts = catalog.BACKBONES[name].cuts
    if layer is not None and layer not in cuts:
        raise InputError(
            f"{PARAMS_FILE}: backbone.layer {layer!r} is not one of {name}'s: null (its last, {cuts[0]}) or "
            f"{', '.join(cuts)}"
        )


def _check_input_size(name: str, size: int) -> None:
    smallest = catalog.BACKBONES[name].min_size
    if size < smallest:
        raise InputError(f"{PARAMS_FILE}: backbone.input_size {size} is below {name}'s smallest, {smallest}")


def _check_backbone_batch(batch_size: int, input_size: int) -> None:
    pixels = batch_size * input_size**2
    if pixels > BACKBONE_PIXELS_PER_BATCH_MAX:
        fits = BACKBONE_PIXELS_PER_BATCH_MAX // input_size**2
        raise InputError(
            f"{PARAMS_FILE}: backbone.batch_size {batch_size} at input_size {input_size} is {pixels:,} pixels a batch, "
            f"over the {BACKBONE_PIXELS_PER_BATCH_MAX:,} that keep VGG16's first block near 4 GiB; "
            f"at input_size {input_size}, batch_size must be at most {fits}"
        )


def load(stage: str) -> dict[str, Any]:
    """The checked params of `stage`: only those `dvc.yaml` declares for it, after every key
    of the file is known to be one of the pipeline's (a stage that reads none checks that too)."""
    return check(_read_yaml(PARAMS_FILE), declared_params(stage))


def everything() -> dict[str, Any]:
    """Every param of params.yaml, checked, nested as in the file: for tools and benchmarks."""
    return check(_read_yaml(PARAMS_FILE), list(SCHEMA))


def every_key() -> dict[str, Any]:
    """Every param of params.yaml, checked, by its dotted name (`head.units`), in SCHEMA's order."""
    flat = dotted(everything())
    return {key: flat[key] for key in SCHEMA}


def dotted(tree: Mapping, prefix: str = "") -> dict[str, Any]:
    """{"cnn": {"accuracy": 0.98}} as {"cnn.accuracy": 0.98}, as DVC names params and metrics."""
    flat = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            flat.update(dotted(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def set_dotted(tree: dict, key: str, value: Any) -> None:
    """`tree`'s value at `key` ("head.units") set to `value`, with any section it lacks made."""
    *sections, last = key.split(".")
    for section in sections:
        tree = tree.setdefault(section, {})
    tree[last] = value
