"""The one params loader: reads `params.yaml`, checks every key a stage reads before any
work, and gives the stage exactly the keys `dvc.yaml` declares for it."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mnist_transfer.pipeline.errors import InputError

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


def whole_number(minimum: int) -> Rule:
    return Rule(f"a whole number >= {minimum}", lambda v: _is_int(v) and v >= minimum)


def number_between(low: float, high: float, *, low_open: bool, high_open: bool) -> Rule:
    left, right = ("(" if low_open else "["), (")" if high_open else "]")
    return Rule(
        f"a number in {left}{low}, {high}{right}",
        lambda v: _is_number(v) and (v > low if low_open else v >= low) and (v < high if high_open else v <= high),
    )


def positive_number() -> Rule:
    return Rule("a number > 0", lambda v: _is_number(v) and v > 0)


def boolean() -> Rule:
    return Rule("true or false", lambda v: isinstance(v, bool))


def one_of(names: tuple[str, ...]) -> Rule:
    return Rule(" or ".join(names), lambda v: isinstance(v, str) and v in names)


def name_or_existing_path(names: tuple[str, ...], path_kind: str, *, folders: bool) -> Rule:
    exists = Path.exists if folders else Path.is_file
    return Rule(
        f"{' or '.join(names)}, or the path of an existing {path_kind}",
        lambda v: isinstance(v, str) and (v in names or exists(Path(v))),
    )


DATA_SOURCES = ("mnist",)
BACKBONE_WEIGHTS = ("imagenet", "random")

SCHEMA: dict[str, Rule] = {
    "seed": whole_number(0),
    "epochs": whole_number(1),
    "data.source": name_or_existing_path(DATA_SOURCES, ".npz file or folder of IDX files", folders=True),
    "data.val_fraction": number_between(0, 1, low_open=True, high_open=True),
    "data.train_limit": Rule("0 (all the training images) or a whole number >= 1", lambda v: _is_int(v) and v >= 0),
    "cnn.batch_size": whole_number(1),
    "cnn.learning_rate": positive_number(),
    "cnn.augment": boolean(),
    "backbone.weights": name_or_existing_path(BACKBONE_WEIGHTS, "VGG16 no-top weights file", folders=False),
    "backbone.layer": one_of(("block5_pool", "block4_pool", "block3_pool")),
    "backbone.preprocess": one_of(("caffe", "unit")),
    "backbone.input_size": whole_number(32),
    "backbone.batch_size": whole_number(1),
    "backbone.feature_dtype": one_of(("float16", "float32")),
    "backbone.precision": one_of(("float32", "bfloat16")),
    "head.units": whole_number(1),
    "head.dropout": number_between(0, 1, low_open=False, high_open=True),
    "head.batch_size": whole_number(1),
    "head.learning_rate": positive_number(),
    "head.optimizer": one_of(("rmsprop", "adam")),
    "head.normalize": boolean(),
    "head.epochs": Rule(
        "null (as many as epochs) or a whole number >= 1", lambda v: v is None or whole_number(1).accepts(v)
    ),
    "render.grid_columns": whole_number(1),
}

TOP_KEYS = list(dict.fromkeys(key.split(".")[0] for key in SCHEMA))
SECTIONS = {
    top: [key.split(".")[1] for key in SCHEMA if key.startswith(f"{top}.")] for top in TOP_KEYS if top not in SCHEMA
}


def _shown(value: Any) -> str:
    return "nothing" if value is None else repr(value)


def _read_yaml(path: Path) -> Any:
    try:
        with path.open() as file:
            return yaml.safe_load(file)
    except FileNotFoundError:
        raise InputError(f"{path}: not found; run from the project's root folder") from None
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" at line {where.line + 1}" if where else ""
        problem = getattr(error, "problem", None)
        raise InputError(f"{path}: not valid YAML{line}{f' ({problem})' if problem else ''}") from None


def _check_known_keys(params: Any) -> None:
    if not isinstance(params, dict):
        raise InputError(f"{PARAMS_FILE}: must be a mapping of {', '.join(TOP_KEYS)}, got {_shown(params)}")
    for key, value in params.items():
        if key not in TOP_KEYS:
            raise InputError(f"{PARAMS_FILE}: unknown key {key!r}; the keys are {', '.join(TOP_KEYS)}")
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise InputError(
                    f"{PARAMS_FILE}: {key} must be a mapping of {', '.join(SECTIONS[key])}, got {_shown(value)}"
                )
            for sub in value:
                if sub not in SECTIONS[key]:
                    raise InputError(f"{PARAMS_FILE}: unknown key {key}.{sub}; {key} takes {', '.join(SECTIONS[key])}")


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
        (checked.setdefault(section, {}) if section else checked)[sub] = value
    return checked


def load(stage: str) -> dict[str, Any]:
    """The checked params of `stage`: only those `dvc.yaml` declares for it."""
    return check(_read_yaml(PARAMS_FILE), declared_params(stage))
