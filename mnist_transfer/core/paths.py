"""Every file the stages read or write, named once; dvc.yaml declares the same paths."""

from pathlib import Path

from mnist_transfer.core import catalog

RAW = Path("data/raw/mnist.npz")
# The digits from elsewhere (`data.elsewhere`), framed as MNIST's: x (n, 28, 28) uint8, y;
# none when it is "none".
RAW_ELSEWHERE = Path("data/raw/elsewhere.npz")
RAW_PROVENANCE = Path("data/raw/provenance.json")

# Two outputs of preprocess: the images (and so their features) never change with the split.
IMAGES = Path("data/prepared/images.npz")
SPLIT = Path("data/prepared/split.npz")

FEATURES = Path("data/features")
FEATURES_WEIGHTS = FEATURES / "weights.json"
# The frozen backbone up to its layer that made the features (raw digits in, features out),
# stored once, beside them: no experiment that trains a head stores a copy of it.
EXTRACTOR = FEATURES / "extractor.keras"


# The digits from elsewhere's features, apart from MNIST's: extract_elsewhere runs the
# extractor stored above over them alone, so a change of how they are read or framed reruns
# seconds of extraction, not MNIST's 70,000 images.
ELSEWHERE_FEATURES = Path("data/elsewhere/features.npy")


def features(part: str) -> Path:
    """The features of one of images.PARTS, one row per image, in image order."""
    return ELSEWHERE_FEATURES if part == "elsewhere" else FEATURES / f"{part}.npy"


# The features' own part beside images.PARTS: K augmented views of each training image
# (`backbone.views`), view v of image i at row v x n + i; no rows when K is 0.
VIEWS = "views"


MODELS = {name: model.file for name, model in catalog.MODELS.items()}
CURVES = {name: model.curves for name, model in catalog.MODELS.items()}

# What train_head reads the digits from elsewhere's features with: per channel, their own
# statistics and MNIST's (`adapt.normalize`), or none of theirs (zero means, unit variances).
ELSEWHERE_STATISTICS = Path("data/models/head_elsewhere.npz")
# The adapted head's probabilities on every digit from elsewhere, which the CNN co-trains with
# (`adapt.cotrain`); no rows without it, so that a new head leaves the CNN's inputs as they were.
HEAD_ON_ELSEWHERE = Path("data/models/head_on_elsewhere.npy")

PREDICTIONS = Path("data/predictions")


def predictions_csv(model: str, backbone: str) -> Path:
    """A model's predictions in Kaggle's format, named as the blog named them: cnn.csv, and
    the transfer model's after its backbone (vgg16.csv)."""
    return PREDICTIONS / f"{backbone if model == 'transfer' else model}.csv"


COMPARISON_CSV = PREDICTIONS / "comparison.csv"
# Each model's and the two combined's labels for the digits from elsewhere (no rows when none).
ELSEWHERE_CSV = PREDICTIONS / "elsewhere.csv"
METRICS = Path("metrics/evaluate.json")
PER_CLASS_METRICS = Path("metrics/per_class.json")
# What extracting the features and training the head cost: time, peak memory, disk.
EXTRACTION_COST = Path("metrics/cost/extract_features.json")
HEAD_COST = Path("metrics/cost/train_head.json")

ERRORS = Path("data/errors")
ERRORS_GRID = Path("data/disagreements.png")
