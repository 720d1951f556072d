"""extract_features: the frozen backbone run once over every prepared MNIST image (never a
split), its features and their record in data/features/, with the extractor stored once for
every head. As extract_elsewhere (`python -m stages.extract_features elsewhere`): that stored
extractor over the digits from elsewhere alone, into data/elsewhere/features.npy, so that
reading or framing them anew costs seconds of extraction, not MNIST's 70,000 images."""

import sys
import time

from mnist_transfer.core import atomic, catalog, params, paths
from mnist_transfer.core.cost import Cost
from mnist_transfer.core.errors import InputError, run_stage


def main(argv: list[str]) -> None:
    if argv == ["elsewhere"]:
        extract_elsewhere()
    elif argv:
        raise InputError(f"stages.extract_features: {' '.join(argv)!r}: give no argument (MNIST) or `elsewhere`")
    else:
        extract_mnist()


def extract_elsewhere() -> None:
    settings = params.load("extract_elsewhere")["backbone"]
    from mnist_transfer.backbones import extraction
    from mnist_transfer.core import determinism, images, model_files

    determinism.make_deterministic()
    extractor = model_files.load(paths.EXTRACTOR)
    digits, _ = images.read("elsewhere")
    print(f"extract_elsewhere: {len(digits)} digits from elsewhere through {paths.EXTRACTOR}")
    with atomic.replacing(paths.ELSEWHERE_FEATURES) as partial:
        shape = extraction.extract(extractor, digits, settings["batch_size"], partial, settings["feature_dtype"])
    print(f"extract_elsewhere: {shape} features per digit ({settings['feature_dtype']}) in {paths.ELSEWHERE_FEATURES}")


def extract_mnist() -> None:
    cost = Cost("extraction")
    settings = params.load("extract_features")["backbone"]
    made = catalog.made_with(settings)
    # Only now, so that a bad param fails at once, in one line, before TensorFlow loads.
    from mnist_transfer.backbones import extraction, pretrained
    from mnist_transfer.core import augmentation, cpu, determinism, images, model_files

    cpu.check_precision("backbone.precision", made["precision"])
    # The views' random draws follow this fixed seed: they belong to the images, as the features do.
    determinism.make_deterministic()
    conv_base, weights = pretrained.conv_base(settings["name"], settings["weights"], made["input_size"])
    extractor = extraction.feature_extractor(conv_base, made["scaling"], made["layer"], made["precision"])
    print(
        f"extract_features: {catalog.BACKBONES[settings['name']].title} at {made['input_size']}px up to "
        f"{made['layer']} in {made['precision']}, {made['scaling']} scaling, "
        f"weights {weights['name']} by {weights['route']}"
    )
    extracted, extracting_s = 0, 0.0
    with atomic.replacing(paths.FEATURES) as folder:
        folder.mkdir()
        for part in (*images.MNIST_PARTS, paths.VIEWS):
            if part == paths.VIEWS:
                digits = augmentation.views(images.read("train")[0], settings["views"])
                print(f"{part}: {settings['views']} augmented views of each training image, {len(digits)} images")
            else:
                digits, _ = images.read(part)
                print(f"{part}: {len(digits)} images")
            start = time.perf_counter()
            shape = extraction.extract(
                extractor, digits, settings["batch_size"], folder / paths.features(part).name, settings["feature_dtype"]
            )
            extracted, extracting_s = extracted + len(digits), extracting_s + time.perf_counter() - start
        atomic.write_json(folder / paths.FEATURES_WEIGHTS.name, {**weights, **made})
        model_files.save(extractor, folder / paths.EXTRACTOR.name)
    features_mib = sum(paths.features(part).stat().st_size for part in (*images.MNIST_PARTS, paths.VIEWS)) / 2**20
    cost.write(
        paths.EXTRACTION_COST, images_per_s=round(extracted / extracting_s, 1), features_mib=round(features_mib, 1)
    )
    print(f"extract_features: {shape} features per image ({settings['feature_dtype']}) in {paths.FEATURES}")


if __name__ == "__main__":
    run_stage(lambda: main(sys.argv[1:]))
