"""The params loader: every key checked, one clear line for each bad value, and each stage
given exactly the keys dvc.yaml declares for it."""

import copy

import pytest
import yaml

from mnist_transfer.core import params
from mnist_transfer.core.errors import InputError
from tests.conftest import ROOT


@pytest.fixture
def defaults() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


@pytest.fixture
def dvc_stages() -> dict:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def with_value(defaults: dict, key: str, value: object) -> dict:
    changed = copy.deepcopy(defaults)
    params.set_dotted(changed, key, value)
    return changed


def test_the_committed_params_pass(defaults):
    checked = params.check(defaults, list(params.SCHEMA))
    assert checked["epochs"] == 1
    assert checked["backbone"]["weights"] == "imagenet"


def test_every_key_in_params_yaml_is_declared_by_some_stage(defaults, dvc_stages, monkeypatch):
    monkeypatch.chdir(ROOT)
    declared = {key for name in dvc_stages for key in params.declared_params(name)}
    assert set(params.dotted(defaults)) <= declared
    assert set(params.dotted(defaults)) == set(params.SCHEMA)


def test_a_stage_gets_only_what_dvc_yaml_declares(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert params.load("fetch_mnist") == {
        "data": {"source": "mnist", "elsewhere": "mfeat-pix", "strokes": "kept", "deslant": False}
    }
    train_head = params.load("train_head")
    assert set(train_head) == {"seed", "epochs", "head", "backbone", "adapt"}
    # What made the features the head trains on; never backbone.batch_size, which only paces
    # extraction, nor feature_dtype: the head reads float16 and float32 features alike.
    assert set(train_head["backbone"]) == {"name", "weights", "layer", "preprocess", "input_size", "precision", "views"}
    assert set(params.load("extract_features")) == {"backbone"}


def test_extract_features_never_reads_epochs_or_head(dvc_stages):
    declared = dvc_stages["extract_features"]["params"]
    assert declared == ["backbone"]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("epochs", 0, "params.yaml: epochs must be a whole number >= 1, got 0"),
        ("epochs", -1, "params.yaml: epochs must be a whole number >= 1, got -1"),
        ("epochs", 2.5, "params.yaml: epochs must be a whole number >= 1, got 2.5"),
        ("epochs", "three", "params.yaml: epochs must be a whole number >= 1, got 'three'"),
        ("epochs", True, "params.yaml: epochs must be a whole number >= 1, got True"),
        (
            "seed",
            None,
            "params.yaml: seed must be a whole number from 0 to 4294967295 (NumPy's seeds are 32-bit), got nothing",
        ),
        ("data.val_fraction", 0, "params.yaml: data.val_fraction must be a number in (0, 1), got 0"),
        ("data.val_fraction", 1, "params.yaml: data.val_fraction must be a number in (0, 1), got 1"),
        (
            "data.train_limit",
            -5,
            "params.yaml: data.train_limit must be 0 (all the training images) or a whole number >= 1, got -5",
        ),
        (
            "data.source",
            "nowhere.npz",
            "params.yaml: data.source must be mnist, or the path of an existing .npz file or folder of IDX files, got 'nowhere.npz'",
        ),
        (
            "backbone.input_size",
            16,
            "params.yaml: backbone.input_size must be null (its own) or a whole number from 32 to 299 (and at least the backbone's minimum), got 16",
        ),
        (
            "backbone.weights",
            "imagenet21k",
            "params.yaml: backbone.weights must be imagenet or random, or the path of an existing no-top weights file of backbone.name, got 'imagenet21k'",
        ),
        (
            "backbone.batch_size",
            0,
            "params.yaml: backbone.batch_size must be a whole number from 1 to 8192 (and batch_size x input_size^2 at most 2^23), got 0",
        ),
        (
            "backbone.feature_dtype",
            "float64",
            "params.yaml: backbone.feature_dtype must be float16 or float32, got 'float64'",
        ),
        (
            "backbone.precision",
            "int8",
            "params.yaml: backbone.precision must be float32 or bfloat16 or auto, got 'int8'",
        ),
        (
            "cnn.batch_size",
            0,
            "params.yaml: cnn.batch_size must be a whole number from 1 to 4096 (about 1 MiB of activations per image in training), got 0",
        ),
        ("cnn.learning_rate", 0, "params.yaml: cnn.learning_rate must be a number in (0, 1], got 0"),
        ("cnn.augment", "yes please", "params.yaml: cnn.augment must be true or false, got 'yes please'"),
        ("head.dropout", 1, "params.yaml: head.dropout must be a number in [0, 1), got 1"),
        (
            "render.grid_columns",
            0,
            "params.yaml: render.grid_columns must be a whole number from 1 to 200 (the grid's width in digits), got 0",
        ),
    ],
)
def test_a_bad_value_fails_in_one_line_naming_key_value_and_what_is_allowed(
    defaults, key, value, message, monkeypatch, tmp_path
):
    monkeypatch.chdir(tmp_path)  # relative paths in params are looked up from here
    with pytest.raises(InputError) as error:
        params.check(with_value(defaults, key, value), list(params.SCHEMA))
    assert str(error.value) == message


