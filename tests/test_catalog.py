"""The catalog: each backbone's entry says what Keras' own builder and preprocessing do, the
params follow it, and a new backbone is one entry and nothing else."""

import json

import keras
import numpy as np
import pytest
import yaml

from mnist_transfer.backbones import extraction, flops, pretrained
from mnist_transfer.core import catalog, params, paths
from mnist_transfer.core.errors import InputError
from tests.conftest import ROOT, set_params

# keras.applications' module for each backbone: its own preprocess_input.
KERAS_MODULES = {
    "vgg16": keras.applications.vgg16,
    "inception_v3": keras.applications.inception_v3,
    "xception": keras.applications.xception,
    "densenet121": keras.applications.densenet,
    "mobilenet_v2": keras.applications.mobilenet_v2,
    "resnet50": keras.applications.resnet50,
}


@pytest.fixture
def defaults() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def with_backbone(defaults: dict, **changes) -> dict:
    return {**defaults, "backbone": {**defaults["backbone"], **changes}}


def test_every_backbone_in_the_catalog_is_one_the_tests_know():
    assert set(catalog.BACKBONES) == set(KERAS_MODULES)
    assert catalog.DEFAULT_BACKBONE == "vgg16" == yaml.safe_load((ROOT / "params.yaml").read_text())["backbone"]["name"]


@pytest.mark.parametrize("name", list(KERAS_MODULES))
def test_a_backbones_own_scaling_is_what_keras_preprocess_input_does(name):
    grey = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 1)).astype("float32")
    rgb = np.repeat(grey, 3, axis=-1)
    own = extraction.scaling_layer(catalog.scaling(name, "imagenet"))(rgb)
    np.testing.assert_allclose(own, KERAS_MODULES[name].preprocess_input(rgb.copy()), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("name", list(KERAS_MODULES))
def test_a_backbones_cuts_sizes_and_gflop_are_its_builders(name):
    entry = catalog.BACKBONES[name]
    model = pretrained.build(name, entry.default_size)
    for cut in entry.cuts:
        assert flops.gflop_per_image(model, cut) == pytest.approx(entry.gflop[cut], rel=5e-3)
    assert model.get_layer(entry.cuts[0]).output.shape == model.output.shape  # the first cut is its last
    pretrained.build(name, entry.min_size)
    with pytest.raises(ValueError):
        pretrained.build(name, entry.min_size - 1)


def test_an_unknown_backbone_fails_in_one_line(defaults):
    with pytest.raises(
        InputError, match=r"^params.yaml: backbone.name must be one of the catalog's backbones: vgg16, "
    ):
        params.check(with_backbone(defaults, name="vgg19"), ["backbone.name"])


def test_a_layer_of_another_backbone_fails_in_one_line_naming_the_layers_there_are(defaults):
    with pytest.raises(InputError) as error:
        params.check(with_backbone(defaults, name="resnet50", layer="block5_pool"), list(params.SCHEMA))
    assert str(error.value) == (
        "params.yaml: backbone.layer 'block5_pool' is not one of resnet50's: null (its last, conv5_block3_out) or "
        "conv5_block3_out, conv4_block6_out"
    )


def test_an_input_below_the_backbones_smallest_fails_before_tensorflow_loads(defaults):
    with pytest.raises(InputError, match=r"^params.yaml: backbone.input_size 48 is below inception_v3's smallest, 75$"):
        params.check(with_backbone(defaults, name="inception_v3", input_size=48), list(params.SCHEMA))


def test_null_means_the_backbones_own_layer_and_size(defaults):
    checked = params.check(with_backbone(defaults, name="xception"), list(params.SCHEMA))["backbone"]
    assert (checked["layer"], checked["input_size"]) == (None, None)
    assert catalog.cut("xception", None) == "block14_sepconv2_act"
    assert catalog.input_size("xception", None) == 71
    assert catalog.scaling("xception", "imagenet") == "tf" and catalog.scaling("xception", "unit") == "unit"


def tiny(include_top: bool, weights: str | None, input_shape: tuple[int, int, int]) -> keras.Model:
    """A backbone of two convolutions, built as keras.applications builds one."""
    assert not include_top and weights is None
    image = keras.Input(input_shape)
    x = keras.layers.Conv2D(4, 3, activation="relu", name="tiny_conv1")(image)
    x = keras.layers.MaxPooling2D(name="tiny_pool1")(x)
    x = keras.layers.Conv2D(8, 3, activation="relu", name="tiny_conv2")(x)
    return keras.Model(image, keras.layers.MaxPooling2D(name="tiny_pool2")(x), name="tiny")


def test_a_new_backbone_is_one_catalog_entry(pipeline_copy, monkeypatch):
    from stages import extract_features, train_head

    entry = catalog.Backbone(
        title="Tiny",
        builder="tests.test_catalog:tiny",
        scaling="tf",
        min_size=16,
        default_size=20,
        cuts=("tiny_pool2", "tiny_pool1"),
        gflop={},
        packaged=None,
    )
    monkeypatch.setitem(catalog.BACKBONES, "tiny", entry)
    monkeypatch.chdir(pipeline_copy)
    set_params(pipeline_copy, {"backbone.name": "tiny", "backbone.weights": "random", "backbone.input_size": None})
    extract_features.main([])
    record = json.loads((pipeline_copy / "data/features/weights.json").read_text())
    assert (record["name"], record["layer"], record["input_size"], record["scaling"]) == (
        "tiny",
        "tiny_pool2",
        20,
        "unit",
    )
    assert np.load(pipeline_copy / "data/features/train.npy").shape[1:] == (3, 3, 8)
    extract_features.main(["elsewhere"])
    assert np.load(pipeline_copy / paths.ELSEWHERE_FEATURES).shape[1:] == (3, 3, 8)
    train_head.main()
    assert (pipeline_copy / "data/models/head.keras").is_file()
