"""The models: the architectures the blog compared, to the parameter, each taking what the
stage before it writes."""

import errno
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from mnist_transfer.backbones import extraction, pretrained
from mnist_transfer.core import catalog, cpu, model_files, params, splits
from mnist_transfer.core.errors import InputError
from mnist_transfer.nets import models, training


@pytest.fixture(scope="module")
def digits(mnist_arrays) -> np.ndarray:
    return mnist_arrays["x_test"][:8]


@pytest.fixture(scope="module")
def imagenet_base_48():
    return pretrained.conv_base("vgg16", "imagenet", 48)


def trainable_count(model: keras.Model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def frozen_count(model: keras.Model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)


def test_the_kernels_cnn_has_887530_parameters_in_its_order():
    cnn = models.cnn(augment=False)
    assert cnn.count_params() == trainable_count(cnn) == 887_530
    convs = [
        (layer.filters, layer.kernel_size, layer.padding)
        for layer in cnn.layers
        if isinstance(layer, keras.layers.Conv2D)
    ]
    assert convs == [(32, (5, 5), "same")] * 2 + [(64, (3, 3), "same")] * 2
    dropouts = [layer.rate for layer in cnn.layers if isinstance(layer, keras.layers.Dropout)]
    assert dropouts == [0.25, 0.25, 0.5]
    assert [layer.units for layer in cnn.layers if isinstance(layer, keras.layers.Dense)] == [256, 10]


def test_the_cnn_takes_raw_uint8_digits(digits):
    cnn = models.cnn(augment=False)
    assert cnn.input.dtype == "uint8"
    assert tuple(cnn.input.shape) == (None, 28, 28)
    probabilities = cnn.predict(digits, verbose=0)
    assert probabilities.shape == (8, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)


def test_augmentation_acts_in_training_only(digits):
    keras.utils.set_random_seed(0)
    plain, augmented = models.cnn(augment=False), models.cnn(augment=True)
    augmented.set_weights(plain.get_weights())
    assert {type(layer).__name__ for layer in augmented.layers} >= {"RandomRotation", "RandomZoom", "RandomTranslation"}
    np.testing.assert_allclose(augmented(digits, training=False), plain(digits, training=False), rtol=1e-5, atol=1e-6)
    last_augmentation = next(layer for layer in augmented.layers if isinstance(layer, keras.layers.RandomTranslation))
    augmentation = keras.Model(augmented.input, last_augmentation.output)
    scaled = digits[..., None] / 255
    np.testing.assert_allclose(augmentation(digits, training=False), scaled, atol=1e-6)
    assert not np.allclose(augmentation(digits, training=True), scaled, atol=1e-3)


def test_the_head_on_48px_features_has_267786_trainable_parameters(imagenet_base_48):
    conv_base, _ = imagenet_base_48
    extractor = extraction.feature_extractor(conv_base, "caffe", "block5_pool")
    feature_shape = extractor.output_shape[1:]
    assert feature_shape == (1, 1, 512)
    head = models.head(feature_shape, units=512, dropout=0.4)
    assert trainable_count(head) == 267_786
    assert [layer.units for layer in head.layers if isinstance(layer, keras.layers.Dense)] == [512, 10]


def test_the_backbone_is_14714688_frozen_parameters(imagenet_base_48):
    conv_base, _ = imagenet_base_48
    assert frozen_count(conv_base) == 14_714_688
    assert trainable_count(conv_base) == 0
    extractor = extraction.feature_extractor(conv_base, "caffe", "block5_pool")
    assert trainable_count(extractor) == 0


def test_the_extractor_resizes_colours_and_preprocesses_in_the_graph(imagenet_base_48, digits):
    conv_base, _ = imagenet_base_48
    extractor = extraction.feature_extractor(conv_base, "caffe", "block5_pool")
    assert extractor.input.dtype == "uint8"
    by_hand = tf.image.resize(tf.cast(digits[..., None], "float32"), (48, 48), method="bilinear")
    by_hand = keras.applications.vgg16.preprocess_input(tf.repeat(by_hand, 3, axis=-1))
    np.testing.assert_allclose(
        extractor.predict(digits, verbose=0), conv_base.predict(by_hand, verbose=0), rtol=1e-4, atol=1e-4
    )


def test_a_saved_model_gives_the_same_bytes_twice_and_loads_in_safe_mode(tmp_path, digits):
    keras.utils.set_random_seed(1)
    cnn = models.cnn(augment=True)
    model_files.save(cnn, tmp_path / "a.keras")
    model_files.save(cnn, tmp_path / "b.keras")
    assert (tmp_path / "a.keras").read_bytes() == (tmp_path / "b.keras").read_bytes()
    loaded = keras.models.load_model(tmp_path / "a.keras", safe_mode=True)
    np.testing.assert_array_equal(loaded.predict(digits, verbose=0), cnn.predict(digits, verbose=0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.keras", "b.keras"]


def test_the_params_offer_exactly_the_optimizers_and_preprocessings_there_are():
    assert params.SCHEMA["head.optimizer"].allowed == " or ".join(models.OPTIMIZERS)
    assert params.SCHEMA["backbone.preprocess"].allowed == " or ".join(["imagenet", *catalog.SCALINGS])
    for scaling in catalog.SCALINGS:
        assert extraction.scaling_layer(scaling).name == f"{scaling}_preprocess"
    assert {*catalog.KERAS_POLICIES, catalog.AUTO} == set(catalog.PRECISIONS)


def test_unit_preprocessing_feeds_the_backbone_pixels_over_255(imagenet_base_48, digits):
    conv_base, _ = imagenet_base_48
    extractor = extraction.feature_extractor(conv_base, "unit", "block5_pool")
    by_hand = tf.image.resize(tf.cast(digits[..., None], "float32"), (48, 48), method="bilinear") / 255
    np.testing.assert_allclose(
        extractor.predict(digits, verbose=0),
        conv_base.predict(tf.repeat(by_hand, 3, axis=-1), verbose=0),
        rtol=1e-4,
        atol=1e-4,
    )


def test_adam_is_keras_adam_at_the_given_learning_rate():
    head = models.head((1, 1, 8), units=4, dropout=0.0)
    models.compile_for_training(head, 0.002, "adam")
    assert isinstance(head.optimizer, keras.optimizers.Adam)
    assert float(head.optimizer.learning_rate) == pytest.approx(0.002)


@pytest.mark.parametrize(
    ("layer", "shape"), [("block5_pool", (1, 1, 512)), ("block4_pool", (2, 2, 512)), ("block3_pool", (4, 4, 256))]
)
def test_the_features_shape_follows_the_layer(layer, shape, digits):
    conv_base, _ = pretrained.conv_base("vgg16", "imagenet", 32)
    extractor = extraction.feature_extractor(conv_base, "caffe", layer)
    assert extractor.output_shape[1:] == shape
    assert extractor.predict(digits, verbose=0).shape == (len(digits), *shape)


def test_extraction_streams_to_disk_as_predict_would(imagenet_base_48, digits, tmp_path):
    conv_base, _ = imagenet_base_48
    extractor = extraction.feature_extractor(conv_base, "caffe", "block5_pool")
    shape = extraction.extract(extractor, digits, 3, tmp_path / "features.npy", "float32")  # 3 batches, the last short
    written = np.load(tmp_path / "features.npy")
    assert shape == (1, 1, 512) and written.shape == (8, 1, 1, 512)
    assert written.dtype == "float32"
    np.testing.assert_allclose(written, extractor.predict(digits, verbose=0), rtol=1e-5, atol=1e-5)


def test_float16_features_are_the_float32_ones_rounded(imagenet_base_48, digits, tmp_path):
    conv_base, _ = imagenet_base_48
    extractor = extraction.feature_extractor(conv_base, "caffe", "block5_pool")
    extraction.extract(extractor, digits, 3, tmp_path / "full.npy", "float32")
    extraction.extract(extractor, digits, 3, tmp_path / "half.npy")  # the default
    half = np.load(tmp_path / "half.npy")
    assert half.dtype == "float16"
    # The same batches on the same machine: float16 storage is the one rounding between them.
    np.testing.assert_array_equal(half, np.load(tmp_path / "full.npy").astype("float16"))


def test_features_beyond_float16_stop_the_extraction_in_one_line(imagenet_base_48, digits, tmp_path):
    conv_base, _ = imagenet_base_48
    features = extraction.feature_extractor(conv_base, "caffe", "block5_pool")
    amplified = keras.Model(features.input, keras.layers.Rescaling(1e6)(features.output))
    with pytest.raises(
        InputError,
        match=r"^backbone.feature_dtype float16: a feature of images 0-7 is \d+, beyond float16's 65504; use float32$",
    ):
        extraction.extract(amplified, digits, 8, tmp_path / "features.npy", "float16")


@pytest.mark.skipif(not cpu.computes_bfloat16(), reason="this CPU computes no bfloat16 (avx512_bf16 or amx_bf16)")
def test_bfloat16_features_are_float32_features_to_bfloat16_rounding(imagenet_base_48, digits):
    conv_base, _ = imagenet_base_48
    cpu.check_precision("backbone.precision", "bfloat16")
    float32 = extraction.feature_extractor(conv_base, "caffe", "block5_pool").predict(digits, verbose=0)
    bfloat16 = extraction.feature_extractor(conv_base, "caffe", "block5_pool", "bfloat16")
    assert bfloat16.output.dtype == "float32"
    # bfloat16 keeps 8 significant bits; 13 convolutions in a row round at every one of them.
    difference = np.abs(bfloat16.predict(digits, verbose=0) - float32)
    assert difference.max() <= 0.05 * np.abs(float32).max()
    # It did compute in bfloat16: its convolutions say so, and the features moved by more than
    # float32's own rounding could move them (2^-16 of the largest, 256 float32 ulps).
    backbone = next(layer for layer in bfloat16.layers if isinstance(layer, keras.Model))
    assert {layer.compute_dtype for layer in backbone.layers if isinstance(layer, keras.layers.Conv2D)} == {"bfloat16"}
    assert difference.max() > 2**-16 * np.abs(float32).max()


@pytest.mark.parametrize("key", ["backbone.precision", "cnn.precision"])
def test_bfloat16_on_a_cpu_without_it_fails_in_one_line(monkeypatch, key):
    monkeypatch.setattr(cpu, "flags", lambda: {"avx2", "fma"})
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind: [])
    with pytest.raises(InputError) as error:
        cpu.check_precision(key, "bfloat16")
    assert str(error.value) == (
        f"params.yaml: {key} bfloat16 needs a GPU or a CPU with avx512_bf16 or amx_bf16, and this machine has "
        "neither; use float32 or auto"
    )
    cpu.check_precision(key, "float32")


@pytest.mark.parametrize(
    ("flags", "computes"),
    [
        ({"avx2", "fma"}, "float32"),  # an AVX2 CPU, Intel's or AMD's
        ({"avx2", "avx512f"}, "float32"),  # AVX-512 without its BF16 instructions
        ({"avx512f", "avx512_bf16"}, "bfloat16"),  # AMD's Zen 4, Intel's Cooper Lake
        ({"avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}, "bfloat16"),  # Intel's Sapphire Rapids and later
        ({"amx_bf16"}, "bfloat16"),
    ],
)
def test_auto_computes_in_bfloat16_only_where_the_cpu_does(monkeypatch, flags, computes):
    monkeypatch.setattr(cpu, "flags", lambda: flags)
    assert catalog.precision("auto") == computes
    assert catalog.resolved({**params.everything()["backbone"], "precision": "auto"})["precision"] == computes
    # Named outright, a precision is kept, whatever the CPU.
    assert catalog.precision("float32") == "float32" and catalog.precision("bfloat16") == "bfloat16"
    cpu.check_precision("cnn.precision", catalog.precision("auto"))  # auto never asks for what is not there


def test_a_bfloat16_cnn_computes_in_bfloat16_and_gives_float32_probabilities(digits, tmp_path):
    cnn = models.cnn(augment=False, precision="bfloat16")
    assert model_files.computes_in(cnn) == "bfloat16"
    assert cnn.get_layer(index=-1).compute_dtype == "float32"
    probabilities = cnn.predict(digits, verbose=0)
    assert probabilities.dtype == "float32"
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    model_files.save(cnn, tmp_path / "cnn.keras")
    assert model_files.computes_in(model_files.load(tmp_path / "cnn.keras")) == "bfloat16"
    # Building it left the rest of the process computing in float32.
    assert model_files.computes_in(models.cnn(augment=False)) == "float32"
    assert keras.config.dtype_policy().name == "float32"


def test_float16_features_reach_the_head_as_float32_batches_in_the_splits_rows(tmp_path):
    stored = np.lib.format.open_memmap(tmp_path / "f.npy", mode="w+", dtype="float16", shape=(10, 2, 2, 3))
    stored[:] = np.arange(120).reshape(10, 2, 2, 3)
    stored.flush()
    mapped = np.load(tmp_path / "f.npy", mmap_mode="r")
    rows = splits.Rows(mapped, np.array([7, 2, 9, 4]))
    labels = np.array([70, 20, 90, 40])
    batches = list(training.batches(rows, labels, 3, shuffle=False))
    assert [x.dtype for x, _ in batches] == ["float32", "float32"]
    np.testing.assert_array_equal(np.concatenate([x for x, _ in batches]), mapped[[7, 2, 9, 4]].astype("float32"))
    np.testing.assert_array_equal(np.concatenate([y for _, y in batches]), labels)
    keras.utils.set_random_seed(0)
    head = models.head(
        rows.shape[1:],
        units=4,
        dropout=0.0,
        normalize_on=training.inputs_only(training.batches(rows, labels, 3, shuffle=False)),
    )
    np.testing.assert_allclose(
        np.ravel(head.get_layer("normalize_features").mean),
        mapped[[7, 2, 9, 4]].astype("float64").mean(axis=(0, 1, 2)),
        rtol=1e-6,
    )


def test_a_normalised_head_saves_its_normalisation_and_predicts_the_same_after_loading(tmp_path):
    rng = np.random.default_rng(0)
    features = (rng.standard_normal((64, 2, 2, 8)) * 5 + 3).astype("float32")
    keras.utils.set_random_seed(0)
    head = models.head(features.shape[1:], units=16, dropout=0.4, normalize_on=features)
    normalization = head.get_layer("normalize_features")
    np.testing.assert_allclose(np.ravel(normalization.mean), features.mean(axis=(0, 1, 2)), rtol=1e-4)
    model_files.save(head, tmp_path / "head.keras")
    loaded = model_files.load(tmp_path / "head.keras")
    np.testing.assert_array_equal(loaded.predict(features, verbose=0), head.predict(features, verbose=0))


def test_features_that_the_disk_has_no_room_for_stop_in_one_line_before_extraction(
    imagenet_base_48, digits, tmp_path, monkeypatch
):
    conv_base, _ = imagenet_base_48
    features = extraction.feature_extractor(conv_base, "caffe", "block5_pool")
    predicted = []
    monkeypatch.setattr(features, "predict_on_batch", lambda batch: predicted.append(batch))

    def full(fd, offset, length):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", full)  # a full disk, as the kernel reports it
    with pytest.raises(InputError, match=r"features.npy: no room for 0 MiB of features \(\d+ MiB free there\)"):
        extraction.extract(features, digits, 8, tmp_path / "features.npy", "float16")
    assert predicted == []