def test_a_missing_key_is_named(defaults):
    del defaults["head"]["units"]
    with pytest.raises(
        InputError,
        match=r"^params.yaml: head.units is missing; it must be a whole number from 1 to 8192 \(its weights grow with units x features\)$",
    ):
        params.check(defaults, list(params.SCHEMA))


def test_a_missing_key_that_the_stage_does_not_read_is_not_its_business(defaults):
    del defaults["head"]["units"]
    assert params.check(defaults, ["epochs"]) == {"epochs": 1}


def test_an_unknown_key_under_a_section_is_named_with_the_known_ones(defaults):
    defaults["cnn"]["learning_rat"] = 0.01
    with pytest.raises(InputError) as error:
        params.check(defaults, ["epochs"])
    assert (
        str(error.value) == "params.yaml: unknown key cnn.learning_rat; did you mean 'learning_rate'? "
        "cnn takes batch_size, learning_rate, augment, stroke, blur, stroke_reach, stretch, elastic, precision"
    )


def test_an_unknown_top_level_key_is_named(defaults):
    defaults["epoch"] = 3
    with pytest.raises(
        InputError,
        match=r"^params.yaml: unknown key 'epoch'; did you mean 'epochs'\? the keys are seed, epochs, data, ",
    ):
        params.check(defaults, ["epochs"])


def test_an_unknown_key_like_none_of_the_known_ones_gets_no_suggestion(defaults):
    defaults["colour"] = "blue"
    with pytest.raises(InputError, match=r"^params.yaml: unknown key 'colour'; the keys are seed, epochs, "):
        params.check(defaults, [])


def test_a_section_that_is_not_a_mapping_is_named(defaults):
    defaults["head"] = 512
    with pytest.raises(
        InputError,
        match=r"^params.yaml: head must be a mapping of units, dropout, batch_size, learning_rate, optimizer, normalize, epochs, got 512$",
    ):
        params.check(defaults, ["epochs"])


def test_an_existing_path_is_accepted_for_source_and_weights(defaults, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "digits.npz").write_bytes(b"")
    (tmp_path / "vgg16.h5").write_bytes(b"")
    changed = with_value(with_value(defaults, "data.source", "digits.npz"), "backbone.weights", "vgg16.h5")
    checked = params.check(changed, ["data.source", "backbone.weights"])
    assert checked == {"data": {"source": "digits.npz"}, "backbone": {"weights": "vgg16.h5"}}


def test_a_weights_path_must_be_a_file_not_a_folder(defaults, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "weights").mkdir()
    with pytest.raises(
        InputError, match=r"^params.yaml: backbone.weights must be .* weights file of backbone.name, got 'weights'$"
    ):
        params.check(with_value(defaults, "backbone.weights", "weights"), ["backbone.weights"])


