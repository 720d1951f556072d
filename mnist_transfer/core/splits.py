"""The split of the training images into train and val (the kernel holds out 10 % for
validation), and each split read back as digits or as the backbone's features."""

import numpy as np

from mnist_transfer.core import images, paths
from mnist_transfer.core.errors import InputError


def split(labels: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, val) into `labels`: disjoint, stratified, the same for the same seed."""
    val_size = round(len(labels) * val_fraction)
    if not 0 < val_size < len(labels):
        raise InputError(
            f"params.yaml: data.val_fraction {val_fraction} of {len(labels)} training images leaves "
            f"{val_size} for validation and {len(labels) - val_size} for training; both must be at least 1"
        )
    val = images.stratified_sample(labels, val_size, np.random.default_rng(seed))
    return np.setdiff1d(np.arange(len(labels)), val), val


# The halves of the digits from elsewhere: one draw, fixed before any run, so that every
# choice is made on the first half and every figure reported on the second.
HALVES_SEED = 12345


def halves(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted indices (first, second) of the digits from elsewhere: each class shuffled by
    HALVES_SEED, class by class from 0, and cut in two, the first half the smaller."""
    rng = np.random.default_rng(HALVES_SEED)
    first = np.zeros(len(labels), bool)
    for digit in range(10):
        shuffled = rng.permutation(np.flatnonzero(labels == digit))
        first[shuffled[: len(shuffled) // 2]] = True
    return np.flatnonzero(first), np.flatnonzero(~first)


def rows(name: str) -> np.ndarray:
    """The training images' indices in split `name`, "train" or "val"."""
    with np.load(paths.SPLIT) as data:
        return data[name]


class Rows:
    """Some rows of an array, taken only when asked for: the rows of a memory-mapped file
    stay on disk until a batch of them is read."""

    def __init__(self, array: np.ndarray, index: np.ndarray) -> None:
        self.array, self.index = array, index
        self.shape = (len(index), *array.shape[1:])
        self.dtype = array.dtype

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, rows: np.ndarray) -> np.ndarray:
        return self.array[self.index[rows]]


class Versions(Rows):
    """Rows that can each be read as one of several versions: 0, the row itself; v, its
    v-th augmented view, from `views` (view v of row i at v x n + i, n rows in `array`)."""

    def __init__(self, array: np.ndarray, index: np.ndarray, views: np.ndarray) -> None:
        super().__init__(array, index)
        self.views = views
        self.versions = 1 + len(views) // len(array)

    def read(self, rows: np.ndarray, versions: np.ndarray) -> np.ndarray:
        chosen = self.index[rows]
        out = np.empty((len(rows), *self.shape[1:]), self.dtype)
        for version in np.unique(versions):
            these = versions == version
            offset = (version - 1) * len(self.array)
            out[these] = self.array[chosen[these]] if version == 0 else self.views[offset + chosen[these]]
        return out


def load(name: str, inputs: str) -> tuple[np.ndarray | Rows, np.ndarray]:
    """(inputs, labels) of split `name`, "train", "val", or a whole part of images.PARTS
    ("test", "elsewhere"); `inputs` is "images" (uint8 digits) or "features" (float32,
    whatever they are stored as). Train and val rows are read batch by batch; the training
    features come with their augmented views, where `backbone.views` made some."""
    part = name if name in images.PARTS else "train"
    if inputs == "features":
        # Mapped, not read: the features of 70,000 images may not fit in memory.
        x, y = np.load(paths.features(part), mmap_mode="r"), images.labels(part)
    else:
        x, y = images.read(part)
    if part != "train":
        return np.asarray(x, dtype="float32" if inputs == "features" else x.dtype), y
    chosen = rows(name)
    if name == "train" and inputs == "features":
        views = np.load(paths.features(paths.VIEWS), mmap_mode="r")
        if len(views):
            return Versions(x, chosen, views), y[chosen]
    return Rows(x, chosen), y[chosen]
