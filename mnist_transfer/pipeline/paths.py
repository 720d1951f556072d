"""Every file the stages read or write, named once; dvc.yaml declares the same paths."""

from pathlib import Path

RAW = Path("data/raw/mnist.npz")
RAW_PROVENANCE = Path("data/raw/provenance.json")

# Two outputs of preprocess: the images (and so their features) never change with the split.
IMAGES = Path("data/prepared/images.npz")
SPLIT = Path("data/prepared/split.npz")

FEATURES = Path("data/features")
FEATURES_WEIGHTS = FEATURES / "weights.json"
# The frozen backbone up to its layer that made the features (raw digits in, features out),
# stored once, beside them: no experiment that trains a head stores a copy of it.
EXTRACTOR = FEATURES / "extractor.keras"


def features(part: str) -> Path:
    """The features of the "train" or "test" images, one row per image, in image order."""
    return FEATURES / f"{part}.npy"


# The models compared, by name: the CNN, and VGG16, whose trained part is its head.
MODELS = {"cnn": Path("data/models/cnn.keras"), "vgg16": Path("data/models/head.keras")}
CURVES = {"cnn": Path("metrics/train_cnn"), "vgg16": Path("metrics/train_head")}

PREDICTIONS = Path("data/predictions")
PREDICTIONS_CSV = {name: PREDICTIONS / f"{name}.csv" for name in MODELS}
COMPARISON_CSV = PREDICTIONS / "comparison.csv"
METRICS = Path("metrics/evaluate.json")
PER_CLASS_METRICS = Path("metrics/per_class.json")

ERRORS = Path("data/errors")
ERRORS_GRID = Path("data/disagreements.png")
