"""The headline's metrics, named once: evaluate writes them under these names into
metrics/evaluate.json, and the summary, the study and the docs' tables read them by the same."""

from dataclasses import dataclass

from mnist_transfer.core import catalog

COMBINED = "combined"  # the mean of the two models' probabilities
SCORED = (*catalog.MODELS, COMBINED)  # what evaluate scores, in the order it lists them
TITLES = {"cnn": "CNN", "transfer": "VGG16 + head", COMBINED: "combined"}  # each of SCORED, as tables name it

# Of each of SCORED:
ACCURACY = "accuracy"  # on MNIST's test images
# On MNIST's validation split (data.val_fraction of the training images): what a choice
# between configurations on MNIST is made by, as test accuracy is reported, never chosen by.
VAL_ACCURACY = "val_accuracy"
ERRORS = "errors"
ELSEWHERE_ACCURACY = "elsewhere_accuracy"  # on the digits from elsewhere (data.elsewhere)
# On their first half (splits.halves): what every choice made for them is made by.
FIRST_HALF_ACCURACY = "first_half_accuracy"
# On their second half, held out of every choice: reported, never chosen by.
HELD_OUT_ACCURACY = "held_out_accuracy"
# Without their labels (a folder of your own digits, say): the mean of each one's highest
# probability on them, and, of the pair, the share of them on which the two agree.
ELSEWHERE_SURENESS = "elsewhere_sureness"
ELSEWHERE_AGREEMENT = "agreement"
# Of each model, not the two combined: the blog's err_CNN and err_VGG16.
ERRORS_WHERE_DISAGREE = "errors_where_disagree"
# Of the pair.
DISAGREEMENTS = "disagreements"
TEST_IMAGES = "test_images"


@dataclass(frozen=True)
class Figure:
    key: str  # dotted, as `dvc exp show` and `dvc metrics show` name it
    percent: bool  # a share, shown as a percentage


def key(scored: str, metric: str) -> str:
    return f"{scored}.{metric}"


# What a summary of experiments shows; the first three every finished experiment has.
SUMMARY = (
    Figure(key("cnn", ACCURACY), percent=True),
    Figure(key("transfer", ACCURACY), percent=True),
    Figure(DISAGREEMENTS, percent=False),
    Figure(key(COMBINED, ACCURACY), percent=True),
    *(Figure(key(scored, ELSEWHERE_ACCURACY), percent=True) for scored in SCORED),
    *(Figure(key(scored, HELD_OUT_ACCURACY), percent=True) for scored in SCORED),
)
REQUIRED = tuple(figure.key for figure in SUMMARY[:3])