def test_params_yaml_that_is_not_yaml_is_reported(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("epochs: [1\n")
    (tmp_path / "dvc.yaml").write_text((ROOT / "dvc.yaml").read_text())
    with pytest.raises(
        InputError, match=r"^params.yaml: not valid YAML at line 2 \(expected ',' or '\]', but got '<stream end>'\)$"
    ):
        params.load("train_cnn")


# Every numeric param: the values at its bounds, which must pass, and just past them and
# far past them, which must not. (Past the top of epochs and train_limit there is only
# time, or the stage's own check against the data's size.)
BOUNDS = {
    "seed": ([0, 2**32 - 1], [-1, 2**32, 2**40]),
    "epochs": ([1, 10_000], [0, -1]),
    "data.val_fraction": ([1e-6, 0.999999], [0, 1, -0.5, 2]),
    "data.train_limit": ([0, 1, 60_000], [-1]),
    "cnn.batch_size": ([1, 4096], [0, 4097, 10**9]),
    "cnn.learning_rate": ([1e-9, 1], [0, 1.0001, 1e300, float("inf")]),
    "backbone.input_size": ([32, 299], [31, 300, 20_000]),
    "backbone.batch_size": ([1, 3640], [0, 3641, 10**9]),  # 3640 x 48^2 <= 2^23 < 3641 x 48^2
    "backbone.views": ([0, 8], [-1, 9]),
    "head.units": ([1, 8192], [0, 8193, 10**9]),
    "head.dropout": ([0, 0.999], [1, -0.1]),
    "head.batch_size": ([1, 16384], [0, 16385]),
    "head.learning_rate": ([1e-9, 1], [0, 2]),
    "head.epochs": ([None, 1, 10_000], [0]),
    "render.grid_columns": ([1, 200], [0, 201]),
    "cnn.stroke_reach": ([1, 4], [0, 5]),
    "adapt.rounds": ([1, 20], [0, 21]),
}


def test_every_numeric_param_has_its_bounds_listed(defaults):
    def value(key: str):
        holder = defaults
        for part in key.split("."):
            holder = holder[part]
        return holder

    numeric = {key for key in params.SCHEMA if "number" in params.SCHEMA[key].allowed}
    assert numeric == set(BOUNDS)


@pytest.mark.parametrize("key", list(BOUNDS))
def test_a_numeric_param_passes_at_its_bounds_and_fails_past_them_in_one_line(defaults, key):
    accepted, refused = BOUNDS[key]
    if key == "backbone.input_size":  # its top passes only with a batch that fits (the test below)
        defaults = with_value(defaults, "backbone.batch_size", 1)
    for value in accepted:
        params.check(with_value(defaults, key, value), list(params.SCHEMA))
    for value in refused:
        with pytest.raises(InputError) as error:
            params.check(with_value(defaults, key, value), list(params.SCHEMA))
        message = str(error.value)
        assert message.startswith(f"params.yaml: {key} ") and "\n" not in message
        assert f"got {value!r}" in message or f"{key} {value} " in message


def test_their_own_statistics_need_digits_from_elsewhere_to_estimate_them_on(defaults):
    adapted = with_value(with_value(defaults, "adapt.normalize", True), "adapt.digits", "first_half")
    params.check(adapted, list(params.SCHEMA))
    with pytest.raises(InputError) as error:
        params.check(with_value(adapted, "adapt.digits", "none"), list(params.SCHEMA))
    assert str(error.value) == (
        "params.yaml: adapt.normalize true needs digits from elsewhere to estimate their statistics on; "
        "set adapt.digits to first_half or all"
    )


def test_the_backbone_batch_is_bounded_by_its_pixels_at_the_input_size(defaults):
    at_224 = with_value(with_value(defaults, "backbone.input_size", 224), "backbone.batch_size", 167)
    params.check(at_224, list(params.SCHEMA))
    with pytest.raises(InputError) as error:
        params.check(with_value(at_224, "backbone.batch_size", 168), list(params.SCHEMA))
    assert str(error.value) == (
        "params.yaml: backbone.batch_size 168 at input_size 224 is 8,429,568 pixels a batch, over the 8,388,608 "
        "that keep VGG16's first block near 4 GiB; at input_size 224, batch_size must be at most 167"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "epochs: " + "[" * 5000 + "]" * 5000 + "\n",
            r"^params.yaml: line 1: nested 9 deep; params.yaml is 8 at most$",
        ),
        (
            "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nepochs: [*b, *b, *b]\n",
            r"^params.yaml: line 1: an anchor or alias; params.yaml names every value itself$",
        ),
        ("# " + "x" * 70_000 + "\nepochs: 1\n", r"^params.yaml: 70013 bytes; a params file is a few hundred$"),
    ],
    ids=["deep", "aliases", "huge"],
)
def test_params_yaml_built_to_exhaust_the_parser_is_one_line(tmp_path, monkeypatch, text, expected):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text(text)
    (tmp_path / "dvc.yaml").write_text((ROOT / "dvc.yaml").read_text())
    with pytest.raises(InputError, match=expected):
        params.load("train_cnn")
