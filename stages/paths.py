"""Every file the stages read or write, named once; dvc.yaml declares the same paths."""

from pathlib import Path

RAW = Path("data/raw/mnist.npz")
RAW_PROVENANCE = Path("data/raw/provenance.json")

SPLITS = ("train", "val", "test")
PREPARED = Path("data/prepared")


def prepared(split: str) -> Path:
    return PREPARED / f"{split}.npz"


FEATURES = Path("data/features")
FEATURES_WEIGHTS = FEATURES / "weights.json"


def features(split: str) -> Path:
    return FEATURES / f"{split}.npy"


CNN_MODEL = Path("data/models/cnn.keras")
HEAD_MODEL = Path("data/models/head.keras")
CNN_CURVES = Path("metrics/train_cnn")
HEAD_CURVES = Path("metrics/train_head")

PREDICTIONS = Path("data/predictions")
PREDICTIONS_CSV = {"cnn": PREDICTIONS / "cnn.csv", "vgg16": PREDICTIONS / "vgg16.csv"}
COMPARISON_CSV = PREDICTIONS / "comparison.csv"
METRICS = Path("metrics/evaluate.json")

ERRORS = Path("data/errors")
ERRORS_GRID = Path("data/disagreements.png")
