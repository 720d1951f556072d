"""What `backbone.views` costs at the elsewhere study's frozen configuration
(configurations.ELSEWHERE_FROZEN's layer and scaling, 48 px): K augmented views of each training
image, made and run through the stage's own extractor, in seconds per 1,000 training images,
and the time and disk that makes on the full 60,000 and on the studies' 10,000-image subset.
K = 0 costs nothing."""

import tempfile
import time
from pathlib import Path

import numpy as np

from bench.extraction import extractor
from mnist_transfer.backbones import extraction
from mnist_transfer.core import augmentation, catalog, determinism
from mnist_transfer.experiments import records
from mnist_transfer.experiments.configurations import ELSEWHERE_FROZEN

IMAGES = 1024
COUNTS = (2, 4)
SETTINGS = records.parsed(ELSEWHERE_FROZEN)
FROZEN = {"layer": SETTINGS["backbone.layer"], "preprocess": SETTINGS["backbone.preprocess"], "input_size": None}
TRAINING_IMAGES = {"full data": 60_000, "10,000-image subset": 10_000}


def rows(images: np.ndarray, settings: dict) -> list[tuple[str, str]]:
    chosen = {**settings, **FROZEN}
    model, _ = extractor(chosen)
    bytes_per_view = int(np.prod(model.output_shape[1:])) * np.dtype(chosen["feature_dtype"]).itemsize
    out = []
    for count in COUNTS:
        determinism.make_deterministic()
        start = time.perf_counter()
        views = augmentation.views(images[:IMAGES], count)
        augmenting_s = time.perf_counter() - start
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            path = Path(folder) / "views.npy"
            extraction.extract(model, views, chosen["batch_size"], path, chosen["feature_dtype"], progress_bar=False)
            extracting_s = time.perf_counter() - start
        per_image_s = (augmenting_s + extracting_s) / IMAGES
        at_scale = "; ".join(
            f"{name}: +{per_image_s * n / 60:.1f} min, +{count * n * bytes_per_view / 2**20:,.0f} MiB"
            for name, n in TRAINING_IMAGES.items()
        )
        out.append(
            (
                f"backbone.views {count}, VGG16 up to {chosen['layer']} at {catalog.made_with(chosen)['input_size']}px",
                f"{per_image_s * 1000:.1f} s per 1,000 training images ({augmenting_s / IMAGES * 1000:.1f} of it "
                f"augmenting); {at_scale}",
            )
        )
    return out
